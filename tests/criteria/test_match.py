"""The pure matcher, field by field, on dicts and on footfall.messages.Event."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from criteria.match import matches
from criteria.model import Criteria
from footfall.messages import Event
from tests.criteria.conftest import sql_verdicts

EVENT = {
    "event_id": "e1", "kind": "click", "name": None,
    "page": {"domain": "Shop.Example.com", "path": "/Blog/2024/hello"},
    "target": {"text": "Read more", "hierarchy": [
        {"tag": "a", "classes": ["more"], "attributes": {"href": "/blog/2024/hello"}, "nth": 3},
        {"tag": "article", "id": "post-1", "nth": 1}]},
    "properties": {"plan": "pro", "seats": 12, "renewal": "2025-06-01"},
}


@pytest.mark.unit
@pytest.mark.parametrize("criteria, hit", [
    ({"kind": "click"}, True), ({"kind": "pageview"}, False),
    ({"path": "/blog/*"}, True), ({"path": "/blog"}, False), ({"path": "/BLOG/2024/HELLO"}, True),
    ({"domain": "*.example.com"}, True), ({"domain": "example.com"}, False),
    ({"text": {"op": "equals", "value": "Read more"}}, True), ({"text": {"op": "equals", "value": "read more"}}, False),
    ({"text": {"op": "contains", "value": "more"}}, True), ({"text": {"op": "wildcard", "value": "read*"}}, True),
    ({"selector": "article#post-1 > a.more"}, True), ({"selector": "a[href^='/blog/']"}, True),
    ({"selector": "article > article"}, False),
    ({"name": "Read"}, False),
    ({"properties": [{"property": "seats", "op": "gt", "value": 10},
                     {"property": "renewal", "op": "lt", "value": "2026-01-01"}]}, True),
    ({"properties": [{"property": "plan", "op": "wildcard", "value": "P*"}]}, True),
    ({"properties": [{"property": "coupon", "op": "is_set"}]}, False),
    ({"kind": "click", "selector": "a", "properties": [{"property": "plan", "op": "equals", "value": "free"}]}, False),
])
def test_each_field(criteria, hit):
    assert matches(Criteria.model_validate(criteria), EVENT) is hit


@pytest.mark.unit
def test_a_combo_is_an_or():
    assert matches([{"kind": "pageview"}, {"selector": ".more"}], EVENT)
    assert not matches([{"kind": "pageview"}, {"selector": ".less"}], EVENT)


@pytest.mark.unit
def test_messages_event_models_match_like_dicts():
    now = datetime.now(UTC)
    event = Event.model_validate({**EVENT, "env_id": "env", "device_id": "d", "user_id": "1", "time": now,
                                  "received_at": now, "source": "web"})
    assert matches({"kind": "click", "selector": "article a", "path": "/blog/*"}, event)


@pytest.mark.unit
def test_custom_events_by_name():
    signup = {"kind": "custom", "name": "Signed up", "properties": {"plan": "pro"}}
    assert matches({"kind": "custom", "name": "Signed up"}, signup)
    assert not matches({"name": "signed up"}, signup)


MALFORMED = [
    {"kind": "click", "target": {"hierarchy": ["junk", {"tag": "a", "nth": "2"}, 7]}},
    {"kind": "click", "target": {"hierarchy": {"tag": "a"}}},
    {"kind": "click", "target": {"hierarchy": [{"tag": "a", "classes": "more", "nth": 2.0}]}},
    {"kind": "click", "properties": None, "page": None, "target": None},
    {"kind": "click", "target": {"hierarchy": [{"tag": "a", "classes": [None, 1, "more"]}, {"classes": [None]}]}},
    {"kind": "click", "target": {"hierarchy": [{"tag": "a", "id": 5}, {"tag": "b", "id": "5"}]}},
]


@pytest.mark.parametrize("selector", ["*", "a", "* > a", "a *", ".more", "a:nth-child(2)", "[class]",
                                      "[class='1 more']", ".\\31 ",
                                      "#\\35 ", "[id='5']", "b > a[id]"])
def test_malformed_events_never_crash_and_both_evaluators_agree(engine, selector):
    criteria = Criteria(selector=selector)
    assert sql_verdicts(engine, criteria, MALFORMED) == [matches(criteria, e) for e in MALFORMED]
