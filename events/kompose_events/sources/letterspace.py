"""LetterSpace's completed campaigns as ``kompose/news/newsletter/sent`` (and ``article/published``).

Read from LetterSpace 0.10.5's PostgreSQL tables (dcodesdev/LetterSpace, tag v0.10.5 = commit
5e9b3391bcae33ab9069b0821c3fce85a57c0e47: ``apps/backend/prisma/schema.prisma`` and its
``migrations/``; ``apps/backend/src/cron/sendMessages.ts`` completes campaigns):

- ``Campaign``: ``status`` (enum DRAFT, SCHEDULED, CREATING, SENDING, COMPLETED, CANCELLED);
  the send cron sets ``status = 'COMPLETED'`` and ``"completedAt" = new Date()`` (timestamp(3),
  UTC, written by the app) in one UPDATE once every message of a SENDING campaign is settled.
  COMPLETED is final (a campaign is started only from DRAFT, cancelled only before it completes),
  so a campaign completes once;
- ``Message``: one row per subscriber the campaign was sent to (the queue cron creates them).
  ``recipients`` counts the campaign's messages that went out: SENT, AWAITING_WEBHOOK, OPENED,
  CLICKED, COMPLAINED - not FAILED nor CANCELLED.

Polling by keyset on ``("completedAt", id)`` over COMPLETED campaigns, only rows at least
``settle_seconds`` old (Prisma computes ``completedAt`` before its UPDATE commits); ids are text
(uuid v4 from Prisma) and compared with ``COLLATE "C"`` (bytewise, as Python compares them).

Each completed campaign gives ``newsletter/sent`` ``{id, subject, recipients, sent_at}``
(``sent_at`` = ``completedAt``: when the last message was settled) and, when ``article_url`` is
configured, ``article/published`` ``{id, title, url, category, tags}``. LetterSpace has no
public page for a campaign: its routes are the dashboard (``/dashboard/campaigns/:id``, behind
its login), ``/t/:id`` (tracked links), ``/img/:id/img.png`` (the open pixel), ``/unsubscribe``,
``/verify-email`` and the APIs - no web version, no archive. So ``url`` cannot come from
LetterSpace: it comes from the operator's ``article_url`` template, ``{id}`` replaced by the
campaign's id (where the operator publishes the text, e.g. a blog or an archive of their own).
Without ``article_url`` no ``article/published`` is published (an event whose ``url`` leads
nowhere would be worse than none). A campaign has no category and no tags: ``category`` is null
and ``tags`` empty.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from .. import envelope
from ..errors import EventsError, show
from ..times import format_time
from .database import (
    DatabaseMapping,
    KeysetCursor,
    Page,
    Query,
    check_limit,
    grant_statements,
    row_text,
    row_time,
    state_cursor,
)

SENT = "kompose/news/newsletter/sent"
PUBLISHED = "kompose/news/article/published"
DELIVERED = ("SENT", "AWAITING_WEBHOOK", "OPENED", "CLICKED", "COMPLAINED")

# The columns the read-only login needs, per table (Prisma's names, hence the quoting).
COLUMNS: dict[str, tuple[str, ...]] = {
    "Campaign": ("id", "title", "subject", "status", "completedAt"),
    "Message": ("campaignId", "status"),
}

CHANGES_SQL = """\
SELECT c.id, c.title, c.subject, c."completedAt",
       (SELECT count(*) FROM "Message" AS m
        WHERE m."campaignId" = c.id
          AND m.status IN ('SENT', 'AWAITING_WEBHOOK', 'OPENED', 'CLICKED', 'COMPLAINED')) AS recipients
FROM "Campaign" AS c
WHERE c.status = 'COMPLETED'
  AND (c."completedAt", c.id COLLATE "C") > (%(completed_at)s, %(id)s::text COLLATE "C")
  AND c."completedAt" <= (now() AT TIME ZONE 'UTC') - make_interval(secs => %(settle_seconds)s)
