"""The no-logic pipeline bench/pipeline.py compares Footfall with: HTTP batch → one confirmed AMQP
message → `COPY` into PostgreSQL, nothing else.

    gunicorn -c python:footfall.gunicorn_conf 'bench.nologic:create_app()'   # the HTTP side
    python -m bench.nologic                                                  # the consumer

It runs under the same gunicorn settings as ingest, on the same broker and database, with the same
batching as Footfall's consumers (prefetch, one transaction and one ack per batch).
"""
from __future__ import annotations

import uuid

import orjson
import pika
import psycopg

from footfall.bus import Publisher, connection_parameters
from footfall.config import get_settings

QUEUE = "bench.nologic"
TABLE = "bench_nologic"


def create_app():
    from flask import Flask, request

    app = Flask("nologic")
    publisher = Publisher()

    @app.post("/v1/batch")
    def batch():
        body = request.get_data()
        orjson.loads(body)  # as ingest, the body must at least be JSON
        publisher.publish_raw(QUEUE, body, str(uuid.uuid4()), exchange="")
        return {"success": True}

    return app


def dsn(settings) -> str:
    return settings.database_url.replace("postgresql+psycopg://", "postgresql://")


def prepare(settings) -> None:
    """An empty table and queue."""
    with psycopg.connect(dsn(settings), autocommit=True) as conn:
        conn.execute(f"drop table if exists {TABLE}")
        conn.execute(f"create table {TABLE} (message_id text, event jsonb)")
    connection = pika.BlockingConnection(connection_parameters(settings.amqp_url))
    channel = connection.channel()
    channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_purge(QUEUE)
    connection.close()


def count(settings) -> int:
    with psycopg.connect(dsn(settings)) as conn:
        return conn.execute(f"select count(*) from {TABLE}").fetchone()[0]


def consume() -> None:
    settings = get_settings()
    db = psycopg.connect(dsn(settings), application_name="footfall-nologic")
    connection = pika.BlockingConnection(connection_parameters(settings.amqp_url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=settings.prefetch)
    pending: list = []
    channel.basic_consume(QUEUE, lambda _c, m, _p, body: pending.append((m, body)))
    while True:
        connection.process_data_events(time_limit=0.05)
        if not pending:
            continue
        batch, pending[:] = pending[:settings.batch_size], pending[settings.batch_size:]
        # Every message as a row, duplicates included: deduplicating would be logic.
        with db.cursor() as cur, cur.copy(f"copy {TABLE} (message_id, event) from stdin") as copy:
            for _method, body in batch:
                for event in orjson.loads(body).get("batch", []):
                    copy.write_row((event["messageId"], orjson.dumps(event).decode()))
        db.commit()
        channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)


if __name__ == "__main__":
    consume()
