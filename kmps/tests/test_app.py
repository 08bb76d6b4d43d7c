"""Every route with an admin, a user and no identity; the actions end to end (Keycloak, Docker,
audit row, MQTT); CSRF; errors in words."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from conftest import (
    ADMIN,
    DOCKER,
    ENV,
    KEYCLOAK,
    NOW,
    REALM,
    USER,
    FakePublisher,
    FakeServer,
    Upstreams,
    container_id,
    fake_connector,
    group_id,
    make_config,
    recorded,
    user_id,
)

from kmps_portal.app import Portal, build_portal, create_app
from kmps_portal.audit import Database
from kmps_portal.errors import PortalError

API = f"/admin/realms/{REALM}"
ADMIN_PAGES = ["/users", "/users/invite", f"/users/{user_id('alice')}", "/clients",
               "/services/core-redis/restart", "/audit"]
SECRETS = [*ENV.values(), recorded("keycloak/token.json")["access_token"], "RECORDED-CLIENT-SECRET", "RECORDED-ENV-SECRET"]


def token(client: Any, headers: dict[str, str], page: str = "/me") -> str:
    """The CSRF token of a page, as a browser would submit it."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(page, headers=headers).text)
    if found:
        return found.group(1)
    portal: Portal = client.app.state.portal
    return portal.csrf.issue(headers["X-Auth-Request-User"])


def post(client: Any, path: str, headers: dict[str, str], **form: str) -> httpx.Response:
    if "csrf" not in form:
        form["csrf"] = client.app.state.portal.csrf.issue(headers["X-Auth-Request-User"])
    return client.post(path, data=form, headers=headers)


def rows(pg: FakeServer) -> list[tuple[str, str, str, str]]:
    return [(r["actor"], r["action"], r["target"], r["result"]) for r in pg.tables.get("audit", {}).get("rows", [])]


def no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# -- who may do what -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/me", "/static/kmps.css", *ADMIN_PAGES])
def test_no_identity_is_401(client: Any, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 401
    assert "The portal refuses requests without an identity" in answer.text


@pytest.mark.parametrize("path", ["/users/invite", f"/users/{user_id('alice')}", "/services/core-redis/restart"])
def test_no_identity_post_is_401_and_does_nothing(client: Any, upstreams: Upstreams, pg: FakeServer, path: str) -> None:
    answer = client.post(path, data={"action": "disable", "csrf": "1.x"})
    assert answer.status_code == 401
    assert upstreams.writes() == [] and rows(pg) == []


def test_spoofed_groups_without_a_user_are_still_401(client: Any) -> None:
    assert client.get("/", headers={"X-Auth-Request-Groups": "/admins"}).status_code == 401


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_user_gets_403_on_admin_pages(client: Any, upstreams: Upstreams, path: str) -> None:
    answer = client.get(path, headers=USER)
    assert answer.status_code == 403
    assert "this is for the members of the group &#39;admins&#39;" in answer.text
    assert upstreams.calls == []


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/users/invite", {"username": "eve", "email": "eve@example.org"}),
        (f"/users/{user_id('alice')}", {"action": "disable"}),
        (f"/users/{user_id('alice')}", {"action": "add-group", "group": group_id("admins")}),
        ("/services/core-redis/restart", {}),
    ],
)
def test_a_user_gets_403_on_actions_and_nothing_is_done(
    client: Any, upstreams: Upstreams, pg: FakeServer, publisher: FakePublisher, path: str, form: dict[str, str]
) -> None:
    answer = post(client, path, USER, **form)
    assert answer.status_code == 403
    assert upstreams.calls == [] and rows(pg) == [] and publisher.messages == []


def test_a_user_is_sent_to_their_page(client: Any, upstreams: Upstreams) -> None:
    answer = client.get("/", headers=USER)
    assert answer.status_code == 303 and answer.headers["location"] == "/me"
    page = client.get("/me", headers=USER)
    assert page.status_code == 200
    assert "alice@example.org" in page.text and "family" in page.text
    assert 'href="https://auth.example.org/realms/kompose/account"' in page.text
    assert 'href="/oauth2/sign_out"' in page.text
    assert 'href="/users"' not in page.text  # no admin navigation
    assert upstreams.calls == []  # the page needs no upstream at all


