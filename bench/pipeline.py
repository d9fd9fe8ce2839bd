"""End to end through the processes of `make run`, on the traffic users send (bench/mix.py).

    .venv/bin/python -m bench.pipeline [--events 50000] [--runs 3] [--threads 4]

Starts every Procfile process (tests/stack.py, with `make run`'s gunicorn settings) in its own
namespace (database `footfall_bench_pipeline_stack`, vhost, Redis db, ports + 50,000), and beside
it the no-logic pipeline of bench/nologic.py on the same broker and database. Each run:

1. no-logic: the run's mix sent by `--threads` clients in batches of 100; time from the first
   request until every message is a row.
2. Footfall: the same mix (fresh ids) to ingest's /v1/batch; time from the first request until every
   event is stored and every merge applied (and nothing is left in a queue), then checked through
   the gateway's feed API. Prints events/s for both, their ratio, the burst's tail (last accept →
   all visible) and CPU µs per event for each process.
3. sign-ups: anonymous visitors browse, then all of them sign up at once (one identify each) while
   the mix keeps flowing at 2,000 events/s; merges applied per second (from the first identify sent
   until the last merge is applied), and when the gateway shows them identified.
4. freshness at half the measured maximum: probes (a new visitor's pageview) timed from ingest's
   answer until the gateway's feed API shows the visitor.
Run it on an otherwise idle machine: CPU figures count every PostgreSQL and
RabbitMQ process.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/footfall_bench_pipeline")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/footfall_bench_pipeline")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
os.environ.setdefault("FOOTFALL_TEST_PORT_SHIFT", "13000")  # below the ephemeral ports (32768+)
# No secret has a default: the bench makes up its own, as `make run` does.
os.environ.setdefault("REPLAY_TOKEN_SECRETS", "bench-" + uuid.uuid4().hex * 2)
os.environ.setdefault("SERVICE_TOKENS", "bench-" + uuid.uuid4().hex * 2)

import orjson
import requests
from sqlalchemy import create_engine, text

from bench import nologic
from bench.mix import Mix, make_mix
from footfall import bus
from footfall.ids import anonymous_user_id
from tests.stack import PORT_SHIFT, Process, Stack, stack_settings, start_stack

NOLOGIC_PORT = 8099 + PORT_SHIFT
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- CPU per process ------------------------------------------------------------------------------


def _cpu_table() -> list[tuple[int, int, str, float]]:
    """(pid, process group, command, CPU seconds) of every process."""
    rows = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1: raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        rows.append((int(entry.name), int(fields[2]), comm, (int(fields[11]) + int(fields[12])) / CLK_TCK))
    return rows


def _backends(engine) -> dict[int, str]:
    """PostgreSQL backend pid → the service it works for (footfall.db sets application_name)."""
    with engine.connect() as conn:
        return {pid: app.removeprefix("footfall-") for pid, app in conn.execute(text(
            "select pid, application_name from pg_stat_activity where application_name like 'footfall-%' "
            "and datname = current_database()"))}


def cpu_snapshot(stack: Stack, engine) -> dict[str, float]:
    """CPU seconds so far per stack process, per PostgreSQL backend's service, and RabbitMQ."""
    groups = {p.popen.pid: name for name, p in stack.processes.items() if p.popen and p.popen.poll() is None}
    backends = _backends(engine)
    totals: dict[str, float] = {}
    for pid, pgrp, comm, seconds in _cpu_table():
        name = groups.get(pgrp)
        if name is None and comm == "postgres":
            name = f"postgresql ({backends[pid]})" if pid in backends else "postgresql (other)"
        elif name is None and (comm.startswith("beam") or comm in ("erl_child_setup", "inet_gethost")):
            name = "rabbitmq"
        if name:
            totals[name] = totals.get(name, 0.0) + seconds
    return totals


def cpu_per_event(before: dict, after: dict, events: int) -> dict[str, float]:
    return {name: (after[name] - before.get(name, 0.0)) * 1e6 / events
            for name in sorted(after) if after[name] - before.get(name, 0.0) > 0.01}


# --- sending --------------------------------------------------------------------------------------


def send(url: str, batches: list[list[dict]], threads: int, auth: tuple | None) -> float:
    """Post every batch (Segment /v1/batch) from `threads` clients; returns when the last was accepted."""
    local = threading.local()

    def post(batch: list[dict]) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        for attempt in range(20):
            response = session.post(url, data=orjson.dumps({"batch": batch}), auth=auth,
                                    headers={"Content-Type": "application/json"}, timeout=30)
            if response.status_code == 200:
                return
            time.sleep(0.2 * (attempt + 1))
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, batches))
    return time.monotonic()


def wait_for(predicate, timeout: float, interval: float = 0.05) -> float:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("pipeline did not finish in time")
        time.sleep(interval)
    return time.monotonic()


# --- the runs -------------------------------------------------------------------------------------


