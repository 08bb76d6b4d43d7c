"""The web application: routes, who may use them, and how every answer is rendered.

=====================================  =========================  ==============================
route                                  who                        what
=====================================  =========================  ==============================
``GET  /``                             admins (others: -> /me)    the overview
``GET  /users?q=&first=``              admins                     list and search users
``GET  /users/invite``, ``POST``       admins                     invite a user
``GET  /users/{id}``                   admins                     a user: groups, sessions
``POST /users/{id}``                   admins                     ``action`` = enable, disable,
                                                                  reset, invitation, add-group,
                                                                  remove-group, logout
``GET  /clients``                      admins                     the realm's clients, read-only
``GET  /services/{container}/restart`` admins                     confirmation page
``POST /services/{container}/restart`` admins                     restart the container
``GET  /audit?before=``                admins                     the audit log
``GET  /me``                           every signed-in user       own groups, account console,
                                                                  sign out
``GET  /static/kmps.css``              every signed-in user       the style sheet
``GET  /healthz``                      anyone (no identity)       200 when the database answers
``GET  /metrics``                      anyone (no identity)       Prometheus text; Traefik does
                                                                  not route it
=====================================  =========================  ==============================

Every other request without OAuth2 Proxy's identity headers is refused with 401; a signed-in user
outside the admin group gets 403 on admin pages and actions. Every POST carries a CSRF token
(``csrf.py``) and is recorded in the audit log before it runs (``audit.py``); every failure is
shown in words, saying what was done and what was not.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import parse_qsl, quote, urlencode

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import __version__, overview
from .audit import AuditLog, AuditUnavailable, Database, MqttPublisher, Publisher, psycopg_connector
from .config import Config
from .csrf import Csrf, CsrfError
from .docker import DockerClient
from .errors import PortalError
from .identity import Identity, NoIdentity, identify, normalize_group
from .keycloak import INVITE_ACTIONS, RESET_ACTIONS, KeycloakClient
from .metrics import Metrics

log = logging.getLogger("kmps")

HERE = Path(__file__).parent
MAX_FORM = 16 * 1024
PAGE_SIZE = 50
DATABASE_RETRY = 5.0
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}$")
EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
SECURITY_HEADERS = (
    ("content-security-policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
     "frame-ancestors 'none'; base-uri 'none'"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
)
# the user page's actions: form value -> (audit action, what it does, in words)
USER_ACTIONS = {
    "enable": ("user-enable", "enable the user"),
    "disable": ("user-disable", "disable the user"),
    "reset": ("user-reset-password", "send the password-reset e-mail"),
    "invitation": ("user-send-invitation", "send the invitation e-mail again"),
    "add-group": ("user-add-group", "add the user to the group"),
    "remove-group": ("user-remove-group", "remove the user from the group"),
    "logout": ("user-logout", "end all of the user's sessions"),
}
DONE = {
    "invite": "The user was created and Keycloak sent the invitation e-mail.",
    "enable": "The user was enabled.",
    "disable": "The user was disabled. Sessions already open end when their tokens expire; "
    "'End all sessions' ends them now.",
    "reset": "Keycloak sent the password-reset e-mail.",
    "invitation": "Keycloak sent the invitation e-mail again.",
    "add-group": "The user was added to the group.",
    "remove-group": "The user was removed from the group.",
    "logout": "All of the user's sessions were ended.",
}


class Unauthorized(Exception):
    """No identity: 401."""


class Forbidden(Exception):
    """Signed in, but not allowed: 403."""


# -- the portal's parts ------------------------------------------------------------------------


@dataclass
class Portal:
    """Everything a request needs, built once from the config."""

    config: Config
    keycloak: KeycloakClient
    docker: DockerClient
    alertmanager: overview.AlertmanagerClient
    prometheus: overview.PrometheusClient
    database: Database
    audit: AuditLog
    csrf: Csrf
    metrics: Metrics
    publisher: Publisher | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    _database_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start MQTT and open the database (migrating it); retry the database in the background."""
        if isinstance(self.publisher, MqttPublisher):
            self.publisher.start()
        self._database_task = asyncio.create_task(self._open_database())
        # compile the templates now, not in the first visitor's request
        for name in TEMPLATES.list_templates():
            TEMPLATES.get_template(name)

    async def _open_database(self) -> None:
        last = ""
        while True:
            try:
                await self.database.ensure()
                log.info("kmps database: ready (schema version %s)", self.database.schema_version)
                return
            except PortalError as error:
                if str(error) != last:
                    log.warning("kmps database: %s; retrying every %g s", error, DATABASE_RETRY)
                    last = str(error)
            await asyncio.sleep(DATABASE_RETRY)

    async def stop(self) -> None:
        if self._database_task is not None:
            self._database_task.cancel()
        if isinstance(self.publisher, MqttPublisher):
            self.publisher.stop()
        await self.database.close()
        for client in self.clients:
            await client.aclose()