def test_the_admin_page_of_me_shows_groups_and_admin_navigation(client: Any) -> None:
    page = client.get("/me", headers=ADMIN)
    assert page.status_code == 200 and "admins, family" in page.text and 'href="/users"' in page.text


def test_healthz_and_metrics_need_no_identity(client: Any, pg: FakeServer) -> None:
    assert client.get("/healthz").text == "ok\n"
    client.get("/users", headers=ADMIN)
    client.get(f"/users/{user_id('alice')}", headers=ADMIN)
    client.get("/", headers=USER)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert 'kmps_http_requests_total{route="/users",method="GET",status="200"} 1' in text
    assert 'kmps_http_requests_total{route="/users/{id}",method="GET",status="200"} 1' in text
    assert 'kmps_http_requests_total{route="/",method="GET",status="303"} 1' in text
    assert 'kmps_http_requests_total{route="/healthz",method="GET",status="200"} 1' in text
    assert "kmps_audit_publish_failures_total 0" in text
    pg.fail = lambda sql: RuntimeError("gone") if sql == "SELECT 1" else None
    pg.refuse_connections = PortalError("the database cannot be reached: refused")
    answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.text == "the kmps database does not answer\n"


def test_security_headers(client: Any) -> None:
    answer = client.get("/me", headers=USER)
    assert answer.headers["content-security-policy"].startswith("default-src 'none'; style-src 'self'")
    assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"
    css = client.get("/static/kmps.css", headers=USER)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert css.headers["cache-control"] == "private, max-age=3600"


def test_unknown_paths_and_methods(client: Any) -> None:
    assert client.get("/nope", headers=ADMIN).status_code == 404
    assert client.delete("/users", headers=ADMIN).status_code == 405
    assert 'kmps_http_requests_total{route="other",method="GET",status="404"} 1' in client.get("/metrics").text


# -- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [None, "", "garbage", "1767350000." + "0" * 64])
def test_a_post_without_a_valid_token_is_403_and_does_nothing(client: Any, upstreams: Upstreams, pg: FakeServer, bad: str | None) -> None:
    form = {"action": "disable"} if bad is None else {"action": "disable", "csrf": bad}
    answer = client.post(f"/users/{user_id('alice')}", data=form, headers=ADMIN)
    assert answer.status_code == 403
    assert "Form refused" in answer.text and "reload the page and send it again" in answer.text
    assert upstreams.calls == [] and rows(pg) == []


def test_another_users_token_and_an_expired_token_are_refused(client: Any, portal: Portal, upstreams: Upstreams) -> None:
    alices = portal.csrf.issue(USER["X-Auth-Request-User"])
    assert post(client, f"/users/{user_id('alice')}", ADMIN, action="disable", csrf=alices).status_code == 403
    old = f"{int(NOW) - 28801}." + portal.csrf._mac(ADMIN["X-Auth-Request-User"], int(NOW) - 28801)  # noqa: SLF001
    answer = post(client, f"/users/{user_id('alice')}", ADMIN, action="disable", csrf=old)
    assert answer.status_code == 403 and "older than the 480 minutes allowed" in answer.text
    assert upstreams.writes() == []


def test_only_url_encoded_forms_are_taken(client: Any, upstreams: Upstreams) -> None:
    answer = client.post(f"/users/{user_id('alice')}", json={"action": "disable"}, headers=ADMIN)
    assert answer.status_code == 415
    big = client.post(f"/users/{user_id('alice')}", data={"x": "y" * 20000}, headers=ADMIN)
    assert big.status_code == 413
    assert upstreams.writes() == []


def test_forms_carry_the_token_of_the_page(client: Any, upstreams: Upstreams, pg: FakeServer) -> None:
    page_token = token(client, ADMIN, f"/users/{user_id('alice')}")
    answer = client.post(f"/users/{user_id('alice')}", data={"action": "logout", "csrf": page_token}, headers=ADMIN)
    assert answer.status_code == 303


