"""Replay benchmark: 200 KB chunk uploads and playback manifests against gunicorn and the local S3.

Starts the local S3 endpoint and the replay service exactly as the Procfile runs them (its `s3` and
`replay-api` lines), on free ports. Each round measures:
1. Throughput: uploads back to back from 16 clients, the most the stack absorbs (target ≥ 200/s).
2. Latency at the target rate: uploads sent open loop at 200/s on a fixed schedule (browsers send
   without waiting for each other), each timed from its scheduled start, so a queue that builds up
   is counted rather than hidden by a client that slows down with the server (target p99 ≤ 100 ms).
3. Raw boto3 puts of the same chunk straight to the same S3 server, back to back from 16 clients:
   uploads/s ÷ raw puts/s is the share of the stack's capacity left after our own work.
4. Playback manifests of 20-chunk sessions from 8 clients (target p99 ≤ 50 ms).
CPU milliseconds per upload of the service (all gunicorn processes) and of the S3 server are shown:
they depend less than rates on the other work of this shared 2-core machine, where the client,
the service, the S3 server, PostgreSQL and RabbitMQ share the cores.
Run: `.venv/bin/python bench/replay.py [--uploads 1000] [--rounds 3] [--rate 200]`. Uses
DATABASE_URL/AMQP_URL (the replay schema is migrated; a fresh bucket is used). Figures are medians
over rounds.
"""
from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import orjson
import redis
import requests
import urllib3
from botocore.config import Config

from footfall import db
from footfall.config import get_settings
from footfall.replay_token import RecordingGrant, sign_recording_token
from footfall.web import service_headers

ROOT = Path(__file__).resolve().parents[1]

CHUNK_TARGET_BYTES = 200 * 1024
CHUNKS_PER_SESSION = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def make_chunk() -> bytes:
    """A gzip rrweb-shaped array of about 200 KB (random text, so it does not compress away)."""
    rng, events, body = random.Random(6), [], b""
    while len(body) < CHUNK_TARGET_BYTES:
        for _ in range(50):
            text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(400))
            events.append({"type": 3, "timestamp": 1_740_000_000_000 + len(events) * 20,
                           "data": {"source": 0, "texts": [{"id": len(events), "value": text}]}})
        events[0]["type"] = 2  # a full snapshot leads, as in a real first chunk
        body = gzip.compress(orjson.dumps(events), compresslevel=6)
    return body


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def cpu_seconds(group: int) -> float:
    """User + system CPU seconds of every live process in a process group (gunicorn's master and workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == group:  # fields: state, ppid, pgrp, … utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def http_pool(size: int) -> urllib3.PoolManager:
    """The load's HTTP client: urllib3 spends about a third of the CPU per call that requests
    does, CPU this 2-core machine otherwise takes from the service under test."""
    return urllib3.PoolManager(maxsize=size, block=True, retries=False, timeout=30)


def timed_calls(calls, concurrency: int) -> tuple[list[float], float, int]:
    """Run the calls on a thread pool; (latencies in ms, wall seconds, failures)."""
    http = http_pool(concurrency)

    def run(call):
        started = time.perf_counter()
        ok = call(http)
        return (time.perf_counter() - started) * 1000, ok

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(run, calls))
    wall = time.perf_counter() - started
    return [ms for ms, _ in results], wall, sum(1 for _, ok in results if not ok)


def procfile_command(name: str, port: int) -> str:
    """The Procfile's command for a process, listening on `port` instead of its fixed one."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", line.split(":", 1)[1].strip())
    raise KeyError(f"no {name} process in the Procfile")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--manifests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200, help="uploads/s offered in the latency run")
    args = parser.parse_args()

    settings = get_settings()
    db.ensure_database(settings)
    db.upgrade(ROOT / "services" / "replay", settings)
    s3_port, replay_port = free_port(), free_port()
    env = {**os.environ, "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
           "S3_BUCKET": f"bench-replay-{uuid.uuid4().hex[:8]}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1", "LOG_LEVEL": "WARNING",
           "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-replay-prom-")}
    logs = tempfile.NamedTemporaryFile(prefix="bench-replay-", suffix=".log", delete=False)  # noqa: SIM115 — outlives the block
    processes = [subprocess.Popen(procfile_command(name, port), shell=True, cwd=ROOT, env=env, stdout=logs,
                                  stderr=subprocess.STDOUT, start_new_session=True)
                 for name, port in (("s3", s3_port), ("replay-api", replay_port))]
    base = f"http://127.0.0.1:{replay_port}"
    try:
        wait_http(f"http://127.0.0.1:{s3_port}/moto-api/")
        wait_http(f"{base}/healthz")
        s3 = boto3.client("s3", endpoint_url=env["S3_ENDPOINT_URL"], region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench",
                          config=Config(s3={"addressing_style": "path"},
                                        max_pool_connections=args.concurrency))
        groups = {"service": processes[1].pid, "s3": processes[0].pid}
        return run_rounds(base, args, settings.replay_token_secret, s3, env["S3_BUCKET"], groups)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(20)
        print(f"(service logs: {logs.name})")


def paced_calls(calls, rate: float, workers: int = 64) -> tuple[list[float], int]:
    """Start call i at i/rate seconds whatever the earlier ones do; (latencies in ms from each
    call's scheduled start, failures). A call that waits for a free worker counts the wait."""
    http = http_pool(workers)
    started = time.perf_counter() + 0.05

    def run(numbered):
        number, call = numbered
        scheduled = started + number / rate
        time.sleep(max(0.0, scheduled - time.perf_counter()))
        ok = call(http)
        return (time.perf_counter() - scheduled) * 1000, ok

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(run, enumerate(calls)))
    return [ms for ms, _ in results], sum(1 for _, ok in results if not ok)


