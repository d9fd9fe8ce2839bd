"""The pure sessionization core: rules by example, and order independence against the batch oracle."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from services.sessions.sessionize import (
    Point,
    Sessionizer,
    partition,
    session_key,
    session_properties,
)

pytestmark = pytest.mark.unit

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ENV = "env"


def pt(event_id, minutes, source="web", user="u1", client=None):
    return Point(event_id, user, source, T0 + timedelta(minutes=minutes), client)


def groups(sessions):
    return sorted(sorted(s.event_ids) for s in sessions.values())


def test_web_gap_of_exactly_30_minutes_keeps_the_session_and_more_cuts_it():
    sessions = partition(ENV, [pt("a", 0), pt("b", 30), pt("c", 60.01)])
    assert groups(sessions) == [["a", "b"], ["c"]]


def test_mobile_cuts_after_5_minutes():
    sessions = partition(ENV, [pt("a", 0, "ios"), pt("b", 5, "ios"), pt("c", 10.5, "ios")])
    assert groups(sessions) == [["a", "b"], ["c"]]


def test_sources_and_users_are_separate_streams():
    sessions = partition(ENV, [pt("a", 0), pt("b", 1, "server"), pt("c", 2, user="u2")])
    assert groups(sessions) == [["a"], ["b"], ["c"]]


def test_client_session_ids_are_honoured_whatever_the_gap():
    sessions = partition(ENV, [pt("a", 0, client="s1"), pt("b", 500, client="s1"), pt("c", 1)])
    assert sessions["s1"].event_ids == ("a", "b") and sessions["s1"].client
    assert groups(sessions) == [["a", "b"], ["c"]]


def test_session_id_is_derived_from_the_first_event_and_stable():
    sessions = partition(ENV, [pt("b", 3), pt("a", 1)])
    (session,) = sessions.values()
    assert session.session_id == session_key(ENV, "u1", "a")
    assert (session.start, session.end, session.event_count, session.duration_s) == (
        T0 + timedelta(minutes=1), T0 + timedelta(minutes=3), 2, 120.0)


def test_a_late_event_bridging_two_sessions_joins_them():
    sessionizer = Sessionizer(ENV)
    sessionizer.add([pt("a", 0), pt("c", 50)])
    assert len(sessionizer.sessions) == 2
    sessionizer.add([pt("b", 25)])
    assert groups(sessionizer.sessions) == [["a", "b", "c"]]


def test_session_properties_come_from_the_event():
    event = {"source": "ios", "device": {"os": "iOS", "browser": None, "device_type": "Mobile"},
             "page": {"url": "https://x.test/a?utm_source=n", "referrer": "https://r.test/"},
             "geo": {"country": "FR"}, "campaign": {"utm_source": "n"}}
    props = session_properties(event)
    assert props["source"] == "iOS" and props["platform"] == "iOS" and props["country"] == "FR"
    assert props["landing_page"] == "https://x.test/a?utm_source=n" and props["utm_source"] == "n"
    assert props["utm_medium"] is None


points = st.builds(
    pt,
    event_id=st.sampled_from([f"e{i}" for i in range(14)]),
    minutes=st.integers(0, 60).map(lambda m: m * 2.5),  # gaps at and around both timeouts
    source=st.sampled_from(["web", "ios", "server"]),
    user=st.sampled_from(["u1", "u2"]),
    client=st.sampled_from([None, None, None, "s1", "s2"]),
)


@st.composite
def event_sets_in_batches(draw):
    """A set of events (unique ids), then any arrival order with duplicates, cut into batches."""
    events = list({p.event_id: p for p in draw(st.lists(points, max_size=14))}.values())
    arrivals = draw(st.permutations(events + draw(st.lists(st.sampled_from(events), max_size=6))
                                    if events else []))
    cuts = sorted(draw(st.lists(st.integers(0, len(arrivals)), max_size=5)))
    bounds = [0, *cuts, len(arrivals)]
    return events, [arrivals[a:b] for a, b in itertools.pairwise(bounds)]


@hsettings(max_examples=400, deadline=None)
@given(event_sets_in_batches())
def test_incremental_sessionization_in_any_order_equals_the_batch_oracle(case):
    events, batches = case
    sessionizer = Sessionizer(ENV)
    for batch in batches:
        sessionizer.add(batch)
    assert sessionizer.sessions == partition(ENV, events)
