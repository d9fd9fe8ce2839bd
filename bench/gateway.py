"""Gateway speed: the feed API's p50 against the sessions service's own p50 for the same page, and
the first feed render in Chromium.

    .venv/bin/python bench/gateway.py                       # against `make run` (ports 8080/8083)
    .venv/bin/python bench/gateway.py --standins            # gateway in-process over contract stand-ins

Env for the live mode: GATEWAY_URL, SESSIONS_URL, FOOTFALL_ENV_ID, FOOTFALL_API_TOKEN,
FOOTFALL_ADMIN_EMAIL, FOOTFALL_ADMIN_PASSWORD, and FOOTFALL_SECRETS_FILE=.footfall/secrets.env (the
sessions service answers only the service token). Prints medians and the ratio (target ≤ 2×).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def p50(session: requests.Session, url: str, params: dict, headers: dict, n: int) -> float:
    for _ in range(5):  # warm connections and caches
        session.get(url, params=params, headers=headers, timeout=10).raise_for_status()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        session.get(url, params=params, headers=headers, timeout=10).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def first_render_ms(gateway: str, env_id: str, email: str, password: str, runs: int = 5) -> float:
    """Median time from navigation to the first user card, already signed in (cookie kept)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.goto(f"{gateway}/?env={env_id}")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=user-card]")
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            page.goto(f"{gateway}/?env={env_id}")
            page.wait_for_selector("[data-testid=user-card]")
            samples.append((time.perf_counter() - started) * 1000)
        browser.close()
    return statistics.median(samples)


def standins_setup():
    """Gateway (werkzeug, threaded) over the stand-ins of tests/gateway, in the test namespace."""
    os.environ.setdefault("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/footfall_test")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    import secrets

    for variable in ("REPLAY_TOKEN_SECRETS", "SERVICE_TOKENS"):  # no default secrets: made up here
        os.environ.setdefault(variable, secrets.token_urlsafe(32))
    from footfall import db
    from footfall.config import get_settings
    from gateway import accounts, environments
    from gateway.app import create_app
    from tests.gateway.standins import Served, dataset, definitions_app, sessions_app

    settings = get_settings()
    db.ensure_database(settings)
    db.upgrade("gateway", settings)
    if environments.get_environment("bench", settings) is None:
        environments.create_environment("bench", "Bench", "wk-bench", settings)
    token = accounts.create_api_token("bench", "bench", "bench-token-0123456789", settings)
    accounts.create_account("bench@example.com", "bench password", is_admin=True, settings=settings)
    data = {"bench": dataset("bench")}
    sessions = Served(sessions_app(data, []))
    definitions = Served(definitions_app([], {}))
    gateway = Served(create_app(settings.with_(sessions_url=sessions.url, definitions_url=definitions.url)))
    return gateway.url, sessions.url, "bench", token, "bench@example.com", "bench password"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--standins", action="store_true")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--limit", type=int, default=25)
    args = parser.parse_args()
    if args.standins:
        gateway, sessions, env_id, token, email, password = standins_setup()
    else:
        gateway = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080")
        sessions = os.environ.get("SESSIONS_URL", "http://127.0.0.1:8083")
        env_id = os.environ.get("FOOTFALL_ENV_ID", "demo")
        token = os.environ["FOOTFALL_API_TOKEN"]
        email = os.environ.get("FOOTFALL_ADMIN_EMAIL", "admin@footfall.local")
        password = os.environ["FOOTFALL_ADMIN_PASSWORD"]
    now = datetime.now(timezone.utc)
    window = {"from": (now - timedelta(days=7)).isoformat(), "to": now.isoformat(), "limit": args.limit}
    http = requests.Session()
    from footfall.config import get_settings
    from footfall.web import service_headers

    direct = p50(http, f"{sessions}/internal/v1/envs/{env_id}/users", window, service_headers(get_settings()),
                 args.n)
    through = p50(http, f"{gateway}/api/v1/environments/{env_id}/users", window,
                  {"Authorization": f"Bearer {token}"}, args.n)
    print(f"feed page (limit {args.limit}), p50 over {args.n} requests:")
    print(f"  sessions service  {direct:7.2f} ms")
    print(f"  gateway /users    {through:7.2f} ms   ratio {through / direct:.2f}x (target <= 2x)")
    if os.path.exists("/usr/bin/chromium"):
        print(f"  first feed render in Chromium (p50 of 5): {first_render_ms(gateway, env_id, email, password):.0f} ms (target <= 1000)")
    os._exit(0)  # stand-in servers run in daemon threads


if __name__ == "__main__":
    main()
