"""Event times: one textual form, UTC with milliseconds, e.g. ``2026-12-07T10:00:00.123Z``.

One fixed form (rather than whatever ``isoformat()`` yields) keeps an envelope byte-identical when
a source re-reads the same row or log line, which is what lets consumers compare and drop
duplicates. Parsing accepts any RFC 3339 offset and normalises to UTC.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,9})?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})$"
)


def format_time(moment: datetime) -> str:
    """``moment`` as UTC with milliseconds and a ``Z``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """An RFC 3339 time (with ``Z`` or an offset) as an aware UTC datetime; ValueError otherwise."""
    found = RFC3339.match(text) if isinstance(text, str) else None
    if not found:
        raise ValueError(f"{text!r} is not an RFC 3339 time")
    frac = (found.group("frac") or ".0")[1:7].ljust(6, "0")
    zone = found.group("zone").upper().replace("Z", "+00:00")
    moment = datetime.fromisoformat(f"{found.group('date')}T{found.group('time')}.{frac}{zone}")
    return moment.astimezone(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive values (PostgreSQL ``timestamp``, as Prisma writes) are UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
