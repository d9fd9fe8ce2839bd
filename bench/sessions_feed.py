"""Feed latency at the service (Flask app in process, real PostgreSQL) on a generated environment.

    .venv/bin/python -m bench.sessions_generate --users 200000      # once (ff_bench)
    .venv/bin/python -m bench.sessions_feed [--runs 200] [--explain]

Prints p50/p99 per query shape, and with --explain the EXPLAIN (ANALYZE, BUFFERS) plans of the
feed page query and of its latest-sessions query.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from footfall.config import get_settings
from services.sessions import feed
from services.sessions.app import create_app
from services.sessions.filters import parse_filters

ENV = "bench"
SHAPES = {
    "first page": [],
    "did click where coupon = SPRING": [
        {"type": "did_event", "event": {"kind": "click"},
         "where": [{"property": "coupon", "op": "equals", "value": "SPRING"}]}],
    "did criteria (selector + text)": [
        {"type": "did_event", "event": {"criteria": {"kind": "click", "selector": "div.header > button#buy",
                                                     "text": {"op": "equals", "value": "Buy now"}}}}],
    "user property plan = team": [
        {"type": "user_property", "property": "plan", "op": "equals", "value": "team"}],
    "historical window (14 to 7 days ago)": [],
}


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def window(name: str) -> tuple[datetime, datetime | None]:
    """The shape's window: the past 7 days, or (historical) 14 to 7 days ago."""
    now = datetime.now(UTC)
    if name.startswith("historical"):
        return now - timedelta(days=14), now - timedelta(days=7)
    return now - timedelta(days=7), None


def measure(client, name: str, filters: list, runs: int) -> tuple[float, float, int]:
    start, end = window(name)
    query = {"limit": 50, "from": start.isoformat(), **({"to": end.isoformat()} if end else {}),
             **({"filter": json.dumps(filters)} if filters else {})}
    url = f"/internal/v1/envs/{ENV}/users"
    client.get(url, query_string=query)  # warm the connection pool and caches
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, query_string=query)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.json
    return statistics.median(timings), percentile(timings, 0.99), len(response.json["users"])


def explain(engine, name: str, filters: list) -> str:
    start, end = window(name)
    query = feed.feed_query(ENV, start, end, parse_filters(json.dumps(filters)), None, 50)
    compiled = query.compile(engine)
    params = {key: compiled._bind_processors.get(key, lambda v: v)(value)
              for key, value in compiled.params.items()}
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("explain (analyze, buffers, costs off) " + compiled.string, params)
        plan = [row[0] for row in plan]
        ids = [r.user_id for r in conn.execute(query)]
        lateral = conn.execute(text("explain (analyze, buffers, costs off) " + feed.LATEST_SESSIONS.text),
                               {"ids": ids[:50], "env": ENV, "start": start,
                                "end": end or feed.FAR_FUTURE})
        return "\n".join(plan) + "\n-- latest sessions of the page:\n" + "\n".join(lateral.scalars())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--database", default="ff_bench")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    base = get_settings()
    settings = base.with_(database_url=base.database_url.rsplit("/", 1)[0] + "/" + args.database,
                          log_level="WARNING")
    app = create_app(settings)
    client = app.test_client()
    client.environ_base["HTTP_X_SERVICE_TOKEN"] = settings.service_token  # as the gateway calls it
    engine = app.extensions["sessions_engine"]
    with engine.connect() as conn:
        counts = conn.execute(text(
            "select (select count(*) from users where env_id = :e), "
            "(select count(*) from sessions where env_id = :e), "
            "(select count(*) from events where env_id = :e)"), {"e": ENV}).one()
    print(f"environment: {counts[0]:,} users, {counts[1]:,} sessions, {counts[2]:,} events")
    for name, filters in SHAPES.items():
        runs = args.runs if name == "first page" else max(20, args.runs // 4)
        p50, p99, n = measure(client, name, filters, runs)
        print(f"{name:34} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   ({n} users/page, {runs} runs)")
        if args.explain:
            print(explain(engine, name, filters), "\n")


if __name__ == "__main__":
    main()