def build_portal(
    config: Config,
    environ: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
    database: Database | None = None,
    publisher: Publisher | None = None,
    clock: Callable[[], float] = time.time,
) -> Portal:
    """The portal for ``config``; ``transport``, ``database`` and ``publisher`` replace the real
    network, PostgreSQL and MQTT (the tests)."""

    def http(base: str, timeout: float, connections: int = 10) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            trust_env=False,  # no proxy from the environment: every upstream is on the portal's networks
            follow_redirects=False,
        )

    metrics = Metrics()
    keycloak_http = http(config.keycloak.url, config.http_timeout)
    docker_http = http(config.docker_url, config.http_timeout, connections=overview.INSPECT_CONCURRENCY + 4)
    monitor_http = http(config.prometheus.url, config.overview_timeout)
    if database is None:
        database = Database(psycopg_connector(config.database, environ[config.database.password_env]))
    if publisher is None and config.mqtt is not None:
        publisher = MqttPublisher(config.mqtt, environ[config.mqtt.password_env])
    prefix = config.mqtt.topic_prefix if config.mqtt is not None else "kompose/system/audit"
    return Portal(
        config=config,
        keycloak=KeycloakClient(config.keycloak, environ[config.keycloak.secret_env], keycloak_http),
        docker=DockerClient(docker_http, config.docker_url),
        alertmanager=overview.AlertmanagerClient(monitor_http, config.alertmanager_url),
        prometheus=overview.PrometheusClient(monitor_http, config.prometheus.url),
        database=database,
        audit=AuditLog(database, publisher, metrics, prefix, clock),
        csrf=Csrf(environ[config.csrf_secret_env].encode(), config.csrf_max_age, clock),
        metrics=metrics,
        publisher=publisher,
        clients=[keycloak_http, docker_http, monitor_http],
        clock=clock,
    )


# -- rendering ---------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    """3 d 4 h / 5 h 12 min / 4 min / 12 s."""
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def size(value: float | None) -> str:
    if value is None:
        return "unknown"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


TEMPLATES = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters.update(duration=duration, when=when, size=size)
TEMPLATES.globals.update(version=__version__, quote=lambda value: quote(str(value), safe=""))


def portal_of(request: Request) -> Portal:
    return request.app.state.portal


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    portal = portal_of(request)
    identity: Identity | None = getattr(request.state, "identity", None)
    context.setdefault("identity", identity)
    if identity is not None:
        context.setdefault("csrf", portal.csrf.issue(identity.user))
    context.setdefault("path", request.url.path)
    html = TEMPLATES.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status)


