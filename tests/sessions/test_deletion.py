"""Deleting users in the sessions service: every row of every member goes, tombstones keep them gone."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text

from footfall.ids import identity_key
from footfall.messages import DeletionRequested, ReplayRecording, UserMerge, UserSnapshot
from services.sessions import deletion, facts
from services.sessions.merges import apply_merges
from services.sessions.tables import anon_users, events, merges, replays, sessions, users
from tests.sessions.conftest import ENV, T0, ev, store_now
from tests.sessions.test_merges import feed_rows, recount

KEEP_DAYS = 400


def _request(*user_ids, at=None, identities=(), deletion_id="del-1"):
    return DeletionRequested(env_id=ENV, deletion_id=deletion_id, requested_at=at or T0 + timedelta(hours=5),
                             user_ids=list(user_ids), identity_keys=[identity_key(ENV, i) for i in identities])


def _delete(engine, request) -> bool:
    with engine.begin() as conn:
        return deletion.apply_deletion(conn, request, KEEP_DAYS)


def _merge(engine, *items):
    with engine.begin() as conn:
        live = deletion.live_merges(conn, ENV, sorted(items, key=lambda m: (m.at, m.from_user_id)), KEEP_DAYS)
        apply_merges(conn, ENV, live)


def _rows_of(conn, ids) -> dict[str, int]:
    """Rows naming any of these ids, per table (what must be zero after a deletion)."""
    return {
        "events": conn.scalar(select(func.count()).select_from(events).where(events.c.anon_user_id.in_(ids))),
        "sessions": conn.scalar(select(func.count()).select_from(sessions).where(sessions.c.anon_user_id.in_(ids))),
        "anon_users": conn.scalar(select(func.count()).select_from(anon_users)
                                  .where(anon_users.c.anon_user_id.in_(ids))),
        "users": conn.scalar(select(func.count()).select_from(users).where(users.c.user_id.in_(ids))),
        "merges": conn.scalar(select(func.count()).select_from(merges).where(
            merges.c.from_user_id.in_(ids) | merges.c.into_user_id.in_(ids))),
    }


NOTHING = {"events": 0, "sessions": 0, "anon_users": 0, "users": 0, "merges": 0}


def test_a_deleted_user_leaves_nothing_and_others_stay(engine):
    store_now(engine, [ev("a1", 0), ev("a1", 5), ev("a2", 100), ev("x", 200), ev("other", 10), ev("other", 300)])
    _merge(engine, UserMerge(from_user_id="a1", into_user_id="x", at=T0 + timedelta(minutes=1)),
           UserMerge(from_user_id="a2", into_user_id="x", at=T0 + timedelta(minutes=101)))
    with engine.connect() as conn:
        before_other = {k: v for k, v in feed_rows(conn).items() if k == "other"}
    assert _delete(engine, _request("a1"))  # a merged-away id names its user
    with engine.connect() as conn:
        assert _rows_of(conn, ["a1", "a2", "x"]) == NOTHING
        assert {k: v for k, v in feed_rows(conn).items()} == before_other
        assert feed_rows(conn) == recount(conn)
        counts = conn.execute(text("select counts from deletions")).scalar()
    assert counts["events"] == 4 and counts["members"] == 3 and counts["merges"] == 2
    assert not _delete(engine, _request("a1"))  # redelivered: done once


def test_events_sent_again_or_redelivered_never_bring_the_user_back(engine):
    old = [ev("a1", 0, event_id="old-1"), ev("a1", 3, event_id="old-2", identity="ada@example.com")]
    store_now(engine, old)
    _delete(engine, _request("a1"))
    store_now(engine, old)  # redelivered, and an SDK's offline queue sending them again
    store_now(engine, [ev("a9", 4, identity="ada@example.com")])  # another device, same person, before
    with engine.connect() as conn:
        assert _rows_of(conn, ["a1", "a9"]) == NOTHING
    # The person comes back after the deletion: counted afresh, nothing old with them.
    store_now(engine, [ev("a1", 60 * 6, event_id="new-1")])
    with engine.connect() as conn:
        assert conn.scalars(select(events.c.event_id).where(events.c.anon_user_id == "a1")).all() == ["new-1"]
        assert feed_rows(conn) == recount(conn)


def test_a_late_merge_into_a_deleted_user_deletes_the_merged_id(engine):
    store_now(engine, [ev("x", 0), ev("late", 20), ev("bystander", 30)])
    _delete(engine, _request("x"))
    _merge(engine, UserMerge(from_user_id="late", into_user_id="x", at=T0 + timedelta(minutes=21)),
           UserMerge(from_user_id="bystander", into_user_id="y", at=T0 + timedelta(minutes=31)))
    with engine.connect() as conn:
        assert _rows_of(conn, ["late", "x"]) == NOTHING
        assert feed_rows(conn) == recount(conn) and set(feed_rows(conn)) == {"y"}
        assert conn.execute(text("select counts->>'events' from deletions")).scalar() == "2"


def test_facts_dated_before_the_deletion_are_dropped(engine):
    store_now(engine, [ev("x", 0, session_id="client-s")])
    with engine.begin() as conn:
        facts.apply_replays(conn, ENV, [ReplayRecording(session_id="client-s")])
    _delete(engine, _request("x"))
    stale = UserSnapshot(user_id="x", identity="ada@example.com", properties={"plan": "pro"},
                         last_seen=T0, version=7)
    with engine.begin() as conn:
        facts.apply_snapshots(conn, ENV, deletion.live_snapshots(conn, ENV, [stale]))
        facts.apply_replays(conn, ENV, deletion.live_replays(conn, ENV, [ReplayRecording(session_id="client-s")]))
    with engine.connect() as conn:
        assert _rows_of(conn, ["x"]) == NOTHING
        assert conn.scalar(select(func.count()).select_from(replays)) == 0
        announced = deletion.announce(engine, lambda message: None)
    assert announced == 1
