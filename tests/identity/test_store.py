"""The store against the real PostgreSQL: it keeps exactly the users the pure model implies."""
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from footfall.ids import anonymous_user_id, identified_user_id
from services.identity import store
from tests.identity.factories import (
    ENV,
    at,
    commands,
    event,
    events,
    identify,
    set_properties,
)
from tests.identity.state import apply_batch, db_users, model_users
from tests.identity.traffic import traffic
from tests.support import truncate_schema, wait_until

ADA = identified_user_id(ENV, "ada")
BOB = identified_user_id(ENV, "bob")
D1 = anonymous_user_id("d1")


def test_identify_merges_and_the_merged_away_id_follows(engine):
    outcome = apply_batch(engine, [events(event("e1", "d1", 0), event("e2", "d1", 4))])
    assert [s.user_id for s in outcome.snapshots] == [D1] and outcome.snapshots[0].version == 1
    outcome = apply_batch(engine, [commands(identify("c1", "d1", "ada", 2)),
                                   commands(set_properties("c2", 1, {"plan": "pro"}, identity="ada"))])
    [merge] = outcome.merges
    assert (merge.from_user_id, merge.into_user_id, merge.identity, merge.device_ids) == (D1, ADA, "ada", ["d1"])
    [ada] = outcome.snapshots
    assert (ada.user_id, ada.identity, ada.first_seen, ada.last_seen) == (ADA, "ada", at(0), at(4))
    assert ada.properties["plan"] == "pro" and ada.properties["Initial Landing Page"].endswith("/e1")
    with engine.connect() as conn:
        assert store.owner_of(conn, ENV, D1) == ADA
        assert store.member_ids(conn, ENV, ADA) == sorted([ADA, D1])
        merges = conn.execute(select(store.merge_log.c.from_user_id, store.merge_log.c.into_user_id)).all()
    assert merges == [(D1, ADA)]


def test_redelivery_changes_nothing_and_announces_nothing(engine):
    batch = [events(event("e1", "d1", 0, identity="ada")), commands(identify("c1", "d2", "ada", 1))]
    first = apply_batch(engine, batch)
    assert first.merges and first.snapshots
    again = apply_batch(engine, batch)
    assert again.merges == [] and again.snapshots == []


def test_versions_rise_with_every_change(engine):
    versions = []
    for minute in (1, 2, 3):
        [snapshot] = apply_batch(engine, [events(event(f"e{minute}", "d1", minute))]).snapshots
        versions.append(snapshot.version)
    assert versions == [1, 2, 3]


def test_an_earlier_claim_arriving_late_relinks_the_device(engine):
    apply_batch(engine, [events(event("e1", "d1", 0), event("e2", "d1", 7)), commands(identify("c2", "d1", "bob", 5))])
    outcome = apply_batch(engine, [commands(identify("c1", "d1", "ada", 1))])
    assert [(m.from_user_id, m.into_user_id) for m in outcome.merges] == [(D1, ADA)]
    snapshots = {s.user_id: s for s in outcome.snapshots}
    assert snapshots[ADA].last_seen == at(7)
    assert snapshots[BOB].last_seen is None and snapshots[BOB].version == 2  # lost its member
    assert db_users(engine, ENV) == model_users([
        events(event("e1", "d1", 0), event("e2", "d1", 7)), commands(identify("c2", "d1", "bob", 5)),
        commands(identify("c1", "d1", "ada", 1))], ENV)


def test_a_device_keeps_its_earliest_sighting_whatever_the_arrival_order(engine):
    def first_seen():
        with engine.connect() as conn:
            [device] = store.user_devices(conn, ENV, D1)
        return device["first_seen"]

    apply_batch(engine, [events(event("e1", "d1", 5))])
    apply_batch(engine, [events(event("e2", "d1", 9))])  # later: the known sighting stands
    assert first_seen() == at(5)
    apply_batch(engine, [events(event("e3", "d1", 2))])  # earlier, arriving last: it wins
    assert first_seen() == at(2)
    apply_batch(engine, [events(event("e1", "d1", 5))])  # a redelivery changes nothing
    assert first_seen() == at(2)


def test_refused_identities_and_properties_are_recorded_as_warnings(engine):
    apply_batch(engine, [events(event("e1", "d1", 0, identity="null")),
                         commands(identify("c1", "d1", "undefined", 1)),
                         commands(set_properties("c2", 1, {"id": 3, "ok": 1}, identity="ada"))])
    with engine.connect() as conn:
        found = store.list_warnings(conn, ENV, 10)
    assert sorted(w["kind"] for w in found) == ["identity_refused", "identity_refused", "properties_refused"]
    assert set(db_users(engine, ENV)) == {D1, ADA}  # no user for "null" or "undefined"


def test_properties_over_the_bounds_are_dropped_with_a_warning(engine):
    props = {f"k{i:04}": i for i in range(999)}
    apply_batch(engine, [commands(set_properties("c1", 0, props, identity="ada"))])
    [ada] = apply_batch(engine, [commands(set_properties("c2", 1, {"late1": 1, "late2": 2}, identity="ada"))]).snapshots
    assert len(ada.properties) == 1000 and "late1" in ada.properties and "late2" not in ada.properties
    with engine.connect() as conn:
        [warning] = store.list_warnings(conn, ENV, 10)
    assert warning["kind"] == "properties_dropped" and warning["details"]["keys"] == ["late2"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(traffic())
def test_any_permutation_and_batching_gives_the_state_the_model_implies(identity_engine, case):
    distinct, deliveries = case
    expected = model_users(distinct, ENV)
    for batches in deliveries:
        truncate_schema(identity_engine, "identity")
        for batch in batches:
            apply_batch(identity_engine, batch)
        assert db_users(identity_engine, ENV) == expected


def test_tables_much_changed_since_their_last_analysis_get_analyzed(engine):
    apply_batch(engine, [events(*(event(f"e{i}", f"d{i}", i % 60) for i in range(1500)))])
    wait_until(lambda: "users" in store.analyze_if_stale(engine), message="users found stale and analyzed")
    assert "users" not in store.analyze_if_stale(engine)


def test_nul_characters_from_clients_never_break_a_batch(engine):
    apply_batch(engine, [events(event("e1", "d1", 0, identity="ada\x00")),
                         commands(identify("c1", "d2", "x\x00", 1),
                                  set_properties("c2", 1, {"plan\x00": 1, "name": "a\x00b"}, device="d1"))])
    assert db_users(engine, ENV)[D1][3]["name"] == "a\ufffdb"
    with engine.connect() as conn:
        assert len(store.list_warnings(conn, ENV, 10)) == 3


def test_a_batch_naming_more_users_than_the_shared_lock_table_holds_commits(engine):
    # 10,000 identifies name ~20,000 users; a lock each overflowed max_locks_per_transaction.
    outcome = apply_batch(engine, [commands(*(identify(f"c{n}", f"d{n}", f"person-{n}", 0) for n in range(10_000)))])
    assert len(outcome.merges) == 10_000
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(store.users)) == 20_000
