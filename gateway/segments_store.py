"""The segments table (schema `gateway`) and its queries: an environment's saved feed views."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, ForeignKey, Row, String, Table, delete, func, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from footfall.web import ApiError
from gateway.store import get_engine, metadata

MAX_SEGMENTS = 500  # per environment: the list is read whole

segments = Table(
    "segments", metadata,
    Column("id", String(36), primary_key=True),
    Column("env_id", String(64), ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("view", JSONB, nullable=False),  # feed_view.as_json
    Column("created_by", String(254), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def list_(env_id: str) -> list[Row]:
    with get_engine().connect() as conn:
        return conn.execute(select(segments).where(segments.c.env_id == env_id)
                            .order_by(func.lower(segments.c.name), segments.c.id)).all()


def get(env_id: str, segment_id: str) -> Row:
    with get_engine().connect() as conn:
        return _one(conn, env_id, segment_id)


def create(env_id: str, name: str, view: dict, created_by: str) -> Row:
    """A new segment; 413 past MAX_SEGMENTS, 409 when the name is taken."""
    now = datetime.now(UTC)
    try:
        with get_engine().begin() as conn:
            held = conn.scalar(select(func.count()).select_from(segments).where(segments.c.env_id == env_id))
            if held >= MAX_SEGMENTS:
                raise ApiError(413, f"an environment holds at most {MAX_SEGMENTS} segments; delete some")
            conn.execute(segments.insert().values(
                id=str(uuid.uuid4()), env_id=env_id, name=name, view=view, created_by=created_by,
                created_at=now, updated_at=now))
            return conn.execute(select(segments).where(segments.c.env_id == env_id, segments.c.name == name)).one()
    except IntegrityError as exc:
        raise _taken(exc) from None


def update_(env_id: str, segment_id: str, change) -> Row:
    """The segment after `change(row)` (the changed columns); 404 when unknown, 409 when the name is taken."""
    try:
        with get_engine().begin() as conn:
            row = _one(conn, env_id, segment_id)
            conn.execute(update(segments).where(segments.c.id == row.id)
                         .values(**change(row), updated_at=datetime.now(UTC)))
            return _one(conn, env_id, segment_id)
    except IntegrityError as exc:
        raise _taken(exc) from None


def delete_(env_id: str, segment_id: str) -> None:
    with get_engine().begin() as conn:
        gone = conn.execute(delete(segments).where(segments.c.env_id == env_id, segments.c.id == segment_id))
    if not gone.rowcount:
        raise ApiError(404, f"no segment {segment_id!r} in this environment", field="segment_id")


def _taken(exc: IntegrityError) -> ApiError:
    if "segments_name" in str(exc.orig):
        return ApiError(409, "a segment of this environment already has this name", field="name")
    raise exc


def _one(conn, env_id: str, segment_id: str) -> Row:
    row = conn.execute(select(segments).where(segments.c.env_id == env_id, segments.c.id == segment_id)).first()
    if row is None:
        raise ApiError(404, f"no segment {segment_id!r} in this environment", field="segment_id")
    return row
