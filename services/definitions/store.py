"""The definitions table (schema `definitions`) and its queries."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(schema="definitions")

definitions = Table(
    "definitions", metadata,
    Column("id", Text, primary_key=True),
    Column("env_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("category", Text),
    Column("color", Text),
    Column("description", Text, nullable=False, default=""),
    Column("criteria", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("archived", Boolean, nullable=False, default=False),
)

FIELDS = ("name", "category", "color", "description", "criteria")


def _as_json(row) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "category": row.category, "color": row.color,
            "description": row.description, "criteria": row.criteria, "created_at": row.created_at,
            "updated_at": row.updated_at, "archived": row.archived}


def create(conn: Connection, env_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    values = {"id": str(uuid.uuid4()), "env_id": env_id, "created_at": now, "updated_at": now,
              "archived": False, **{k: fields[k] for k in FIELDS}}
    row = conn.execute(insert(definitions).values(values).returning(*definitions.c)).one()
    return _as_json(row)


def get(conn: Connection, env_id: str, definition_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    query = select(definitions).where(definitions.c.env_id == env_id, definitions.c.id == definition_id)
    row = conn.execute(query.with_for_update() if lock else query).one_or_none()
    return None if row is None else _as_json(row)


def list_(conn: Connection, env_id: str, *, archived: bool | None = False) -> list[dict[str, Any]]:
    """An environment's definitions, oldest first (archived: False = live only, None = all)."""
    query = select(definitions).where(definitions.c.env_id == env_id)
    if archived is not None:
        query = query.where(definitions.c.archived == archived)
    return [_as_json(r) for r in conn.execute(query.order_by(definitions.c.created_at, definitions.c.id))]


def all_criteria(conn: Connection, env_id: str) -> dict[str, Any]:
    """Stored criteria of every definition, archived ones included (combos may still name them)."""
    rows = conn.execute(select(definitions.c.id, definitions.c.criteria).where(definitions.c.env_id == env_id))
    return {r.id: r.criteria for r in rows}


def update_(conn: Connection, env_id: str, definition_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    row = conn.execute(
        update(definitions)
        .where(definitions.c.env_id == env_id, definitions.c.id == definition_id)
        .values(**changes, updated_at=datetime.now(UTC))
        .returning(*definitions.c)
    ).one_or_none()
    return None if row is None else _as_json(row)


def lock_names(conn: Connection, env_id: str) -> None:
    """Serialise an environment's name checks and writes until the transaction ends, so two
    concurrent writers cannot both see a name as free."""
    conn.execute(text("select pg_advisory_xact_lock(hashtext('definitions.names'), hashtext(:env))"),
                 {"env": env_id})


def live_named(conn: Connection, env_id: str, name: str, *, other_than: str | None = None) -> dict[str, Any] | None:
    """The live (not archived) definition called `name`, ignoring case and surrounding spaces."""
    query = select(definitions).where(
        definitions.c.env_id == env_id, definitions.c.archived.is_(False),
        func.lower(func.btrim(definitions.c.name)) == name.strip().lower())
    if other_than is not None:
        query = query.where(definitions.c.id != other_than)
    row = conn.execute(query.limit(1)).one_or_none()
    return None if row is None else _as_json(row)


def fingerprint(conn: Connection, env_id: str) -> tuple:
    """Changes whenever any definition of the environment does (compiled labelers key on it)."""
    return tuple(conn.execute(
        select(func.count(), func.max(definitions.c.updated_at)).where(definitions.c.env_id == env_id)
    ).one())
