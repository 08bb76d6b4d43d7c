"""A client of Keycloak's admin REST API for one realm (never ``master``), as the portal's own client.

Authentication: the client-credentials grant of the portal's confidential client (its service
account), ``POST {url}/realms/{realm}/protocol/openid-connect/token`` with ``grant_type=
client_credentials``, ``client_id``, ``client_secret`` (form-encoded). The access token is cached
until shortly before ``expires_in`` runs out (``TOKEN_MARGIN``); a 401 from the admin API drops it
and the call is tried once more with a new one. The token is sent only in the Authorization
header and never appears in a message or a log line.

The calls, all under ``{url}/admin/realms/{realm}`` (what the service account needs for each:
the realm-management client roles; Keycloak checks them in ``UserPermissions``,
``GroupPermissions`` and ``ClientPermissions`` of ``services/.../resources/admin/fgap/``):

=========================================================  ============================  ==================
call                                                        what                          role
=========================================================  ============================  ==================
``GET  /users?search=&first=&max=&briefRepresentation=``    list and search users         view-users (*)
``GET  /users/{id}``                                        one user                      view-users
``POST /users``                                             invite: create (201,          manage-users
                                                            ``Location: .../users/{id}``)
``PUT  /users/{id}/execute-actions-email[?lifespan=]``      the invitation or reset mail  manage-users
``PUT  /users/{id}`` ``{"enabled": bool}``                  enable / disable              manage-users
``GET  /groups?first=&max=``                                the realm's groups            query-groups
``GET  /users/{id}/groups``                                 a user's groups               view-users
``PUT / DELETE /users/{id}/groups/{groupId}``               join / leave a group          manage-users
``GET  /users/{id}/sessions``                               a user's sessions             view-users
``POST /users/{id}/logout``                                 end all of a user's sessions  manage-users
``GET  /clients``                                           the clients (read-only)       view-clients
=========================================================  ============================  ==================

(*) ``query-users`` alone lets the call through but filters out every user the caller cannot
view; ``view-users`` (a composite that includes ``query-users`` and ``query-groups``) shows them.
``GET /clients`` with ``query-clients`` only returns ``{id, clientId, description}``; the redirect
URIs need ``view-clients`` (which includes ``query-clients``). A group that carries
realm-management roles refuses membership changes from anyone who is not a realm admin
(``GroupPermissions.canManageMembership``): the portal cannot make a realm administrator.

A partial ``PUT /users/{id}`` keeps every attribute it does not name (``UserResource.updateUser``
merges the stored attributes when the representation has none), so enabling or disabling sends
only ``{"enabled": ...}``. ``execute-actions-email`` answers 400 ``User is disabled`` or ``User
email missing`` before sending, 500 ``Failed to send execute actions email: ...`` when the mail
relay refuses.

Sources: Keycloak's Admin REST API reference (keycloak.org/docs-api/26.x/rest-api) and its
source, ``services/src/main/java/org/keycloak/services/resources/admin/UsersResource.java``,
``UserResource.java`` (updateUser, executeActionsEmail, verifySendEmailParams, joinGroup,
removeMembership, getSessions, logout), ``ClientsResource.java`` (getClients), ``fgap/
UserPermissions.java``, ``fgap/GroupPermissions.java``; error bodies: ``ErrorRepresentation``
``{field, errorMessage, params, errors}`` and OAuth's ``{error, error_description}``.

Errors become a ``PortalError`` with the status and Keycloak's words.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

import httpx

from .config import KeycloakSettings
from .errors import PortalError
from .upstream import failure, json_body, send

UPSTREAM = "Keycloak"
# refresh the token this many seconds before it expires (at most half its lifetime)
TOKEN_MARGIN = 30.0
INVITE_ACTIONS = ("VERIFY_EMAIL", "UPDATE_PASSWORD")
RESET_ACTIONS = ("UPDATE_PASSWORD",)
# ids in paths: Keycloak's are UUIDs; federated users' look like "f:<provider>:<id>"
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.-]{0,127}$")
CLIENT_FIELDS = ("clientId", "name", "enabled", "redirectUris", "publicClient")


@dataclass(frozen=True)
class User:
    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    enabled: bool
    email_verified: bool
    created: datetime | None
    required_actions: tuple[str, ...]
    service_account: bool

    @property
    def display(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return f"{self.username} ({name})" if name else self.username


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    path: str


@dataclass(frozen=True)
class Session:
    id: str
    ip_address: str
    started: datetime | None
    last_access: datetime | None
    clients: tuple[str, ...]


@dataclass(frozen=True)
class Client:
    """A client as the portal shows it: only these fields are kept (never a secret)."""

    client_id: str
    name: str
    enabled: bool
    redirect_uris: tuple[str, ...]
    public_client: bool


def check_id(value: str, what: str = "id") -> str:
    """``value`` if it can be put in an admin API path; PortalError (nothing sent) otherwise."""
    if not isinstance(value, str) or not ID.match(value):
        raise PortalError(f"{what} {value[:80]!r} is not a Keycloak id; nothing was sent to Keycloak", status=404)
    return quote(value, safe="")


class KeycloakClient:
    """The admin API of ``settings.realm``, called as the portal's service account."""

    def __init__(
        self,
        settings: KeycloakSettings,
        secret: str,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.realm == "master":
            raise ValueError("the portal never manages the master realm")
        self.settings = settings
        self._secret = secret
        self._http = http
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        realm = quote(settings.realm, safe="")
        self.admin_base = f"{settings.url}/admin/realms/{realm}"
        self.token_url = f"{settings.url}/realms/{realm}/protocol/openid-connect/token"

    @property
    def account_console(self) -> str:
        """Where users manage their own account (password, 2FA, sessions)."""
        return f"{self.settings.public_url}/realms/{quote(self.settings.realm, safe='')}/account"

    # -- authentication -------------------------------------------------------------------------

    async def _access_token(self) -> str:
        async with self._lock:
            if self._token is not None and self._clock() < self._expires:
                return self._token
            response = await send(
                self._http,
                UPSTREAM,
                "the portal's sign-in (client credentials)",
                "POST",
                self.token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.settings.client_id,
                    "client_secret": self._secret,
                },
            )
            if response.status_code != 200:
                raise failure(UPSTREAM, f"the portal's sign-in as client {self.settings.client_id!r}", response)
            body = json_body(UPSTREAM, "the portal's sign-in", response)
            token = body.get("access_token") if isinstance(body, dict) else None
            lifetime = body.get("expires_in") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token:
                raise PortalError("Keycloak's token answer holds no access_token", upstream=UPSTREAM)
            if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
                lifetime = 60
            self._token = token
            self._expires = self._clock() + lifetime - min(TOKEN_MARGIN, lifetime / 2)
            return token

    def _forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        expect: Sequence[int] = (200,),
        write: bool = False,
    ) -> httpx.Response:
        for attempt in (1, 2):
            token = await self._access_token()
            response = await send(
                self._http,
                UPSTREAM,
                what,
                method,
                self.admin_base + path,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}"},
                write=write,
            )
            if response.status_code == 401 and attempt == 1:
                # revoked, or the realm's keys rotated: one more try with a fresh token
                self._forget_token(token)
                continue
            if response.status_code not in expect:
                error = failure(UPSTREAM, what, response)
                if response.status_code == 403:
                    error.message += (
                        " (the portal's service account lacks the realm-management role this needs, or the "
                        "group carries realm-management roles, which only a realm administrator may grant)"
                    )
                raise error
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def _json(self, path: str, what: str, params: dict[str, Any] | None = None) -> Any:
        response = await self._call("GET", path, what, params=params)
        return json_body(UPSTREAM, what, response)

    # -- users ----------------------------------------------------------------------------------

    async def list_users(self, search: str = "", first: int = 0, max_results: int = 50) -> list[User]:
        """A page of the realm's users, matching ``search`` (username, e-mail, names) if given."""
        params: dict[str, Any] = {"first": first, "max": max_results, "briefRepresentation": "true"}
        if search:
            params["search"] = search
        body = await self._json("/users", "the list of users", params)
        return [_user(item) for item in _list(body, "the list of users")]

    async def get_user(self, user_id: str) -> User:
        body = await self._json(f"/users/{check_id(user_id, 'user id')}", "the user")
        if not isinstance(body, dict):
            raise PortalError("Keycloak answered the user with something that is not a user", upstream=UPSTREAM)
        return _user(body)

    async def create_user(self, username: str, email: str, first_name: str = "", last_name: str = "") -> str:
        """Create an enabled user who must verify the e-mail and set a password; their id."""
        rep: dict[str, Any] = {
            "username": username,
            "email": email,
            "enabled": True,
            "emailVerified": False,
            "requiredActions": list(INVITE_ACTIONS),
        }
        if first_name:
            rep["firstName"] = first_name
        if last_name:
            rep["lastName"] = last_name
        response = await self._call("POST", "/users", f"creating user {username!r}", json=rep, expect=(201,), write=True)
        location = response.headers.get("location", "")
        user_id = location.rstrip("/").rsplit("/", 1)[-1] if "/users/" in location else ""
        if user_id and ID.match(user_id):
            return user_id
        # no usable Location header: look the new user up by exact username
        found = await self._json("/users", "the new user", {"username": username, "exact": "true"})
        for item in _list(found, "the new user"):
            if isinstance(item, dict) and item.get("username") in (username, username.lower()):
                return str(item.get("id"))
        raise PortalError(f"Keycloak created user {username!r} but did not say its id", upstream=UPSTREAM)

    async def send_actions_email(self, user_id: str, actions: Sequence[str], what: str) -> None:
        """Keycloak mails the user a link to perform ``actions`` (through the realm's SMTP relay)."""
        params = {}
        if self.settings.action_lifespan is not None:
            params["lifespan"] = self.settings.action_lifespan
        await self._call(
            "PUT",
            f"/users/{check_id(user_id, 'user id')}/execute-actions-email",
            what,
            params=params or None,
            json=list(actions),
            expect=(204, 200),
            write=True,
        )

    async def set_enabled(self, user_id: str, enabled: bool) -> None:
        await self._call(
            "PUT",
            f"/users/{check_id(user_id, 'user id')}",
            "enabling the user" if enabled else "disabling the user",
            json={"enabled": enabled},
            expect=(204, 200),
            write=True,
        )

    # -- groups ---------------------------------------------------------------------------------

    async def groups(self) -> list[Group]:
        """The realm's groups (top level, and sub-groups when Keycloak includes them), by path."""
        body = await self._json("/groups", "the list of groups", {"first": 0, "max": 500})
        found: list[Group] = []
        _flatten(_list(body, "the list of groups"), found)
        return sorted(found, key=lambda group: group.path)

    async def user_groups(self, user_id: str) -> list[Group]:
        body = await self._json(f"/users/{check_id(user_id, 'user id')}/groups", "the user's groups")
        return sorted((_group(item) for item in _list(body, "the user's groups")), key=lambda group: group.path)

    async def add_to_group(self, user_id: str, group_id: str) -> None:
        await self._call(
            "PUT",
            f"/users/{check_id(user_id, 'user id')}/groups/{check_id(group_id, 'group id')}",
            "adding the user to the group",
            expect=(204, 200),
            write=True,
        )

    async def remove_from_group(self, user_id: str, group_id: str) -> None:
        await self._call(
            "DELETE",
            f"/users/{check_id(user_id, 'user id')}/groups/{check_id(group_id, 'group id')}",
            "removing the user from the group",
            expect=(204, 200),
            write=True,
        )

    # -- sessions -------------------------------------------------------------------------------

    async def sessions(self, user_id: str) -> list[Session]:
        body = await self._json(f"/users/{check_id(user_id, 'user id')}/sessions", "the user's sessions")
        return [_session(item) for item in _list(body, "the user's sessions")]

    async def logout(self, user_id: str) -> None:
        await self._call(
            "POST",
            f"/users/{check_id(user_id, 'user id')}/logout",
            "ending the user's sessions",
            expect=(204, 200),
            write=True,
        )

    # -- clients --------------------------------------------------------------------------------

    async def clients(self) -> list[Client]:
        body = await self._json("/clients", "the list of clients")
        return sorted((_client(item) for item in _list(body, "the list of clients")), key=lambda c: c.client_id)


