"""The Keycloak admin client: every call's method, path and body, the token, and the errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from conftest import ENV, KEYCLOAK, REALM, Upstreams, group_id, make_config, recorded, user_id

from kmps_portal.config import KeycloakSettings
from kmps_portal.errors import PortalError
from kmps_portal.keycloak import INVITE_ACTIONS, RESET_ACTIONS, KeycloakClient

T = TypeVar("T")
ADMIN = f"/admin/realms/{REALM}"
TOKEN = recorded("keycloak/token.json")["access_token"]
SECRET = ENV["KMPS_KEYCLOAK_SECRET"]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(upstreams: Upstreams, work: Callable[[KeycloakClient], Awaitable[T]], settings: KeycloakSettings | None = None,
        clock: Clock | None = None) -> T:
    async def main() -> T:
        async with httpx.AsyncClient(transport=upstreams.transport) as http:
            client = KeycloakClient(settings or make_config().keycloak, SECRET, http, clock or Clock())
            return await work(client)

    return asyncio.run(main())


def admin_calls(upstreams: Upstreams) -> list[tuple[str, str, Any]]:
    """(method, path with query, JSON body) of the admin API calls, in order."""
    out = []
    for call in upstreams.calls:
        if call.url.path.startswith(ADMIN):
            body = json.loads(call.content) if call.content else None
            query = f"?{call.url.query.decode()}" if call.url.query else ""
            out.append((call.method, call.url.path[len(ADMIN):] + query, body))
    return out


def test_the_token_comes_from_the_client_credentials_grant_and_is_cached(upstreams: Upstreams) -> None:
    async def work(client: KeycloakClient) -> None:
        await client.list_users()
        await client.clients()
        await client.groups()

    run(upstreams, work)
    token_calls = [c for c in upstreams.calls if c.url.path.endswith("/token")]
    assert len(token_calls) == 1
    call = token_calls[0]
    assert str(call.url) == f"{KEYCLOAK}/realms/{REALM}/protocol/openid-connect/token"
    assert call.method == "POST"
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(call.content.decode())) == {
        "grant_type": "client_credentials", "client_id": "kmps", "client_secret": SECRET,
    }
    for api in (c for c in upstreams.calls if c.url.path.startswith(ADMIN)):
        assert api.headers["authorization"] == f"Bearer {TOKEN}"
    assert not any("/realms/master" in str(c.url) for c in upstreams.calls)


def test_the_token_is_renewed_shortly_before_it_expires(upstreams: Upstreams) -> None:
    clock = Clock()

    async def work(client: KeycloakClient) -> None:
        await client.clients()
        clock.now += 300 - 31  # expires_in 300, renewed 30 s early
        await client.clients()
        clock.now += 2
        await client.clients()

    run(upstreams, work, clock=clock)
    assert len([c for c in upstreams.calls if c.url.path.endswith("/token")]) == 2


def test_a_401_drops_the_token_and_retries_once(upstreams: Upstreams) -> None:
    answers = iter([httpx.Response(401, json={"error": "HTTP 401 Unauthorized"}), None])

    def clients(request: httpx.Request, match: Any) -> httpx.Response:
        answer = next(answers)
        return answer if answer is not None else httpx.Response(200, json=recorded("keycloak/clients.json"))

    upstreams.route("GET", KEYCLOAK, f"{ADMIN}/clients", clients)
    found = run(upstreams, lambda client: client.clients())
    assert len(found) == 10
    assert len([c for c in upstreams.calls if c.url.path.endswith("/token")]) == 2


def test_list_and_search_users(upstreams: Upstreams) -> None:
    async def work(client: KeycloakClient) -> Any:
        return await client.list_users(), await client.list_users("alice", first=50, max_results=25)

    everyone, alice = run(upstreams, work)
    assert [u.username for u in everyone] == ["admin", "alice", "bob", "carol"]
    carol = everyone[3]
    assert carol.required_actions == () and not carol.email_verified and carol.first_name == ""
    assert not everyone[2].enabled
    assert [u.username for u in alice] == ["alice"] and alice[0].display == "alice (Alice Martin)"
    assert admin_calls(upstreams) == [
        ("GET", "/users?first=0&max=50&briefRepresentation=true", None),
        ("GET", "/users?first=50&max=25&briefRepresentation=true&search=alice", None),
    ]


def test_get_one_user(upstreams: Upstreams) -> None:
    alice = run(upstreams, lambda client: client.get_user(user_id("alice")))
    assert alice.username == "alice" and alice.email == "alice@example.org" and alice.enabled
    assert alice.created is not None and alice.created.year == 2025
    assert admin_calls(upstreams) == [("GET", f"/users/{user_id('alice')}", None)]


def test_invite_creates_then_mails(upstreams: Upstreams) -> None:
    async def work(client: KeycloakClient) -> str:
        new = await client.create_user("dave", "dave@example.org", "Dave", "")
        await client.send_actions_email(new, INVITE_ACTIONS, "sending the invitation e-mail")
        return new

    new = run(upstreams, work)
    assert new == "0f0e0d0c-0b0a-4909-a807-060504030201"
    assert admin_calls(upstreams) == [
        ("POST", "/users", {
            "username": "dave", "email": "dave@example.org", "enabled": True, "emailVerified": False,
            "requiredActions": ["VERIFY_EMAIL", "UPDATE_PASSWORD"], "firstName": "Dave",
        }),
        ("PUT", f"/users/{new}/execute-actions-email", ["VERIFY_EMAIL", "UPDATE_PASSWORD"]),
    ]


def test_the_action_lifespan_is_passed_when_configured(upstreams: Upstreams) -> None:
    raw_kc = make_config().keycloak
    settings = KeycloakSettings(**{**raw_kc.__dict__, "action_lifespan": 86400})
    run(upstreams, lambda c: c.send_actions_email(user_id("alice"), RESET_ACTIONS, "x"), settings=settings)
    assert admin_calls(upstreams) == [("PUT", f"/users/{user_id('alice')}/execute-actions-email?lifespan=86400", ["UPDATE_PASSWORD"])]


def test_create_without_location_looks_the_user_up(upstreams: Upstreams) -> None:
    upstreams.answer("POST", KEYCLOAK, f"{ADMIN}/users", 201)
    new = run(upstreams, lambda client: client.create_user("alice", "alice@example.org"))
    assert new == user_id("alice")
    assert admin_calls(upstreams)[1] == ("GET", "/users?username=alice&exact=true", None)


def test_enable_disable_groups_sessions_logout(upstreams: Upstreams) -> None:
    alice, family = user_id("alice"), group_id("family")

    async def work(client: KeycloakClient) -> Any:
        await client.set_enabled(alice, False)
        await client.set_enabled(alice, True)
        await client.add_to_group(alice, family)
        await client.remove_from_group(alice, family)
        await client.logout(alice)
        return await client.groups(), await client.user_groups(alice), await client.sessions(alice)

    groups, member_of, sessions = run(upstreams, work)
    assert admin_calls(upstreams) == [
        ("PUT", f"/users/{alice}", {"enabled": False}),
        ("PUT", f"/users/{alice}", {"enabled": True}),
        ("PUT", f"/users/{alice}/groups/{family}", None),
        ("DELETE", f"/users/{alice}/groups/{family}", None),
        ("POST", f"/users/{alice}/logout", None),
        ("GET", "/groups?first=0&max=500", None),
        ("GET", f"/users/{alice}/groups", None),
        ("GET", f"/users/{alice}/sessions", None),
    ]
    assert [g.path for g in groups] == ["/admins", "/family", "/staff"]
    assert [g.name for g in member_of] == ["family"]
    assert sessions[0].ip_address == "172.20.0.14" and sessions[0].clients == ("grafana", "oauth2-proxy")
    assert sessions[0].started is not None and sessions[0].last_access is not None


def test_sub_groups_are_listed_by_path(upstreams: Upstreams) -> None:
    upstreams.answer("GET", KEYCLOAK, f"{ADMIN}/groups", 200, file="keycloak/groups_with_subgroups.json")
    assert [g.path for g in run(upstreams, lambda c: c.groups())] == ["/staff", "/staff/ops"]


def test_clients_keep_five_fields_and_never_the_secret(upstreams: Upstreams) -> None:
    found = run(upstreams, lambda client: client.clients())
    assert [c.client_id for c in found][:3] == ["account", "account-console", "admin-cli"]
    proxy = next(c for c in found if c.client_id == "oauth2-proxy")
    assert proxy.redirect_uris == ("https://sso.example.org/oauth2/callback",) and not proxy.public_client and proxy.enabled
    assert next(c for c in found if c.client_id == "security-admin-console").public_client
    assert set(proxy.__dataclass_fields__) == {"client_id", "name", "enabled", "redirect_uris", "public_client"}
    assert "RECORDED-CLIENT-SECRET" not in repr(found)


@pytest.mark.parametrize(
    ("method", "path", "status", "file", "call", "words"),
    [
        ("POST", "/users", 409, "keycloak/create_user_conflict.json",
         lambda c: c.create_user("alice", "alice@example.org"),
         "Keycloak refused creating user 'alice': HTTP 409 Conflict: User exists with same username"),
        ("POST", "/users", 400, "keycloak/create_user_invalid.json",
         lambda c: c.create_user("x", "not-an-address"),
         "Keycloak refused creating user 'x': HTTP 400 Bad Request: email: invalidEmailMessage"),
        ("PUT", r"/users/([A-Za-z0-9-]+)/execute-actions-email", 500, "keycloak/execute_actions_email_failed.json",
         lambda c: c.send_actions_email(user_id("alice"), RESET_ACTIONS, "sending the password-reset e-mail"),
         "Keycloak refused sending the password-reset e-mail: HTTP 500 Internal Server Error: Failed to send execute actions email"),
        ("PUT", r"/users/([A-Za-z0-9-]+)/execute-actions-email", 400, "keycloak/execute_actions_email_disabled.json",
         lambda c: c.send_actions_email(user_id("bob"), RESET_ACTIONS, "sending the password-reset e-mail"),
         "HTTP 400 Bad Request: User is disabled"),
        ("GET", r"/users/([A-Za-z0-9-]+)", 404, "keycloak/user_not_found.json",
         lambda c: c.get_user("5b0c4a5e-0000-4000-a000-000000000000"),
         "Keycloak refused the user: HTTP 404 Not Found: User not found"),
        ("PUT", r"/users/([A-Za-z0-9-]+)/groups/([A-Za-z0-9-]+)", 403, "keycloak/forbidden.json",
         lambda c: c.add_to_group(user_id("alice"), group_id("admins")),
         "Keycloak refused adding the user to the group: HTTP 403 Forbidden (the portal's service account lacks"),
        ("DELETE", r"/users/([A-Za-z0-9-]+)/groups/([A-Za-z0-9-]+)", 404, "keycloak/group_not_found.json",
         lambda c: c.remove_from_group(user_id("alice"), group_id("admins")),
         "HTTP 404 Not Found: Group not found"),
    ],
)
def test_errors_carry_the_status_and_keycloaks_words_never_a_token(
    upstreams: Upstreams, method: str, path: str, status: int, file: str, call: Any, words: str
) -> None:
    upstreams.answer(method, KEYCLOAK, ADMIN + path, status, file=file)
    with pytest.raises(PortalError) as caught:
        run(upstreams, call)
    assert words in str(caught.value)
    assert caught.value.status == status and caught.value.upstream == "Keycloak"
    assert TOKEN not in str(caught.value) and SECRET not in str(caught.value)


def test_a_refused_sign_in_says_so_without_the_secret(upstreams: Upstreams) -> None:
    upstreams.answer("POST", KEYCLOAK, f"/realms/{REALM}/protocol/openid-connect/token", 401, file="keycloak/token_invalid_client.json")
    with pytest.raises(PortalError) as caught:
        run(upstreams, lambda client: client.list_users())
    assert str(caught.value) == (
        "Keycloak refused the portal's sign-in as client 'kmps': HTTP 401 Unauthorized: "
        "unauthorized_client: Invalid client or Invalid client credentials"
    )
    assert SECRET not in str(caught.value)
    assert not admin_calls(upstreams)


def test_an_unreachable_keycloak_and_a_timeout_are_told_apart(upstreams: Upstreams) -> None:
    def refused(request: httpx.Request, match: Any) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    def slow(request: httpx.Request, match: Any) -> httpx.Response:
        raise httpx.ReadTimeout("timed out")

    upstreams.route("GET", KEYCLOAK, f"{ADMIN}/clients", refused)
    with pytest.raises(PortalError, match=r"Keycloak cannot be reached \(the list of clients\): \[Errno 111\] Connection refused") as caught:
        run(upstreams, lambda client: client.clients())
    assert not caught.value.outcome_unknown
    upstreams.route("PUT", KEYCLOAK, rf"{ADMIN}/users/([A-Za-z0-9-]+)", slow)
    with pytest.raises(PortalError, match="did not answer in time .disabling the user. - it may or may not have been done") as caught:
        run(upstreams, lambda client: client.set_enabled(user_id("alice"), False))
    assert caught.value.outcome_unknown


def test_ids_that_do_not_fit_a_path_are_refused_before_anything_is_sent(upstreams: Upstreams) -> None:
    for bad in ("..", "../../master/users", "a/b", "", "x" * 200):
        with pytest.raises(PortalError, match="is not a Keycloak id; nothing was sent"):
            run(upstreams, lambda client: client.get_user(bad))
    assert upstreams.calls == []


def test_the_master_realm_is_refused(upstreams: Upstreams) -> None:
    settings = KeycloakSettings(**{**make_config().keycloak.__dict__, "realm": "master"})
    with pytest.raises(ValueError, match="never manages the master realm"):
        run(upstreams, lambda client: client.clients(), settings=settings)


def test_the_account_console_link(upstreams: Upstreams) -> None:
    link = run(upstreams, lambda client: asyncio.sleep(0, client.account_console))
    assert link == "https://auth.example.org/realms/kompose/account"