def message(
    request: Request,
    status: int,
    title: str,
    lines: list[str],
    links: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    """A page that says what happened, in words."""
    level = "ok" if status < 400 else "bad"
    return render(request, "message.html", status, title=title, lines=lines, links=links or [], level=level)


def who(request: Request, admin: bool = False) -> Identity:
    """The signed-in user (401 without one); with ``admin``, a member of the admin group (403)."""
    trusted = portal_of(request).config.trusted_proxies
    peer = request.client.host if request.client else ""
    if trusted and peer not in trusted:
        raise Unauthorized(f"the request came from {peer or 'an unknown address'}, not through the site's proxy")
    try:
        identity = identify(request.headers, portal_of(request).config.admin_group)
    except NoIdentity as error:
        raise Unauthorized(str(error)) from None
    request.state.identity = identity
    if admin and not identity.admin:
        raise Forbidden(f"this is for the members of the group {portal_of(request).config.admin_group!r}")
    return identity


async def read_form(request: Request, identity: Identity) -> dict[str, str]:
    """The POSTed form (URL-encoded, bounded), after its CSRF token was checked."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, "the portal takes forms only (application/x-www-form-urlencoded)")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM):
        raise HTTPException(413, f"a form of more than {MAX_FORM} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise HTTPException(413, f"a form of more than {MAX_FORM} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "the form is not readable (UTF-8, URL-encoded)") from None
    form = dict(pairs)
    portal_of(request).csrf.check(identity.user, form.get("csrf"))
    return form


def not_done(error: PortalError, what: str) -> str:
    """The sentence for a failed write: nothing was done, or nobody knows (no answer)."""
    if error.outcome_unknown:
        return f"The portal asked to {what}, and does not know whether it was done: {error}"
    return f"Nothing was done: the portal could not {what}. {error}"


# -- pages -------------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    identity = who(request)
    if not identity.admin:
        return RedirectResponse("/me", status_code=303)
    portal = portal_of(request)
    view = await overview.build(portal.config, portal.docker, portal.alertmanager, portal.prometheus, portal.clock)
    restarted = request.query_params.get("restarted", "")
    known = {row.container for stack in view.stacks for row in stack.rows}
    return render(
        request,
        "overview.html",
        view=view,
        restarted=restarted if restarted in known else "",
        site=portal.config.site,
    )


async def users(request: Request) -> Response:
    who(request, admin=True)
    portal = portal_of(request)
    search = request.query_params.get("q", "").strip()[:100]
    first = _int_param(request, "first", 0)
    error = ""
    found = []
    try:
        found = await portal.keycloak.list_users(search, first, PAGE_SIZE)
    except PortalError as problem:
        error = str(problem)
    status = 502 if error else 200
    return render(
        request,
        "users.html",
        status,
        users=found,
        search=search,
        first=first,
        page_size=PAGE_SIZE,
        error=error,
        next_query=urlencode({"q": search, "first": first + PAGE_SIZE}) if len(found) == PAGE_SIZE else "",
        previous_query=urlencode({"q": search, "first": max(0, first - PAGE_SIZE)}) if first > 0 else "",
    )


async def invite_form(request: Request) -> Response:
    who(request, admin=True)
    return render(request, "invite.html", values={}, problems=[])


async def invite(request: Request) -> Response:
    identity = who(request, admin=True)
    portal = portal_of(request)
    form = await read_form(request, identity)
    values = {key: form.get(key, "").strip() for key in ("username", "email", "first_name", "last_name")}
    problems = []
    if not USERNAME.match(values["username"]):
        problems.append("The username must start with a letter or digit and hold only letters, digits and . _ @ + -.")
    if not EMAIL.match(values["email"]):
        problems.append("The e-mail address is not an address (name@domain.tld).")
    for key in ("first_name", "last_name"):
        if len(values[key]) > 100 or any(not char.isprintable() for char in values[key]):
            problems.append("Names are at most 100 printable characters.")
            break
    if problems:
        return render(request, "invite.html", 400, values=values, problems=["Nothing was done.", *problems])
    username = values["username"].lower()
    try:
        entry = await portal.audit.begin(identity.name, "user-invite", f"{username} <{values['email']}>")
    except AuditUnavailable as error:
        return message(request, 503, "Not invited", [f"Nothing was done: {error}."])
    try:
        user_id = await portal.keycloak.create_user(username, values["email"], values["first_name"], values["last_name"])
    except PortalError as error:
        await portal.audit.finish(entry, "failed", str(error))
        return render(request, "invite.html", 502, values=values, problems=[not_done(error, f"create the user {username}")])
    try:
        await portal.keycloak.send_actions_email(user_id, INVITE_ACTIONS, "sending the invitation e-mail")
    except PortalError as error:
        await portal.audit.finish(entry, "partial", f"created {user_id}; the invitation e-mail was not sent: {error}")
        return message(
            request,
            502,
            "Invited only in part",
            [
                f"The user {username} was created in Keycloak (enabled, e-mail not verified, "
                "required actions: verify the e-mail, set a password).",
                f"The invitation e-mail was NOT sent: {error}",
                "Send it from the user's page ('Send the invitation again') once the cause is fixed.",
            ],
            [(f"/users/{quote(user_id, safe='')}", f"The page of {username}")],
        )
    await portal.audit.finish(entry, "ok", f"created {user_id}; invitation mailed to {values['email']}")
    return RedirectResponse(f"/users/{quote(user_id, safe='')}?done=invite", status_code=303)


async def user_page(request: Request) -> Response:
    who(request, admin=True)
    portal = portal_of(request)
    user_id = request.path_params["id"]
    try:
        user = await portal.keycloak.get_user(user_id)
    except PortalError as error:
        status = 404 if error.status == 404 else 502
        return message(request, status, "No such user" if status == 404 else "Keycloak did not answer", [str(error)],
                       [("/users", "All users")])
    results = await asyncio.gather(
        portal.keycloak.user_groups(user.id),
        portal.keycloak.groups(),
        portal.keycloak.sessions(user.id),
        return_exceptions=True,
    )
    problems = [str(r) for r in results if isinstance(r, PortalError)]
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, PortalError):
            raise result
    member_of = results[0] if not isinstance(results[0], BaseException) else None
    all_groups = results[1] if not isinstance(results[1], BaseException) else None
    sessions = results[2] if not isinstance(results[2], BaseException) else None
    member_ids = {group.id for group in member_of or []}
    done = DONE.get(request.query_params.get("done", ""), "")
    return render(
        request,
        "user.html",
        user=user,
        member_of=member_of,
        joinable=[g for g in all_groups or [] if g.id not in member_ids] if member_of is not None else [],
        sessions=sessions,
        problems=problems,
        done=done,
        admin_group=portal.config.admin_group,
    )


async def user_action(request: Request) -> Response:
    identity = who(request, admin=True)
    portal = portal_of(request)
    form = await read_form(request, identity)
    user_id = request.path_params["id"]
    back = [(f"/users/{quote(user_id, safe='')}", "Back to the user")]
    choice = form.get("action", "")
    if choice not in USER_ACTIONS:
        return message(request, 400, "Unknown action", [f"Nothing was done: {choice[:40]!r} is not an action of this page."], back)
    action, what = USER_ACTIONS[choice]
    try:
        user = await portal.keycloak.get_user(user_id)
    except PortalError as error:
        return message(request, 404 if error.status == 404 else 502, "Not done", [not_done(error, what)], back)
    target = f"{user.username} ({user.id})"
    group = None
    if choice in ("add-group", "remove-group"):
        group_id = form.get("group", "")
        try:
            candidates = await (portal.keycloak.groups() if choice == "add-group" else portal.keycloak.user_groups(user.id))
        except PortalError as error:
            return message(request, 502, "Not done", [not_done(error, what)], back)
        group = next((g for g in candidates if g.id == group_id), None)
        if group is None:
            reason = "is not a group of the realm" if choice == "add-group" else "is not a group the user is in"
            return message(request, 400, "Not done", [f"Nothing was done: the group {group_id[:60]!r} {reason}."], back)
        target = f"{user.username} ({user.id}) group {group.path}"
    if _is_self(identity, user.username, user.id, user.email):
        lockout = choice == "disable" or (
            choice == "remove-group" and group is not None and normalize_group(group.path) == portal.config.admin_group
        )
        if lockout:
            return message(
                request,
                409,
                "Refused",
                ["Nothing was done: you would lock yourself out. Another member of the admin group can do this."],
                back,
            )
    try:
        entry = await portal.audit.begin(identity.name, action, target)
    except AuditUnavailable as error:
        return message(request, 503, "Not done", [f"Nothing was done: {error}."], back)
    try:
        if choice in ("enable", "disable"):
            await portal.keycloak.set_enabled(user.id, choice == "enable")
        elif choice == "reset":
            await portal.keycloak.send_actions_email(user.id, RESET_ACTIONS, "sending the password-reset e-mail")
        elif choice == "invitation":
            await portal.keycloak.send_actions_email(user.id, INVITE_ACTIONS, "sending the invitation e-mail")
        elif choice == "add-group" and group is not None:
            await portal.keycloak.add_to_group(user.id, group.id)
        elif choice == "remove-group" and group is not None:
            await portal.keycloak.remove_from_group(user.id, group.id)
        elif choice == "logout":
            await portal.keycloak.logout(user.id)
    except PortalError as error:
        await portal.audit.finish(entry, "failed", str(error))
        return message(request, 502, "Not done", [not_done(error, what)], back)
    await portal.audit.finish(entry, "ok", group.path if group is not None else "")
    return RedirectResponse(f"/users/{quote(user.id, safe='')}?done={choice}", status_code=303)


async def clients(request: Request) -> Response:
    who(request, admin=True)
    try:
        found = await portal_of(request).keycloak.clients()
    except PortalError as error:
        return render(request, "clients.html", 502, clients=[], error=str(error))
    return render(request, "clients.html", clients=found, error="")


async def restart_form(request: Request) -> Response:
    who(request, admin=True)
    portal = portal_of(request)
    name = request.path_params["container"]
    try:
        container = await portal.docker.find(name)
    except PortalError as error:
        return message(request, 404 if error.status == 404 else 502, "Cannot restart", [str(error)], [("/", "Overview")])
    if container is None:
        return message(request, 404, "No such service", [f"No container of the site is called {name[:80]!r}."], [("/", "Overview")])
    return render(request, "restart.html", container=container, timeout=portal.config.restart_timeout)


async def restart(request: Request) -> Response:
    identity = who(request, admin=True)
    portal = portal_of(request)
    await read_form(request, identity)
    name = request.path_params["container"]
    back = [("/", "Overview")]
    what = f"restart {name[:80]}"
    try:
        container = await portal.docker.find(name)
    except PortalError as error:
        return message(request, 404 if error.status == 404 else 502, "Not restarted", [not_done(error, what)], back)
    if container is None:
        return message(request, 404, "Not restarted", [f"Nothing was done: no container of the site is called {name[:80]!r}."], back)
    try:
        entry = await portal.audit.begin(identity.name, "service-restart", container.name)
    except AuditUnavailable as error:
        return message(request, 503, "Not restarted", [f"Nothing was done: {error}."], back)
    started = time.perf_counter()
    try:
        await portal.docker.restart(container.id, portal.config.restart_timeout)
    except PortalError as error:
        await portal.audit.finish(entry, "failed", str(error))
        return message(request, 502, "Not restarted", [not_done(error, what)], back)
    await portal.audit.finish(entry, "ok", f"Docker restarted it in {time.perf_counter() - started:.1f} s")
    return RedirectResponse(f"/?restarted={quote(container.name, safe='')}", status_code=303)


async def audit_page(request: Request) -> Response:
    who(request, admin=True)
    before = _int_param(request, "before", 0) or None
    try:
        rows = await portal_of(request).audit.recent(PAGE_SIZE * 2, before)
    except PortalError as error:
        return render(request, "audit.html", 503, rows=[], error=str(error), older="")
    older = str(rows[-1].id) if len(rows) == PAGE_SIZE * 2 else ""
    return render(request, "audit.html", rows=rows, error="", older=older)


async def me(request: Request) -> Response:
    identity = who(request)
    return render(request, "me.html", account_console=portal_of(request).keycloak.account_console)


async def stylesheet(request: Request) -> Response:
    who(request)
    return Response(STYLESHEET, media_type="text/css", headers={"cache-control": "private, max-age=3600"})


async def healthz(request: Request) -> Response:
    if await portal_of(request).database.ping():
        return PlainTextResponse("ok\n")
    return PlainTextResponse("the kmps database does not answer\n", status_code=503)


async def metrics(request: Request) -> Response:
    return PlainTextResponse(portal_of(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


STYLESHEET = (HERE / "static" / "kmps.css").read_text(encoding="utf-8")


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else default


def _is_self(identity: Identity, username: str, user_id: str, email: str) -> bool:
    return identity.user in (user_id, username) or (bool(identity.username) and identity.username == username) or (
        bool(identity.email) and identity.email.lower() == email.lower() and identity.user == identity.email
    )


# -- errors and instrumentation ----------------------------------------------------------------


async def on_unauthorized(request: Request, error: Exception) -> Response:
    return message(request, 401, "Not signed in", [f"The portal refuses requests without an identity: {error}."])


async def on_forbidden(request: Request, error: Exception) -> Response:
    return message(request, 403, "Not allowed", [f"Nothing was done: {error}."], [("/me", "Your account")])


async def on_csrf(request: Request, error: Exception) -> Response:
    return message(request, 403, "Form refused", [f"Nothing was done: {error}."])


async def on_http(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    return message(request, error.status_code, titles.get(error.status_code, "Refused"), [f"Nothing was done: {error.detail}."])


async def on_error(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return message(request, 500, "Internal error", [
        "The portal failed unexpectedly; what it was doing may be incomplete. The portal's log has the details, "
        "and the audit log shows any write that had started."
    ])


class Instrument:
    """Counts requests by route template and status, and adds the security headers."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "other"
            self.metrics.request(template, scope.get("method", ""), status, time.perf_counter() - started)


def create_app(portal: Portal) -> Starlette:
    """The ASGI application serving ``portal``."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await portal.start()
        try:
            yield
        finally:
            await portal.stop()

    routes = [
        Route("/", home, methods=["GET"]),
        Route("/users", users, methods=["GET"]),
        Route("/users/invite", invite_form, methods=["GET"]),
        Route("/users/invite", invite, methods=["POST"]),
        Route("/users/{id}", user_page, methods=["GET"]),
        Route("/users/{id}", user_action, methods=["POST"]),
        Route("/clients", clients, methods=["GET"]),
        Route("/services/{container}/restart", restart_form, methods=["GET"]),
        Route("/services/{container}/restart", restart, methods=["POST"]),
        Route("/audit", audit_page, methods=["GET"]),
        Route("/me", me, methods=["GET"]),
        Route("/static/kmps.css", stylesheet, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            Unauthorized: on_unauthorized,
            Forbidden: on_forbidden,
            CsrfError: on_csrf,
            HTTPException: on_http,
            Exception: on_error,
        },
    )
    app.state.portal = portal
    app.add_middleware(Instrument, metrics=portal.metrics)
    return app
