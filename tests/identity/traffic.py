"""Hypothesis strategies: multisets of identity traffic (events and commands) over a few devices."""
from __future__ import annotations

from itertools import pairwise

from hypothesis import strategies as st

from tests.identity.factories import alias, commands, event, events, identify, set_properties

DEVICES = ["d0", "d1", "d2", "d3"]
IDENTITIES = ["ada", "bob", "null", "  "]  # two real, two generic
KEYS = ["plan", "email", "Email", "id", "seats"]


@st.composite
def one_message(draw, n: int):
    """The n-th distinct input: ids derive from n, so a duplicate is always an identical redelivery."""
    minute = draw(st.integers(0, 6))  # few distinct times: ties must be broken deterministically
    device = draw(st.sampled_from(DEVICES))
    kind = draw(st.sampled_from(["event", "event", "identified_event", "identify", "alias", "properties"]))
    if kind == "event":
        return events(event(f"e{n:03}", device, minute))
    if kind == "identified_event":
        return events(event(f"e{n:03}", device, minute, identity=draw(st.sampled_from(IDENTITIES))))
    if kind == "identify":
        return commands(identify(f"c{n:03}", device, draw(st.sampled_from(IDENTITIES)), minute))
    if kind == "alias":
        return commands(alias(f"c{n:03}", device, draw(st.sampled_from(IDENTITIES)), minute))
    target = draw(st.sampled_from([{"identity": "ada"}, {"identity": "bob"}, {"device": device}]))
    props = draw(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(["a", "b", 1, None]), max_size=3))
    return commands(set_properties(f"c{n:03}", minute, props, **target))


@st.composite
def traffic(draw, max_inputs: int = 12):
    """A multiset of messages (with duplicates) and two different deliveries of it (permuted, batched)."""
    count = draw(st.integers(1, max_inputs))
    distinct = [draw(one_message(n)) for n in range(count)]
    multiset = distinct + draw(st.lists(st.sampled_from(distinct), max_size=count))
    deliveries = []
    for _ in range(2):
        order = draw(st.permutations(multiset))
        cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=4)))
        bounds = [0, *cuts, len(order)]
        deliveries.append([order[a:b] for a, b in pairwise(bounds) if b > a])
    return distinct, deliveries
