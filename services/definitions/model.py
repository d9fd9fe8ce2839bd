"""A definition's stored criteria: an OR list of Criteria and references to other definitions (combos).

Combos reference definitions by id (docs/semantics.md R25) and are expanded when read, so editing a
member changes every combo using it — definitions are always retroactive. Pure: lookups are
passed in.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from criteria.model import Criteria


class DefinitionRef(BaseModel):
    """A combo member: another definition of the same environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    definition_id: str = Field(min_length=1)


Item = Criteria | DefinitionRef


class CriteriaError(ValueError):
    """Invalid criteria; `errors` lists {"field", "message"} with dotted paths from `criteria`."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def parse_items(obj: Any) -> list[Item]:
    """Stored criteria JSON (one object or a non-empty list) as items; CriteriaError says where."""
    items = [obj] if isinstance(obj, dict) else obj
    if not isinstance(items, list) or not items:
        raise CriteriaError([{"field": "criteria", "message": "must be an object or a non-empty list"}])
    parsed, errors = [], []
    for i, item in enumerate(items):
        model = DefinitionRef if isinstance(item, dict) and "definition_id" in item else Criteria
        try:
            parsed.append(model.model_validate(item))
        except ValidationError as exc:
            errors += [{"field": ".".join(map(str, ("criteria", i, *e["loc"]))),
                        "message": e["msg"].removeprefix("Value error, ")}
                       for e in exc.errors()]
    if errors:
        raise CriteriaError(errors)
    return parsed


def dump_items(items: list[Item]) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True, exclude_defaults=True) for item in items]


def expand(items: list[Item], lookup: Callable[[str], list[Item] | None], *,
           within: tuple[str, ...] = ()) -> list[Criteria]:
    """The plain OR list of a definition's criteria: references replaced by their own expansion.

    `lookup(id)` gives a definition's items (None when unknown). Raises CriteriaError on an unknown
    reference or a cycle.
    """
    out: list[Criteria] = []
    for i, item in enumerate(items):
        if isinstance(item, Criteria):
            out.append(item)
            continue
        ref = item.definition_id
        if ref in within:
            raise CriteriaError([{"field": f"criteria.{i}.definition_id",
                                  "message": f"combo cycle: {' -> '.join((*within, ref))}"}])
        member = lookup(ref)
        if member is None:
            raise CriteriaError([{"field": f"criteria.{i}.definition_id",
                                  "message": f"no definition {ref!r} in this environment"}])
        out += expand(member, lookup, within=(*within, ref))
    return _dedupe(out)


def _dedupe(combo: list[Criteria]) -> list[Criteria]:
    seen, out = set(), []
    for c in combo:
        key = c.model_dump_json()
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def expand_all(stored: Mapping[str, list[Item]]) -> dict[str, list[Criteria]]:
    """Every definition's expansion (definitions whose combos are broken are left out)."""
    out = {}
    for definition_id, items in stored.items():
        try:
            out[definition_id] = expand(items, stored.get, within=(definition_id,))
        except CriteriaError:
            continue
    return out
