"""Events consumer throughput from the queue, and freshness (publish → visible in the feed model).

    .venv/bin/python -m bench.sessions_consumer [--users 4000] [--events-per-user 50]
        [--freshness-seconds 20] [--database ff_bench_consumer] [--parallel 2]

1. Throughput: publishes users × events-per-user events (messages of 100 events, as ingest sends
   one message per request), then starts the events consumer process and times, from its first
   stored batch, until all are stored and sessionized.
2. Freshness: publishes traffic of the same shape (mostly returning users) at half the measured
   rate, each message carrying one new user's first event, and times per message from the
   broker's confirm to the moment that user's feed row exists (polled every 10 ms).
Uses AMQP_URL's vhost (queues are purged) and its own database (created, migrated fresh).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

from sqlalchemy import text

from bench.sessions_events import make_event, make_messages
from footfall import bus, db
from footfall.config import get_settings
from footfall.messages import EventsCaptured, encode
from services.sessions.consumer import EVENTS_PARALLEL
from services.sessions.tables import SCHEMA
from tests.support import migrate_fresh

ENV = "bench-consumer"


def start_consumer(settings, parallel: int) -> subprocess.Popen:
    """The events consumer as its own process, as in production (Procfile)."""
    env = {**os.environ, "DATABASE_URL": settings.database_url, "AMQP_URL": settings.amqp_url,
           "LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "services.sessions.consumer", "events",
                             f"--parallel={parallel}"], env=env)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=30)


def stored(engine, event_id: str) -> bool:
    """One primary-key probe (a count(*) every few ms would compete with the consumer)."""
    with engine.connect() as conn:
        return bool(conn.scalar(text("select 1 from events where env_id = :e and event_id = :i"),
                                {"e": ENV, "i": event_id}))


def count_stored(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("select count(*) from events where env_id = :e"), {"e": ENV})


def throughput(settings, engine, users: int, per_user: int, parallel: int) -> float:
    messages = make_messages(ENV, users, per_user)
    bodies = [encode(m) for m in messages]
    first, last = messages[0].events[0].event_id, messages[-1].events[-1].event_id
    publisher = bus.Publisher(settings)
    for i, body in enumerate(bodies):
        publisher.publish_raw("event.captured", body, f"bench-{i}")
    total = users * per_user
    consumer = start_consumer(settings, parallel)
    while not stored(engine, first):  # from the first stored batch: excludes process start-up
        time.sleep(0.005)
    started = time.perf_counter()
    before = count_stored(engine)
    while not stored(engine, last):  # the last message is stored last, or nearly
        time.sleep(0.02)
    deadline = time.monotonic() + 60
    while (count := count_stored(engine)) < total and time.monotonic() < deadline:
        time.sleep(0.02)  # another consumer may still be storing an earlier batch
    elapsed = time.perf_counter() - started
    stop(consumer)
    assert count == total, (count, total)
    rate = (total - before) / elapsed  # what was stored before `started` is not counted
    print(f"throughput: {total:,} events ({len(bodies)} messages of 100) stored and sessionized by "
          f"the consumer process ({parallel} consumers) at {rate:,.0f} events/s")
    return rate


def freshness(settings, engine, rate: float, seconds: float, parallel: int, users: int) -> None:
    """Traffic shaped as in the throughput run (messages of 100 events of 100 users, most of them
    active already), at half its measured rate; in each message one event is a new user's first,
    the probe: the time from the broker's confirm to that user's feed row is the freshness."""
    rng = random.Random(3)
    count = int(rate * seconds / 100)
    now = datetime.now(UTC)
    messages = []
    for n in range(count):
        probe = 10_000_000 + n
        active = [(n * 99 + i) % users for i in range(99)]  # users of the throughput run, returning
        events = [make_event(rng, ENV, probe, 0, now)] + [
            make_event(rng, ENV, user, 1_000 + n, now) for user in active]
        messages.append((str(1_000_000 + probe), encode(EventsCaptured(env_id=ENV, events=events))))
    consumer = start_consumer(settings, parallel)
    time.sleep(2)  # let it connect
    pending: dict[str, float] = {}
    latencies: list[float] = []
    lock, done = threading.Lock(), threading.Event()

    def poll() -> None:
        while not done.is_set() or pending:
            with lock:
                ids = list(pending)
            if ids:
                with engine.connect() as conn:
                    seen = conn.execute(text("select user_id from users where env_id = :e and "
                                             "user_id = any(:ids) and last_seen is not null"),
                                        {"e": ENV, "ids": ids}).scalars().all()
                now = time.perf_counter()
                with lock:
                    latencies.extend(now - pending.pop(u) for u in seen)
            time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    publisher = bus.Publisher(settings)
    interval = 100 / rate  # one message of 100 events
    started = time.perf_counter()
    for n, (probe, body) in enumerate(messages):
        publisher.publish_raw("event.captured", body, f"fresh-{n}")
        with lock:
            pending[probe] = time.perf_counter()
        time.sleep(max(0.0, started + (n + 1) * interval - time.perf_counter()))
    done.set()
    poller.join(timeout=60)
    stop(consumer)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(f"freshness at {rate:,.0f} events/s for {seconds:.0f} s: {len(latencies)} probes, "
          f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4000)
    parser.add_argument("--events-per-user", type=int, default=50)
    parser.add_argument("--freshness-seconds", type=float, default=20)
    parser.add_argument("--database", default="ff_bench_consumer")
    parser.add_argument("--parallel", type=int, default=EVENTS_PARALLEL,
                        help="events consumers in the consumer process")
    args = parser.parse_args()
    base = get_settings()
    settings = base.with_(database_url=base.database_url.rsplit("/", 1)[0] + "/" + args.database)
    db.ensure_database(settings)
    migrate_fresh("services/sessions", settings)
    bus.purge_all(settings)
    engine = db.make_engine(SCHEMA, settings)
    rate = throughput(settings, engine, args.users, args.events_per_user, args.parallel)
    if args.freshness_seconds:
        freshness(settings, engine, rate / 2, args.freshness_seconds, args.parallel, args.users)
    bus.purge_all(settings)


if __name__ == "__main__":
    main()
