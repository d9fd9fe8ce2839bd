"""The indexed labeler gives exactly what a brute-force scan with the precedence rule gives."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError

from criteria.match import matches
from criteria.model import Criteria
from services.definitions.labeler import Label, LabelDefinition, Labeler, index_keys
from tests.criteria.test_match_sql import criteria as criteria_json
from tests.criteria.test_match_sql import events

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def definition(i: int, *alternatives: dict, minutes: int | None = None) -> LabelDefinition:
    return LabelDefinition(Label(f"d{i}", f"D{i}", None), T0 + timedelta(minutes=i if minutes is None else minutes),
                           [Criteria.model_validate(a) for a in alternatives])


def brute_force(definitions: list[LabelDefinition], event: dict) -> Label | None:
    best = None
    for d in definitions:
        for c in d.alternatives:
            if matches(c, event):
                rank = (-c.condition_count(), d.created_at, d.label.id)
                if best is None or rank < best[0]:
                    best = (rank, d.label)
    return best and best[1]


CLICK = {"kind": "click", "page": {"path": "/Pricing"},
         "target": {"text": "Buy", "hierarchy": [{"tag": "button", "id": "buy", "classes": ["btn"]},
                                                  {"tag": "div", "classes": ["card"]}]}}


def test_most_conditions_win_then_earliest_created():
    defs = [definition(0, {"kind": "click"}),
            definition(1, {"kind": "click", "selector": ".card button"}),
            definition(2, {"selector": "#buy", "path": "/pricing"}, minutes=-5),
            definition(3, {"selector": "div > .btn", "text": {"op": "equals", "value": "Buy"}})]
    assert Labeler(defs).label(CLICK).id == "d2"  # 2 conditions, created before d1 and d3
    assert Labeler(defs[:2]).label(CLICK).id == "d1"
    assert Labeler(defs[:1]).label({"kind": "pageview"}) is None


def test_a_combo_counts_the_member_that_matched():
    combo = definition(0, {"kind": "pageview"}, {"kind": "click", "selector": "button", "text": {
        "op": "contains", "value": "u"}})
    plain = definition(1, {"kind": "click", "selector": "#buy"})
    assert Labeler([combo, plain]).label(CLICK).id == "d0"  # 3 conditions beat 2


def test_index_keys_are_necessary_conditions():
    assert index_keys(Criteria(selector="div.card > button#buy, .x")) == {("id", "buy"), ("class", "x")}
    assert index_keys(Criteria(selector="[data-x], a")) is None
    assert index_keys(Criteria(kind="pageview", path="/Pricing")) == {("path", "/pricing")}
    assert index_keys(Criteria(name="signup", selector="a")) == {("name", "signup")}


@hsettings(max_examples=200, deadline=None)
@given(definitions=st.lists(st.lists(criteria_json, min_size=1, max_size=2), min_size=1, max_size=12),
       created=st.lists(st.integers(0, 3), min_size=12, max_size=12),
       batch=st.lists(events, min_size=10, max_size=20))
def test_labeler_agrees_with_brute_force(definitions, created, batch):
    built = []
    for i, alternatives in enumerate(definitions):
        try:
            built.append(definition(i, *alternatives, minutes=created[i]))
        except ValidationError:
            continue
    labeler = Labeler(built)
    for event in batch:
        assert labeler.label(event) == brute_force(built, event)