# -- the overview --------------------------------------------------------------------------------


def test_the_overview_for_an_admin(client: Any) -> None:
    answer = client.get("/", headers=ADMIN)
    assert answer.status_code == 200
    text = answer.text
    for words in ("auth_keycloak", "26.4", 'href="https://auth.example.org"', "ProbeFailing", "CertificateExpiring",
                  "files.example.org", "6 h 43 min", "ago, ok", "1.9 GB", "no such container", "unhealthy",
                  'href="/services/core-redis/restart"', "<b>40</b> on the host", "<b>2</b> firing"):
        assert words in text, words
    no_secret(text)


def test_the_overview_with_everything_down_still_answers(client: Any, upstreams: Upstreams) -> None:
    def refused(request: httpx.Request, match: Any) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    for base in ("http://kmps_socket_proxy:2375", "http://watch_alertmanager:9093", "http://watch_prometheus:9090"):
        upstreams.route("GET", base, "/.*", refused)
    answer = client.get("/", headers=ADMIN)
    assert answer.status_code == 200
    assert "Some of this page is unknown" in answer.text
    assert "Docker cannot be reached (the list of containers): [Errno 111] Connection refused" in answer.text
    assert "Alertmanager cannot be reached" in answer.text and "Prometheus cannot be reached" in answer.text


def test_the_overview_with_40_containers_is_fast(client: Any) -> None:
    client.get("/", headers=ADMIN)  # warm up (templates compiled, recorded files cached by the OS)
    times = []
    for dummy in range(5):
        started = time.perf_counter()
        answer = client.get("/", headers=ADMIN)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200
    best = min(times)
    print(f"\noverview with 40 recorded containers: best {best * 1000:.1f} ms, median {sorted(times)[2] * 1000:.1f} ms")
    assert best < 0.3


# -- users -----------------------------------------------------------------------------------------


def test_users_list_search_and_pages(client: Any, upstreams: Upstreams) -> None:
    answer = client.get("/users", headers=ADMIN)
    assert answer.status_code == 200
    for name in ("admin", "alice", "bob", "carol", "(not verified)", "disabled"):
        assert name in answer.text
    assert 'href="/users/invite"' in answer.text
    found = client.get("/users?q=alice&first=50", headers=ADMIN)
    assert "alice" in found.text and "carol" not in found.text and 'href="/users?q=alice&amp;first=0"' in found.text
    queries = [c.url.query.decode() for c in upstreams.calls if c.url.path == f"{API}/users"]
    assert queries == ["first=0&max=50&briefRepresentation=true", "first=50&max=50&briefRepresentation=true&search=alice"]


def test_users_page_says_what_keycloak_said(client: Any, upstreams: Upstreams) -> None:
    upstreams.answer("GET", KEYCLOAK, f"{API}/users", 403, file="keycloak/forbidden.json")
    answer = client.get("/users", headers=ADMIN)
    assert answer.status_code == 502
    assert "Keycloak refused the list of users: HTTP 403 Forbidden" in answer.text
    assert "lacks the realm-management role" in answer.text


def test_a_user_page_shows_groups_sessions_and_actions(client: Any) -> None:
    answer = client.get(f"/users/{user_id('alice')}", headers=ADMIN)
    assert answer.status_code == 200
    text = answer.text
    assert "alice@example.org" in text and "(verified)" in text and "enabled" in text
    assert "/family" in text and f'<option value="{group_id("admins")}">/admins</option>' in text
    assert "172.20.0.14" in text and "grafana, oauth2-proxy" in text
    for action in ("disable", "reset", "remove-group", "add-group", "logout"):
        assert f'value="{action}"' in text
    assert 'value="enable"' not in text and 'value="invitation"' not in text
    bob = client.get(f"/users/{user_id('bob')}", headers=ADMIN).text
    assert 'value="enable"' in bob and 'value="reset"' not in bob and "No open session." in bob


