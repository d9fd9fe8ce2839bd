"""Simulated visitors for the demo shop, in headless Debian Chromium, so the feed comes alive.

Each visitor is a fresh browser context (its own cookies: a new device). The mix: anonymous
browsing, signups that identify (and some that log out again: resetIdentity), returning members
logging in on another device (a merge), and phones (a mobile user agent). Every visitor flushes
the SDK before leaving, so events and replay chunks are delivered, not left in a closed tab.

    python -m demo.traffic                      # one round of visitors against 127.0.0.1:8090
    python -m demo.traffic --wait --forever     # Procfile: wait for the stack, then a round now and then

FOOTFALL_DEMO=0 makes the Procfile process idle (honcho stops every process when one exits).
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import time
from dataclasses import dataclass, field

import requests
from playwright.sync_api import Browser, Page, sync_playwright

from demo import catalog
from footfall.config import get_settings
from footfall.web import service_headers

log = logging.getLogger("demo.traffic")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
MOBILE = {
    "user_agent": ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
                   "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"),
    "viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
}
FIRST_NAMES = ("ada", "grace", "alan", "edsger", "barbara", "ken", "margaret", "linus", "radia", "donald")
CAMPAIGNS = ("", "?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
             "?utm_source=google&utm_medium=cpc&utm_campaign=trail-shoes", "")


# A few defined events, so the first feed shows named, coloured events beside raw ones (the rest
# stay raw, ready to be defined from the UI). Created once, through the definitions service.
DEMO_DEFINITIONS = (
    {"name": "Signed Up", "category": "Activation", "color": "#16a34a",
     "criteria": {"kind": "custom", "name": "Signed Up"}},
    {"name": "Add to Cart", "category": "Shopping", "color": "#2563eb",
     "criteria": {"kind": "click", "selector": "#add-to-cart"}},
    {"name": "Order Completed", "category": "Shopping", "color": "#7c3aed",
     "criteria": {"kind": "custom", "name": "Order Completed"}},
    {"name": "View Pricing", "category": "Marketing", "color": "#d97706",
     "criteria": {"kind": "pageview", "path": "/pricing"}},
)


def ensure_demo_definitions() -> None:
    """Create the demo definitions that the demo environment does not have yet (by name)."""
    settings = get_settings()
    url = f"{settings.definitions_url}/internal/v1/envs/{settings.env_id}/definitions"
    try:
        headers = service_headers(settings)  # an internal API: Footfall's own processes only
        existing = requests.get(url, headers=headers, timeout=5).json()
        names = {d["name"] for d in existing["definitions"]}
        for definition in DEMO_DEFINITIONS:
            if definition["name"] not in names:
                requests.post(url, json=definition, headers=headers, timeout=5).raise_for_status()
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        log.warning("demo definitions not created: %r", exc)


def demo_site_url() -> str:
    return os.environ.get("DEMO_SITE_URL", "http://127.0.0.1:8090").rstrip("/")


@dataclass
class Round:
    """What one round did, for the log line and for tests."""

    visitors: int = 0
    identities: list[str] = field(default_factory=list)
    errors: int = 0


def leave(page: Page) -> None:
    """Deliver everything the SDK holds (events and replay chunks) before the tab goes away."""
    page.evaluate("() => window.footfall && window.footfall.flush && window.footfall.flush()")


def browse(page: Page, base: str, rng: random.Random) -> None:
    """An anonymous visitor: the shop, a product or two, the membership page's plans and FAQ."""
    page.goto(base + "/" + rng.choice(CAMPAIGNS))
    for product in rng.sample(catalog.PRODUCTS, rng.randint(1, 2)):
        page.click(f"article[data-sku='{product.slug}'] a.view-product")
        page.wait_for_selector("#add-to-cart")
        page.select_option("#size", rng.choice(["S", "M", "L"]))
        if rng.random() < 0.6:
            page.click("#add-to-cart")
        page.go_back()
    page.click("a.nav-pricing")
    for _ in range(rng.randint(1, 3)):
        page.click(f".plan-tab[data-plan='{rng.choice(catalog.PLANS)[0]}']")
    if rng.random() < 0.5:
        page.click("a.faq-link")


