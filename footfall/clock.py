"""The time now, aware and in UTC: the one clock code takes by default (tests pass their own)."""
from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