def test_a_missing_user_and_a_partly_known_page(client: Any, upstreams: Upstreams) -> None:
    answer = client.get("/users/5b0c4a5e-0000-4000-a000-000000000000", headers=ADMIN)
    assert answer.status_code == 404 and "User not found" in answer.text
    bad = client.get("/users/x%20y", headers=ADMIN)
    assert bad.status_code == 404 and "is not a Keycloak id; nothing was sent to Keycloak" in bad.text
    assert client.get("/users/..%2F..%2Fmaster", headers=ADMIN).status_code == 404  # no route: "/" is no id
    upstreams.answer("GET", KEYCLOAK, rf"{API}/users/([^/]+)/sessions", 500, body={"errorMessage": "unknown_error"})
    partial = client.get(f"/users/{user_id('alice')}", headers=ADMIN)
    assert partial.status_code == 200
    assert "Some of this page is unknown" in partial.text and "unknown_error" in partial.text and "/family" in partial.text


@pytest.mark.parametrize(
    ("action", "extra", "method", "path", "body", "audit", "done"),
    [
        ("disable", {}, "PUT", "", {"enabled": False}, "user-disable", "The user was disabled."),
        ("enable", {}, "PUT", "", {"enabled": True}, "user-enable", "The user was enabled."),
        ("reset", {}, "PUT", "/execute-actions-email", ["UPDATE_PASSWORD"], "user-reset-password",
         "Keycloak sent the password-reset e-mail."),
        ("invitation", {}, "PUT", "/execute-actions-email", ["VERIFY_EMAIL", "UPDATE_PASSWORD"], "user-send-invitation",
         "Keycloak sent the invitation e-mail again."),
        ("add-group", {"group": group_id("admins")}, "PUT", f"/groups/{group_id('admins')}", None, "user-add-group",
         "The user was added to the group."),
        ("remove-group", {"group": group_id("family")}, "DELETE", f"/groups/{group_id('family')}", None,
         "user-remove-group", "The user was removed from the group."),
        ("logout", {}, "POST", "/logout", None, "user-logout", "All of the user&#39;s sessions were ended."),
    ],
)
def test_each_user_action_calls_keycloak_records_and_publishes(
    client: Any, upstreams: Upstreams, pg: FakeServer, publisher: FakePublisher,
    action: str, extra: dict[str, str], method: str, path: str, body: Any, audit: str, done: str,
) -> None:
    import json

    alice = user_id("alice")
    answer = post(client, f"/users/{alice}", ADMIN, action=action, **extra)
    assert answer.status_code == 303 and answer.headers["location"] == f"/users/{alice}?done={action}"
    (write,) = upstreams.writes()
    assert (write.method, write.url.path) == (method, f"{API}/users/{alice}{path}")
    assert (json.loads(write.content) if write.content else None) == body
    target = f"alice ({alice})"
    if "group" in extra:
        target += f" group /{'admins' if action == 'add-group' else 'family'}"
    assert rows(pg) == [("admin", audit, target, "ok")]
    (message,) = publisher.decoded()
    assert message["topic"] == f"kompose/system/audit/{audit}" and message["source"] == "kmps"
    assert message["data"]["actor"] == "admin" and message["data"]["result"] == "ok"
    assert done in client.get(answer.headers["location"], headers=ADMIN).text


def test_a_refused_action_is_recorded_as_failed_and_explained(client: Any, upstreams: Upstreams, pg: FakeServer,
                                                              publisher: FakePublisher) -> None:
    upstreams.answer("PUT", KEYCLOAK, rf"{API}/users/([^/]+)/execute-actions-email", 500,
                     file="keycloak/execute_actions_email_failed.json")
    answer = post(client, f"/users/{user_id('alice')}", ADMIN, action="reset")
    assert answer.status_code == 502
    assert "Nothing was done: the portal could not send the password-reset e-mail." in answer.text
    assert "Failed to send execute actions email" in answer.text
    assert rows(pg) == [("admin", "user-reset-password", f"alice ({user_id('alice')})", "failed")]
    assert publisher.decoded()[0]["data"]["result"] == "failed"


