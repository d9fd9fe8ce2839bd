"""The gateway's own tables (schema `gateway`): environments, UI accounts and sessions, API tokens."""
from __future__ import annotations

import threading

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from footfall import db
from footfall.config import Settings, get_settings

SCHEMA = "gateway"
metadata = MetaData(schema=SCHEMA)

environments = Table(
    "environments", metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("write_key", String(128), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

accounts = Table(
    "accounts", metadata,
    Column("id", Integer, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Environments a non-admin account may read (admins read every environment).
account_environments = Table(
    "account_environments", metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True),
    Column("env_id", String(64), ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True),
)

# UI sessions: only a SHA-256 of the cookie value is stored, so a database leak logs nobody in.
ui_sessions = Table(
    "ui_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

# API tokens for scripts: one environment each, stored hashed like sessions; listed and revoked
# by their public `id`, never by the secret.
api_tokens = Table(
    "api_tokens", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("id", BigInteger, Identity(), nullable=False, unique=True),
    Column("env_id", String(64), ForeignKey("environments.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_by", String(254)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),  # updated at most once a minute
    Column("revoked_at", DateTime(timezone=True)),
)

# User deletions: the audit (who, when, which user ids; the counts come from each service).
deletions = Table(
    "deletions", metadata,
    Column("id", String(64), primary_key=True), Column("env_id", String(64), nullable=False),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("user_ids", JSONB, nullable=False), Column("idempotency_key", String(200)),
    Column("published_at", DateTime(timezone=True)),
)

# Per-environment data settings (footfall.messages.EnvironmentSettings), mirrored into Redis.
environment_settings = Table(
    "environment_settings", metadata,
    Column("env_id", String(64), primary_key=True), Column("settings", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def get_engine(settings: Settings | None = None) -> Engine:
    """One engine per database URL for the process (the app, CLIs and helpers share it)."""
    settings = settings or get_settings()
    with _lock:
        engine = _engines.get(settings.database_url)
        if engine is None:
            engine = _engines[settings.database_url] = db.make_engine(SCHEMA, settings)
        return engine
