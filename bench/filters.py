"""Selective feed filters at the gateway: first page and match count per filter kind and
selectivity, catalog lookups, and the plans PostgreSQL ran.

    .venv/bin/python -m bench.sessions_generate --users 200000 --database ff_bench   # once
    .venv/bin/python -m bench.filters --generated ff_bench [--runs 40] [--explain]

Starts sessions-api, definitions-api and the gateway on the generated database (bench.gateway's
Generated), then asks the public API for each shape: p50/p99 of the first page (limit 50) and of
`/user-count` over the past 7 days. Selectivities follow bench/sessions_generate.py's tiers: `rare`
(0.1% of users), `few` (1%), `some` (10%), and a value every user has (100%). `--explain` prints,
for a few shapes, the plans of every statement the sessions service ran (auto_explain).
Targets: page p50 ≤ 100 ms, p99 ≤ 300 ms; count ≤ 500 ms; catalog p99 ≤ 50 ms.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import requests

TIERS = {"0.1%": "rare", "1%": "few", "10%": "some"}


def _did(event, *where, kind="did_event"):
    return {"type": kind, "event": event, **({"where": list(where)} if where else {})}


def _prop(prop, op, value=None, kind="event_property"):
    return {"type": kind, "property": prop, "op": op, **({"value": value} if value is not None else {})}


# Filter kind → (selectivity → filters); the 100% case names a value every user has.
KINDS = {
    "did click (text)": lambda t: [_did({"kind": "click", "text": {"op": "equals", "value": f"start {t}"}})],
    "did click (text contains)": lambda t: [_did({"kind": "click", "text": {"op": "contains", "value": t}})],
    "did pageview (path)": lambda t: [_did({"kind": "pageview", "path": f"/landing/{t}"})],
    "did custom (name)": lambda t: [_did({"kind": "custom", "name": f"Signup {t}"})],
    "did defined (selector+text)": lambda t: [_did({"criteria": {
        "kind": "click", "selector": "div.header > button#buy", "text": {"op": "equals", "value": f"Start {t}"}}})],
    "event property coupon": lambda t: [_prop("coupon", "equals", t)],
    "event property $browser": lambda t: [_prop("$browser", "equals",
                                                {"rare": "opera", "few": "edge", "some": "firefox"}[t])],
    "event property $country": lambda t: [_prop("$country", "equals", {"rare": "jp", "few": "de", "some": "es"}[t])],
    "event property $utm_campaign": lambda t: [_prop("$utm_campaign", "contains", t)],
    "event property $path": lambda t: [_prop("$path", "equals", f"/landing/{t}")],
    "user property tier": lambda t: [_prop("tier", "equals", t, kind="user_property")],
}
ALL = {
    "did click (text)": [_did({"kind": "click", "text": {"op": "equals", "value": "buy now"}})],
    "did click (text contains)": [_did({"kind": "click", "text": {"op": "contains", "value": "buy"}})],
    "did pageview (path)": [_did({"kind": "pageview"})],
    "did custom (name)": [_did({"kind": "custom", "name": "Add to cart"})],
    "did defined (selector+text)": [_did({"criteria": {"kind": "click", "selector": "div.header > button#buy",
                                                      "text": {"op": "equals", "value": "Buy now"}}})],
    "event property coupon": [_prop("plan", "is_set")],
    "event property $browser": [_prop("$browser", "is_set")],
    "event property $country": [_prop("$country", "is_set")],
    "event property $utm_campaign": [_prop("$utm_campaign", "starts_with", "camp-")],
    "event property $path": [_prop("$path", "starts_with", "/")],
    "user property tier": [_prop("plan", "is_set", kind="user_property")],
}
OTHERS = {
    "did NOT custom (name) 0%": [_did({"kind": "custom", "name": "Add to cart"}, kind="did_not_event")],
    "did NOT custom (name) 11%": [_did({"kind": "custom", "name": "Signup common"}, kind="did_not_event")],
    "did NOT custom (name) 99.9%": [_did({"kind": "custom", "name": "Signup rare"}, kind="did_not_event")],
    "time: seen 14 to 7 days ago": "historical",
    "combo: click few ∧ $browser edge (1%)": [
        _did({"kind": "click", "text": {"op": "equals", "value": "start few"}}), _prop("$browser", "equals", "edge")],
    "combo: Buy now (100%) ∧ $country de (1%)": [
        _did({"kind": "click", "text": {"op": "equals", "value": "buy now"}}), _prop("$country", "equals", "de")],
    "combo: Signup some ∧ tier some (10%)": [
        _did({"kind": "custom", "name": "Signup some"}), _prop("tier", "equals", "some", kind="user_property")],
    "combo: click rare ∧ NOT Signup rare (0%)": [
        _did({"kind": "click", "text": {"op": "equals", "value": "start rare"}}),
        _did({"kind": "custom", "name": "Signup rare"}, kind="did_not_event")],
    "combo: $browser chrome (89%) ∧ tier some (10%)": [
        _prop("$browser", "equals", "chrome"), _prop("tier", "equals", "some", kind="user_property")],
}
EXPLAINED = ["did click (text) 0.1%", "event property coupon 1%", "event property $browser 0.1%",
             "combo: Buy now (100%) ∧ $country de (1%)", "user property tier 0.1%"]


def shapes() -> dict[str, list]:
    out = {}
    for name, make in KINDS.items():
        for label, tier in TIERS.items():
            out[f"{name} {label}"] = make(tier)
        out[f"{name} 100%"] = ALL[name]
    return {**out, **OTHERS}


def timed(session: requests.Session, url: str, params: dict, headers: dict, runs: int) -> tuple[list[float], dict]:
    """Latencies of `runs` requests after a warm one, and the last answer (a failed request counts
    its time, and the answer names its status: a 503 is a miss to see, not a reason to stop)."""
    session.get(url, params=params, headers=headers, timeout=60)  # warm
    samples, body = [], {}
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(url, params=params, headers=headers, timeout=60)
        samples.append((time.perf_counter() - started) * 1000)
        body = response.json() if response.ok else {"status": response.status_code}
    return samples, body


def pct(samples: list[float], q: float) -> float:
    return sorted(samples)[min(len(samples) - 1, int(q * len(samples)))]


def explain(settings, shapes_to_explain: dict[str, list]) -> None:
    """The plans the sessions service runs for some shapes, in process (auto_explain, as notices)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from footfall import db
    from services.sessions import feed
    from services.sessions.filters import parse_filters
    from services.sessions.tables import SCHEMA

    engine = db.make_engine(SCHEMA, settings)
    for name, filters in shapes_to_explain.items():
        with engine.connect() as conn:
            notices: list[str] = []
            conn.connection.driver_connection.add_notice_handler(lambda d, out=notices: out.append(d.message_primary))
            for statement in ("load 'auto_explain'", "set auto_explain.log_min_duration = 0",
                              "set auto_explain.log_analyze = on", "set auto_explain.log_buffers = on",
                              "set auto_explain.log_level = notice", "set auto_explain.log_timing = on"):
                conn.execute(text(statement))
            start = datetime.now(UTC) - timedelta(days=7)
            parsed = parse_filters(json.dumps(filters))
            feed.feed(conn, "bench", start, None, parsed, None, 50)
            feed.count(conn, "bench", start, None, parsed)
        print(f"\n===== {name}: {json.dumps(filters)}")
        for n in notices:
            print(n)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.filters")
    parser.add_argument("--generated", required=True, metavar="DATABASE")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--only", help="substring of the shapes to run")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    from bench.gateway import Generated

    stack = Generated(args.generated)
    try:
        from datetime import UTC, datetime, timedelta

        base = f"{stack.urls['gateway']}/api/v1/environments/{stack.ENV}"
        headers = {"Authorization": f"Bearer {stack.TOKEN}"}
        session = requests.Session()
        print(f"{'shape':48} {'users':>8} {'page p50':>9} {'p99':>7} {'count':>9} {'p50':>7} {'p99':>7}")
        for name, filters in shapes().items():
            if args.only and args.only not in name:
                continue
            now = datetime.now(UTC)  # per shape: a `to` older than a minute would bound the window
            window = {"from": (now - timedelta(days=7)).isoformat(), "to": now.isoformat()}
            if filters == "historical":
                window = {"from": (now - timedelta(days=14)).isoformat(), "to": (now - timedelta(days=7)).isoformat()}
                filters = []
            params = {**window, "limit": 50, **({"filter": json.dumps(filters)} if filters else {})}
            page, _ = timed(session, f"{base}/users", params, headers, args.runs)
            params.pop("limit")
            counted, body = timed(session, f"{base}/user-count", params, headers, max(5, args.runs // 4))
            mark = "~" if body.get("estimated") else " "
            answer = f"{mark}{body['count']:>7,}" if "count" in body else f"{'HTTP':>4} {body.get('status')}"
            print(f"{name:48} {answer} {statistics.median(page):8.0f}  {pct(page, 0.99):6.0f}"
                  f"  {'':>8} {statistics.median(counted):6.0f}  {pct(counted, 0.99):6.0f}", flush=True)
        for label, path, params in (("catalog events q=sign", "/catalog/events", {"q": "sign"}),
                                    ("catalog events (click)", "/catalog/events", {"kind": "click"}),
                                    ("catalog properties", "/catalog/properties", {}),
                                    ("catalog values coupon q=r", "/catalog/values", {"property": "coupon", "q": "r"}),
                                    ("catalog values $browser", "/catalog/values", {"property": "$browser"})):
            samples, _ = timed(session, base + path, params, headers, args.runs * 2)
            print(f"{label:48} {'':>8} {statistics.median(samples):8.0f}  {pct(samples, 0.99):6.0f}", flush=True)
        if args.explain:
            explain(stack.settings, {n: s for n, s in shapes().items() if n in EXPLAINED})
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