def test_an_action_of_unknown_outcome_says_so(client: Any, upstreams: Upstreams, pg: FakeServer) -> None:
    def slow(request: httpx.Request, match: Any) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    upstreams.route("POST", KEYCLOAK, rf"{API}/users/([^/]+)/logout", slow)
    answer = post(client, f"/users/{user_id('alice')}", ADMIN, action="logout")
    assert answer.status_code == 502
    assert "does not know whether it was done" in answer.text
    assert rows(pg)[0][3] == "failed"


def test_bad_actions_and_groups_do_nothing(client: Any, upstreams: Upstreams, pg: FakeServer) -> None:
    alice = user_id("alice")
    assert post(client, f"/users/{alice}", ADMIN, action="delete").status_code == 400
    answer = post(client, f"/users/{alice}", ADMIN, action="remove-group", group=group_id("admins"))
    assert answer.status_code == 400 and "is not a group the user is in" in answer.text
    answer = post(client, f"/users/{alice}", ADMIN, action="add-group", group="nope")
    assert answer.status_code == 400 and "is not a group of the realm" in answer.text
    answer = post(client, "/users/5b0c4a5e-0000-4000-a000-000000000000", ADMIN, action="disable")
    assert answer.status_code == 404 and "Nothing was done" in answer.text
    assert upstreams.writes() == [] and rows(pg) == []


def test_an_admin_cannot_lock_themselves_out(client: Any, upstreams: Upstreams, pg: FakeServer) -> None:
    me = user_id("admin")
    for form in ({"action": "disable"}, {"action": "remove-group", "group": group_id("admins")}):
        answer = post(client, f"/users/{me}", ADMIN, **form)
        assert answer.status_code == 409 and "you would lock yourself out" in answer.text
    assert upstreams.writes() == [] and rows(pg) == []
    assert post(client, f"/users/{me}", ADMIN, action="logout").status_code == 303


def test_without_the_audit_log_nothing_is_done(client: Any, upstreams: Upstreams, pg: FakeServer, portal: Portal) -> None:
    client.get("/healthz")
    pg.fail = lambda sql: RuntimeError("connection lost") if sql.startswith("INSERT INTO audit") else None
    answer = post(client, f"/users/{user_id('alice')}", ADMIN, action="disable")
    assert answer.status_code == 503
    assert "Nothing was done: the audit log cannot be written" in answer.text
    answer = post(client, "/services/core-redis/restart", ADMIN)
    assert answer.status_code == 503 and "Nothing was done" in answer.text
    assert upstreams.writes() == []
    assert 'kmps_actions_total{action="user-disable",result="refused"} 1' in client.get("/metrics").text


# -- invite ----------------------------------------------------------------------------------------


def test_invite_form_and_success(client: Any, upstreams: Upstreams, pg: FakeServer, publisher: FakePublisher) -> None:
    import json

    form = client.get("/users/invite", headers=ADMIN)
    assert form.status_code == 200 and 'name="csrf"' in form.text
    answer = post(client, "/users/invite", ADMIN, username="Dave", email="dave@example.org", first_name="Dave", last_name="")
    new = "0f0e0d0c-0b0a-4909-a807-060504030201"
    assert answer.status_code == 303 and answer.headers["location"] == f"/users/{new}?done=invite"
    create, mail = upstreams.writes()
    assert (create.method, create.url.path) == ("POST", f"{API}/users")
    assert json.loads(create.content) == {"username": "dave", "email": "dave@example.org", "enabled": True,
                                          "emailVerified": False, "requiredActions": ["VERIFY_EMAIL", "UPDATE_PASSWORD"],
                                          "firstName": "Dave"}
    assert (mail.method, mail.url.path, json.loads(mail.content)) == (
        "PUT", f"{API}/users/{new}/execute-actions-email", ["VERIFY_EMAIL", "UPDATE_PASSWORD"])
    assert rows(pg) == [("admin", "user-invite", "dave <dave@example.org>", "ok")]
    assert publisher.decoded()[0]["topic"] == "kompose/system/audit/user-invite"


def test_invite_refuses_bad_input_before_anything(client: Any, upstreams: Upstreams, pg: FakeServer) -> None:
    answer = post(client, "/users/invite", ADMIN, username="-x", email="nope")
    assert answer.status_code == 400
    assert "Nothing was done." in answer.text and "not an address" in answer.text and "must start with" in answer.text
    assert upstreams.writes() == [] and rows(pg) == []


