"""PostgreSQL CPU per step of the sessions events path, on the canonical events of the realistic mix.

    DATABASE_URL=…/footfall_steps .venv/bin/python -m bench.events_path_steps [--events 60000] [--batch 200]

A diagnosis, not a result (bench/pipeline.py measures the whole pipeline): the mix of bench/mix.py
is normalised by ingest's own code in process, then stored batch by batch through
`events_path.store_events`'s steps (and the catalog's transaction after each commit, `record`),
and the CPU time of the PostgreSQL backend (read from /proc, so what other processes do on the
machine counts less than in wall time) is added up per step.
The database named by DATABASE_URL is dropped and migrated first.
"""
from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime

import orjson
from sqlalchemy import Connection, text

from bench.mix import make_mix
from footfall import db
from footfall.config import get_settings
from footfall.messages import SCHEMA_VERSION
from services.ingest import geo as geolocation
from services.ingest import segment
from services.ingest.normalize import Receipt
from services.sessions import catalog
from services.sessions import events_path as ep
from services.sessions.tables import SCHEMA
from tests.support import migrate_fresh

STEPS = [("stage", ep.STAGE), ("unique", ep.UNIQUE), ("lock", ep.LOCK), ("dedupe", ep.DEDUPE), ("cut", ep.CUT)]


def bodies_of(events: int, seed: int) -> list[bytes]:
    """`event.captured` bodies as ingest would publish them for the mix's Segment batches."""
    geo, out = geolocation.geolocator(), []
    for batch in make_mix("bench", events, seed=seed).batches:
        body = {"batch": batch}
        receipt = Receipt("bench", datetime.now(UTC), "81.2.69.142", None)
        result = segment.normalize(segment.batch_items(body), body, receipt, geo)
        if result.events:
            out.append(orjson.dumps({"schema_version": SCHEMA_VERSION, "message_id": str(uuid.uuid4()),
                                     "env_id": "bench", "sent_at": datetime.now(UTC), "events": result.events}))
    return out


def backend_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def store(conn: Connection, bodies: list[bytes], steps: dict[str, float]) -> None:
    """store_events, step by step, adding each step's backend CPU seconds to `steps`."""
    pid = conn.execute(text("select pg_backend_pid()")).scalar()

    def timed(name, run):
        before = backend_cpu(pid)
        result = run()
        steps[name] = steps.get(name, 0.0) + backend_cpu(pid) - before
        return result

    ep._work_tables(conn)
    timed("copy", lambda: ep._copy_bodies(conn, bodies))
    conn.execute(text("select set_config('work_mem', '64MB', true), set_config('jit', 'off', true)"))
    for name, step in STEPS:
        timed(name, lambda step=step: conn.execute(text(step)))
    timed("insert", lambda: ep._insert_events(conn))
    timed("renamed", lambda: conn.execute(text(ep.RENAMED)).all())
    timed("upsert", lambda: conn.execute(text(ep.UPSERT_SESSIONS_AND_ROLL_UP)))
    timed("catalog", lambda: catalog.collect(conn))


def record(conn: Connection, steps: dict[str, float]) -> None:
    """The catalog's own transaction after the commit (catalog.record)."""
    pid = conn.connection.driver_connection.info.backend_pid  # a query would open a transaction
    before = backend_cpu(pid)
    catalog.record(conn)
    steps["record"] = steps.get("record", 0.0) + backend_cpu(pid) - before


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.events_path_steps")
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=200, help="messages (of ~100 events) per batch")
    args = parser.parse_args()
    settings = get_settings()
    db.ensure_database(settings)
    migrate_fresh("services/sessions", settings)
    engine = db.make_engine(SCHEMA, settings, server_settings={"temp_buffers": "128MB"}, pool_size=1)
    warm, bodies = bodies_of(args.events // 2, 5), bodies_of(args.events, 6)
    for i in range(0, len(warm), args.batch):
        with engine.connect() as conn:
            with conn.begin():
                store(conn, warm[i:i + args.batch], {})
            record(conn, {})
    steps: dict[str, float] = {}
    for i in range(0, len(bodies), args.batch):
        with engine.connect() as conn:
            with conn.begin():
                store(conn, bodies[i:i + args.batch], steps)
            record(conn, steps)
    events = sum(body.count(b'"event_id"') for body in bodies)
    total = sum(steps.values())
    print(f"{events:,} events in batches of {args.batch} messages: {total * 1e6 / events:.1f} µs of "
          "PostgreSQL CPU per event: " + ", ".join(f"{k} {v * 1e6 / events:.1f}" for k, v in steps.items()))


if __name__ == "__main__":
    main()
