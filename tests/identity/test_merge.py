"""The pure core: Heap's identity semantics, and user state as a join-semilattice (hypothesis)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footfall.ids import anonymous_user_id, identified_user_id
from footfall.messages import encode
from services.identity.merge import Facts, derive_users, facts_from
from services.identity.wire import SlimEventsCaptured, read_events
from tests.identity.factories import (
    ENV,
    alias,
    at,
    commands,
    event,
    events,
    identify,
    set_properties,
)
from tests.identity.traffic import traffic

pytestmark = pytest.mark.unit

ADA = identified_user_id(ENV, "ada")
BOB = identified_user_id(ENV, "bob")


def users_of(*messages):
    facts = Facts(ENV)
    for message in messages:
        facts.absorb(facts_from(message))
    return derive_users(facts), facts


def test_identify_merges_the_anonymous_user_into_the_identity_and_the_identified_id_survives():
    users, _ = users_of(
        events(event("e1", "d1", 0, device={"browser": "Firefox"}), event("e2", "d1", 10)),
        events(event("e3", "d2", 5, identity="ada")),
        commands(identify("c1", "d1", "ada", 3)),
    )
    assert set(users) == {ADA}
    ada = users[ADA]
    assert ada.identity == "ada"
    assert ada.members == {ADA, anonymous_user_id("d1"), anonymous_user_id("d2")}
    assert (ada.first_seen, ada.last_seen) == (at(0), at(10))
    # Initial properties come from the earliest event of either side, here the anonymous one.
    assert ada.properties["Initial Landing Page"] == "https://shop.example/e1"
    assert ada.properties["Initial Browser"] == "Firefox"
    assert ada.devices == {"d1", "d2"}


def test_a_device_links_to_its_first_identity_by_event_time_not_arrival():
    late_first = [commands(identify("c2", "d1", "bob", 5)), commands(identify("c1", "d1", "ada", 1))]
    for order in (late_first, late_first[::-1]):
        users, _ = users_of(events(event("e1", "d1", 0)), *order)
        assert anonymous_user_id("d1") in users[ADA].members
        assert users[BOB].members == {BOB}  # bob's user exists, nothing merged into it


def test_events_carrying_a_later_identity_go_to_that_identity_without_merging():
    users, _ = users_of(
        commands(identify("c1", "d1", "ada", 1)),
        events(event("e1", "d1", 2), event("e2", "d1", 8, identity="bob")),
    )
    assert users[BOB].members == {BOB} and users[BOB].first_seen == at(8)
    assert users[ADA].last_seen == at(2)


def test_identifying_as_the_same_identity_again_is_a_no_op():
    once, _ = users_of(events(event("e1", "d1", 0)), commands(identify("c1", "d1", "ada", 1)))
    twice, _ = users_of(events(event("e1", "d1", 0)), commands(identify("c1", "d1", "ada", 1)),
                        commands(identify("c2", "d1", "ada", 4)))
    assert once == twice


def test_generic_identities_are_refused_and_recorded():
    users, facts = users_of(
        events(event("e1", "d1", 0, identity="undefined")),
        commands(identify("c1", "d2", '"null"', 1), alias("c2", "d3", "[object Object]", 2)),
    )
    assert set(users) == {anonymous_user_id("d1")}  # refused commands create no user
    kinds = sorted(w.kind for w in facts.warnings.values())
    assert kinds == ["identity_refused"] * 3
    assert any("undefined" in w.message for w in facts.warnings.values())


def test_alias_merges_the_previous_id_into_the_identity():
    users, _ = users_of(events(event("e1", "anon-7", 0)), commands(alias("c1", "anon-7", "ada", 1)))
    assert users[ADA].members == {ADA, anonymous_user_id("anon-7")}


def test_properties_last_write_by_event_time_wins_per_key_then_by_command_id():
    users, _ = users_of(
        commands(set_properties("c3", 9, {"plan": "pro"}, identity="ada")),
        commands(set_properties("c1", 5, {"plan": "free", "seats": 2}, identity="ada")),
        commands(set_properties("c2", 9, {"plan": "team"}, identity="ada")),  # same time: c3 > c2 wins
    )
    assert users[ADA].properties == {"plan": "pro", "seats": 2}


def test_properties_of_an_unknown_identity_make_an_event_less_user_that_merges_later():
    users, _ = users_of(commands(set_properties("c1", 0, {"email": "ada@example.com", "id": 7}, identity="ada")))
    assert users[ADA].properties == {"email": "ada@example.com"}
    assert users[ADA].first_seen is None
    users, facts = users_of(
        commands(set_properties("c1", 0, {"email": "ada@example.com", "id": 7}, identity="ada")),
        commands(set_properties("c2", 1, {"plan": "pro"}, device="d1")),
        events(event("e1", "d1", 3)), commands(identify("c3", "d1", "ada", 4)),
    )
    assert users[ADA].properties["plan"] == "pro" and users[ADA].first_seen == at(3)
    assert [w.kind for w in facts.warnings.values()] == ["properties_refused"]


def test_merged_custom_properties_take_the_latest_write_of_either_side():
    users, _ = users_of(
        commands(set_properties("c1", 5, {"plan": "anon-plan"}, device="d1")),
        commands(set_properties("c2", 2, {"plan": "ada-plan", "seats": 1}, identity="ada")),
        commands(identify("c3", "d1", "ada", 9)),
    )
    assert users[ADA].properties == {"plan": "anon-plan", "seats": 1}


def _joined(batches):
    facts = Facts(ENV)
    for batch in batches:
        batch_facts = Facts(ENV)
        for message in batch:
            batch_facts.absorb(facts_from(message))
        facts.absorb(batch_facts)
    return facts


@settings(max_examples=300, deadline=None)
@given(traffic())
def test_any_permutation_and_batching_of_a_multiset_gives_the_same_users(case):
    distinct, (first, second) = case
    one, two = _joined(first), _joined(second)
    assert one == two
    assert derive_users(one) == derive_users(two)
    assert derive_users(one) == derive_users(_joined([distinct]))  # duplicates change nothing


@settings(max_examples=100, deadline=None)
@given(traffic(max_inputs=6), st.data())
def test_the_join_is_commutative_associative_and_idempotent(case, data):
    distinct, _ = case
    a, b, c = (data.draw(st.sampled_from(distinct)) for _ in range(3))
    f = facts_from
    assert Facts(ENV).absorb(f(a)).absorb(f(b)) == Facts(ENV).absorb(f(b)).absorb(f(a))
    assert f(a).absorb(f(b).absorb(f(c))) == f(a).absorb(f(b)).absorb(f(c))
    assert f(a).absorb(f(a)) == f(a)


def test_the_consumer_s_slim_view_of_events_gives_the_same_facts():
    message = events(event("e1", "d1", 0, identity="ada", device={"browser": "Edge", "device_type": "Mobile"},
                           geo={"country": "DE"}, target={"text": "Buy", "hierarchy": [{"tag": "a"}]}),
                     event("e2", "d2", 3))
    slim = SlimEventsCaptured.model_validate_json(encode(message))
    assert facts_from(slim) == facts_from(message)
    assert facts_from(read_events(encode(message))) == facts_from(message)  # wire.py's typed fast path
