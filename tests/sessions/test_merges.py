"""Merges: the pure rules in any arrival order, and the store under concurrent events and merges."""
from __future__ import annotations

import random
import threading
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from footfall.messages import UserMerge
from services.sessions.merge_map import Edge, MergeMap
from services.sessions.merges import apply_merges
from services.sessions.tables import events, owner_of, sessions, users
from tests.sessions.conftest import ENV, T0, ev, store_now

# Identity only ever merges an id into one of a later rank (anonymous ids into identified users,
# aliases along a chain), so the merges of one test never close a cycle.
_merge = st.tuples(st.integers(0, 7), st.integers(1, 8), st.integers(0, 5)).filter(lambda t: t[0] < t[1])


def _sorted(items):
    return sorted(items, key=lambda m: (m.at, m.from_user_id, m.into_user_id))


def _map(batches) -> MergeMap:
    graph = MergeMap({})
    for batch in batches:
        for m in _sorted(batch):
            graph.apply(m.from_user_id, m.into_user_id, m.at)
    return graph


@settings(max_examples=200, deadline=None)
@given(st.lists(_merge, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_any_arrival_order_and_batching_gives_the_same_map(raw, rng):
    items = [UserMerge(from_user_id=f"u{a}", into_user_id=f"u{b}", at=T0 + timedelta(minutes=t))
             for a, b, t in raw]
    reference = _map([items])
    shuffled = items + rng.sample(items, len(items) // 2)  # redeliveries too
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(len(shuffled) + 1), min(3, len(shuffled))))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)])]
    graph = _map(batches)
    assert graph.edges == reference.edges
    ids = {f"u{i}" for i in range(9)}
    assert {u: graph.root(u) for u in ids} == {u: reference.root(u) for u in ids}
    for source, edge in graph.edges.items():  # the earliest merge of each user stands
        assert edge == min(Edge(m.at, m.into_user_id) for m in items if m.from_user_id == source)


def test_a_cycle_is_refused_and_behind_follows_chains():
    graph = MergeMap({})
    assert graph.apply("a", "b", T0) and graph.apply("b", "c", T0)
    assert not graph.apply("c", "a", T0)  # c's chain would lead back through a
    assert graph.behind("c") == {"a", "b", "c"} and graph.root("a") == "c"


def recount(conn) -> dict[str, tuple]:
    """Feed activity per owner counted from scratch: what the rolled-up rows must equal."""
    owner = owner_of(ENV, sessions.c.anon_user_id)
    rows = conn.execute(select(owner, func.min(sessions.c.start), func.max(sessions.c.end), func.count())
                        .where(sessions.c.env_id == ENV).group_by(owner)).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def feed_rows(conn) -> dict[str, tuple]:
    return {r.user_id: (r.first_seen, r.last_seen, r.session_count) for r in conn.execute(
        select(users).where(users.c.env_id == ENV, users.c.last_seen.is_not(None)))}


def test_events_and_merges_applied_concurrently_equal_the_oracle(engine):
    """Visitors browse while, in other transactions, they sign up (merge) into identified users."""
    rng = random.Random(5)
    visitors = [f"v{i}" for i in range(60)]
    into = {v: f"id{rng.randrange(15)}" for v in visitors}
    merges = [UserMerge(from_user_id=v, into_user_id=into[v], at=T0 + timedelta(minutes=rng.randrange(60)))
              for v in visitors]
    # Some ids sign up twice: the earlier sign-up must win whatever arrives first.
    merges += [UserMerge(from_user_id=v, into_user_id=f"id{rng.randrange(15)}", at=T0 + timedelta(minutes=90))
               for v in visitors[:20]]
    evs = [ev(u, rng.uniform(0, 600)) for u in visitors + [f"id{i}" for i in range(15)] for _ in range(6)]
    rng.shuffle(evs)
    rng.shuffle(merges)
    errors: list[BaseException] = []

    def run(work):
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def store_all(part):
        for i in range(0, len(part), 7):
            store_now(engine, part[i:i + 7])

    def merge_all(part):
        for i in range(0, len(part), 3):
            with engine.begin() as conn:
                apply_merges(conn, ENV, sorted(part[i:i + 3], key=lambda m: (m.at, m.from_user_id, m.into_user_id)))

    threads = [threading.Thread(target=run, args=(lambda p=evs[k::2]: store_all(p),)) for k in range(2)]
    threads += [threading.Thread(target=run, args=(lambda p=merges[k::2]: merge_all(p),)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    expected = _map([merges])
    with engine.connect() as conn:
        owners = dict(conn.execute(select(events.c.anon_user_id, owner_of(ENV, events.c.anon_user_id))).all())
        assert owners == {anon: expected.root(anon) for anon in owners}
        assert feed_rows(conn) == recount(conn)
        assert set(feed_rows(conn)) == {f"id{i}" for i in range(15)}  # every visitor merged away
