"""Database doubles: the apps' tables as rows shaped like the real ones, a fake of each query's
semantics over them, and a fake psycopg connection (no server).

The table rows carry every column of the table as the apps' migrations create it (checked
against PostgreSQL 15 with Umami 3.1.0's and LetterSpace 0.10.5's migrations applied), written
the way the apps write them (``umami_event_data`` follows Umami's ``flattenJSON`` and
``getStringValue``). Each ``*Tables.execute`` mirrors its query's WHERE, ORDER BY, LIMIT and
joins, whose SQL text the mapping tests check separately, so the paging logic is exercised
without a database (the queries themselves were run by hand against the real tables).
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from kompose_events.sources import letterspace as ls
from kompose_events.sources import linkwarden as lw
from kompose_events.sources import umami as um
from kompose_events.times import format_time, parse_time

# ---------------------------------------------------------------------------------------------
# a fake psycopg connection


class DbError(Exception):
    """A psycopg-like error: ``sqlstate`` and a first line (and a DETAIL line after it)."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


PERMISSION_DENIED = DbError('permission denied for table website_event', "42501")
NO_RELATION = DbError('relation "website_event" does not exist\nLINE 4: FROM website_event AS e', "42P01")
CONNECTION_REFUSED = DbError(
    'connection failed: connection to server at "10.0.0.5", port 5432 failed: Connection refused\n'
    "\tIs the server running on that host and accepting TCP/IP connections?"
)


class FakeResult:
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def fetchall(self) -> list[dict[str, Any]]:
        return list(self.rows)


class FakeConnection:
    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.closed = False

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> FakeResult:
        if self.closed:
            raise DbError("the connection is closed")
        return FakeResult(self.database.query(self, sql, params or {}))

    def close(self) -> None:
        self.closed = True


class FakeDatabase:
    """``connect()`` for ``DatabaseSource``; ``tables.execute(sql, params)`` answers the queries.

    ``refuse``: the next connects raise it; ``fail``: the next queries raise it (the error stays
    until it is set back to None). ``queries`` records what ran, on which connection.
    """

    def __init__(self, tables: Any) -> None:
        self.tables = tables
        self.connections: list[FakeConnection] = []
        self.queries: list[tuple[int, str]] = []
        self.refuse: BaseException | None = None
        self.fail: BaseException | None = None

    def connect(self) -> FakeConnection:
        if self.refuse is not None:
            raise self.refuse
        connection = FakeConnection(self)
        self.connections.append(connection)
        return connection

    def query(self, connection: FakeConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.queries.append((self.connections.index(connection), sql))
        if self.fail is not None:
            raise self.fail
        return self.tables.execute(sql, params)


# ---------------------------------------------------------------------------------------------
# Umami 3.1.0: website_event and event_data

WEBSITE_EVENT_COLUMNS = (
    "event_id", "website_id", "session_id", "created_at", "url_path", "url_query", "referrer_path",
    "referrer_query", "referrer_domain", "page_title", "event_type", "event_name", "visit_id", "tag",
    "fbclid", "gclid", "li_fat_id", "msclkid", "ttclid", "twclid", "utm_campaign", "utm_content",
    "utm_medium", "utm_source", "utm_term", "hostname", "cls", "fcp", "inp", "lcp", "ttfb",
)
EVENT_DATA_COLUMNS = (
    "event_data_id", "website_id", "website_event_id", "data_key", "string_value", "number_value",
    "date_value", "data_type", "created_at",
)
SITE = uuid.UUID("3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47")
OTHER_SITE = uuid.UUID("9d1b7c2e-0f4a-4b8e-8c3d-5a6e7f809102")
# Umami's DATETIME_REGEX (src/lib/constants.ts): such a string is stored as a date
UMAMI_DATETIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3}(Z|\+[0-9]{2}:[0-9]{2})?)?$"
)


def website_event(event_id: uuid.UUID, created_at: datetime, **columns: Any) -> dict[str, Any]:
    """A ``website_event`` row as Umami's saveEvent writes it (a page view unless told)."""
    row: dict[str, Any] = dict.fromkeys(WEBSITE_EVENT_COLUMNS)
    row.update(
        event_id=event_id,
        website_id=SITE,
        session_id=uuid.uuid5(SITE, "session"),
        visit_id=uuid.uuid5(SITE, "visit"),
        created_at=created_at,
        url_path="/",
        event_type=1,
        hostname="blog.example.org",
    )
    unknown = set(columns) - set(WEBSITE_EVENT_COLUMNS)
    assert not unknown, f"not columns of website_event: {unknown}"
    row.update(columns)
    return row


