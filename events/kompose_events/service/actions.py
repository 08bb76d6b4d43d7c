"""Running one action: ``rules.build_action`` resolves the rule for the event, this sends it.

Each run ends in an ``Outcome``: ``done``, ``retry`` (worth trying again: a timeout, a refused
connection, HTTP 408/425/429/5xx, an SMTP 4xx) or ``fail`` (will not work by retrying: another
HTTP 4xx, an SMTP 5xx, a template that cannot be filled). HTTP answers are classified by
``delivery.classify_status``. Error texts name the rule's target, never a credential.

- ``http``: ``<services[service]><path>?<query>`` with the JSON body, the rule's headers, the
  event id header and the credential header (its value from the environment);
- ``gotify``: ``POST <services.gotify>/message`` with the application's token as ``X-Gotify-Key``
  (and the event id header, for tracing: Gotify ignores it);
- ``mail``: through the relay, From from the config, with the event id header and a Message-ID
  derived from the rule and the event (a repeated mail has the same id);
- ``publish``: the automation client publishes the produced event at QoS 1 and waits for the PUBACK.

Redirects are not followed (a 3xx is a failure: a credential must not travel to another address)
and no proxy from the environment is used: the targets are services on the same network.
"""

from __future__ import annotations

import email.policy
import http.client
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

from .. import rules as rules_module
from ..delivery import classify_status
from ..envelope import Envelope
from ..errors import TemplateError
from .config import SmtpSettings
from .mqtt import PublishError

MAX_ANSWER_BYTES = 64 * 1024
# lines up to SMTP's limit: headers such as the Message-ID are not folded, plain text stays plain
MAIL_POLICY = email.policy.default.clone(max_line_length=998)


@dataclass(frozen=True)
class Outcome:
    """How an action ended: ``done``, ``retry`` or ``fail``, with the error for the last two."""

    result: str
    error: str | None = None


DONE = Outcome("done")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx


@dataclass(frozen=True)
class Mailer:
    """The relay's settings and, when it needs a login, the password."""

    settings: SmtpSettings
    password: str | None = None


class ActionRunner:
    """Sends built actions to their targets.

    ``credentials``: credential name -> (header, value); ``gotify_tokens``: application -> token
    (the values come from the environment; they appear in requests only, never in errors).
    """

    def __init__(
        self,
        services: Mapping[str, str],
        variables: Mapping[str, Any],
        credentials: Mapping[str, tuple[str, str]],
        gotify_tokens: Mapping[str, str],
        mailer: Mailer | None,
        publisher: Any,
        timeout: float,
    ) -> None:
        self.services = services
        self.variables = variables
        self.credentials = credentials
        self.gotify_tokens = gotify_tokens
        self.mailer = mailer
        self.publisher = publisher
        self.timeout = timeout
        self.opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))

    def run(self, rule: Mapping[str, Any], event: Envelope) -> Outcome:
        """Build the rule's action for ``event`` and send it."""
        try:
            action = rules_module.build_action(rule, event, self.variables)
        except TemplateError as error:
            return Outcome("fail", str(error))
        kind = action["kind"]
        if kind == "http":
            return self.http(action)
        if kind == "gotify":
            return self.gotify(action, event)
        if kind == "mail":
            return self.mail(action, rule["name"], event)
        return self.publish(action)

    def http(self, action: Mapping[str, Any]) -> Outcome:
        headers = dict(action["headers"])
        if action["credential"] is not None:
            header, value = self.credentials[action["credential"]]
            headers[header] = value
        return self.request(
            action["service"],
            action["method"],
            action["path"],
            action["query"],
            action["body"],
            headers,
            action["ok_status"],
        )

    def gotify(self, action: Mapping[str, Any], event: Envelope) -> Outcome:
        headers = {"X-Gotify-Key": self.gotify_tokens[action["application"]], rules_module.EVENT_ID_HEADER: event.id}
        return self.request(rules_module.GOTIFY_SERVICE, "POST", "/message", {}, action["body"], headers, [])

    def request(
        self,
        service: str,
        method: str,
        path: str,
        query: Mapping[str, Any],
        body: Any,
        headers: Mapping[str, str],
        ok_status: list[int],
    ) -> Outcome:
        """One HTTP request to a catalog service; the outcome from its status."""
        target = f"{service} {method} {path}"
        url = self.services[service] + path
        if query:
            url += "?" + urlencode({key: _query_value(value) for key, value in query.items()}, doseq=True)
        data = None
        request_headers = dict(headers)
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            request_headers.setdefault("Content-Type", "application/json")
        request = urllib.request.Request(url, data=data, headers=request_headers, method=method)
        try:
            with self.opener.open(request, timeout=self.timeout) as answer:
                answer.read(MAX_ANSWER_BYTES)
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
            error.close()
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, RemoteDisconnected
            reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
            return Outcome("retry", f"{target}: {reason}")
        except ValueError as error:  # a URL http.client refuses (InvalidURL): the same next time
            return Outcome("fail", f"{target}: {error}")
        verdict = classify_status(status, ok_status)
        if verdict == "done":
            return DONE
        return Outcome(verdict, f"HTTP {status} from {target}")

    def mail(self, action: Mapping[str, Any], rule: str, event: Envelope) -> Outcome:
        if self.mailer is None:  # the config check refuses mail rules without smtp
            return Outcome("fail", "mail: no smtp relay configured")
        settings = self.mailer.settings
        target = f"smtp {settings.host}:{settings.port}"
        try:
            message = EmailMessage(policy=MAIL_POLICY)
            message["From"] = settings.sender
            message["To"] = ", ".join(action["to"])
            message["Subject"] = action["subject"]
            message["Date"] = formatdate(usegmt=True)
            message["Message-ID"] = f"<{event.id}.{rule}@kompose-events>"
            for name, value in action["headers"].items():
                message[name] = value
            message.set_content(action["body"])
        except (ValueError, TypeError) as error:
            return Outcome("fail", f"mail: cannot build the message: {error}")
        try:
            with smtplib.SMTP(settings.host, settings.port, timeout=self.timeout) as relay:
                if settings.starttls:
                    relay.starttls(context=ssl.create_default_context())
                if settings.username is not None:
                    relay.login(settings.username, self.mailer.password or "")
                relay.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [answer[0] for answer in error.recipients.values()]
            verdict = "fail" if codes and all(code >= 500 for code in codes) else "retry"
            return Outcome(verdict, f"{target}: recipients refused ({', '.join(map(str, codes))})")
        except smtplib.SMTPResponseException as error:
            verdict = "fail" if error.smtp_code >= 500 else "retry"
            return Outcome(verdict, f"{target}: {error.smtp_code} {_text(error.smtp_error)}")
        except (smtplib.SMTPException, OSError) as error:
            return Outcome("retry", f"{target}: {type(error).__name__}: {error}")
        return DONE

    def publish(self, action: Mapping[str, Any]) -> Outcome:
        produced: Envelope = action["envelope"]
        try:
            self.publisher.publish(produced.topic, produced.encode(), self.timeout)
        except PublishError as error:
            return Outcome("retry", f"publish {produced.topic}: {error}")
        return DONE


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list):
        return [_query_value(item) for item in value]
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
