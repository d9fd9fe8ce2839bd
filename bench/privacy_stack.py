"""Deleting a big user end to end through the processes of `make run`, beside other users' ingest.

    .venv/bin/python -m bench.privacy_stack [--events 100000] [--sessions 2000] [--replays 50]

Starts every Procfile process (tests/stack.py, `make run`'s gunicorn settings) in its own namespace.
The user signs up through ingest (an identify); their history — `--events` events in `--sessions`
sessions over 20 merged anonymous ids, the first `--replays` sessions recorded, each replay
`--chunks` chunks in S3 — is generated straight into the stores (bench/privacy.py's generator,
replay's index and S3 objects). Then, while other users' traffic (bench/mix.py) flows into ingest
at a steady `--rate`, the user is deleted through the gateway's public API and the
deletion followed until `done` in every service.

Prints the deletion's wall time (request → done) and the other users' events stored per second in
the seconds before the deletion and while it ran (target: ≤ 10 s; ≤ 20% slower).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import uuid
from datetime import timedelta

os.environ.setdefault("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/footfall_bench_privacy")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/footfall_bench_privacy")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
os.environ.setdefault("FOOTFALL_TEST_PORT_SHIFT", "18000")
os.environ.setdefault("REPLAY_TOKEN_SECRETS", "bench-" + uuid.uuid4().hex * 2)
os.environ.setdefault("SERVICE_TOKENS", "bench-" + uuid.uuid4().hex * 2)

import requests
from sqlalchemy import text

from bench.mix import identified, make_mix
from bench.pipeline import Bench, send, wait_for
from bench.privacy import NOW, generate
from footfall import bus, db
from services.replay.storage import ChunkStorage
from tests.stack import start_stack

IDENTITY = "big.user@bench.example"
CHUNK = b"\x1f\x8b" + os.urandom(20_000)  # an incompressible 20 KB stand-in for a gzip chunk

_REPLAY_INDEX = """
    insert into sessions (env_id, session_id, device_id, start_at, end_at, chunk_count, bytes, event_count,
                          has_full_snapshot, created_at, updated_at)
    select :env, :prefix || '-s' || s, 'd-big', :now, :now, :chunks, :chunks * 20000, :chunks * 50, true, :now, :now
    from generate_series(0, :replays - 1) s;
    insert into chunks (env_id, session_id, seq, bytes, event_count, start_at, end_at, has_full_snapshot, created_at)
    select :env, :prefix || '-s' || s, c, 20000, 50, :now, :now, c = 0, :now
    from generate_series(0, :replays - 1) s, generate_series(0, :chunks - 1) c
"""


def recordings(settings, stack_url: str, env: str, prefix: str, replays: int, chunks: int) -> None:
    """The replay index rows and S3 objects of the user's recorded sessions."""
    engine = db.make_engine("replay", settings)
    with engine.begin() as conn:
        for statement in _REPLAY_INDEX.split(";"):
            conn.execute(text(statement), {"env": env, "prefix": prefix, "now": NOW, "replays": replays,
                                           "chunks": chunks})
    engine.dispose()
    storage = ChunkStorage(settings.with_(s3_endpoint_url=stack_url))
    for s in range(replays):
        for c in range(chunks):
            storage.put_chunk(env, f"{prefix}-s{s}", c, CHUNK)


class Rate:
    """Other users' events stored (not the deleted user's), sampled every 0.2 s."""

    def __init__(self, bench: Bench):
        self.bench, self.samples, self.stop = bench, [], threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self.stop.is_set():
            with self.bench.engine.connect() as conn:
                stored = conn.scalar(text("select count(*) from sessions.events where env_id = :e "
                                          "and anon_user_id not like 'big%'"), {"e": self.bench.stack.env_id})
            self.samples.append((time.monotonic(), stored))
            time.sleep(0.2)

    def between(self, start: float, end: float) -> float:
        inside = [(t, n) for t, n in self.samples if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return (n1 - n0) / (t1 - t0)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.privacy_stack")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=2_000)
    parser.add_argument("--replays", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rate", type=float, default=1_000, help="other users' events/s while it runs")
    parser.add_argument("--before-s", type=float, default=10)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on the way out
    stack = start_stack({"WEB_CONCURRENCY": "2", "WEB_THREADS": "8"})
    try:
        bench = Bench(stack, args.threads)
        env, user_id = stack.env_id, identified(stack.env_id, IDENTITY)
        send(stack.url("ingest") + "/v1/batch", [[{
            "type": "identify", "anonymousId": "big-device", "userId": IDENTITY, "messageId": str(uuid.uuid4()),
            "timestamp": (NOW - timedelta(minutes=1)).isoformat(), "traits": {"plan": "pro"}}]], 1, bench.auth)
        wait_for(lambda: (bench.gateway_user(user_id) or {}).get("identity"), 60, 0.1)
        started = time.monotonic()
        generate(db.make_engine("sessions", bench.settings), "big", args.sessions, args.events // args.sessions,
                 20, "2 hours", replays=args.replays, env=env, survivor=user_id)
        recordings(bench.settings, stack.url("s3"), env, "big", args.replays, args.chunks)
        user = bench.gateway_user(user_id)
        print(f"generated the user: {user.get('session_count')} sessions, {args.events} events, "
              f"{args.replays} replays of {args.chunks} chunks in {time.monotonic() - started:.1f} s", flush=True)

        mix = make_mix(env, int(args.rate * (args.before_s + 120)), seed=7)
        stop = threading.Event()

        def load() -> None:  # batches of 100 events at a steady rate
            next_at = time.monotonic()
            for batch in mix.batches:
                if stop.is_set():
                    return
                send(stack.url("ingest") + "/v1/batch", [batch], 1, bench.auth)
                next_at += 100 / args.rate
                time.sleep(max(0.0, next_at - time.monotonic()))

        rate = Rate(bench)
        rate.thread.start()
        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(args.before_s)
        api = f"{stack.url('gateway')}/api/v1/environments/{env}/deletions"
        asked = time.monotonic()
        answer = bench.api.post(api, json={"users": [{"identity": IDENTITY}]}, timeout=30)
        assert answer.status_code == 202, answer.text
        deletion_id = answer.json()["deletion_id"]

        finished_at: dict[str, float] = {}

        def done() -> dict | None:
            job = bench.api.get(f"{api}/{deletion_id}", timeout=30).json()
            for name, part in job["services"].items():
                if part["status"] == "done":
                    finished_at.setdefault(name, time.monotonic() - asked)
            return job if job["status"] == "done" else None

        wait_for(done, 300, 0.1)
        finished = time.monotonic()
        job = done()
        time.sleep(1)
        stop.set()
        loader.join()
        rate.stop.set()
        rate.thread.join()
        before = rate.between(asked - args.before_s + 3, asked)  # after the load's ramp-up
        depths = bus.queue_depths(bench.settings)
        during = rate.between(asked, finished)
        print(f"deletion: {finished - asked:.2f} s from the request to done ("
              + ", ".join(f"{name} done after {t:.1f} s" for name, t in sorted(finished_at.items(), key=lambda x: x[1]))
              + "); counts "
              + "; ".join(f"{name} {part['counts']}" for name, part in sorted(job["services"].items())))
        print(f"other users' events stored: {before:,.0f}/s before, {during:,.0f}/s during the deletion "
              f"({(1 - during / before) * 100:+.0f}% slower); queues after: {depths}")
        assert bench.gateway_user(user_id) is None
        assert requests.get(f"{stack.url('gateway')}/api/v1/environments/{env}/users/{user_id}",
                            headers=bench.api.headers, timeout=10).status_code == 404
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
