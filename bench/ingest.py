"""Ingest throughput and latency against a minimal "parse JSON + one confirmed publish" endpoint.

    .venv/bin/python -m bench.ingest [--seconds 8] [--rounds 3] [--connections 16]

Both run under gunicorn with the same settings (footfall.gunicorn_conf: gthread 2 × 8) on the real
RabbitMQ (vhost `footfall_bench`, purged after every run) and Redis, and receive the same 100-event
Segment batch from our browser SDK (pageviews, clicks with hierarchies, custom events, four user
agents) over keep-alive connections from wrk. Rounds alternate the two endpoints; medians are
printed. Target: ingest ≥ 0.4 × the minimal endpoint's events/s and p99 ≤ 50 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
import requests

ROOT = Path(__file__).resolve().parents[1]
EVENTS_PER_BATCH = 100
WRITE_KEY, ENV_ID = "bench-write-key", "bench"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/footfall_bench"
USER_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
     "Mobile/15E148 Safari/604.1"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
]
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = io.open(os.getenv("BENCH_BODY"), "rb"):read()
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n', summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def minimal_app():
    """The baseline: parse the JSON body, publish it as one confirmed message, answer 200."""
    from flask import Flask, request

    from footfall.bus import Publisher

    app = Flask("minimal")
    publisher = Publisher()

    @app.post("/v1/batch")
    def batch():
        body = request.get_data()
        orjson.loads(body)
        publisher.publish_raw("event.captured", body, str(uuid.uuid4()))
        return {"success": True}

    return app


def sdk_batch(n: int = EVENTS_PER_BATCH) -> bytes:
    """A browser-SDK batch: the wire shape services/ingest/browser.py documents."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    messages = []
    for i in range(n):
        kind = ("pageview", "click", "click", "custom")[i % 4]
        footfall = {"device_id": f"dev-{i % 7}", "session_id": f"s-{i % 7}", "source": "web"}
        if kind != "custom":
            footfall["kind"] = kind
        if kind == "click":
            footfall["target"] = {"text": "Add to cart", "hierarchy": [
                {"tag": "button", "id": "add", "classes": ["btn", "primary"], "attributes": {"data-sku": "42"},
                 "nth": 2},
                {"tag": "div", "classes": ["product"], "attributes": {}, "nth": 1},
                {"tag": "body", "classes": [], "attributes": {}, "nth": 2}]}
        messages.append({
            "type": "page" if kind == "pageview" else "track", "messageId": str(uuid.uuid4()),
            "anonymousId": str(1_000_000 + i % 7), "timestamp": now,
            **({"event": "Added to cart"} if kind == "custom" else {}),
            "properties": {"plan": "pro", "cart": {"value": 42.5, "items": 3}},
            "context": {
                "library": {"name": "footfall.js", "version": "0.1.0"}, "userAgent": USER_AGENTS[i % 4],
                "page": {"url": f"https://shop.example/p/{i % 9}?utm_source=news&utm_medium=email",
                         "path": f"/p/{i % 9}", "title": "Product", "referrer": "https://google.com/"},
                "screen": {"width": 1440, "height": 900}, "locale": "en-GB", "footfall": footfall,
            },
        })
    return orjson.dumps({"writeKey": WRITE_KEY, "sentAt": now, "batch": messages})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_vhost() -> None:
    """Create the bench vhost once (rabbitmqctl is on this machine)."""
    vhosts = subprocess.run(["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True,
                            check=True).stdout.split()
    if "footfall_bench" not in vhosts:
        subprocess.run(["rabbitmqctl", "add_vhost", "footfall_bench"], check=True, capture_output=True)
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", "footfall_bench", "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True)


