"""The SDK in Chromium against the real ingest service: what it sends normalises to canonical events.

The demo site points at an ingest running in this process (real Redis and RabbitMQ in the test
namespace); the test reads the `event.captured` messages ingest published to `sessions.events`
and checks the canonical fields the other services build on. Replay is off here (see
test_sdk_browser.py for replay payloads and test_e2e_stack.py for the whole stack).
"""
from __future__ import annotations

import pytest

from demo.site import create_app as create_demo
from footfall import bus, messages, redis_keys
from services.ingest.app import create_app as create_ingest
from services.ingest.keys import LOADED_FIELD, WRITE_KEYS_HASH
from tests.sdk.conftest import serve
from tests.support import wait_until

pytestmark = pytest.mark.browser
ENV_ID = "sdk-ingest-test"
WRITE_KEY = "sdk-ingest-test-key"


@pytest.fixture
def stack_of_two(settings, clean_bus, redis_client):
    """Ingest and the demo site, each on a free port, wired together (the key published in Redis,
    as the gateway does). Headless Chromium is bot traffic: this environment keeps it, flagged (the
    default would drop it)."""
    redis_client.hset(WRITE_KEYS_HASH, mapping={WRITE_KEY: ENV_ID, LOADED_FIELD: ""})
    redis_client.hset(redis_keys.ENV_SETTINGS_HASH, ENV_ID, b'{"bot_traffic": "keep"}')
    with serve(create_ingest(settings.with_(env_id=ENV_ID, write_key=WRITE_KEY))) as ingest_url:
        demo = create_demo(settings.with_(ingest_url=ingest_url, write_key=WRITE_KEY), replay=False)
        with serve(demo) as site:
            yield site


def published_events(settings) -> list[messages.Event]:
    """Every canonical event ingest published so far (taken off sessions.events)."""
    connection, channel = bus.open_channel(settings)
    events = []
    try:
        while True:
            method, _properties, body = channel.basic_get("sessions.events", auto_ack=True)
            if method is None:
                return events
            events.extend(messages.decode(method.routing_key, body).events)
    finally:
        connection.close()


def test_demo_visit_becomes_canonical_events(browser, settings, stack_of_two):
    site = stack_of_two
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(site + "/?utm_source=ads")
    page.wait_for_function("() => window.footfall && window.footfall.loaded")
    ids = page.evaluate("() => footfall.getIds()")
    # Leave at once: the click is delivered by sendBeacon on page hide (or by the next page).
    page.click("article[data-sku='trail-shoes'] a.view-product")
    page.wait_for_url("**/products/trail-shoes")
    page.select_option("#size", "L")
    page.click("#add-to-cart")
    page.goto(site + "/login")
    page.fill("#email", "linus@example.com")
    page.fill("#password", "secret-password")
    page.click("#login-submit")
    page.wait_for_url("**/welcome")
    page.evaluate("() => footfall.flush()")
    context.close()

    events = []

    def arrived():
        events.extend(published_events(settings))
        return any(e.page and e.page.path == "/welcome" for e in events)

    wait_until(arrived, timeout=20, message="the welcome pageview on the bus")
    # At-least-once: a batch may arrive twice (two tabs, a retried request); the ids make it one.
    events = list({e.event_id: e for e in events}.values())
    assert {e.env_id for e in events} == {ENV_ID}
    assert {e.source for e in events} == {"web"}
    assert {e.bot for e in events} == {"headless"}  # kept, flagged, as this environment says
    assert {e.device_id for e in events} == {ids["deviceId"]}
    assert {e.user_id for e in events} == {ids["userId"]}  # identify kept the anonymous user id
    assert {e.session_id for e in events} == {ids["sessionId"]}

    kinds = [(e.kind, e.page.path) for e in sorted(events, key=lambda e: e.time)]
    assert kinds[0] == ("pageview", "/")
    assert ("click", "/") in kinds  # the click that left the page (beacon)
    assert ("change", "/products/trail-shoes") in kinds and ("submit", "/login") in kinds

    first = min(events, key=lambda e: e.time)
    assert first.campaign and first.campaign.utm_source == "ads"
    assert first.device and first.device.browser and first.device.device_type == "Desktop"

    click = next(e for e in events if e.kind == "click" and e.page.path == "/")
    assert click.target.text == "View"
    assert click.target.hierarchy[0].tag == "a" and "view-product" in click.target.hierarchy[0].classes
    assert click.target.hierarchy[1].attributes == {"data-sku": "trail-shoes"}
    assert click.target.href.endswith("/products/trail-shoes")

    custom = next(e for e in events if e.kind == "custom")
    assert custom.name == "Added to Cart" and custom.properties == {"sku": "trail-shoes", "price": 89, "size": "L"}

    welcome = next(e for e in events if e.page.path == "/welcome")
    assert welcome.identity == "linus@example.com"
    assert "secret-password" not in str([e.model_dump() for e in events])
