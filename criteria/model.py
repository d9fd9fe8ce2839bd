"""Criteria: the JSON shape of "which raw events is this?", shared by definitions, sessions and gateway.

A `Criteria` is an AND of the conditions it sets; a combo is a list of them, meaning OR.
Everything is validated when built, so a bad selector or operator is a 400 that says where.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from criteria.conditions import (
    MAX_WILDCARD_PATTERN,
    ORDER_OPS,
    VALUELESS_OPS,
    Op,
    order_operand,
    text_form,
)
from criteria.selector import SelectorError, parse_selector
from footfall.messages import Kind

Value = str | int | float | bool | None


class Condition(BaseModel):
    """`property op value` over an event's properties (the feed's operators)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    property: str = Field(min_length=1)
    op: Op
    value: Value = None

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op in VALUELESS_OPS:
            return self
        if self.value is None:
            raise ValueError(f"operator {self.op} needs a value")
        if self.op in ORDER_OPS:
            order_operand(self.value)  # raises ValueError naming the value
        if isinstance(self.value, float) and not math.isfinite(self.value):
            raise ValueError("value must be a finite number")
        if self.op == "wildcard" and len(text_form(self.value)) > MAX_WILDCARD_PATTERN:
            raise ValueError(f"a wildcard pattern has at most {MAX_WILDCARD_PATTERN} characters")
        return self


class TextMatch(BaseModel):
    """A condition on the target element's text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["equals", "contains", "wildcard"]
    value: str

    @model_validator(mode="after")
    def _bounded_wildcard(self) -> TextMatch:
        if self.op == "wildcard" and len(self.value) > MAX_WILDCARD_PATTERN:
            raise ValueError(f"a wildcard pattern has at most {MAX_WILDCARD_PATTERN} characters")
        return self


class Criteria(BaseModel):
    """Conditions on one raw event, all of which must hold; unset fields do not constrain."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind | None = None
    selector: str | None = Field(None, description="CSS selector matched against the target or any ancestor")
    text: TextMatch | None = None
    path: str | None = Field(None, max_length=MAX_WILDCARD_PATTERN,
                             description="URL path; `*` wildcard, case-insensitive")
    domain: str | None = Field(None, max_length=MAX_WILDCARD_PATTERN,
                               description="URL domain; `*` wildcard, case-insensitive")
    name: str | None = Field(None, description="custom or screen event name (exact)")
    properties: list[Condition] = Field(default_factory=list)

    @field_validator("selector")
    @classmethod
    def _selector_parses(cls, selector: str | None) -> str | None:
        if selector is not None:
            try:
                parse_selector(selector)
            except SelectorError as exc:
                raise ValueError(str(exc)) from None
        return selector

    @model_validator(mode="after")
    def _not_empty(self) -> Criteria:
        if self.condition_count() == 0:
            raise ValueError("criteria need at least one condition (kind, selector, text, path, domain, "
                             "name or properties)")
        return self

    def condition_count(self) -> int:
        """How many conditions this sets: what precedence between definitions compares."""
        fields = (self.kind, self.selector, self.text, self.path, self.domain, self.name)
        return sum(f is not None for f in fields) + len(self.properties)


Combo = Annotated[list[Criteria], Field(min_length=1)]
_COMBO = TypeAdapter(Combo)


def parse_criteria(obj: Any) -> list[Criteria]:
    """Criteria JSON (one object, or a non-empty list meaning OR); raises pydantic.ValidationError."""
    return _COMBO.validate_python([obj] if isinstance(obj, dict) else obj)