def umami_event_data(event: dict[str, Any], data: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``event_data`` rows Umami's saveEventData writes for a custom event's ``data``."""
    rows = []
    for key, value, data_type in _flatten(data):
        string_value: Any = value
        if data_type == 2:
            string_value = f"{float(value):.4f}"
        elif data_type == 4:
            string_value = format_time(parse_time(value))  # new Date(value).toISOString()
        rows.append(
            {
                "event_data_id": uuid.uuid5(event["event_id"], key),
                "website_id": event["website_id"],
                "website_event_id": event["event_id"],
                "data_key": key,
                "string_value": string_value,
                "number_value": Decimal(str(value)).quantize(Decimal("0.0001")) if data_type == 2 else None,
                "date_value": parse_time(value) if data_type == 4 else None,
                "data_type": data_type,
                "created_at": event["created_at"],
            }
        )
    return rows


def _flatten(data: dict[str, Any], parent: str = "") -> list[tuple[str, Any, int]]:
    out = []
    for key, value in data.items():
        name = f"{parent}.{key}" if parent else key
        if isinstance(value, dict):
            out += _flatten(value, name)
        elif isinstance(value, bool):
            out.append((name, "true" if value else "false", 3))
        elif isinstance(value, (int, float)):
            out.append((name, value, 2))
        elif isinstance(value, str) and UMAMI_DATETIME.match(value):
            out.append((name, value, 4))
        elif isinstance(value, list):
            out.append((name, json.dumps(value, separators=(",", ":")), 5))
        else:
            out.append((name, value, 1))
    return out


class UmamiTables:
    """website_event and event_data, answering ``umami.CHANGES_SQL(_WEBSITES)`` and ``BASELINE_SQL``."""

    def __init__(self, events: list[dict[str, Any]], data: list[dict[str, Any]], now: datetime) -> None:
        self.events = events
        self.data = data
        self.now = now

    def execute(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        for row in self.events:
            assert tuple(row) == WEBSITE_EVENT_COLUMNS
        if sql == um.BASELINE_SQL:
            past = [e for e in self.events if e["created_at"] is not None and e["created_at"] <= self.now]
            newest = max(past, key=lambda e: (e["created_at"], e["event_id"]), default=None)
            return [] if newest is None else [{"created_at": newest["created_at"], "event_id": newest["event_id"]}]
        assert sql in (um.CHANGES_SQL, um.CHANGES_SQL_WEBSITES)
        assert ("websites" in params) == (sql == um.CHANGES_SQL_WEBSITES)
        after = (params["created_at"], params["event_id"])
        settled = self.now - timedelta(seconds=params["settle_seconds"])
        found = [
            e
            for e in self.events
            if e["created_at"] is not None
            and (e["created_at"], e["event_id"]) > after
            and params["created_at"] <= e["created_at"] <= settled
            and e["event_type"] in (1, 2)
            and ("websites" not in params or e["website_id"] in params["websites"])
        ]
        found.sort(key=lambda e: (e["created_at"], e["event_id"]))
        return [self._row(e) for e in found[: params["limit"]]]

    def _row(self, event: dict[str, Any]) -> dict[str, Any]:
        row = {name: event[name] for name in ("event_id", "website_id", "created_at", "url_path", "page_title",
                                              "referrer_domain", "hostname", "event_type", "event_name")}
        data = sorted((d for d in self.data if d["website_event_id"] == event["event_id"]),
                      key=lambda d: (d["data_key"], d["event_data_id"]))
        arrays = {"data_keys": "data_key", "data_types": "data_type", "string_values": "string_value",
                  "number_values": "number_value", "date_values": "date_value"}
        for name, column in arrays.items():  # array_agg over no row is NULL; a page view joins nothing
            row[name] = [d[column] for d in data] if event["event_type"] == 2 and data else None
        return row


# ---------------------------------------------------------------------------------------------
# LetterSpace 0.10.5: Campaign and Message

CAMPAIGN_COLUMNS = (
    "id", "title", "description", "subject", "content", "completedAt", "status", "scheduledAt", "htmlOnly",
    "openTracking", "organizationId", "templateId", "createdAt", "updatedAt", "unsubscribedCount",
)
MESSAGE_COLUMNS = (
    "id", "content", "status", "sentAt", "tries", "lastTriedAt", "messageId", "subscriberId", "campaignId",
    "error", "createdAt", "updatedAt",
)


def campaign(campaign_id: str, completed_at: datetime | None, **columns: Any) -> dict[str, Any]:
    """A ``Campaign`` row as LetterSpace leaves it once the send cron completed it (naive UTC times)."""
    created = datetime(2026, 12, 1, 9, 0, 0)
    row: dict[str, Any] = dict.fromkeys(CAMPAIGN_COLUMNS)
    row.update(
        id=campaign_id,
        title=f"Campaign {campaign_id}",
        subject=f"News {campaign_id}",
        content="<p>Hello {{name}}</p>",
        completedAt=completed_at,
        status="COMPLETED" if completed_at is not None else "DRAFT",
        htmlOnly=False,
        openTracking=True,
        organizationId="org-1",
        createdAt=created,
        updatedAt=completed_at or created,
        unsubscribedCount=0,
    )
    unknown = set(columns) - set(CAMPAIGN_COLUMNS)
    assert not unknown, f"not columns of Campaign: {unknown}"
    row.update(columns)
    return row


def message(campaign_id: str, subscriber: str, status: str) -> dict[str, Any]:
    """A ``Message`` row (one per subscriber the campaign was sent to)."""
    sent = datetime(2026, 12, 7, 9, 59, 0)
    row: dict[str, Any] = dict.fromkeys(MESSAGE_COLUMNS)
    row.update(
        id=f"{campaign_id}-{subscriber}",
        content="<p>Hello</p>",
        status=status,
        sentAt=sent if status not in ("FAILED", "CANCELLED", "QUEUED") else None,
        tries=1,
        lastTriedAt=sent,
        subscriberId=subscriber,
        campaignId=campaign_id,
        createdAt=sent,
        updatedAt=sent,
    )
    return row


class LetterSpaceTables:
    """Campaign and Message, answering ``letterspace.CHANGES_SQL`` and ``BASELINE_SQL``."""

    def __init__(self, campaigns: list[dict[str, Any]], messages: list[dict[str, Any]], now: datetime) -> None:
        self.campaigns = campaigns
        self.messages = messages
        self.now = now  # naive UTC: now() AT TIME ZONE 'UTC'

    def execute(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        for row in self.campaigns:
            assert tuple(row) == CAMPAIGN_COLUMNS
        completed = [c for c in self.campaigns if c["status"] == "COMPLETED" and c["completedAt"] is not None]
        if sql == ls.BASELINE_SQL:
            newest = max(completed, key=lambda c: (c["completedAt"], c["id"]), default=None)
            return [] if newest is None else [{"completedAt": newest["completedAt"], "id": newest["id"]}]
        assert sql == ls.CHANGES_SQL
        after = (params["completed_at"], params["id"])  # COLLATE "C": Python's string order
        settled = self.now - timedelta(seconds=params["settle_seconds"])
        found = [c for c in completed if (c["completedAt"], c["id"]) > after and c["completedAt"] <= settled]
        found.sort(key=lambda c: (c["completedAt"], c["id"]))
        return [
            {
                "id": c["id"],
                "title": c["title"],
                "subject": c["subject"],
                "completedAt": c["completedAt"],
                "recipients": sum(
                    1 for m in self.messages if m["campaignId"] == c["id"] and m["status"] in ls.DELIVERED
                ),
            }
            for c in found[: params["limit"]]
        ]


# ---------------------------------------------------------------------------------------------
# Linkwarden: the rows as its changes query returns them (see test_linkwarden.py), and the totals


class LinkwardenTables:
    def __init__(self, rows: list[dict[str, Any]], now: datetime, totals: dict[str, int] | None = None) -> None:
        self.rows = rows
        self.now = now  # naive UTC
        self.totals = totals or {"links": 0, "collections": 0, "users": 1}

    def execute(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        if sql == lw.BASELINE_SQL:
            newest = max(self.rows, key=lambda r: (r["updatedAt"], r["id"]), default=None)
            return [] if newest is None else [{"updatedAt": newest["updatedAt"], "id": newest["id"]}]
        if sql == lw.STATS_SQL:
            return [dict(self.totals)]
        assert sql == lw.CHANGES_SQL
        after = (params["updated_at"], params["id"])
        settled = self.now - timedelta(seconds=params["settle_seconds"])
        found = [r for r in self.rows if (r["updatedAt"], r["id"]) > after and r["updatedAt"] <= settled]
        return sorted(found, key=lambda r: (r["updatedAt"], r["id"]))[: params["limit"]]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
