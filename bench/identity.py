"""Identity consumer throughput: events of mostly-known devices, and identify commands.

    DATABASE_URL=… AMQP_URL=… .venv/bin/python bench/identity.py [--events 100000] [--identifies 10000]

Each run preloads `identity.inbox` (straight to the queue, so no other queue fills up), starts one
consumer, and times the drain until every message is acked. Prints per run and the median of 3.
Targets: ≥ 20,000 events/s of mostly-known devices and ≥ 2,000 identify/s. Uses its own
environment (`bench-identity`), whose rows it deletes first; run it in a test namespace, since the
consumer's user.updated / user.merged messages go to `sessions.facts` as usual.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import pika
from sqlalchemy import text

from footfall import bus, db
from footfall.config import get_settings
from footfall.ids import anonymous_user_id
from footfall.messages import (
    Event,
    EventsCaptured,
    IdentifyCommand,
    IdentityCommands,
    Message,
    encode,
)
from services.identity.consumer import IdentityConsumer

ENV = "bench-identity"
DEVICES = 5_000
PER_MESSAGE = 100  # ingest publishes one message per HTTP batch
START = datetime(2026, 1, 1, tzinfo=UTC)


def event(rng: random.Random, n: int, device: str) -> Event:
    when = START + timedelta(seconds=n)
    return Event(
        event_id=f"ev-{n}", env_id=ENV, kind=rng.choice(["pageview", "click", "custom"]), name="Buy",
        device_id=device, user_id=anonymous_user_id(device), time=when, received_at=when, source="web",
        page={"url": "https://shop.test/pricing?utm_source=news", "referrer": "https://google.com/"},
        device={"browser": "Chrome", "os": "Mac OS X", "device_type": "Desktop"},
        geo={"country": "FR", "city": "Paris"}, campaign={"utm_source": "news"},
        properties={"plan": "pro", "cart_value": n % 500},
    )


def event_messages(count: int, offset: int, seed: int) -> list[Message]:
    """`count` events, 95 % from the known devices, 5 % from new ones."""
    rng = random.Random(seed)
    events = []
    for n in range(offset, offset + count):
        known = rng.random() < 0.95
        device = f"dev-{rng.randrange(DEVICES)}" if known else f"new-{seed}-{n}"
        events.append(event(rng, n, device))
    return [EventsCaptured(env_id=ENV, events=events[i:i + PER_MESSAGE]) for i in range(0, count, PER_MESSAGE)]


def identify_messages(count: int, seed: int) -> list[Message]:
    """`count` identifies of known devices: half to new identities, half to identities seen before."""
    rng = random.Random(seed)
    commands = [
        IdentifyCommand(command_id=f"id-{seed}-{n}", time=START + timedelta(seconds=n),
                        identity=f"user-{seed}-{n}" if n % 2 else f"user-{rng.randrange(count)}",
                        device_id=f"dev-{rng.randrange(DEVICES)}", source="web")
        for n in range(count)
    ]
    return [IdentityCommands(env_id=ENV, commands=commands[i:i + PER_MESSAGE]) for i in range(0, count, PER_MESSAGE)]


def preload(settings, messages: list[Message]) -> None:
    connection, channel = bus.open_channel(settings)
    channel.confirm_delivery()
    for message in messages:
        props = pika.BasicProperties(delivery_mode=2, type=message.routing_key, message_id=message.message_id)
        channel.basic_publish("", "identity.inbox", encode(message), props, mandatory=True)
    connection.close()


def drain(settings, messages: list[Message]) -> tuple[float, float]:
    """Preload the queue, then time one consumer until it acked every message: (wall s, CPU s)."""
    preload(settings, messages)
    consumer = IdentityConsumer(settings)
    started, cpu = time.perf_counter(), time.process_time()
    consumer.start()
    while consumer.handled < len(messages):
        time.sleep(0.01)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    consumer.stop()
    consumer.engine.dispose()
    return elapsed, cpu


TABLES = ("users", "links", "devices", "user_properties", "merge_log", "warnings")


def reset(engine) -> None:
    """Delete the bench environment's rows, then vacuum them away.

    Without autovacuum (CI, and this machine) every run would leave its rows behind as dead
    tuples, and each run would then be measured on tables bigger than the last (the consumer's
    ANALYZE reads up to 30,000 pages of them): the vacuum does what autovacuum does in production.
    """
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"delete from {table} where env_id = :env"), {"env": ENV})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"vacuum {', '.join((*TABLES, 'outbox'))}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--identifies", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    db.ensure_database(settings)
    db.upgrade("services/identity", settings)
    engine = db.make_engine("identity", settings)
    if bus.queue_depths(settings)["identity.inbox"]:
        sys.exit("identity.inbox is not empty: run the benchmark on an idle namespace")
    event_rates, identify_rates, event_cpu = [], [], []
    for run in range(args.runs):
        reset(engine)
        warm = [event(random.Random(run), n, f"dev-{n}") for n in range(DEVICES)]  # the known devices
        drain(settings, [EventsCaptured(env_id=ENV, events=warm[i:i + PER_MESSAGE])
                         for i in range(0, DEVICES, PER_MESSAGE)])
        seconds, cpu = drain(settings, event_messages(args.events, DEVICES, seed=run))
        event_rates.append(args.events / seconds)
        event_cpu.append(cpu / args.events * 1e6)
        seconds, _ = drain(settings, identify_messages(args.identifies, seed=run))
        identify_rates.append(args.identifies / seconds)
        print(f"run {run + 1}: {event_rates[-1]:,.0f} events/s ({event_cpu[-1]:.0f} µs consumer CPU per event), "
              f"{identify_rates[-1]:,.0f} identify/s", flush=True)
    print(f"median of {args.runs}: {statistics.median(event_rates):,.0f} events/s (target 20,000), "
          f"{statistics.median(event_cpu):.0f} µs consumer CPU per event, "
          f"{statistics.median(identify_rates):,.0f} identify/s (target 2,000)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, shared with PostgreSQL, RabbitMQ "
          "and whatever else runs")


if __name__ == "__main__":
    main()
