"""Tokens against cross-site request forgery: every POST must carry one the portal issued.

A token is ``<issued>.<mac>``: the Unix time it was issued and HMAC-SHA256(secret, user "|"
issued). It binds the form to the signed-in user (a token copied from another user's page is
worthless) and to a bounded time (``csrf_max_age``), and needs no server-side state: any replica
with the same secret checks it. The MAC is compared in constant time (``hmac.compare_digest``).

Why a token at all when the SSO cookie is SameSite: a cookie's SameSite attribute is OAuth2
Proxy's setting and ``Lax`` still lets top-level GETs through; a missing or wrong token is refused
with 403 and words, whatever the cookies say.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

# a token "issued" further in the future than this is refused (clock skew between replicas)
FUTURE_SKEW = 60


class CsrfError(Exception):
    """A POST without a valid token (403); the message says which way it is invalid."""


class Csrf:
    """Issues and checks form tokens with one secret key."""

    def __init__(self, secret: bytes, max_age: int, clock: Callable[[], float] = time.time) -> None:
        if len(secret) < 16:
            raise ValueError("the CSRF secret is too short")
        self._secret = secret
        self.max_age = max_age
        self._clock = clock

    def _mac(self, user: str, issued: int) -> str:
        message = f"{user}|{issued}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def issue(self, user: str) -> str:
        """A fresh token for ``user``'s next form."""
        issued = int(self._clock())
        return f"{issued}.{self._mac(user, issued)}"

    def check(self, user: str, token: str | None) -> None:
        """Return if ``token`` is valid for ``user`` now; CsrfError with the reason otherwise."""
        if not token:
            raise CsrfError("the form carries no security token; reload the page and send it again")
        issued_text, dot, mac = token.partition(".")
        if not dot or not issued_text.isdigit() or len(issued_text) > 12 or not mac:
            raise CsrfError("the form's security token is malformed; reload the page and send it again")
        issued = int(issued_text)
        expected = self._mac(user, issued)
        if not hmac.compare_digest(expected.encode(), mac.encode()):
            raise CsrfError("the form's security token is not valid for you; reload the page and send it again")
        age = self._clock() - issued
        if age > self.max_age:
            raise CsrfError(
                f"the form is {int(age // 60)} minutes old, older than the {self.max_age // 60} minutes allowed; "
                "reload the page and send it again"
            )
        if age < -FUTURE_SKEW:
            raise CsrfError("the form's security token is dated in the future; reload the page and send it again")
