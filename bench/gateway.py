"""Gateway speed: the feed API's p50 against the sessions service's own p50 for the same page, and
in Chromium: sign-in to the first rendered feed, and views restored from their URL.

    .venv/bin/python bench/gateway.py                       # against `make run` (ports 8080/8083)
    .venv/bin/python bench/gateway.py --standins            # gateway in-process over contract stand-ins
    .venv/bin/python -m bench.gateway --generated ff_bench  # the 200,000-user environment of
                                                            # bench/sessions_generate.py: sessions,
                                                            # definitions and gateway started here on it

Env for the live mode: GATEWAY_URL, SESSIONS_URL, FOOTFALL_ENV_ID, FOOTFALL_API_TOKEN,
FOOTFALL_ADMIN_EMAIL, FOOTFALL_ADMIN_PASSWORD, and FOOTFALL_SECRETS_FILE=.footfall/secrets.env (the
sessions service answers only the service token). The other modes make their secrets up. Prints
medians and the ratio (target ≤ 2×); every browser figure's target is ≤ 1000 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = {"executable_path": "/usr/bin/chromium", "args": [
    "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]}


def p50(session: requests.Session, url: str, params: dict, headers: dict, n: int) -> float:
    for _ in range(5):  # warm connections and caches
        session.get(url, params=params, headers=headers, timeout=10).raise_for_status()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        session.get(url, params=params, headers=headers, timeout=10).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


# The page's own clock (ms since the navigation began): when Sign in was pressed, and when each
# watched element first entered the DOM. Playwright's round trips to the browser are not the wait.
PAGE_CLOCK = """
  window.__seen = {};
  document.addEventListener("click", (e) => {
    if (e.target.closest("button[type=submit]")) window.__pressed = performance.now();
  }, true);
  new MutationObserver(() => {
    for (const selector of window.__watch || []) {
      if (!(selector in window.__seen) && document.querySelector(selector)) window.__seen[selector] = performance.now();
    }
  }).observe(document, { subtree: true, childList: true });
"""
FIRST_CARD = "[data-testid=user-card]"


def _sign_in(page, gateway: str, env_id: str, email: str, password: str) -> tuple[float, float]:
    """Signs in from the login page; ms from pressing Sign in to the first user card drawn, by the
    page's clock and by the wall clock around Playwright's click and wait (an upper bound)."""
    page.goto(f"{gateway}/?env={env_id}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    started = time.perf_counter()
    page.click("button[type=submit]")
    page.wait_for_selector(FIRST_CARD)
    wall = (time.perf_counter() - started) * 1000
    elapsed = page.evaluate(f"() => window.__seen[{json.dumps(FIRST_CARD)}] - window.__pressed")
    if os.environ.get("BENCH_VERBOSE"):
        print("   ", page.evaluate("""() => performance.getEntriesByType('resource')
            .filter((e) => e.name.includes('/auth/login') || e.name.includes('/users?'))
            .map((e) => `${new URL(e.name).pathname.split('/').pop()} `
                        + `${Math.round(e.startTime)}+${Math.round(e.duration)}`)
            .join(' | ')"""), f"| pressed {page.evaluate('window.__pressed'):.0f}, "
              f"first card {page.evaluate(f'window.__seen[{json.dumps(FIRST_CARD)}]'):.0f}")
    return elapsed, wall


def browser_figures(gateway: str, env_id: str, email: str, password: str, views: dict[str, tuple[str, str]],
                    runs: int = 5) -> dict[str, float]:
    """Medians in ms: sign-in to first feed (a fresh browser context each run, so nothing cached
    but what a returning visitor's browser would hold) and each view opened from its URL (from
    the start of the navigation to the view's element in the page)."""
    from playwright.sync_api import sync_playwright

    watch = f"window.__watch = {json.dumps([FIRST_CARD, *(selector for _, selector in views.values())])};"
    figures: dict[str, float] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**CHROMIUM)

        def fresh_page():
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            context.add_init_script(watch + PAGE_CLOCK)
            return context.new_page()

        signins = []
        for _ in range(runs + 1):
            page = fresh_page()
            signins.append(_sign_in(page, gateway, env_id, email, password))
            page.context.close()
        signins = signins[1:]  # the first warms the server
        figures["sign-in to first rendered feed"] = statistics.median(s[0] for s in signins)
        figures["  the same, wall clock around Playwright's click and wait"] = statistics.median(s[1] for s in signins)
        page = fresh_page()
        _sign_in(page, gateway, env_id, email, password)
        for name, (path, selector) in views.items():
            samples = []
            for _ in range(runs + 1):
                page.goto(gateway + path)
                page.wait_for_selector(selector)
                samples.append(page.evaluate(f"() => window.__seen[{json.dumps(selector)}]"))
            figures[f"restored from URL: {name}"] = statistics.median(samples[1:])
        browser.close()
    return figures


