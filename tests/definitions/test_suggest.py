"""Suggestions: stable attributes first, generated-looking ones skipped, and they match their event."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings

from criteria.match import matches
from criteria.model import Criteria
from services.definitions.suggest import looks_generated, suggest, suggest_selector
from tests.criteria.test_match_sql import events

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("token", ["css-1x2y3z", "sc-bdVaJa7", "jsx-123456", "ember412", ":r0:",
                                   "a1b2c3d4", "3f2a9c1e-77aa-4b1c-9d2e-0a1b2c3d4e5f", "btn-8f3k2q", "1col"])
def test_generated_tokens(token):
    assert looks_generated(token)


@pytest.mark.parametrize("token", ["buy", "btn-primary", "nav__item--active", "h1", "col-md-6", "signupForm"])
def test_stable_tokens(token):
    assert not looks_generated(token)


def test_selector_prefers_id_then_data_then_classes_then_a_stable_ancestor():
    assert suggest_selector([{"tag": "button", "id": "buy", "attributes": {"data-testid": "x"}}]) == "button#buy"
    assert suggest_selector([{"tag": "button", "id": "ember123", "attributes": {
        "data-track": "buy now", "data-testid": "buy-btn"}}]) == 'button[data-testid="buy-btn"]'
    assert suggest_selector([{"tag": "A", "classes": ["css-1x2y3z", "nav-link", "active", "big"]},
                             {"tag": "li"}, {"tag": "nav", "id": "main-nav"}]) == "#main-nav a.nav-link.active"
    assert suggest_selector([{"tag": "span", "classes": ["a:b"]}]) == r"span.a\:b"


def test_suggestions_by_kind():
    assert suggest({"kind": "pageview", "page": {"path": "/pricing", "title": "Pricing"}}) == {
        "name": "View Pricing", "criteria": {"kind": "pageview", "path": "/pricing"}}
    assert suggest({"kind": "custom", "name": "Signed up"}) == {
        "name": "Signed up", "criteria": {"kind": "custom", "name": "Signed up"}}
    submit = suggest({"kind": "submit", "target": {"hierarchy": [{"tag": "form", "id": "signup"}]}})
    assert submit == {"name": "Submit form#signup", "criteria": {"kind": "submit", "selector": "form#signup"}}


@hsettings(max_examples=300, deadline=None)
@given(event=events)
def test_a_suggestion_matches_its_event(event):
    proposal = suggest(event)
    assert matches(Criteria.model_validate(proposal["criteria"]), event), proposal
