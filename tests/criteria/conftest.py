"""A scratch event table with the sessions column names, in the test database (schema criteria_test)."""
from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, select, text
from sqlalchemy.dialects.postgresql import JSONB

from criteria.match import view
from criteria.sql import EventColumns, compile_criteria
from footfall import db

SCHEMA = "criteria_test"
metadata = MetaData(schema=SCHEMA)
events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", Text), Column("name", Text), Column("page_path", Text), Column("page_domain", Text),
    Column("target_text", Text), Column("hierarchy", JSONB), Column("properties", JSONB),
)
COLUMNS = EventColumns(**{name: events.c[name] for name in
                          ("kind", "name", "page_path", "page_domain", "target_text", "hierarchy", "properties")})


@pytest.fixture(scope="session")
def engine(settings):
    engine = db.make_engine(SCHEMA, settings)
    with engine.begin() as conn:
        conn.execute(text(f"drop schema if exists {SCHEMA} cascade"))
        conn.execute(text(f"create schema {SCHEMA}"))
        metadata.create_all(conn)
    yield engine
    engine.dispose()


def row(i: int, event: dict) -> dict:
    v = view(event)
    return {"id": i, "kind": v.kind, "name": v.name, "page_path": v.path, "page_domain": v.domain,
            "target_text": v.text, "hierarchy": (event.get("target") or {}).get("hierarchy"),
            "properties": event.get("properties")}


def sql_verdicts(engine, criteria, batch: list[dict]) -> list[bool]:
    """The compiled predicate's verdict on each event, inserted and rolled back in one transaction."""
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(insert(events), [row(i, e) for i, e in enumerate(batch)])
        predicate = compile_criteria(criteria, COLUMNS)
        verdicts = dict(conn.execute(select(events.c.id, predicate.label("m"))).all())
        tx.rollback()
    assert all(v in (True, False) for v in verdicts.values()), "the predicate must never be NULL"
    return [verdicts[i] for i in range(len(batch))]
