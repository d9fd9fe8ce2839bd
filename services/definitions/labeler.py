"""Labels raw events with the definition that shows for them (pure; compiled once per definition set).

Precedence (docs/semantics.md R26): among matching definitions, the one with the most conditions wins;
ties go to the earliest created. A combo's count is that of the member that matched.

Speed: every (definition, alternative) is an *entry* with a rank; each entry is indexed under a
key the event must carry for it to match (its custom name, one id, attribute value, class or tag
its selector requires of some node, or its exact path), per kind. An event only tries the entries under its own keys
(plus the few without one), best rank first, and stops at the first match.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from criteria.match import EventView, Predicate, compile_predicate, view
from criteria.model import Criteria
from criteria.selector import Compound, attribute_value, parse_selector

Key = tuple[str, str]


@dataclass(frozen=True)
class Label:
    id: str
    name: str
    color: str | None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "color": self.color}


@dataclass(frozen=True)
class LabelDefinition:
    """A definition ready to label: combos already expanded into their alternatives."""

    label: Label
    created_at: datetime
    alternatives: Sequence[Criteria]


_PREFERENCE = ("id", "attr", "class", "tag")


def _compound_key(compound: Compound) -> Key | None:
    """The most selective key a node matching this compound must carry."""
    if compound.ids:
        return ("id", compound.ids[0])
    for test in compound.attributes:
        if test.op == "=" and test.name == "id":
            return ("id", test.value)
        if test.op == "=" and test.name != "class":
            return ("attr", f"{test.name}={test.value}")
    if compound.classes:
        return ("class", compound.classes[0])
    if compound.tag is not None:
        return ("tag", compound.tag)
    return None


def _selector_keys(selector: str) -> set[Key] | None:
    """One key per comma alternative (each needs some node to carry it), or None when one has none."""
    keys: set[Key] = set()
    for cx in parse_selector(selector):
        candidates = [k for k in map(_compound_key, cx.compounds) if k is not None]
        if not candidates:
            return None
        keys.add(min(candidates, key=lambda k: _PREFERENCE.index(k[0])))
    return keys


def index_keys(criteria: Criteria) -> set[Key] | None:
    """Keys under which to index criteria, any of which a matching event carries; None = always try."""
    if criteria.name is not None:
        return {("name", criteria.name)}
    if criteria.selector is not None:
        keys = _selector_keys(criteria.selector)
        if keys is not None:
            return keys
    if criteria.path is not None and "*" not in criteria.path and criteria.path.isascii():
        return {("path", criteria.path.lower())}
    return None


def event_keys(v: EventView) -> list[Key]:
    """Every key the event carries (see index_keys)."""
    keys: list[Key] = []
    if isinstance(v.name, str):
        keys.append(("name", v.name))
    if isinstance(v.path, str) and v.path.isascii():
        keys.append(("path", v.path.lower()))
    for node in v.hierarchy:
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("id"), str):
            keys.append(("id", node["id"]))
        classes = node.get("classes")
        if isinstance(classes, list):
            keys += [("class", c) for c in classes if isinstance(c, str)]
        attributes = node.get("attributes")
        if isinstance(attributes, dict):
            keys += [("attr", f"{k}={attribute_value(node, k)}") for k in attributes]
        keys.append(("tag", str(node.get("tag") or "").lower()))
    return keys


class Labeler:
    """Compiled definitions of one environment: `label(event)` → the Label that shows, or None."""

    def __init__(self, definitions: Iterable[LabelDefinition]):
        entries = []
        for d in definitions:
            for alternative in d.alternatives:
                rank = (-alternative.condition_count(), d.created_at, d.label.id)
                entries.append((rank, alternative, d.label))
        entries.sort(key=lambda e: e[0])
        self._predicates: list[Predicate] = [compile_predicate(c) for _, c, _ in entries]
        self._labels: list[Label] = [label for _, _, label in entries]
        self._indexed: dict[str | None, dict[Key, list[int]]] = defaultdict(lambda: defaultdict(list))
        self._always: dict[str | None, list[int]] = defaultdict(list)
        for position, (_, criteria, _) in enumerate(entries):
            keys = index_keys(criteria)
            if keys is None:
                self._always[criteria.kind].append(position)
            else:
                for key in keys:
                    self._indexed[criteria.kind][key].append(position)

    def candidates(self, v: EventView) -> list[int]:
        """Entry positions (best rank first) that could match the event."""
        kinds = (v.kind, None)
        found: set[int] = set()
        keys = event_keys(v)
        for kind in kinds:
            found.update(self._always.get(kind, ()))
            index = self._indexed.get(kind)
            if index:
                for key in keys:
                    found.update(index.get(key, ()))
        return sorted(found)

    def label(self, event: Mapping[str, Any]) -> Label | None:
        v = view(event)
        for position in self.candidates(v):
            if self._predicates[position](v):
                return self._labels[position]
        return None

    def label_all(self, events: Iterable[Mapping[str, Any]]) -> dict[str, Label | None]:
        """Labels by event_id."""
        return {str(e.get("event_id")): self.label(e) for e in events}