# -- representations ----------------------------------------------------------------------------


def _list(body: Any, what: str) -> list[Any]:
    if not isinstance(body, list):
        raise PortalError(f"Keycloak answered {what} with something that is not a list", upstream=UPSTREAM)
    return body


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _millis(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc)


def _user(item: Any) -> User:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise PortalError("Keycloak answered a user without an id", upstream=UPSTREAM)
    actions = item.get("requiredActions")
    return User(
        id=item["id"],
        username=_text(item.get("username")),
        email=_text(item.get("email")),
        first_name=_text(item.get("firstName")),
        last_name=_text(item.get("lastName")),
        enabled=item.get("enabled") is True,
        email_verified=item.get("emailVerified") is True,
        created=_millis(item.get("createdTimestamp")),
        required_actions=tuple(a for a in actions if isinstance(a, str)) if isinstance(actions, list) else (),
        service_account=bool(item.get("serviceAccountClientId")) or _text(item.get("username")).startswith("service-account-"),
    )


def _group(item: Any) -> Group:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise PortalError("Keycloak answered a group without an id", upstream=UPSTREAM)
    name = _text(item.get("name"))
    return Group(id=item["id"], name=name, path=_text(item.get("path")) or f"/{name}")


def _flatten(items: list[Any], found: list[Group]) -> None:
    for item in items:
        found.append(_group(item))
        children = item.get("subGroups")
        if isinstance(children, list):
            _flatten(children, found)


def _session(item: Any) -> Session:
    if not isinstance(item, dict):
        raise PortalError("Keycloak answered a session that is not an object", upstream=UPSTREAM)
    clients = item.get("clients")
    return Session(
        id=_text(item.get("id")),
        ip_address=_text(item.get("ipAddress")),
        started=_millis(item.get("start")),
        last_access=_millis(item.get("lastAccess")),
        clients=tuple(sorted(v for v in clients.values() if isinstance(v, str))) if isinstance(clients, dict) else (),
    )


def _client(item: Any) -> Client:
    if not isinstance(item, dict):
        raise PortalError("Keycloak answered a client that is not an object", upstream=UPSTREAM)
    # only CLIENT_FIELDS are read: a confidential client's representation also holds its secret
    uris = item.get("redirectUris")
    return Client(
        client_id=_text(item.get("clientId")),
        name=_text(item.get("name")),
        enabled=item.get("enabled") is True,
        redirect_uris=tuple(u for u in uris if isinstance(u, str)) if isinstance(uris, list) else (),
        public_client=item.get("publicClient") is True,
    )