def serve(target: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "python:footfall.gunicorn_conf", target],
        cwd=ROOT, env={**env, "BIND": f"127.0.0.1:{port}"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/healthz", timeout=1)
            return process, url
        except requests.RequestException:  # not listening yet, or still importing
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the master and any workers it forked
    raise RuntimeError(f"{target} did not start")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(30)


def load(url: str, body_path: str, seconds: int, connections: int) -> dict:
    """wrk over keep-alive connections; returns its summary."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
             "-s", script.name, url + "/v1/batch"],
            capture_output=True, text=True, env={**os.environ, "BENCH_BODY": body_path}, check=True).stdout
    finally:
        os.unlink(script.name)
    summary = json.loads(out.strip().splitlines()[-1])
    ok = summary["requests"] - summary["non2xx"] - summary["socket_errors"]
    return {"events_s": ok * EVENTS_PER_BATCH / (summary["duration_us"] / 1e6),
            "p50_ms": summary["p50_us"] / 1000, "p99_ms": summary["p99_us"] / 1000,
            "failed": summary["non2xx"] + summary["socket_errors"]}


def format_result(r: dict) -> str:
    return (f"{r['events_s']:>9,.0f} events/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
            f"light p50 {r['light_p50_ms']:5.1f} ms  p99 {r['light_p99_ms']:6.1f} ms")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("bench.ingest needs wrk (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)", file=sys.stderr)
        return 2
    ensure_vhost()
    os.environ.setdefault("SERVICE_TOKENS", secrets.token_urlsafe(32))  # no process serves without one
    env = {**os.environ, "AMQP_URL": AMQP_URL, "FOOTFALL_WRITE_KEY": WRITE_KEY, "FOOTFALL_ENV_ID": ENV_ID,
           "INGEST_RATE_LIMIT": str(10**12)}  # logs at the production default (INFO)
    os.environ["AMQP_URL"] = AMQP_URL
    import redis

    from footfall import bus
    from footfall.config import get_settings

    settings = get_settings()
    # Ingest knows the keys the gateway publishes in Redis, and no other.
    redis.Redis.from_url(settings.redis_url).hset("footfall:write_keys", WRITE_KEY, ENV_ID)
    bus.purge_all(settings)  # also declares the topology, so the baseline's publishes are routable
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as body:
        body.write(sdk_batch())
    print(f"body: {EVENTS_PER_BATCH} events, {os.path.getsize(body.name) // 1024} KB; "
          f"{args.rounds} rounds × {args.seconds} s × 2 endpoints, {args.connections} connections")
    results: dict[str, list[dict]] = {"minimal": [], "ingest": []}
    targets = {"minimal": "bench.ingest:minimal_app()", "ingest": "services.ingest.app:create_app()"}
    try:
        for round_no in range(1, args.rounds + 1):
            for name, target in targets.items():
                process, url = serve(target, env)
                try:
                    load(url, body.name, 2, args.connections)  # warm up: connections, caches, pika channels
                    result = load(url, body.name, args.seconds, args.connections)
                    # Latency without queueing: one connection per worker process.
                    light = load(url, body.name, max(2, args.seconds // 2), 2)
                finally:
                    stop(process)
                    bus.purge_all(settings)
                result.update({"light_p50_ms": light["p50_ms"], "light_p99_ms": light["p99_ms"]})
                results[name].append(result)
                print(f"  round {round_no} {name:8} {format_result(result)}  failed {result['failed']}")
    finally:
        os.unlink(body.name)
    medians = {name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
               for name, runs in results.items()}
    print(f"\nmedians (saturated: {args.connections} connections; light: 2 connections)")
    for name, m in medians.items():
        print(f"  {name:8} {format_result(m)}")
    # Rounds run back to back, so each round's ratio shares that moment's machine load.
    ratio = statistics.median(i["events_s"] / m["events_s"] for i, m in zip(results["ingest"], results["minimal"]))
    print(f"  ratio ingest/minimal (median of per-round ratios) {ratio:.2f} (target ≥ 0.40); "
          f"ingest p99 {medians['ingest']['p99_ms']:.1f} ms "
          f"saturated, {medians['ingest']['light_p99_ms']:.1f} ms light (target ≤ 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
