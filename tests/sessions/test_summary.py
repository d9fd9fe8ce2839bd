"""Session summaries (pages, entry/exit, active time, bounce, frustration) and "online now", on real
PostgreSQL: worked examples, and random sessions against a plain-Python oracle."""
from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import text

from services.sessions import summary
from services.sessions.app import create_app
from tests.sessions.conftest import ENV, T0, ev, store_now
from tests.support import truncate_schema

BASE = f"/internal/v1/envs/{ENV}"
BUTTON = {"hierarchy": [{"tag": "button", "id": "pay"}], "text": "Pay"}


def page(path: str) -> dict:
    return {"url": f"https://x.test{path}", "path": path, "domain": "x.test"}


def test_a_session_summary(engine):
    store_now(engine, [
        ev("ann", 0, session_id="s1", page=page("/")),
        ev("ann", 0.25, session_id="s1", page=page("/cart")),
        ev("ann", 0.5, session_id="s1", kind="click", target=BUTTON, page=page("/cart")),
        ev("ann", 0.51, session_id="s1", kind="rage_click", target=BUTTON, page=page("/cart")),
        ev("ann", 0.52, session_id="s1", kind="dead_click", target=BUTTON, page=page("/cart")),
        ev("ann", 5, session_id="s1", page=page("/checkout")),  # after 4.5 idle minutes
        ev("bob", 1, session_id="s2", page=page("/pricing")),
        ev("bob", 1.1, session_id="s2", kind="identify"),
    ])
    with engine.connect() as conn:
        found = summary.summaries(conn, ENV, ["s1", "s2", "unknown"])
    assert found["s1"] == {"pages_viewed": 3, "active_s": 31.2, "bounce": False, "entry_page": "/",
                           "exit_page": "/checkout", "rage_clicks": 1, "dead_clicks": 1}
    assert found["s2"] == {"pages_viewed": 1, "active_s": 6.0, "bounce": True, "entry_page": "/pricing",
                           "exit_page": "/pricing", "rage_clicks": 0, "dead_clicks": 0}
    assert found["unknown"] == summary.EMPTY


def test_feed_and_user_sessions_carry_summaries_and_online_now(settings, engine):
    def minutes_ago(m):
        return (datetime.now(UTC) - T0).total_seconds() / 60 - m

    store_now(engine, [
        ev("ann", minutes_ago(2), session_id="now", page=page("/checkout")),
        ev("ann", minutes_ago(60 * 3), session_id="before", page=page("/")),
        ev("bob", minutes_ago(6), session_id="b", kind="custom", name="Signed up"),
    ])
    app = create_app(settings)
    client = app.test_client()
    try:
        users = client.get(f"{BASE}/users").json["users"]
        assert [(u["user_id"], u["online"]) for u in users] == [("ann", True), ("bob", False)]
        assert [s["summary"]["entry_page"] for s in users[0]["sessions"]] == ["/checkout", "/"]
        listed = client.get(f"{BASE}/users/bob/sessions").json["sessions"]
        assert listed[0]["summary"] == {**summary.EMPTY, "bounce": False}  # a custom event is an interaction
    finally:
        app.extensions["sessions_engine"].dispose()


KINDS = ["pageview", "screen", "click", "change", "submit", "custom", "identify", "rage_click", "dead_click"]
PATHS = ["/", "/a", "/b"]


def oracle(events: list[tuple[float, str, str]]) -> dict:
    """The summary of (seconds, kind, path) events, by the definitions in summary.py."""
    events = sorted(events, key=lambda e: e[0])
    pages = [e[2] for e in events if e[1] in ("pageview", "screen")]
    gaps = [b[0] - a[0] for a, b in pairwise(events)]
    interactions = [e for e in events if e[1] in ("click", "change", "submit", "custom", "rage_click", "dead_click")]
    return {"pages_viewed": len(pages), "active_s": round(sum(g for g in gaps if g <= summary.ACTIVE_GAP_S), 3),
            "bounce": len(pages) <= 1 and not interactions, "entry_page": pages[0] if pages else None,
            "exit_page": pages[-1] if pages else None,
            "rage_clicks": sum(e[1] == "rage_click" for e in events),
            "dead_clicks": sum(e[1] == "dead_click" for e in events)}


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 600), st.sampled_from(KINDS), st.sampled_from(PATHS)),
                min_size=1, max_size=12, unique_by=lambda e: e[0]))
def test_summaries_agree_with_the_oracle(engine, events):
    truncate_schema(engine, "sessions")
    store_now(engine, [ev("u", seconds / 60, session_id="s", kind=kind, page=page(path),
                          name="Screen" if kind == "screen" else None)
                       for seconds, kind, path in events])
    with engine.connect() as conn:
        found = summary.summaries(conn, ENV, ["s"])["s"]
    assert found == oracle(events)


def test_summaries_past_their_budget_are_left_out(engine, monkeypatch):
    store_now(engine, [ev("ann", 0, session_id="s1", page=page("/"))])
    monkeypatch.setattr(summary, "SUMMARY_BUDGET_MS", 50)
    monkeypatch.setattr(summary, "_SUMMARIES", text("select pg_sleep(1)"))
    with engine.connect() as conn:
        listed = summary.with_summaries(conn, ENV, [{"session_id": "s1"}])
        assert listed == [{"session_id": "s1", "summary": None}]
        assert conn.execute(text("select 1")).scalar() == 1  # the connection is still usable
