"""The feed's replay state (pure): the replay service's retention, read from the one shared setting."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from footfall.config import Settings
from gateway import compose

pytestmark = pytest.mark.unit
NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


def _web_session(start_days_ago: float, end_days_ago: float) -> dict:
    start, end = (NOW - timedelta(days=start_days_ago), NOW - timedelta(days=end_days_ago))
    return {"source": "web", "has_replay": True, "start": start.isoformat(), "end": end.isoformat()}


@pytest.mark.parametrize("days", [1, 7, 30, 90])
def test_a_replay_expires_retention_days_after_the_sessions_last_event(days):
    fresh = _web_session(days + 5, days - 0.5)  # started before the cut-off, still written after it
    stale = _web_session(days + 5, days + 0.5)
    assert compose.replay_state(fresh, NOW, retention_days=days)["playable"] is True
    assert compose.replay_state(stale, NOW, retention_days=days) == {
        "available": True, "playable": False, "reason": "expired"}


def test_the_gateway_and_the_replay_service_read_the_same_retention_setting(monkeypatch):
    monkeypatch.setenv("REPLAY_RETENTION_DAYS", "12")
    assert Settings().replay_retention_days == 12
