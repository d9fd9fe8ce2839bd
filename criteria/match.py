"""The pure matcher: does a canonical event (a dict or footfall.messages.Event) meet criteria?

Same semantics as criteria.sql, field by field: kind and name exact; path and domain as
case-insensitive `*` wildcards; target text with its operator; the selector against the target or
any ancestor; property conditions with the shared operators. A combo matches when any member does.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel

from criteria.conditions import evaluate, wildcard_match
from criteria.model import Criteria, parse_criteria
from criteria.selector import compile_matcher


class EventView(NamedTuple):
    """The fields criteria read, pulled out of an event once."""

    kind: str | None
    name: str | None
    path: str | None
    domain: str | None
    text: str | None
    hierarchy: Sequence[Mapping[str, Any]]
    properties: Mapping[str, Any]


def view(event: Mapping[str, Any] | BaseModel) -> EventView:
    if isinstance(event, BaseModel):
        event = event.model_dump()
    page = event.get("page")
    page = page if isinstance(page, dict) else {}
    target = event.get("target")
    target = target if isinstance(target, dict) else {}
    hierarchy = target.get("hierarchy")
    if isinstance(hierarchy, list) and not all(isinstance(n, dict) for n in hierarchy):
        # Malformed nodes match what SQL makes of them: nothing but `*`. Positions are kept.
        hierarchy = [n if isinstance(n, dict) else {} for n in hierarchy]
    properties = event.get("properties")
    return EventView(
        event.get("kind"), event.get("name"), page.get("path"), page.get("domain"), target.get("text"),
        hierarchy if isinstance(hierarchy, list) else [],
        properties if isinstance(properties, dict) else {},
    )


Predicate = Callable[[EventView], bool]


def _wildcard(pattern: str, field: str) -> Predicate:
    def test(v: EventView) -> bool:
        value = getattr(v, field)
        return isinstance(value, str) and wildcard_match(pattern, value)

    return test


def compile_predicate(criteria: Criteria) -> Predicate:
    """One Criteria as a fast predicate over an EventView (selectors prepared once)."""
    tests: list[Predicate] = []
    if criteria.kind is not None:
        tests.append(lambda v, kind=criteria.kind: v.kind == kind)
    if criteria.name is not None:
        tests.append(lambda v, name=criteria.name: v.name == name)
    if criteria.path is not None:
        tests.append(_wildcard(criteria.path, "path"))
    if criteria.domain is not None:
        tests.append(_wildcard(criteria.domain, "domain"))
    if criteria.text is not None:
        op, value = criteria.text.op, criteria.text.value
        tests.append(lambda v: evaluate(op, v.text, value))
    if criteria.selector is not None:
        selector = compile_matcher(criteria.selector)
        tests.append(lambda v: selector(v.hierarchy))
    for condition in criteria.properties:
        tests.append(lambda v, c=condition: evaluate(c.op, v.properties.get(c.property), c.value))
    if len(tests) == 1:
        return tests[0]

    def all_hold(v: EventView) -> bool:
        for test in tests:
            if not test(v):
                return False
        return True

    return all_hold


def matches(criteria: Criteria | Sequence[Criteria] | dict | list, event: Mapping[str, Any] | BaseModel) -> bool:
    """Whether the event meets the criteria (a combo: any of them)."""
    combo = [criteria] if isinstance(criteria, Criteria) else (
        criteria if criteria and all(isinstance(c, Criteria) for c in criteria) else parse_criteria(criteria))
    v = view(event)
    return any(compile_predicate(c)(v) for c in combo)
