"""LetterSpace's completed campaigns into newsletter/sent and article/published."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from db_doubles import LetterSpaceTables, campaign, message

from kompose_events import envelope
from kompose_events.errors import EventsError
from kompose_events.sources import letterspace as ls
from kompose_events.sources.database import KeysetCursor

T0 = datetime(2026, 12, 7, 10, 0, 0, 123000)  # timestamp(3) without time zone: naive UTC
NOW = T0 + timedelta(minutes=10)
A = "0b6f1c2e-4d5a-4e8f-9a1b-2c3d4e5f6a7b"
B = "7e2d9c1a-0b3f-4a6e-8d5c-1f2e3a4b5c6d"
URL = "https://news.example.org/archive/{id}"


def _page(tables: LetterSpaceTables, mapping: ls.LetterSpaceMapping, state: dict[str, Any], limit: int = 100) -> Any:
    rows = tables.execute(*mapping.changes_query(state, limit))
    return rows, mapping.map_rows(rows, state)


def test_the_query() -> None:
    sql, params = ls.changes_query(KeysetCursor(datetime(2026, 12, 7, 11, tzinfo=timezone(timedelta(hours=1))), A))
    assert sql == ls.CHANGES_SQL and "*" not in sql.replace("count(*)", "")
    assert "WHERE c.status = 'COMPLETED'" in sql
    assert '(c."completedAt", c.id COLLATE "C") > (%(completed_at)s, %(id)s::text COLLATE "C")' in sql
    assert "make_interval(secs => %(settle_seconds)s)" in sql
    assert 'ORDER BY c."completedAt", c.id COLLATE "C"\nLIMIT %(limit)s' in sql
    # naive UTC against timestamp(3)
    assert params == {"completed_at": datetime(2026, 12, 7, 10), "id": A, "settle_seconds": 5, "limit": 100}
    assert ls.baseline_query()[0] == (
        'SELECT c."completedAt", c.id\nFROM "Campaign" AS c\n'
        "WHERE c.status = 'COMPLETED' AND c.\"completedAt\" IS NOT NULL\n"
        'ORDER BY c."completedAt" DESC, c.id COLLATE "C" DESC\nLIMIT 1'
    )


def test_column_grants_for_the_read_only_login() -> None:
    assert ls.LetterSpaceMapping().grants("letterspace_events") == [
        'GRANT SELECT ("id", "title", "subject", "status", "completedAt") ON "Campaign" TO letterspace_events',
        'GRANT SELECT ("campaignId", "status") ON "Message" TO letterspace_events',
    ]


def test_a_completed_campaign_is_a_newsletter_sent_and_an_article_published() -> None:
    messages = [
        message(A, "s1", "SENT"), message(A, "s2", "OPENED"), message(A, "s3", "CLICKED"),
        message(A, "s4", "AWAITING_WEBHOOK"), message(A, "s5", "COMPLAINED"),
        message(A, "s6", "FAILED"), message(A, "s7", "CANCELLED"), message(B, "s1", "SENT"),
    ]
    tables = LetterSpaceTables([campaign(A, T0, title="December", subject="Our December news")], messages, NOW)
    mapping = ls.LetterSpaceMapping("letterspace", article_url=URL)
    sent, published = _page(tables, mapping, {})[1].events
    assert sent.topic == "kompose/news/newsletter/sent"
    assert sent.data == {
        "id": A, "subject": "Our December news", "recipients": 5, "sent_at": "2026-12-07T10:00:00.123Z"
    }
    assert published.topic == "kompose/news/article/published"
    assert published.data == {
        "id": A,
        "title": "December",
        "url": f"https://news.example.org/archive/{A}",
        "category": None,
        "tags": [],
    }
    assert sent.time == published.time == "2026-12-07T10:00:00.123Z"
    assert sent.id == envelope.event_id("letterspace", f"campaign:{A}:sent:2026-12-07T10:00:00.123000Z")
    assert published.id == envelope.event_id("letterspace", f"campaign:{A}:published:2026-12-07T10:00:00.123000Z")


def test_without_article_url_only_the_newsletter() -> None:
    tables = LetterSpaceTables([campaign(A, T0)], [], NOW)
    page = _page(tables, ls.LetterSpaceMapping(), {})[1]
    assert [e.topic for e in page.events] == ["kompose/news/newsletter/sent"]
    assert page.events[0].data["recipients"] == 0


def test_only_completed_campaigns_are_read() -> None:
    rows = [
        campaign("c-draft", None),
        campaign("c-sending", None, status="SENDING"),
        campaign("c-cancelled", None, status="CANCELLED"),
        campaign("c-done", T0),
    ]
    page = _page(LetterSpaceTables(rows, [], NOW), ls.LetterSpaceMapping(), {})[1]
    assert [e.data["id"] for e in page.events] == ["c-done"]


def test_paging_never_skips_campaigns_completed_at_the_same_time() -> None:
    # the send cron completes every finished campaign of an organization in one UPDATE: equal times
    ids = [B, A, "Z-upper", "a-lower", "0-digit"]
    rows = [campaign(i, T0) for i in ids] + [campaign("later", T0 + timedelta(milliseconds=1))]
    tables = LetterSpaceTables(rows, [], NOW)
    mapping = ls.LetterSpaceMapping()
    state: dict[str, Any] = {}
    seen = []
    for _attempt in range(10):
        page_rows, page = _page(tables, mapping, state, limit=2)
        seen += [e.data["id"] for e in page.events]
        state = json.loads(json.dumps(page.state))
        if len(page_rows) < 2:
            break
    assert seen == sorted(ids) + ["later"]  # bytewise (COLLATE "C"), each once


def test_a_campaign_completed_a_moment_ago_waits_for_the_settle_window() -> None:
    tables = LetterSpaceTables([campaign(A, NOW - timedelta(seconds=2))], [], NOW)
    mapping = ls.LetterSpaceMapping(settle_seconds=5)
    page = _page(tables, mapping, {})[1]
    assert page.events == [] and page.state == {}
    tables.now = NOW + timedelta(seconds=3)
    assert [e.data["id"] for e in _page(tables, mapping, page.state)[1].events] == [A]


def test_a_restart_rereads_the_same_bytes_and_never_passes_the_cursor_again() -> None:
    tables = LetterSpaceTables([campaign(A, T0), campaign(B, T0 + timedelta(seconds=1))], [], NOW)
    mapping = ls.LetterSpaceMapping(article_url=URL)
    first = _page(tables, mapping, {})[1]
    again = _page(tables, ls.LetterSpaceMapping(article_url=URL), {})[1]
    assert [e.encode() for e in first.events] == [e.encode() for e in again.events]
    assert _page(tables, mapping, json.loads(json.dumps(first.state)))[1].events == []


def test_the_baseline_is_the_newest_completed_campaign() -> None:
    rows = [campaign(A, T0), campaign(B, T0), campaign("draft", None)]
    tables = LetterSpaceTables(rows, [], NOW)
    mapping = ls.LetterSpaceMapping()
    [row] = tables.execute(*mapping.baseline_query())
    state = mapping.baseline_state(row)
    assert state == {"cursor": {"time": "2026-12-07T10:00:00.123000Z", "id": B}}
    assert _page(tables, mapping, state)[1].events == []
    assert mapping.baseline_state(None)["cursor"]["id"] == ""


def test_an_emptied_title_passes_over_the_article_only() -> None:
    tables = LetterSpaceTables([campaign(A, T0, title="")], [], NOW)
    page = _page(tables, ls.LetterSpaceMapping(article_url=URL), {})[1]
    assert [e.topic for e in page.events] == ["kompose/news/newsletter/sent"]
    assert page.unreadable == (
        f'campaign {A}: kompose/news/article/published v1: data.title: "" is shorter than 1 character(s)',
    )
    assert page.state["cursor"]["id"] == A


def test_a_campaign_id_is_quoted_in_the_url() -> None:
    [_sent, article] = ls.map_rows(
        [{"id": "a b/c", "title": "T", "subject": "S", "completedAt": T0, "recipients": 1}],
        KeysetCursor(),
        "https://example.org/n/{id}.html",
    )[0]
    assert article.data["url"] == "https://example.org/n/a%20b%2Fc.html"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("https://example.org/news", "is not a URL template with {id}"),
        ("ftp://example.org/{id}", "is not an http(s) URL template"),
        ("https://user:pw@example.org/{id}", "is not an http(s) URL template"),
        ("https://example.org:99999/{id}", "is not an http(s) URL template"),
        (7, "is not a URL template with {id}"),
    ],
)
def test_article_url_templates(template: Any, problem: str) -> None:
    assert (ls.url_template_error(template) or "").startswith(problem)
    with pytest.raises(EventsError) as caught:
        ls.LetterSpaceMapping(article_url=template)
    assert str(caught.value).startswith("article_url: ")
    assert ls.url_template_error("http://news.example.org/{id}") is None


def test_the_module_grants_are_the_mapping_s() -> None:
    assert ls.grants("news_events") == ls.LetterSpaceMapping().grants("news_events")