def run_rounds(base: str, args, secret: str, s3, bucket: str, groups: dict[str, int]) -> int:
    chunk = make_chunk()
    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    print(f"chunk: {len(chunk) / 1024:.0f} KB gzip; {args.uploads} uploads × {args.rounds} rounds, "
          f"concurrency {args.concurrency}, latency run at {args.rate:.0f}/s; machine shared with other "
          "work, so figures are noisy")
    figures: dict[str, list[float]] = {}

    def keep(**values: float) -> None:
        for name, value in values.items():
            figures.setdefault(name, []).append(value)

    for round_no in range(args.rounds):
        env_id = f"bench{round_no}-{uuid.uuid4().hex[:6]}"
        # The replay service writes only into environments the gateway lists in Redis.
        redis.Redis.from_url(get_settings().redis_url).sadd("footfall:environments", env_id)
        # Twice the sessions: one set for the throughput run, one for the latency run.
        sessions = [f"s{i}" for i in range(2 * args.uploads // CHUNKS_PER_SESSION)]
        tokens = {s: sign_recording_token(secret, RecordingGrant(env_id, s, "bench-device", expires))
                  for s in sessions}

        def upload(session_id, seq, tokens=tokens):
            def call(http):
                response = http.request("POST", f"{base}/replay/v1/chunks?seq={seq}", body=chunk,
                                        headers={"Authorization": f"Bearer {tokens[session_id]}",
                                                 "Content-Type": "application/gzip"})
                return response.status == 201
            return call

        half = len(sessions) // 2
        calls = [upload(s, seq) for seq in range(CHUNKS_PER_SESSION) for s in sessions[:half]]
        paced = [upload(s, seq) for seq in range(CHUNKS_PER_SESSION) for s in sessions[half:]]
        if round_no == 0:  # warm-up: connections, bucket creation, imports in every worker
            timed_calls(calls[:50], args.concurrency)
            calls = calls[50:]
        cpu_before = {name: cpu_seconds(group) for name, group in groups.items()}
        latencies, wall, failures = timed_calls(calls, args.concurrency)
        cpu = {name: (cpu_seconds(group) - cpu_before[name]) * 1000 / len(calls) for name, group in groups.items()}
        paced_latencies, paced_failures = paced_calls(paced, args.rate)
        failures += paced_failures

        def raw_put(n, round_no=round_no):
            def call(_http):
                s3.put_object(Bucket=bucket, Key=f"bench-raw/{round_no}/{n:08d}.json.gz", Body=chunk,
                              ContentType="application/json", ContentEncoding="gzip")
                return True
            return call

        raw_latencies, raw_wall, _ = timed_calls([raw_put(n) for n in range(len(calls))], args.concurrency)

        def manifest(session_id, env_id=env_id):
            def call(http):
                response = http.request("GET", f"{base}/internal/v1/envs/{env_id}/replays/{session_id}",
                                        headers=service_headers(get_settings()))
                return response.status == 200 and len(orjson.loads(response.data)["chunks"]) > 0
            return call

        m_latencies, m_wall, m_failures = timed_calls(
            [manifest(sessions[i % len(sessions)]) for i in range(args.manifests)], 8)
        keep(rate=len(calls) / wall, p50=statistics.median(latencies), p99=percentile(latencies, 99),
             paced_p50=statistics.median(paced_latencies), paced_p99=percentile(paced_latencies, 99),
             raw_rate=len(calls) / raw_wall, raw_p99=percentile(raw_latencies, 99),
             ratio=len(calls) / wall / (len(calls) / raw_wall), m_p50=statistics.median(m_latencies),
             m_p99=percentile(m_latencies, 99), cpu_service=cpu["service"], cpu_s3=cpu["s3"])
        print(f"round {round_no + 1}: uploads {len(calls) / wall:.0f}/s (p50 {statistics.median(latencies):.1f} ms, "
              f"p99 {percentile(latencies, 99):.1f} ms) | at {args.rate:.0f}/s: p50 "
              f"{statistics.median(paced_latencies):.1f} ms p99 {percentile(paced_latencies, 99):.1f} ms | "
              f"failures {failures} | CPU per upload: service {cpu['service']:.1f} ms, S3 {cpu['s3']:.1f} ms | "
              f"raw S3 puts {len(calls) / raw_wall:.0f}/s p99 {percentile(raw_latencies, 99):.1f} ms | "
              f"manifests ({CHUNKS_PER_SESSION} chunks) {args.manifests / m_wall:.0f}/s p50 "
              f"{statistics.median(m_latencies):.1f} ms p99 {percentile(m_latencies, 99):.1f} ms failures {m_failures}")
    median = {name: statistics.median(values) for name, values in figures.items()}
    print(f"median of rounds: uploads {median['rate']:.0f}/s (target ≥ 200; p50 {median['p50']:.1f} ms, "
          f"p99 {median['p99']:.1f} ms back to back); at {args.rate:.0f}/s offered: p50 {median['paced_p50']:.1f} ms, "
          f"p99 {median['paced_p99']:.1f} ms (target ≤ 100); manifest p50 {median['m_p50']:.1f} ms, "
          f"p99 {median['m_p99']:.1f} ms (target ≤ 50)")
    print(f"CPU per upload: service {median['cpu_service']:.1f} ms, S3 server {median['cpu_s3']:.1f} ms; raw S3 puts "
          f"{median['raw_rate']:.0f}/s, p99 {median['raw_p99']:.1f} ms; uploads/raw puts {median['ratio']:.2f}")
    met = median["rate"] >= 200 and median["paced_p99"] <= 100 and median["m_p99"] <= 50
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
