"""The event store on real PostgreSQL: dedupe, order-independent sessions, merges, snapshots, replays."""
import random
import threading
from datetime import timedelta

from sqlalchemy import func, select

from footfall.messages import ReplayRecording, UserMerge, UserSnapshot
from services.sessions import events_path, facts
from services.sessions.merges import apply_merges
from services.sessions.tables import SCHEMA, events, owner_of, sessions, users
from services.sessions.tables import merges as merges_table
from tests.sessions.conftest import ENV, T0, body, ev, store_now
from tests.sessions.oracle import expected, stored
from tests.support import truncate_schema


def scenario() -> list:
    """Two web users, a mobile stream, a server stream and a client session, with close gaps."""
    evs = []
    for user, source, step in (("1", "web", 12), ("2", "web", 25), ("3", "ios", 3), ("1", "server", 20)):
        minutes = 0.0
        for _ in range(14):
            minutes += step * random.Random(f"{user}{source}{minutes}").uniform(0.6, 2.6)
            evs.append(ev(user, minutes, source=source))
    evs += [ev("4", m, session_id="client-s1") for m in (0, 90, 400)]
    return evs


def test_any_arrival_order_with_duplicates_gives_the_oracle_sessions(engine):
    evs = scenario()
    for seed in range(3):
        rng = random.Random(seed)
        arrivals = evs + rng.sample(evs, 15)
        rng.shuffle(arrivals)
        cuts = sorted(rng.sample(range(1, len(arrivals)), 6))
        store_now(engine, *[arrivals[a:b] for a, b in zip([0, *cuts], [*cuts, len(arrivals)])])
        with engine.connect() as conn:
            assert stored(conn, ENV) == expected(ENV, evs)
            assert conn.scalar(select(func.count()).select_from(events)) == len(evs)
        truncate_schema(engine, SCHEMA)


def test_a_late_event_bridging_two_sessions_joins_them_and_renames_by_first_event(engine):
    early, late = ev("9", 10), ev("9", 50)
    store_now(engine, [early, late])
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(sessions)) == 2
    bridge, first = ev("9", 30), ev("9", 0)
    store_now(engine, [bridge], [first])
    with engine.connect() as conn:
        assert stored(conn, ENV) == expected(ENV, [early, late, bridge, first])
        (row,) = conn.execute(select(users)).all()
        assert (row.session_count, row.first_seen, row.last_seen) == (1, first.time, late.time)


def test_merges_reattribute_in_any_order_and_later_events_follow(engine):
    store_now(engine, [ev("a", 0), ev("b", 1), ev("c", 2)])
    chain = [UserMerge(from_user_id="a", into_user_id="b", at=T0),
             UserMerge(from_user_id="b", into_user_id="c", at=T0 + timedelta(minutes=1))]
    with engine.begin() as conn:
        apply_merges(conn, ENV, [chain[1]])
        apply_merges(conn, ENV, [chain[0], chain[0]])  # out of order and duplicated
    store_now(engine, [ev("a", 3), ev("b", 200)])
    with engine.connect() as conn:
        owners = set(conn.scalars(select(owner_of(ENV, events.c.anon_user_id))))
        assert owners == {"c"}
        assert set(conn.scalars(select(owner_of(ENV, sessions.c.anon_user_id)))) == {"c"}
        (row,) = conn.execute(select(users)).all()
        assert (row.user_id, row.session_count) == ("c", 4)  # a (0-3), b (1), b (200), c (2)


def test_a_merge_that_would_close_a_cycle_is_ignored(engine):
    store_now(engine, [ev("x", 0), ev("y", 0)])
    with engine.begin() as conn:
        apply_merges(conn, ENV, [UserMerge(from_user_id="x", into_user_id="y", at=T0)])
        apply_merges(conn, ENV, [UserMerge(from_user_id="y", into_user_id="x", at=T0)])
    with engine.connect() as conn:
        assert set(conn.scalars(select(owner_of(ENV, events.c.anon_user_id)))) == {"y"}


def test_snapshots_keep_the_highest_version_and_skip_merged_users(engine):
    store_now(engine, [ev("u", 0), ev("gone", 0)])
    def snap(v, name):
        return UserSnapshot(user_id="u", identity="ann@x.test", properties={"name": name}, version=v)

    with engine.begin() as conn:
        apply_merges(conn, ENV, [UserMerge(from_user_id="gone", into_user_id="u", at=T0)])
        facts.apply_snapshots(conn, ENV, [snap(3, "three"), snap(1, "one")])
        facts.apply_snapshots(conn, ENV, [snap(2, "two"), UserSnapshot(user_id="gone", version=9)])
    with engine.connect() as conn:
        rows = conn.execute(select(users.c.user_id, users.c.identity, users.c.properties,
                                   users.c.version)).all()
    assert rows == [("u", "ann@x.test", {"name": "three"}, 3)]


