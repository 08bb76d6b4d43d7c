"""One HTTP call to an upstream (Keycloak, Docker, Alertmanager, Prometheus), failures in words.

Every failure becomes a ``PortalError`` whose message names the upstream, what the portal was
doing, the HTTP status and the upstream's own error text (Keycloak's ``errorMessage`` or
``error_description``, Docker's ``message``, Prometheus' ``error``). It never holds a request
header or body: the bearer token and the client secret travel only there. When the upstream did
not answer at all the message says that nobody knows whether a write happened.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from .errors import PortalError

MAX_TEXT = 300
HTTP_STATUS = re.compile(r"^HTTP \d{3}\b")
BOILERPLATE = "For more on this error consult the server log."


def error_text(response: httpx.Response) -> str:
    """The upstream's explanation from an error response, shortened, or '' when it gave none."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip() if response.headers.get("content-type", "").startswith("text/plain") else ""
        return _clean(text)
    return _clean(_explain(body))


def _explain(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    parts = []
    # Keycloak: ErrorRepresentation {field, errorMessage, params, errors}; OAuth errors
    # {error, error_description}; Docker {message}; Prometheus {status, errorType, error}
    if isinstance(body.get("errors"), list):
        parts += [_explain(item) for item in body["errors"]]
    message = body.get("errorMessage") or body.get("message")
    if not isinstance(message, str) or not message:
        # OAuth-style {error, error_description}: Keycloak 26 puts the words in either; an error
        # that only repeats the status line, and the boilerplate description, add nothing
        words = [body.get("error"), body.get("error_description")]
        message = ": ".join(
            w for w in words if isinstance(w, str) and w and not HTTP_STATUS.match(w) and w != BOILERPLATE
        )
    if message:
        field = body.get("field")
        parts.insert(0, f"{field}: {message}" if isinstance(field, str) and field else message)
    return "; ".join(part for part in parts if part)


def _clean(text: str) -> str:
    text = "".join(char if char.isprintable() else " " for char in text).strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def failure(upstream: str, what: str, response: httpx.Response) -> PortalError:
    """The PortalError for an upstream's error answer."""
    reason = response.reason_phrase or ""
    text = error_text(response)
    said = f": {text}" if text else ""
    return PortalError(
        f"{upstream} refused {what}: HTTP {response.status_code} {reason}{said}".replace("  ", " "),
        status=response.status_code,
        upstream=upstream,
    )


async def send(
    client: httpx.AsyncClient,
    upstream: str,
    what: str,
    method: str,
    url: str,
    *,
    write: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """``client.request(...)``; PortalError when the upstream cannot be reached or does not answer.

    ``write``: the call changes something, so a timeout leaves its outcome unknown - said so.
    """
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        outcome = " - it may or may not have been done" if write else ""
        raise PortalError(
            f"{upstream} did not answer in time ({what}){outcome}", upstream=upstream, outcome_unknown=write
        ) from None
    except httpx.ConnectError as error:
        # not connected, so nothing was sent: "[Errno 111] Connection refused" and the like
        detail = str(error) or type(error).__name__
        raise PortalError(f"{upstream} cannot be reached ({what}): {_clean(detail)}", upstream=upstream) from None
    except httpx.HTTPError as error:
        # the request may have gone out (the connection broke while waiting for the answer)
        detail = str(error) or type(error).__name__
        outcome = " - it may or may not have been done" if write else ""
        raise PortalError(
            f"{upstream} broke off the exchange ({what}): {_clean(detail)}{outcome}", upstream=upstream, outcome_unknown=write
        ) from None


def json_body(upstream: str, what: str, response: httpx.Response) -> Any:
    """The response's JSON; PortalError when it is not JSON."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise PortalError(
            f"{upstream} answered {what} with something that is not JSON (HTTP {response.status_code})",
            status=response.status_code,
            upstream=upstream,
        ) from None