ORDER BY c."completedAt", c.id COLLATE "C"
LIMIT %(limit)s"""

BASELINE_SQL = """\
SELECT c."completedAt", c.id
FROM "Campaign" AS c
WHERE c.status = 'COMPLETED' AND c."completedAt" IS NOT NULL
ORDER BY c."completedAt" DESC, c.id COLLATE "C" DESC
LIMIT 1"""


def url_template_error(template: Any) -> str | None:
    """Why ``template`` is not an ``article_url`` (an http(s) URL with ``{id}``), or None."""
    if not isinstance(template, str) or "{id}" not in template:
        return "is not a URL template with {id} (e.g. https://example.org/news/{id})"
    try:
        parts = urlsplit(template.replace("{id}", "0"))
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return "is not an http(s) URL template"
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return "is not an http(s) URL template (with a host, without a user or password)"
    return None


def changes_query(cursor: KeysetCursor, limit: int = 100, settle_seconds: int = 5) -> Query:
    """The next page of completed campaigns after ``cursor``, and its parameters.

    ``completed_at`` is passed as a *naive* UTC datetime (Prisma's timestamp(3) without time zone).
    """
    check_limit(limit)
    naive = cursor.key()[0].replace(tzinfo=None)
    return CHANGES_SQL, {"completed_at": naive, "id": cursor.id, "settle_seconds": settle_seconds, "limit": limit}


def baseline_query() -> Query:
    """The newest completed campaign's ``("completedAt", id)``."""
    return BASELINE_SQL, {}


def baseline_cursor(row: Mapping[str, Any] | None) -> KeysetCursor:
    if row is None:
        return KeysetCursor()
    return KeysetCursor(row_time(row, "completedAt"), row_text(row, "id"))


def grants(role: str) -> list[str]:
    """The column-level GRANTs the read-only login ``role`` needs (for the database's owner to run)."""
    return grant_statements(COLUMNS, role)


def map_rows(
    rows: Sequence[Mapping[str, Any]],
    cursor: KeysetCursor,
    article_url: str | None = None,
    source: str = "letterspace",
) -> tuple[list[envelope.Envelope], KeysetCursor, list[str]]:
    """Events for a page of completed campaigns after ``cursor``: (events, cursor after, unreadable).

    Rows at or before the cursor are skipped. An event whose payload does not fit its schema (a
    campaign whose title was emptied: ``article/published`` wants one) is passed over and named.
    """
    start = cursor.key()
    keyed = [((row_time(row, "completedAt"), row_text(row, "id")), row) for row in rows]
    produced: list[envelope.Envelope] = []
    unreadable: list[str] = []
    position = cursor
    for key, row in sorted(keyed, key=lambda item: item[0]):
        if key <= start:
            continue
        position = KeysetCursor(*key)
        completed_at, campaign = key
        stamp = completed_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        recipients = row.get("recipients")
        sent = {
            "id": campaign,
            "subject": row.get("subject") or "",  # the app sends nothing without a subject
            "recipients": recipients,
            "sent_at": format_time(completed_at),
        }
        candidates = [(f"campaign:{campaign}:sent:{stamp}", SENT, sent)]
        if article_url is not None:
            article = {
                "id": campaign,
                "title": row.get("title"),
                "url": article_url.replace("{id}", quote(campaign, safe="")),
                "category": None,
                "tags": [],
            }
            candidates.append((f"campaign:{campaign}:published:{stamp}", PUBLISHED, article))
        for natural_key, topic, data in candidates:
            try:
                produced.append(envelope.make(source, natural_key, topic, data, completed_at))
            except EventsError as error:
                unreadable.append(f"campaign {campaign}: {error}")
    return produced, position, unreadable


class LetterSpaceMapping(DatabaseMapping):
    """LetterSpace's completed campaigns for ``DatabaseSource``; state ``{"cursor": {time, id}}``."""

    app = "LetterSpace"
    COLUMNS = COLUMNS

    def __init__(self, source: str = "letterspace", settle_seconds: int = 5, article_url: str | None = None) -> None:
        super().__init__(source, settle_seconds)
        if article_url is not None:
            problem = url_template_error(article_url)
            if problem:
                raise EventsError(f"article_url: {show(article_url)} {problem}")
        self.article_url = article_url

    def baseline_query(self) -> Query:
        return baseline_query()

    def baseline_state(self, row: Mapping[str, Any] | None) -> dict[str, Any]:
        return {"cursor": baseline_cursor(row).to_dict()}

    def changes_query(self, state: Mapping[str, Any], limit: int) -> Query:
        return changes_query(state_cursor(state), limit, self.settle_seconds)

    def map_rows(self, rows: Sequence[Mapping[str, Any]], state: Mapping[str, Any]) -> Page:
        cursor = state_cursor(state)
        events, after, unreadable = map_rows(rows, cursor, self.article_url, self.source)
        if after == cursor:
            return Page([], dict(state))
        return Page(events, {**state, "cursor": after.to_dict()}, after.time, tuple(unreadable))