def restorable_views(gateway: str, env_id: str, token: str) -> dict[str, tuple[str, str]]:
    """Views worth restoring, on real ids: a filtered feed with a session and an event open, a
    feed filtered on an event property, a user's page, a session's page, the compact list."""
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{gateway}/api/v1/environments/{env_id}"
    user = requests.get(f"{api}/users", params={"limit": 1}, headers=headers, timeout=10).json()["users"][0]
    session = user["sessions"][-1]
    event = requests.get(f"{api}/sessions/{quote(session['session_id'], safe='')}/events", headers=headers,
                         timeout=10).json()["events"][-1]
    plan = [{"type": "user_property", "property": "plan", "op": "equals",
             "value": user["properties"].get("plan", "pro")}]
    coupon = [{"type": "did_event", "event": {"kind": "click"},
               "where": [{"property": "coupon", "op": "equals", "value": "SPRING"}]}]
    env = f"env={quote(env_id)}"
    sid, uid = quote(session["session_id"], safe=""), quote(user["user_id"], safe="")
    return {
        "feed, 30 days, a property filter, a session and its event open": (
            f"/?{env}&range=30d&f={quote(json.dumps(plan))}&session={sid}&event={quote(event['event_id'], safe='')}",
            "[data-testid=event-panel]"),
        "feed filtered on an event property (coupon = SPRING)": (
            f"/?{env}&f={quote(json.dumps(coupon))}", "[data-testid=user-card]"),
        "a user's page with a session open": (f"/users/{uid}?{env}&session={sid}",
                                              "[data-testid=session-events] [data-testid=event]"),
        "a session's page": (f"/sessions/{sid}?{env}", "[data-testid=session-page] [data-testid=event]"),
        "compact list, past 90 days": (f"/?{env}&range=90d&view=compact", "[data-testid=user-card]"),
    }


def made_up_secrets() -> None:
    """No default secrets: a bench that starts its own processes makes them up."""
    import secrets

    for variable in ("REPLAY_TOKEN_SECRETS", "SERVICE_TOKENS"):
        os.environ.setdefault(variable, secrets.token_urlsafe(32))


