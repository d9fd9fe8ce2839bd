"""Helpers for tests of every service (import as `from tests.support import …`)."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from urllib.parse import unquote, urlsplit

import pika
import pytest
from sqlalchemy import text

from footfall import bus, db


def migrate_fresh(service_dir: str, settings) -> None:
    """Drop a service's schema and migrate it from scratch (once per test session is enough)."""
    schema = os.path.basename(service_dir.rstrip("/"))
    engine = db.make_engine(schema, settings)
    with engine.begin() as conn:
        conn.execute(text(f'drop schema if exists "{schema}" cascade'))
    engine.dispose()
    db.upgrade(service_dir, settings)


def truncate_schema(engine, schema: str) -> None:
    """Empty every table of a schema except Alembic's version table."""
    with engine.begin() as conn:
        tables = conn.scalars(
            text("select tablename from pg_tables where schemaname = :s and tablename <> 'alembic_version'"),
            {"s": schema},
        ).all()
        if tables:
            conn.execute(text("truncate " + ", ".join(f'"{schema}"."{t}"' for t in tables) + " cascade"))


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    """Poll until predicate() is truthy; return its value or fail the test with `message`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def ensure_vhost(amqp_url: str) -> None:
    """Create the test vhost when missing (rabbitmqctl is on this machine; CI runs here too)."""
    vhost = unquote(urlsplit(amqp_url).path.lstrip("/")) or "/"
    try:
        pika.BlockingConnection(bus.connection_parameters(amqp_url)).close()
        return
    except pika.exceptions.ProbableAccessDeniedError:
        pass
    if not shutil.which("rabbitmqctl"):
        raise RuntimeError(f"RabbitMQ vhost {vhost!r} is missing; create it with rabbitmqctl add_vhost")
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=False, capture_output=True)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True)
    time.sleep(0.5)
