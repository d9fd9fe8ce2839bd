"""The definition preview's counting (pure: the feed and session reads are passed in)."""
from __future__ import annotations

import pytest

from criteria.model import parse_criteria
from gateway import preview

pytestmark = pytest.mark.unit

START, END = "2024-05-01T00:00:00Z", "2024-05-08T00:00:00Z"
CLICKS = parse_criteria({"kind": "click"})


def _event(kind: str, time: str = "2024-05-02T10:00:00Z") -> dict:
    return {"event_id": f"{kind}-{time}", "kind": kind, "time": time}


def _feed(pages: list[list[dict]]):
    def page(cursor):
        index = int(cursor or 0)
        return {"users": pages[index], "next_cursor": str(index + 1) if index + 1 < len(pages) else None}
    return page


def test_counts_matching_events_inside_the_window_only():
    events = {"s1": [_event("click"), _event("pageview"), _event("click", "2024-04-30T23:59:59Z")],
              "s2": [_event("click", "2024-05-08T00:00:00Z")]}
    users = [[{"user_id": "u1", "matched_session_ids": ["s1"]}, {"user_id": "u2", "matched_session_ids": ["s2"]}]]
    counted = preview.preview(_feed(users), events.__getitem__, CLICKS, START, END)
    assert counted == {"events": 2, "users": 2, "events_exact": True, "users_exact": True}


def test_past_the_caps_the_counts_are_lower_bounds():
    many = [[{"user_id": f"u{p}-{k}", "matched_session_ids": [f"s{p}-{k}"]} for k in range(preview.USER_PAGE)]
            for p in range(preview.MAX_USER_PAGES + 1)]
    reads = []

    def session_events(session_id):
        reads.append(session_id)
        return [_event("click")]

    counted = preview.preview(_feed(many), session_events, CLICKS, START, END)
    assert counted["users"] == preview.USER_PAGE * preview.MAX_USER_PAGES and not counted["users_exact"]
    assert len(reads) == preview.MAX_SESSIONS and counted["events"] == preview.MAX_SESSIONS
    assert not counted["events_exact"]


def test_many_sessions_of_few_users_cap_the_event_count_only():
    users = [[{"user_id": "u1", "matched_session_ids": [f"s{k}" for k in range(preview.MAX_SESSIONS + 5)]}]]
    counted = preview.preview(_feed(users), lambda sid: [_event("click")], CLICKS, START, END)
    assert counted == {"events": preview.MAX_SESSIONS, "users": 1, "events_exact": False, "users_exact": True}