def test_replays_mark_sessions_stored_before_or_after(engine):
    store_now(engine, [ev("r", 0, session_id="before")])
    with engine.begin() as conn:
        facts.apply_replays(conn, ENV, [ReplayRecording(session_id="before"),
                                        ReplayRecording(session_id="after")])
    store_now(engine, [ev("r", 100, session_id="after"), ev("r", 200)])
    with engine.connect() as conn:
        flags = dict(conn.execute(select(sessions.c.session_id, sessions.c.has_replay)).all())
    assert flags.pop("before") and flags.pop("after") and list(flags.values()) == [False]


def merge_state(engine) -> dict:
    """Everything a merge decides: owners of events and sessions, feed rows, the merge map."""
    with engine.connect() as conn:
        return {
            "events": sorted(conn.execute(select(events.c.event_id, owner_of(ENV, events.c.anon_user_id))).all()),
            "sessions": sorted(conn.execute(
                select(sessions.c.session_id, owner_of(ENV, sessions.c.anon_user_id))).all()),
            "users": sorted(conn.execute(select(users.c.user_id, users.c.first_seen, users.c.last_seen,
                                                users.c.session_count)).all()),
            "merges": sorted(conn.execute(select(merges_table.c.from_user_id, merges_table.c.into_user_id,
                                                 merges_table.c.direct_into_user_id)).all()),
        }


def test_a_users_earliest_merge_wins_in_any_arrival_order(engine):
    # a merged into X, then a late identify (earlier in event time) merges a into Y instead; a tie
    # on `at` goes to the smaller into id; b follows a, X merges on into Z.
    merges = [UserMerge(from_user_id="a", into_user_id="X", at=T0 + timedelta(minutes=2)),
              UserMerge(from_user_id="a", into_user_id="Y", at=T0 + timedelta(minutes=1)),
              UserMerge(from_user_id="a", into_user_id="Yb", at=T0 + timedelta(minutes=1)),
              UserMerge(from_user_id="b", into_user_id="a", at=T0 + timedelta(minutes=3)),
              UserMerge(from_user_id="X", into_user_id="Z", at=T0 + timedelta(minutes=4))]
    evs = [ev(user, minutes) for user, minutes in
           (("a", 0), ("a", 100), ("b", 5), ("X", 0), ("Y", 50), ("Yb", 60), ("Z", 7))]
    late = [ev("a", 300), ev("b", 301)]
    rng = random.Random(11)
    orders = [merges, merges[::-1]] + [rng.sample(merges, len(merges)) for _ in range(6)]
    states = []
    for order in orders:
        truncate_schema(engine, SCHEMA)
        store_now(engine, evs)
        for i, merge in enumerate(order):  # one batch each; the late events arrive mid-way
            with engine.begin() as conn:
                apply_merges(conn, ENV, [merge])
            if i == 2:
                store_now(engine, late)
        states.append(merge_state(engine))
    assert all(state == states[0] for state in states[1:])
    final = states[0]
    owners = {event_id: user for event_id, user in final["events"]}
    by_user = {e.event_id: e.user_id for e in evs + late}
    assert {by_user[e]: owners[e] for e in owners} == {
        "a": "Y", "b": "Y", "X": "Z", "Y": "Y", "Yb": "Yb", "Z": "Z"}
    assert {u for u, *_ in final["users"]} == {"Y", "Yb", "Z"}  # X's events moved back out of it
    assert ("a", "Y", "Y") in final["merges"] and ("b", "Y", "a") in final["merges"]


def test_an_event_id_reused_under_another_user_in_a_concurrent_batch_is_stored_once(engine):
    """Batches of different users run at once; the second to insert the shared id skips it alone."""
    first, reused, other = ev("p", 0, event_id="shared"), ev("q", 1, event_id="shared"), ev("q", 2)
    with engine.begin() as holding:
        events_path.store_events(holding, [body([first])])  # uncommitted: its row blocks the same id
        done = threading.Event()

        def second_batch() -> None:
            store_now(engine, [reused, other])
            done.set()

        thread = threading.Thread(target=second_batch)
        thread.start()
        assert not done.wait(0.5)  # waiting on the first batch's row
    thread.join(10)
    assert done.is_set()
    with engine.connect() as conn:
        rows = dict(conn.execute(select(events.c.event_id, events.c.anon_user_id)).all())
    assert rows == {"shared": "p", other.event_id: "q"}