class Bench:
    def __init__(self, stack: Stack, threads: int):
        self.stack, self.threads = stack, threads
        self.settings = stack_settings()
        self.engine = create_engine(self.settings.database_url, pool_size=2)
        self.auth = (stack.write_key, "")
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {stack.api_token}"
        self._channel = None
        self.flow_rate = 2_000  # events/s of the mix while sign-ups apply

    def gateway_user(self, user_id: str) -> dict | None:
        response = self.api.get(f"{self.stack.url('gateway')}/api/v1/environments/{self.stack.env_id}"
                                f"/users/{user_id}", timeout=10)
        return response.json() if response.status_code == 200 else None

    def stored(self) -> int:
        """Events stored in the environment (an index-only count: only asked once queues are empty)."""
        with self.engine.connect() as conn:
            return conn.scalar(text("select count(*) from sessions.events where env_id = :e"),
                               {"e": self.stack.env_id})

    def merged(self, anon_ids: list[str]) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(text("select count(*) from sessions.merges where env_id = :e "
                                    "and from_user_id = any(:ids)"), {"e": self.stack.env_id, "ids": anon_ids})

    def queues_empty(self) -> bool:
        """No message ready in any queue (unacknowledged ones are not counted: hence the counts after)."""
        if self._channel is None or not self._channel.is_open:
            self._channel = bus.open_channel(self.settings)[1]
        return not any(self._channel.queue_declare(q, passive=True).method.message_count for q in bus.QUEUES)

    def settled(self, events: int, anon: list[str]) -> bool:
        """Cheap checks first: the pipeline is polled every 50 ms and must not be slowed by it."""
        return self.queues_empty() and self.stored() >= events and self.merged(anon) == len(anon)

    def nologic(self, mix: Mix) -> tuple[float, dict]:
        nologic.prepare(self.settings)
        rows = sum(len(b) for b in mix.batches)
        before = cpu_snapshot(self.stack, self.engine)
        t0 = time.monotonic()
        send(f"http://127.0.0.1:{NOLOGIC_PORT}/v1/batch", mix.batches, self.threads, None)
        done = wait_for(lambda: nologic.count(self.settings) >= rows, 300)
        cpu = cpu_per_event(before, cpu_snapshot(self.stack, self.engine), len(mix.event_ids))
        return len(mix.event_ids) / (done - t0), cpu

    def footfall(self, mix: Mix) -> dict:
        ids, anon = sorted(mix.event_ids), sorted(mix.merged_anon_user_ids)
        expected = self.stored() + len(ids)
        before = cpu_snapshot(self.stack, self.engine)
        t0 = time.monotonic()
        accepted = send(self.stack.url("ingest") + "/v1/batch", mix.batches, self.threads, self.auth)
        done = wait_for(lambda: self.settled(expected, anon), 600)
        after = cpu_snapshot(self.stack, self.engine)
        sample = random.Random(0).sample(anon, min(20, len(anon)))
        visible = [u for u in sample if (self.gateway_user(u) or {}).get("identity")]
        assert len(visible) == len(sample), f"merged users missing in the gateway: {len(visible)}/{len(sample)}"
        return {"rate": len(ids) / (done - t0), "ingest_s": accepted - t0, "tail_s": done - accepted,
                "cpu": cpu_per_event(before, after, len(ids))}

    def signups(self, visitors: int) -> dict:
        """Visitors browse (stored first), then all sign up at once while others keep browsing."""
        rng, tag, now = random.Random(visitors), uuid.uuid4().hex[:8], datetime.now(UTC)
        devices = [f"visitor-{tag}-{i}" for i in range(visitors)]
        browse = [{"type": "page", "anonymousId": d, "messageId": str(uuid.uuid4()), "name": "/",
                   "properties": {"path": "/"}, "timestamp": (now - timedelta(minutes=rng.uniform(1, 30))).isoformat()}
                  for d in devices for _ in range(3)]
        rng.shuffle(browse)
        expected = self.stored() + len(browse)
        send(self.stack.url("ingest") + "/v1/batch", [browse[i:i + 100] for i in range(0, len(browse), 100)],
             self.threads, self.auth)
        wait_for(lambda: self.settled(expected, []), 300)
        identifies = [{"type": "identify", "anonymousId": d, "userId": f"{d}@example.com",
                       "messageId": str(uuid.uuid4()), "timestamp": now.isoformat(), "traits": {"plan": "trial"}}
                      for d in devices]
        # The sign-ups come in one burst while the mix keeps flowing at a steady rate beside them.
        flowing = make_mix(self.stack.env_id, visitors * 10, seed=rng.randrange(1 << 30))
        anon = [anonymous_user_id(d) for d in devices]
        stop = threading.Event()

        def flow() -> None:
            for batch in flowing.batches:
                if stop.is_set():
                    return
                send(self.stack.url("ingest") + "/v1/batch", [batch], 1, self.auth)
                time.sleep(100 / self.flow_rate)

        background = threading.Thread(target=flow)
        background.start()
        time.sleep(1)
        t0 = time.monotonic()
        send(self.stack.url("ingest") + "/v1/batch", [identifies[i:i + 100] for i in range(0, len(identifies), 100)],
             self.threads, self.auth)
        done = wait_for(lambda: self.merged(anon) == len(anon), 300, 0.05)
        sample = random.Random(1).sample(anon, 20)  # their identities come with identity's snapshots
        shown = wait_for(lambda: all((self.gateway_user(u) or {}).get("identity") for u in sample), 30, 0.1)
        stop.set()
        background.join()
        wait_for(lambda: self.settled(0, anon), 300)
        return {"merges_per_s": len(anon) / (done - t0), "seconds": done - t0, "shown_s": shown - t0}

    def freshness(self, rate: float, seconds: float) -> list[float]:
        """Load at `rate` events/s; one probe visitor a second, timed until the gateway shows it."""
        mix = make_mix(self.stack.env_id, int(rate * seconds) + 100, seed=int(rate))
        interval = 100 / rate
        latencies: list[float] = []
        stop = time.monotonic() + seconds
        lock = threading.Lock()

        def probe() -> None:
            device = f"probe-{uuid.uuid4().hex}"
            message = {"type": "page", "anonymousId": device, "messageId": str(uuid.uuid4()), "name": "/",
                       "timestamp": datetime.now(UTC).isoformat()}
            session = requests.Session()
            response = session.post(self.stack.url("ingest") + "/v1/batch", auth=self.auth,
                                    json={"batch": [message]}, timeout=10)
            accepted = time.monotonic()
            assert response.status_code == 200, response.text
            user_id = anonymous_user_id(device)
            shown = wait_for(lambda: (self.gateway_user(user_id) or {}).get("last_seen"), 60, 0.02)
            with lock:
                latencies.append(shown - accepted)

        probes = []
        with ThreadPoolExecutor(self.threads) as pool:
            next_at, i = time.monotonic(), 0
            while time.monotonic() < stop and i < len(mix.batches):
                pool.submit(send, self.stack.url("ingest") + "/v1/batch", [mix.batches[i]], 1, self.auth)
                if i % max(1, int(1 / interval)) == 0:
                    probes.append(threading.Thread(target=probe))
                    probes[-1].start()
                i += 1
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
        for thread in probes:
            thread.join()
        return sorted(latencies)


