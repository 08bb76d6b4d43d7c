"""Who is asking: the signed-in user as OAuth2 Proxy tells it, and whether they manage.

The chain is Traefik -> OAuth2 Proxy (forward auth) -> the portal. OAuth2 Proxy answers Traefik's
forward-auth request with ``X-Auth-Request-User``, ``-Email``, ``-Groups`` and
``-Preferred-Username`` (``--set-xauthrequest``), and Traefik copies exactly those onto the request
it forwards (``authResponseHeaders``), replacing whatever the browser sent under those names. Only
Traefik reaches the portal (the network enforces it), so these headers are the identity. The
portal still refuses a request that carries none (401): a mistake in the wiring then shows up as
a refusal, never as an anonymous administrator.

Groups come comma-separated. Keycloak's group mapper sends group *paths* (``/admins``,
``/staff/ops``) when "Full group path" is on and bare names when it is off; both are accepted:
a leading ``/`` is dropped before comparing with ``admin_group``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

HEADER_USER = "x-auth-request-user"
HEADER_EMAIL = "x-auth-request-email"
HEADER_GROUPS = "x-auth-request-groups"
HEADER_USERNAME = "x-auth-request-preferred-username"
# a header longer than this is refused: nothing legitimate is that long, and it bounds the work
MAX_HEADER = 8192


class NoIdentity(Exception):
    """The request carries no usable identity (401)."""


@dataclass(frozen=True)
class Identity:
    """The signed-in user. ``user`` is OAuth2 Proxy's user (the token's subject or e-mail)."""

    user: str
    email: str
    username: str
    groups: tuple[str, ...]
    admin: bool

    @property
    def name(self) -> str:
        """How the portal names the user: in the audit log, on pages."""
        return self.username or self.email or self.user


def normalize_group(group: str) -> str:
    """``/admins`` and ``admins`` are the same group: compare without the leading slash."""
    return group.strip().lstrip("/")


def identify(headers: Mapping[str, str], admin_group: str) -> Identity:
    """The identity in ``headers`` (lower-case names, as ASGI gives them); NoIdentity if none."""
    user = _header(headers, HEADER_USER)
    email = _header(headers, HEADER_EMAIL)
    username = _header(headers, HEADER_USERNAME)
    if not user and not email:
        raise NoIdentity("no X-Auth-Request-User or X-Auth-Request-Email header: the request did not come through the sign-in")
    raw_groups = _header(headers, HEADER_GROUPS)
    groups = tuple(dict.fromkeys(g for g in (normalize_group(item) for item in raw_groups.split(",")) if g))
    wanted = normalize_group(admin_group)
    return Identity(
        user=user or email,
        email=email,
        username=username,
        groups=groups,
        admin=wanted in groups,
    )


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "") or ""
    if len(value) > MAX_HEADER:
        raise NoIdentity(f"the {name} header is longer than {MAX_HEADER} characters")
    if any(ord(char) < 32 for char in value):
        raise NoIdentity(f"the {name} header holds control characters")
    return value.strip()
