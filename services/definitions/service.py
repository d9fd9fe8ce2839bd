"""What the definitions service does: each write in one transaction with its announcement, and the
reads the views and the gateway ask for (expanded criteria, an environment's compiled labeler).

Every write publishes `definition.changed` inside its transaction: a broker that does not confirm
raises BrokerUnavailable and the change rolls back (docs/publishing.md says why this is not an outbox).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from footfall.bus import Publisher
from footfall.messages import DefinitionChanged
from services.definitions import store
from services.definitions.labeler import Label, LabelDefinition, Labeler
from services.definitions.model import Item, dump_items, expand, expand_all, parse_items


class NameTaken(Exception):
    """Another live definition of the environment has this name (any case)."""

    def __init__(self, twin: dict[str, Any]):
        super().__init__(f"a definition named {twin['name']!r} already exists")
        self.twin = twin


class Definitions:
    """The composition root's product: the definitions table and the publisher, and the labelers
    compiled from it (one per environment, rebuilt only when a definition changed)."""

    def __init__(self, engine: Engine, publisher: Publisher):
        self.engine, self.publisher = engine, publisher
        self._labelers: dict[str, tuple[tuple, Labeler]] = {}

    def list(self, env_id: str, *, archived: bool | None) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return store.list_(conn, env_id, archived=archived)

    def get(self, env_id: str, definition_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return store.get(conn, env_id, definition_id)

    def create(self, env_id: str, fields: dict[str, Any], items: list[Item]) -> dict[str, Any]:
        """A new definition; CriteriaError for a combo that names no definition or loops, NameTaken."""
        with self.engine.begin() as conn:
            _check_combos(conn, env_id, items, None)
            _claim_name(conn, env_id, fields["name"], None)
            row = store.create(conn, env_id, {**fields, "criteria": dump_items(items)})
            self._publish(env_id, row["id"], "created")
        return row

    def update(self, env_id: str, definition_id: str, fields: dict[str, Any],
               items: list[Item]) -> dict[str, Any] | None:
        """The definition with its fields replaced; None when there is no such definition."""
        with self.engine.begin() as conn:
            current = store.get(conn, env_id, definition_id, lock=True)
            if current is None:
                return None
            _check_combos(conn, env_id, items, definition_id)
            if not current["archived"]:
                _claim_name(conn, env_id, fields["name"], definition_id)
            row = store.update_(conn, env_id, definition_id, {**fields, "criteria": dump_items(items)})
            self._publish(env_id, definition_id, "updated")
        return row

    def archive(self, env_id: str, definition_id: str) -> dict[str, Any] | None:
        with self.engine.begin() as conn:
            row = store.get(conn, env_id, definition_id, lock=True)
            if row is not None and not row["archived"]:
                row = store.update_(conn, env_id, definition_id, {"archived": True})
                self._publish(env_id, definition_id, "archived")
        return row

    def restore(self, env_id: str, definition_id: str) -> dict[str, Any] | None:
        """The definition live again; NameTaken when a live one has its name meanwhile."""
        with self.engine.begin() as conn:
            row = store.get(conn, env_id, definition_id, lock=True)
            if row is not None and row["archived"]:
                _claim_name(conn, env_id, row["name"], definition_id)
                row = store.update_(conn, env_id, definition_id, {"archived": False})
                # "updated": consumers already treat any change as "labels may differ now".
                self._publish(env_id, definition_id, "updated")
        return row

    def expanded_criteria(self, env_id: str, definition_id: str) -> list[Item] | None:
        """The definition's criteria with combos expanded (a plain OR list); None if unknown."""
        with self.engine.connect() as conn:
            stored = _stored_items(conn, env_id)
        if definition_id not in stored:
            return None
        return expand(stored[definition_id], stored.get, within=(definition_id,))

    def labeler(self, env_id: str) -> Labeler:
        """The environment's compiled labeler, rebuilt only when a definition changed."""
        with self.engine.connect() as conn:
            fingerprint = store.fingerprint(conn, env_id)
            cached = self._labelers.get(env_id)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            live = store.list_(conn, env_id, archived=False)
            expanded = expand_all(_stored_items(conn, env_id))
        labeler = Labeler(
            LabelDefinition(Label(d["id"], d["name"], d["color"]), d["created_at"], expanded[d["id"]])
            for d in live if d["id"] in expanded
        )
        self._labelers[env_id] = (fingerprint, labeler)
        return labeler

    def _publish(self, env_id: str, definition_id: str, action: str) -> None:
        """Inside the write's transaction: BrokerUnavailable rolls the change back."""
        self.publisher.publish(DefinitionChanged(env_id=env_id, definition_id=definition_id, action=action))


def _stored_items(conn: Connection, env_id: str) -> dict[str, list[Item]]:
    # Stored criteria were validated on write; parse_items only turns them back into models.
    return {i: parse_items(c) for i, c in store.all_criteria(conn, env_id).items()}


def _check_combos(conn: Connection, env_id: str, items: list[Item], definition_id: str | None) -> None:
    """Every referenced definition exists in this environment and no combo loops back (CriteriaError)."""
    expand(items, _stored_items(conn, env_id).get, within=(definition_id,) if definition_id else ())


def _claim_name(conn: Connection, env_id: str, name: str, definition_id: str | None) -> None:
    """NameTaken when another live definition of the environment already has this name (any case):
    two "Signed Up" in a filter list cannot be told apart. Holds the environment's name lock."""
    store.lock_names(conn, env_id)
    twin = store.live_named(conn, env_id, name, other_than=definition_id)
    if twin is not None:
        raise NameTaken(twin)