def start(args) -> Stack:
    stack = start_stack({"WEB_CONCURRENCY": "2", "WEB_THREADS": "8"})
    process = Process("nologic-http", f"BIND=127.0.0.1:{NOLOGIC_PORT} .venv/bin/gunicorn -c "
                      "python:footfall.gunicorn_conf 'bench.nologic:create_app()'", NOLOGIC_PORT)
    stack.processes["nologic-http"] = process
    nologic.prepare(stack_settings())
    stack.processes["nologic-consumer"] = Process("nologic-consumer", ".venv/bin/python -m bench.nologic", None)
    stack.start("nologic-http")
    stack.start("nologic-consumer")
    return stack


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--signups", type=int, default=5_000)
    parser.add_argument("--freshness-seconds", type=float, default=20)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the stack on the way out
    stack = start(args)
    try:
        bench = Bench(stack, args.threads)
        warm = make_mix(stack.env_id, 2_000, seed=99)
        bench.footfall(warm)
        results = []
        for run in range(args.runs):
            mix = make_mix(stack.env_id, args.events, seed=run + 1)
            base, base_cpu = bench.nologic(mix)
            mix = make_mix(stack.env_id, args.events, seed=run + 1000)
            result = bench.footfall(mix)
            result["nologic"] = base
            results.append(result)
            print(f"run {run + 1}: {len(mix.event_ids)} events, {len(mix.merged_anon_user_ids)} merges | "
                  f"no-logic {base:,.0f}/s | footfall {result['rate']:,.0f}/s = {result['rate'] / base:.2f}x | "
                  f"ingest took {result['ingest_s']:.1f}s, last accept -> all visible {result['tail_s']:.1f}s",
                  flush=True)
            print("  CPU us/event: " + ", ".join(f"{k} {v:.0f}" for k, v in result["cpu"].items()), flush=True)
            print("  no-logic CPU us/event: " + ", ".join(f"{k} {v:.0f}" for k, v in base_cpu.items()), flush=True)
        ratios = [r["rate"] / r["nologic"] for r in results]
        print(f"median: footfall {statistics.median(r['rate'] for r in results):,.0f}/s, no-logic "
              f"{statistics.median(r['nologic'] for r in results):,.0f}/s, ratio {statistics.median(ratios):.2f}x, "
              f"tail {statistics.median(r['tail_s'] for r in results):.1f}s")
        for run in range(args.runs):
            signed = bench.signups(args.signups)
            print(f"sign-ups run {run + 1}: {args.signups} sign-ups at once, the mix flowing at "
                  f"{bench.flow_rate:,} events/s; their merges applied in {signed['seconds']:.1f}s = "
                  f"{signed['merges_per_s']:,.0f} merges/s; all shown identified by the gateway after "
                  f"{signed['shown_s']:.1f}s", flush=True)
        half = statistics.median(r["rate"] for r in results) / 2
        latencies = bench.freshness(half, args.freshness_seconds)
        print(f"freshness at {half:,.0f} events/s ({len(latencies)} probes): p50 {pct(latencies, .5) * 1000:.0f} ms, "
              f"p99 {pct(latencies, .99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