def test_invite_of_an_existing_user_fails_in_words(client: Any, upstreams: Upstreams, pg: FakeServer) -> None:
    upstreams.answer("POST", KEYCLOAK, f"{API}/users", 409, file="keycloak/create_user_conflict.json")
    answer = post(client, "/users/invite", ADMIN, username="alice", email="alice@example.org")
    assert answer.status_code == 502
    assert "Nothing was done: the portal could not create the user alice." in answer.text
    assert "User exists with same username" in answer.text
    assert rows(pg) == [("admin", "user-invite", "alice <alice@example.org>", "failed")]


def test_invite_without_mail_is_partial_and_says_what_remains(client: Any, upstreams: Upstreams, pg: FakeServer,
                                                              publisher: FakePublisher) -> None:
    upstreams.answer("PUT", KEYCLOAK, rf"{API}/users/([^/]+)/execute-actions-email", 500,
                     file="keycloak/execute_actions_email_failed.json")
    answer = post(client, "/users/invite", ADMIN, username="erin", email="erin@example.org")
    assert answer.status_code == 502
    text = answer.text
    assert "The user erin was created in Keycloak" in text
    assert "The invitation e-mail was NOT sent" in text and "Failed to send execute actions email" in text
    assert "Send the invitation again" in text and 'href="/users/0f0e0d0c-0b0a-4909-a807-060504030201"' in text
    assert rows(pg) == [("admin", "user-invite", "erin <erin@example.org>", "partial")]
    assert publisher.decoded()[0]["data"]["result"] == "partial"


# -- clients ---------------------------------------------------------------------------------------


def test_clients_are_read_only_and_secret_free(client: Any, upstreams: Upstreams) -> None:
    answer = client.get("/clients", headers=ADMIN)
    assert answer.status_code == 200
    assert "oauth2-proxy" in answer.text and "https://sso.example.org/oauth2/callback" in answer.text
    assert "confidential" in answer.text and "public" in answer.text
    assert "<form" not in answer.text.split("<main>")[1]
    no_secret(answer.text)
    assert [c.method for c in upstreams.calls if c.url.path.startswith(API)] == ["GET"]


# -- restart ---------------------------------------------------------------------------------------


def test_restart_asks_first_then_restarts(client: Any, upstreams: Upstreams, pg: FakeServer, publisher: FakePublisher) -> None:
    confirm = client.get("/services/core-redis/restart", headers=ADMIN)
    assert confirm.status_code == 200
    assert "Restart core-redis?" in confirm.text and "killed after 10 s" in confirm.text
    assert upstreams.writes() == []
    answer = client.post("/services/core-redis/restart", data={"csrf": token(client, ADMIN, "/services/core-redis/restart")},
                         headers=ADMIN)
    assert answer.status_code == 303 and answer.headers["location"] == "/?restarted=core-redis"
    (restart,) = upstreams.writes()
    assert (restart.method, restart.url.path, dict(restart.url.params)) == (
        "POST", f"/containers/{container_id('core-redis')}/restart", {"t": "10"})
    assert rows(pg) == [("admin", "service-restart", "core-redis", "ok")]
    assert publisher.decoded()[0]["topic"] == "kompose/system/audit/service-restart"
    assert "core-redis was restarted." in client.get(answer.headers["location"], headers=ADMIN).text


def test_restart_of_an_unknown_container_does_nothing(client: Any, upstreams: Upstreams, pg: FakeServer) -> None:
    for name in ("kmps_socket_proxy_other", "stranger"):
        assert client.get(f"/services/{name}/restart", headers=ADMIN).status_code == 404
        answer = post(client, f"/services/{name}/restart", ADMIN)
        assert answer.status_code == 404 and "no container of the site is called" in answer.text
    answer = post(client, "/services/..%2Fx/restart", ADMIN)
    assert answer.status_code in (404,)
    assert upstreams.writes() == [] and rows(pg) == []


