"""Retention: sessions that ended before the cutoff go whole, with their events; the roll-ups and the
feed stay equal to a recount right at the boundary."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from footfall.messages import UserMerge
from services.sessions.merges import apply_merges
from services.sessions.retention import apply_retention, drop_expired_tombstones
from services.sessions.tables import anon_users, events, sessions
from tests.sessions.conftest import ENV, T0, ev, store_now
from tests.sessions.test_merges import feed_rows, recount

DAY = 24 * 60


def _anon_recount(conn) -> dict:
    rows = conn.execute(select(sessions.c.anon_user_id, func.min(sessions.c.start), func.max(sessions.c.end),
                               func.count()).where(sessions.c.env_id == ENV).group_by(sessions.c.anon_user_id))
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _anon_rows(conn) -> dict:
    return {r.anon_user_id: (r.first_seen, r.last_seen, r.session_count)
            for r in conn.execute(select(anon_users).where(anon_users.c.env_id == ENV))}


def test_expired_sessions_go_whole_and_counts_equal_a_recount(engine):
    # "Now" is a day after T0, the retention 2 days: the cutoff is T0 - 1 day. "edge" has one
    # session across the cutoff (kept whole); "both" has one on each side.
    start = -10 * DAY
    store_now(engine, [ev("old", start), ev("old", start + 5)],
              [ev("both", start + 1), ev("both", -DAY)],
              [ev("edge", -DAY - 10), ev("edge", -DAY + 10)],
              [ev("anon", start + 2), ev("known", start + 3), ev("known", 0)])
    with engine.begin() as conn:
        apply_merges(conn, ENV, [UserMerge(from_user_id="anon", into_user_id="known", at=T0)])
    with engine.connect() as conn:
        total_before = conn.scalar(select(func.count()).select_from(events))
    counts = apply_retention(engine, ENV, days=2, now=T0 + timedelta(days=1))
    assert counts == {"sessions": 4, "events": 5}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(events)) == total_before - 5
        old = select(func.count()).select_from(sessions).where(sessions.c.end < T0 - timedelta(days=1))
        assert conn.scalar(old) == 0
        assert _anon_rows(conn) == _anon_recount(conn)
        assert feed_rows(conn) == recount(conn)
        assert set(feed_rows(conn)) == {"both", "edge", "known"}  # "old" has nothing left
        edge = conn.scalar(select(func.count()).select_from(events).where(events.c.anon_user_id == "edge"))
    assert edge == 2
    assert apply_retention(engine, ENV, days=2, now=T0 + timedelta(days=1)) == {}  # idempotent
    assert drop_expired_tombstones(engine) == 0
