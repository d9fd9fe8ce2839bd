"""Rage and dead clicks detected by the SDK in Debian's Chromium, on a page served by Playwright.

The page has a button that does nothing, one that changes the page, one that calls an API, a hash
link and a link opening a new tab. The SDK's requests go to the fake ingest (fake_backend.py).
Observers are counted by an init script: none may stay armed between clicks.
"""
from __future__ import annotations

import json

import pytest

from tests.sdk.fake_backend import INGEST, FakeBackend
from tests.sdk.test_sdk_browser import flush, kind

pytestmark = pytest.mark.browser
SHOP = "http://shop.footfall.test"

PAGE = """<!doctype html><html><head><title>Checkout</title>
<script src="{ingest}/sdk.js"></script>
<script>footfall.init("frustration-key", {{ingestHost: "{ingest}", flushDelayMs: 60000{options}}});</script>
</head><body>
<button id="dead">Pay now</button>
<button id="live" onclick="document.getElementById('out').textContent = 'Paid'">Pay</button>
<button id="api" onclick="fetch('/api/pay', {{method: 'POST'}})">Pay by API</button>
<a id="hash" href="#terms">Terms</a>
<a id="away" href="/elsewhere" target="_blank">Help</a>
<p id="text">Order summary</p>
<div id="out"></div>
</body></html>"""

# Counts the observers the SDK arms and disarms (Playwright's own script uses one too).
COUNT_OBSERVERS = """
window.__observers = {armed: 0, disarmed: 0};
const bySdk = () => (new Error().stack || "").includes("/sdk.js");
for (const name of ["MutationObserver", "PerformanceObserver"]) {
  const Original = window[name];
  window[name] = class extends Original {
    observe(...args) { if (bySdk()) window.__observers.armed++; return super.observe(...args); }
    disconnect() { if (bySdk()) window.__observers.disarmed++; return super.disconnect(); }
  };
}
"""


@pytest.fixture
def backend(sdk_dist):
    return FakeBackend(sdk_dist)


def open_shop(browser, backend, options: dict | None = None):
    context = browser.new_context()
    backend.install(context)
    extra = "".join(f", {k}: {json.dumps(v)}" for k, v in (options or {}).items())
    html = PAGE.format(ingest=INGEST, options=extra)
    context.route(f"{SHOP}/checkout", lambda route: route.fulfill(body=html, content_type="text/html"))
    context.route(f"{SHOP}/api/pay", lambda route: route.fulfill(status=200, json={"ok": True}))
    context.route(f"{SHOP}/elsewhere", lambda route: route.fulfill(body="<p>help</p>", content_type="text/html"))
    context.add_init_script(COUNT_OBSERVERS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{SHOP}/checkout")
    page.wait_for_function("() => window.footfall && window.footfall.loaded")
    return context, page


def signals(backend) -> list[tuple[str, str]]:
    return [(kind(m), m["context"]["footfall"]["target"]["hierarchy"][0].get("id"))
            for m in backend.messages if kind(m) in ("rage_click", "dead_click")]


def test_rage_and_dead_clicks_in_a_real_page(browser, backend):
    context, page = open_shop(browser, backend)
    assert page.evaluate("window.__observers") == {"armed": 0, "disarmed": 0}  # nothing before a click
    page.click("#dead", click_count=4)  # four clicks in a burst: one rage click, then a dead one
    page.wait_for_timeout(1300)
    for selector in ("#live", "#api", "#hash", "#away", "#text"):
        page.click(selector)
        page.wait_for_timeout(1300)
    flush(page)
    observers = page.evaluate("window.__observers")
    context.close()

    assert signals(backend) == [("rage_click", "dead"), ("dead_click", "dead")]
    rage = next(m for m in backend.messages if kind(m) == "rage_click")
    assert rage["context"]["footfall"]["target"]["text"] == "Pay now"
    assert rage["context"]["page"]["path"] == "/checkout"
    clicks = [m for m in backend.messages if kind(m) == "click"]
    assert len(clicks) == 4 + 5  # every click is still captured as a click
    # Armed by clicks on buttons and links only, and every one disarmed within its second.
    assert observers["armed"] > 0 and observers["armed"] == observers["disarmed"]


def test_the_rules_are_settings(browser, backend):
    context, page = open_shop(browser, backend, {"rageClicks": {"clicks": 5, "withinMs": 1000},
                                                 "deadClicks": False})
    page.click("#dead", click_count=4)
    page.wait_for_timeout(1300)
    flush(page)
    assert signals(backend) == []
    page.click("#dead", click_count=5)
    flush(page)
    assert page.evaluate("window.__observers") == {"armed": 0, "disarmed": 0}
    context.close()
    assert signals(backend) == [("rage_click", "dead")]
