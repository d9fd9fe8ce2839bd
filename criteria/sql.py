"""Criteria compiled to a SQLAlchemy predicate over an event table: the SQL twin of criteria.match.

The selector becomes nested EXISTS over `jsonb_array_elements(hierarchy) WITH ORDINALITY`: one
level per compound, right to left, the ordinality giving ancestry (child = next position,
descendant = any later one). Differential tests hold this equal to the Python matcher.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Numeric,
    and_,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

from criteria.conditions import compile_condition
from criteria.model import Criteria, parse_criteria
from criteria.selector import AttributeTest, Complex, Compound, parse_selector

_INTEGER = r"^-?[0-9]+$"


@dataclass(frozen=True)
class EventColumns:
    """The event table's columns the compiler reads (hierarchy and properties are JSONB)."""

    kind: ColumnElement[Any]
    name: ColumnElement[Any]
    page_path: ColumnElement[Any]
    page_domain: ColumnElement[Any]
    target_text: ColumnElement[Any]
    hierarchy: ColumnElement[Any]
    properties: ColumnElement[Any]


def _attribute_text(node: ColumnElement, name: str) -> ColumnElement[str]:
    """What criteria.selector.attribute_value gives, in SQL."""
    if name == "id":
        return node["id"].astext
    if name == "class":
        classes = node["classes"]
        item = (func.jsonb_array_elements_text(classes).table_valued("value", with_ordinality="i")
                .render_derived().alias())
        joined = (select(func.string_agg(item.c.value, aggregate_order_by(literal(" "), item.c.i)))
                  .select_from(item).scalar_subquery())
        nonempty = and_(func.jsonb_typeof(classes) == "array", func.jsonb_array_length(classes) > 0)
        return case((nonempty, joined), else_=None)
    return node["attributes"][name].astext


def _attribute_sql(test: AttributeTest, node: ColumnElement) -> ColumnElement[bool]:
    value = _attribute_text(node, test.name)
    if test.op is None:
        return value.is_not(None)
    if test.op == "=":
        return value == test.value
    if not test.value:
        return false()
    op = {"^=": "starts_with", "$=": "ends_with", "*=": "contains"}[test.op]
    return compile_condition(op, value, test.value)


def _nth_sql(a: int, b: int, node: ColumnElement) -> ColumnElement[bool]:
    text = node["nth"].astext
    position = cast(text, Numeric)
    if a == 0:
        test = position == b
    else:
        test = and_(func.mod(position - b, abs(a)) == 0, (position - b) * a >= 0)
    return case((and_(func.jsonb_typeof(node["nth"]) == "number", text.regexp_match(_INTEGER)), test),
                else_=false())


def _compound_sql(compound: Compound, node: ColumnElement) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if compound.tag is not None:
        parts.append(func.lower(node["tag"].astext) == compound.tag)
    # `#x` wants the string "x" (Python compares the raw value): a numeric id 5 is not `#\35 `.
    parts += [and_(func.jsonb_typeof(node["id"]) == "string", node["id"].astext == i) for i in compound.ids]
    parts += [node["classes"].contains([c]) for c in compound.classes]
    parts += [_attribute_sql(t, node) for t in compound.attributes]
    # CASE inside _nth_sql guards the cast; AND order is not guaranteed in PostgreSQL.
    parts += [_nth_sql(a, b, node) for a, b in compound.nth]
    return and_(*parts) if parts else literal(True)


def _complex_sql(cx: Complex, hierarchy: ColumnElement) -> ColumnElement[bool]:
    array = case((func.jsonb_typeof(hierarchy) == "array", hierarchy), else_=literal([], JSONB))

    def step(k: int, below: ColumnElement | None) -> ColumnElement[bool]:
        nodes = func.jsonb_array_elements(array).table_valued(
            column("value", JSONB), with_ordinality="pos").render_derived().alias()
        conditions = [_compound_sql(cx.compounds[k], nodes.c.value)]
        if below is not None:
            child = cx.combinators[k] == ">"
            conditions.append(nodes.c.pos == below + 1 if child else nodes.c.pos > below)
        if k > 0:
            conditions.append(step(k - 1, nodes.c.pos))
        return exists(select(literal(1)).select_from(nodes).where(and_(*conditions)))

    # Every compound matches some node, so its ids and classes are in the hierarchy: a containment
    # test says so cheaply first (and can use a GIN index on hierarchy, jsonb_path_ops).
    required = [{"id": i} for c in cx.compounds for i in c.ids]
    required += [{"classes": [k]} for c in cx.compounds for k in c.classes]
    exact = step(len(cx.compounds) - 1, None)
    return and_(hierarchy.contains(required), exact) if required else exact


def compile_selector(selector: str, hierarchy: ColumnElement) -> ColumnElement[bool]:
    """The selector matches the target or any ancestor of a JSONB hierarchy."""
    hierarchy = type_coerce(hierarchy, JSONB)
    return or_(*[_complex_sql(cx, hierarchy) for cx in parse_selector(selector)])


def compile_one(criteria: Criteria, cols: EventColumns) -> ColumnElement[bool]:
    """One Criteria (an AND of its conditions) as a predicate."""
    parts: list[ColumnElement[bool]] = []
    if criteria.kind is not None:
        parts.append(cols.kind == criteria.kind)
    if criteria.name is not None:
        parts.append(cols.name == criteria.name)
    if criteria.path is not None:
        parts.append(compile_condition("wildcard", cols.page_path, criteria.path))
    if criteria.domain is not None:
        parts.append(compile_condition("wildcard", cols.page_domain, criteria.domain))
    if criteria.text is not None:
        parts.append(compile_condition(criteria.text.op, cols.target_text, criteria.text.value))
    if criteria.selector is not None:
        parts.append(compile_selector(criteria.selector, cols.hierarchy))
    properties = type_coerce(cols.properties, JSONB)
    parts += [compile_condition(c.op, properties[c.property].astext, c.value) for c in criteria.properties]
    return and_(*parts)


def compile_criteria(
    criteria: Criteria | Sequence[Criteria] | dict | list, cols: EventColumns
) -> ColumnElement[bool]:
    """A boolean predicate (never NULL) for criteria: one, a combo (OR list), or their JSON."""
    if isinstance(criteria, Criteria):
        combo: Sequence[Criteria] = [criteria]
    elif isinstance(criteria, list | tuple) and criteria and all(isinstance(c, Criteria) for c in criteria):
        combo = criteria
    else:
        combo = parse_criteria(criteria)
    return func.coalesce(or_(*[compile_one(c, cols) for c in combo]), false())
