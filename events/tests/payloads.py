"""A valid payload for every topic, as its source would publish it (shared by several tests)."""

from __future__ import annotations

from typing import Any

PAYLOADS: dict[str, dict[str, Any]] = {
    "kompose/linkwarden/bookmark/added": {
        "id": 101,
        "url": "https://example.org/self-hosting",
        "title": "Self-hosting with Ansible",
        "tags": ["ansible", "selfhost"],
        "collection": "Reading",
    },
    "kompose/linkwarden/bookmark/updated": {
        "id": 101,
        "url": None,  # an uploaded PDF has no url
        "title": "",
        "tags": [],
        "collection": "Unorganized",
    },
    "kompose/linkwarden/stats/daily": {"date": "2026-12-07", "links": 1520, "collections": 12, "users": 3},
    "kompose/news/article/published": {
        "id": "clx8m2k0f0001",
        "title": "Kompose 0.2 released",
        "url": "https://news.example.org/a/kompose-0-2",
        "category": None,
        "tags": ["release", "kompose"],
    },
    "kompose/news/newsletter/sent": {
        "id": "clx8m2k0f0002",
        "subject": "December news",
        "recipients": 240,
        "sent_at": "2026-12-07T09:30:00.000Z",
    },
    "kompose/analytics/pageview": {
        "website": "3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47",
        "hostname": "news.example.org",
        "path": "/a/kompose-0-2",
        "title": "Kompose 0.2 released",
        "referrer": "links.example.org",
    },
    "kompose/analytics/event": {
        "website": "3f2c1a9e-7b4d-4c1e-9a0b-2d6f8e1c5a47",
        "hostname": "links.example.org",
        "path": "/bookmarks",
        "name": "bookmark_added",
        "data": {"collection": "Reading", "tags": "ansible,selfhost"},
    },
    "kompose/vault/security/failed": {
        "reason": "password",
        "email": "eve@example.org",
        "ip": "172.16.0.5",
        "attempts": 10,
        "locked": True,
    },
    "kompose/system/health/check": {"check": "BackupTooOld", "status": "warn", "service": None, "summary": "none in 26h"},
    # exactly the keys roles/day2/tasks/backup_run.yml publishes
    "kompose/system/backup/completed": {
        "host": "kompose-lab",
        "set": "20261207T031500Z",
        "path": "/var/backups/kompose/20261207T031500Z",
        "size": 73400320,
        "files": 14,
    },
}