def standins_setup():
    """Gateway (werkzeug, threaded) over the stand-ins of tests/gateway, in the test namespace."""
    os.environ.setdefault("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/footfall_test")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    made_up_secrets()
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Generated:
    """sessions-api, definitions-api and the gateway under gunicorn (as in the Procfile) on a
    database made by bench/sessions_generate.py, with an admin and a token for its env `bench`."""

    ENV = "bench"
    EMAIL, PASSWORD, TOKEN = "bench@example.com", "bench password", "bench-token-0123456789"

    def __init__(self, database: str):
        made_up_secrets()
        from footfall import db
        from footfall.config import get_settings
        from gateway import accounts, environments

        base = get_settings()
        self.settings = base.with_(database_url=base.database_url.rsplit("/", 1)[0] + "/" + database)
        for folder in ("gateway", "services/definitions"):
            db.upgrade(folder, self.settings)
        if environments.get_environment(self.ENV, self.settings) is None:
            environments.create_environment(self.ENV, "Bench", "wk-bench-generated", self.settings)
        accounts.create_api_token(self.ENV, "bench", self.TOKEN, self.settings)
        accounts.create_account(self.EMAIL, self.PASSWORD, is_admin=True, settings=self.settings)
        ports = {name: _free_port() for name in ("sessions", "definitions", "gateway")}
        self.urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        env = {**os.environ, "DATABASE_URL": self.settings.database_url, "LOG_LEVEL": "WARNING",
               "SESSIONS_URL": self.urls["sessions"], "DEFINITIONS_URL": self.urls["definitions"]}
        apps = {"sessions": "services.sessions.app:create_app()",
                "definitions": "services.definitions.app:create_app()",
                "gateway": "gateway.app:create_app()"}
        self.processes = [subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "python:footfall.gunicorn_conf", apps[name]],
            cwd=ROOT, env={**env, "BIND": f"127.0.0.1:{ports[name]}"}, start_new_session=True,
            stdout=subprocess.DEVNULL) for name in apps]
        for url in self.urls.values():
            self._wait_ready(url)

    @staticmethod
    def _wait_ready(url: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{url} not ready after 60 s")

    def stop(self) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)  # gunicorn's graceful timeout is 20 s
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--standins", action="store_true")
    parser.add_argument("--generated", metavar="DATABASE", help="a database made by bench/sessions_generate.py")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--limit", type=int, default=25)
    parser.add_argument("--runs", type=int, default=5, help="browser runs per figure (median)")
    args = parser.parse_args()
    stack = None
    if args.standins:
        gateway, sessions, env_id, token, email, password = standins_setup()
    elif args.generated:
        stack = Generated(args.generated)
        gateway, sessions, env_id = stack.urls["gateway"], stack.urls["sessions"], stack.ENV
        token, email, password = stack.TOKEN, stack.EMAIL, stack.PASSWORD
    else:
        gateway = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080")
        sessions = os.environ.get("SESSIONS_URL", "http://127.0.0.1:8083")
        env_id = os.environ.get("FOOTFALL_ENV_ID", "demo")
        token = os.environ["FOOTFALL_API_TOKEN"]
        email = os.environ.get("FOOTFALL_ADMIN_EMAIL", "admin@footfall.local")
        password = os.environ["FOOTFALL_ADMIN_PASSWORD"]
    try:
        now = datetime.now(UTC)
        window = {"from": (now - timedelta(days=7)).isoformat(), "to": now.isoformat(), "limit": args.limit}
        http = requests.Session()
        from footfall.config import get_settings
        from footfall.web import service_headers

        direct = p50(http, f"{sessions}/internal/v1/envs/{env_id}/users", window,
                     service_headers(get_settings()), args.n)
        through = p50(http, f"{gateway}/api/v1/environments/{env_id}/users", window,
                      {"Authorization": f"Bearer {token}"}, args.n)
        print(f"feed page (limit {args.limit}), p50 over {args.n} requests:")
        print(f"  sessions service  {direct:7.2f} ms")
        print(f"  gateway /users    {through:7.2f} ms   ratio {through / direct:.2f}x (target <= 2x)")
        if os.path.exists(CHROMIUM["executable_path"]):
            views = restorable_views(gateway, env_id, token)
            # Browser figures move with what else runs on the machine: say how busy it was.
            print(f"in Chromium, p50 of {args.runs} (target <= 1000 ms each), load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores:")
            for name, ms in browser_figures(gateway, env_id, email, password, views, args.runs).items():
                print(f"  {name:66} {ms:6.0f} ms")
    finally:
        if stack:
            stack.stop()
    os._exit(0)  # stand-in servers run in daemon threads


if __name__ == "__main__":
    main()