def test_a_failed_restart_is_explained_and_recorded(client: Any, upstreams: Upstreams, pg: FakeServer) -> None:
    upstreams.answer("POST", DOCKER, r"/containers/([^/]+)/restart", 500, file="docker/restart_failed.json")
    answer = post(client, "/services/core-redis/restart", ADMIN)
    assert answer.status_code == 502
    assert "Nothing was done: the portal could not restart core-redis." in answer.text
    assert "executable file not found" in answer.text
    assert rows(pg) == [("admin", "service-restart", "core-redis", "failed")]


def test_no_docker_call_outside_the_allow_list_in_any_page(client: Any, upstreams: Upstreams) -> None:
    from kmps_portal.docker import ALLOWED

    client.get("/", headers=ADMIN)
    client.get("/services/core-redis/restart", headers=ADMIN)
    post(client, "/services/core-redis/restart", ADMIN)
    for call in upstreams.to(DOCKER):
        assert any(m == call.method and p.match(call.url.path) for m, p in ALLOWED), call
    assert upstreams.unmatched == []


# -- audit page ------------------------------------------------------------------------------------


def test_the_audit_page_lists_the_actions(client: Any, upstreams: Upstreams) -> None:
    post(client, f"/users/{user_id('alice')}", ADMIN, action="add-group", group=group_id("admins"))
    upstreams.answer("POST", DOCKER, r"/containers/([^/]+)/restart", 500, file="docker/restart_failed.json")
    post(client, "/services/core-redis/restart", ADMIN)
    page = client.get("/audit", headers=ADMIN)
    assert page.status_code == 200
    text = page.text
    assert text.index("service-restart") < text.index("user-add-group")  # newest first
    assert "failed" in text and "ok" in text and "2026-01-02 10:33 UTC" in text
    assert client.get("/audit", headers=USER).status_code == 403


def test_the_audit_page_without_database(client: Any, pg: FakeServer) -> None:
    client.get("/healthz")
    pg.fail = lambda sql: RuntimeError("gone") if sql.startswith("SELECT id, at") else None
    answer = client.get("/audit", headers=ADMIN)
    assert answer.status_code == 503 and "the database failed: gone" in answer.text


def test_no_page_shows_a_secret(client: Any) -> None:
    for path in ["/", "/users", "/users/invite", f"/users/{user_id('alice')}", "/clients",
                 "/services/core-redis/restart", "/audit", "/me", "/metrics", "/healthz"]:
        no_secret(client.get(path, headers=ADMIN).text)


# -- identity from the proxy's address only ------------------------------------------------------


def _client_from(address: str, trusted: list[str], upstreams: Upstreams, pg: FakeServer, publisher: FakePublisher) -> Any:
    from starlette.testclient import TestClient

    portal = build_portal(make_config(trusted_proxies=trusted), ENV, transport=upstreams.transport,
                          database=Database(fake_connector(pg)), publisher=publisher, clock=lambda: NOW)
    return TestClient(create_app(portal), base_url="https://kmps.example.org", follow_redirects=False, client=(address, 40000))


def test_identity_headers_from_another_address_than_the_proxy_are_refused(
    upstreams: Upstreams, pg: FakeServer, publisher: FakePublisher
) -> None:
    with _client_from("172.16.0.9", ["172.16.0.2"], upstreams, pg, publisher) as other:
        answer = other.get("/", headers=ADMIN)
        assert answer.status_code == 401
        assert "the request came from 172.16.0.9, not through the site&#39;s proxy" in answer.text
        answer = other.post("/services/core-redis/restart", headers=ADMIN, data={"csrf": "1.x"})
        assert answer.status_code == 401 and upstreams.writes() == [] and rows(pg) == []
        # what Prometheus and the health probe ask needs no identity
        assert other.get("/healthz").status_code in (200, 503) and other.get("/metrics").status_code == 200
    with _client_from("172.16.0.2", ["172.16.0.2"], upstreams, pg, publisher) as proxy:
        assert proxy.get("/", headers=ADMIN).status_code == 200
    with _client_from("172.16.0.9", [], upstreams, pg, publisher) as anyone:
        assert anyone.get("/", headers=ADMIN).status_code == 200