def sign_up(page: Page, base: str, email: str, rng: random.Random) -> None:
    """From the membership page to the signup form, which identifies with the email."""
    page.goto(base + "/pricing" + rng.choice(CAMPAIGNS))
    plan = rng.choice(catalog.PLANS)[0]
    page.click(f".plan-tab[data-plan='{plan}']")
    page.click("#choose-plan")
    page.fill("#name", email.split("@")[0].title())
    page.fill("#email", email)
    page.fill("#password", "not-a-real-password")
    page.click("#signup-submit")
    page.wait_for_url("**/welcome")


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", "not-a-real-password")
    page.click("#login-submit")
    page.wait_for_url("**/welcome")


def buy(page: Page, base: str, rng: random.Random) -> None:
    product = rng.choice(catalog.PRODUCTS)
    page.goto(f"{base}/products/{product.slug}")
    page.click("a.buy-now")
    page.fill("#card", "4242 4242 4242 4242")
    page.select_option("#shipping", rng.choice(["Standard", "Express"]))
    if rng.random() < 0.4:  # the coupon button does nothing: a dead click, or a rage click when impatient
        page.click("#apply-coupon", click_count=rng.choice([1, 4]))
        page.wait_for_timeout(1200)
    page.click("#pay")
    page.wait_for_selector("#thanks", state="visible")


def visit(browser: Browser, base: str, rng: random.Random, mobile: bool, script) -> None:
    """One visitor on a fresh device: run its script, flush, close."""
    context = browser.new_context(**(MOBILE if mobile else {}))
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        script(page)
        leave(page)
    finally:
        context.close()


def run_round(browser: Browser, base: str, visitors: int, rng: random.Random) -> Round:
    """`visitors` visitors with the whole mix; roughly a third sign up, some come back elsewhere."""
    result = Round()
    members: list[str] = []
    for n in range(visitors):
        mobile = n % 4 == 3
        kind = n % 5
        email = f"{rng.choice(FIRST_NAMES)}.{rng.randrange(10_000)}@example.com"
        if kind in (1, 3):
            def script(page, email=email):
                browse(page, base, rng)
                sign_up(page, base, email, rng)
                if rng.random() < 0.3:
                    page.click("#logout")  # resetIdentity: a new anonymous user on this device
                    page.wait_for_url(base + "/")
            members.append(email)
            result.identities.append(email)
        elif kind == 4 and members:
            email = members.pop(0)

            def script(page, email=email):  # the same person on another device: merged by identity
                page.goto(base + "/")
                log_in(page, base, email)
                buy(page, base, rng)
        elif kind == 2:
            def script(page):
                browse(page, base, rng)
                buy(page, base, rng)
        else:
            def script(page):
                browse(page, base, rng)
        try:
            visit(browser, base, rng, mobile, script)
            result.visitors += 1
        except Exception:  # one broken visit must not end the demo
            result.errors += 1
            log.exception("a demo visitor failed")
    return result


def wait_for_stack(base: str, timeout_s: float = 300) -> None:
    """Until the demo site and ingest answer /readyz (under `make run` they start together)."""
    urls = [base + "/readyz", get_settings().ingest_url.rstrip("/") + "/readyz"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if all(requests.get(url, timeout=2).status_code == 200 for url in urls):
                return
        except requests.RequestException:
            pass
        time.sleep(2)
    raise SystemExit(f"the stack did not become ready in {timeout_s:.0f}s: {urls}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", default=demo_site_url(), help="demo site base URL")
    parser.add_argument("--visitors", type=int, default=15, help="visitors per round")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--wait", action="store_true", help="wait for the stack to be ready first")
    parser.add_argument("--forever", action="store_true", help="a smaller round every --interval seconds")
    parser.add_argument("--interval", type=float, default=600)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s demo-traffic %(message)s")
    if os.environ.get("FOOTFALL_DEMO", "1") == "0":
        log.info("FOOTFALL_DEMO=0: no demo traffic")
        while args.forever:  # honcho ends the whole stack when one process exits
            time.sleep(3600)
        return
    if args.wait:
        wait_for_stack(args.site)
    ensure_demo_definitions()
    rng = random.Random(args.seed)
    visitors = args.visitors
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            while True:
                done = run_round(browser, args.site, visitors, rng)
                log.info("%d visitors (%d failed), %d signups: %s", done.visitors, done.errors,
                         len(done.identities), ", ".join(done.identities))
                if not args.forever:
                    break
                time.sleep(args.interval)
                visitors = max(3, args.visitors // 3)  # later rounds: a trickle, not a flood
        finally:
            browser.close()


if __name__ == "__main__":
    main()
