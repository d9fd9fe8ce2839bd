"""The SDK in Debian's Chromium on the demo site, with its requests intercepted (no stack needed).

Asserts the wire payloads: autocapture with hierarchies, identity and session ids, delivery
retries, privacy (no input values, redaction, ignore), and replay admission and chunks.
"""
from __future__ import annotations

import re

import pytest

from demo.site import create_app
from footfall.config import get_settings
from tests.sdk.conftest import serve
from tests.sdk.fake_backend import GATEWAY, INGEST, FakeBackend

pytestmark = pytest.mark.browser
WRITE_KEY = "browser-test-key"
PASSWORD = "hunter2-never-sent"
CARD = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def site():
    settings = get_settings().with_(ingest_url=INGEST, gateway_url=GATEWAY, write_key=WRITE_KEY)
    with serve(create_app(settings)) as base:
        yield base


@pytest.fixture
def backend(sdk_dist):
    return FakeBackend(sdk_dist)


def new_page(browser, backend, **context_options):
    context = browser.new_context(**context_options)
    backend.install(context)
    # Playwright's routing does not see sendBeacon requests: refuse beacons here, so what a page
    # leaves behind stays queued in localStorage and the next page sends it (test_sdk_ingest.py
    # sees real beacons arrive at a real ingest).
    context.add_init_script("navigator.sendBeacon = () => false;")
    page = context.new_page()
    page.set_default_timeout(15_000)
    return context, page


def flush(page):
    page.wait_for_function("() => window.footfall && window.footfall.loaded")
    page.evaluate("() => footfall.flush()")


def ids(page) -> dict:
    page.wait_for_function("() => window.footfall && window.footfall.loaded")
    return page.evaluate("() => footfall.getIds()")


def wait_in_browser(page, predicate, message: str, timeout_s: float = 30) -> None:
    """Poll while Playwright runs (its sync API only answers routed requests inside its own calls)."""
    for _ in range(int(timeout_s * 10)):
        if predicate():
            return
        page.wait_for_timeout(100)
    pytest.fail(f"timed out after {timeout_s}s waiting for {message}")


def kind(message) -> str:
    return message["context"]["footfall"].get("kind") or message["type"]


def test_browse_and_sign_up_sends_autocapture_identity_and_replay(browser, backend, site):
    context, page = new_page(browser, backend)
    page.goto(site + "/?utm_source=newsletter&utm_campaign=spring")
    anonymous = ids(page)
    page.click("a.nav-pricing")
    page.click(".plan-tab[data-plan='team']")  # pushState: a pageview without a load
    page.click("a.faq-link")  # hash change
    page.click("footer p")  # data-footfall-ignore: not captured
    page.click("#choose-plan")
    page.fill("#name", "Ada")
    page.fill("#email", "ada@example.com")
    page.fill("#password", PASSWORD)
    page.click("#signup-submit")
    page.wait_for_url("**/welcome")
    identified = ids(page)
    flush(page)
    context.close()

    messages = backend.messages
    assert {b["writeKey"] for b in backend.batches} == {WRITE_KEY}
    assert {b["content_type"].split(";")[0] for b in backend.batches} == {"text/plain"}
    assert len({m["messageId"] for m in messages}) == len(messages)

    paths = [m["context"]["page"]["url"].removeprefix(site) for m in messages if kind(m) == "pageview"]
    assert paths == ["/?utm_source=newsletter&utm_campaign=spring", "/pricing", "/pricing?plan=team",
                     "/pricing?plan=team#faq", "/signup?plan=team", "/welcome"]
    assert messages[0]["context"]["campaign"] == {"source": "newsletter", "name": "spring"}

    # One device, one user id (identify on an anonymous user keeps it), one session throughout.
    assert anonymous["identity"] is None and identified["identity"] == "ada@example.com"
    assert identified["userId"] == anonymous["userId"] and identified["sessionId"] == anonymous["sessionId"]
    for m in messages:
        assert m["anonymousId"] == anonymous["userId"]
        assert m["context"]["footfall"]["device_id"] == anonymous["deviceId"]
        assert m["context"]["footfall"]["session_id"] == anonymous["sessionId"]
    assert re.fullmatch(r"\d{1,16}", anonymous["deviceId"]) and int(anonymous["deviceId"]) < 2**53

    clicks = [m for m in messages if kind(m) == "click"]
    choose = next(m for m in clicks if m["context"]["footfall"]["target"]["hierarchy"][0].get("id") == "choose-plan")
    target = choose["context"]["footfall"]["target"]
    assert target["text"] == "Choose this plan"
    assert target["href"] == site + "/signup?plan=team"
    assert [n["tag"] for n in target["hierarchy"]] == ["a", "p", "main", "body", "html"]
    assert target["hierarchy"][0]["classes"] == ["btn", "choose-plan"]
    assert not any("footer" in str(m["context"]["footfall"]["target"]["hierarchy"]) for m in clicks)

    changes = [m["context"]["footfall"]["target"]["hierarchy"][0] for m in messages if kind(m) == "change"]
    assert {c["attributes"].get("name") for c in changes} >= {"name", "email", "password"}
    submit = next(m for m in messages if kind(m) == "submit")
    assert submit["context"]["footfall"]["target"]["hierarchy"][0]["id"] == "signup-form"
    assert "userId" not in submit  # captured before the page's own handler identified

    identify = next(m for m in messages if m["type"] == "identify" and "traits" not in m)
    assert identify["userId"] == "ada@example.com"
    traits = next(m for m in messages if m["type"] == "identify" and "traits" in m)
    assert traits["traits"] == {"name": "Ada", "email": "ada@example.com", "plan": "team"}
    signed_up = next(m for m in messages if m.get("event") == "Signed Up")
    assert signed_up["userId"] == "ada@example.com" and signed_up["properties"] == {"plan": "team"}
    assert messages[-1]["userId"] == "ada@example.com"  # the welcome pageview

    # Replay: admitted per page load for this session, chunks with the token, numbered across pages.
    assert backend.starts and all(s == {"write_key": WRITE_KEY, "session_id": anonymous["sessionId"],
                                        "device_id": anonymous["deviceId"]} for s in backend.starts)
    assert backend.chunks
    seqs = [int(re.search(r"seq=(\d+)", c["url"]).group(1)) for c in backend.chunks]
    assert len(set(seqs)) == len(seqs) and len(backend.chunks) >= 3  # pages' tails are not lost
    assert {c["authorization"] for c in backend.chunks} == {f"Bearer token-{anonymous['sessionId']}"}
    events = [e for c in backend.chunks for e in c["events"]]
    assert any(e["type"] == 2 for e in events)  # a full snapshot: the replay can start

    # Privacy: typed values never leave the browser, neither in events nor in the recording.
    sent = backend.everything_sent()
    assert PASSWORD not in sent
    assert "Member no. 4711" not in sent  # data-footfall-redact-text on the welcome page


def test_recording_stops_on_402_and_events_still_flow(browser, backend, site):
    backend.start_status = 402
    context, page = new_page(browser, backend)
    page.goto(site + "/products/day-pack")
    page.click("#add-to-cart")
    wait_in_browser(page, lambda: backend.starts, "a replay start request")
    flush(page)
    context.close()
    assert len(backend.starts) == 1  # 402 is final for the page: no retries
    assert backend.chunks == []
    assert [kind(m) for m in backend.messages][:2] == ["pageview", "click"]
    assert any(m.get("event") == "Added to Cart" for m in backend.messages)


def test_checkout_card_number_is_masked_in_replay_and_absent_from_events(browser, backend, site):
    context, page = new_page(browser, backend)
    page.goto(site + "/checkout?sku=day-pack")
    page.fill("#card", CARD)
    page.click("#pay")
    page.wait_for_selector("#thanks", state="visible")
    flush(page)
    context.close()
    assert backend.chunks
    sent = backend.everything_sent()
    # Not a bare "4111": random ids and millisecond timestamps contain it by chance.
    assert CARD not in sent and CARD.replace(" ", "") not in sent and "4111 1111" not in sent
    assert any(m.get("event") == "Order Completed" for m in backend.messages)


def test_delivery_retries_after_network_errors_with_the_same_message_ids(browser, backend, site):
    backend.fail_batches = 2
    context, page = new_page(browser, backend)
    page.goto(site + "/pricing?replay=0")
    wait_in_browser(page, lambda: backend.batches, "a delivered batch after two failures")
    flush(page)
    context.close()
    failed_ids = {m["messageId"] for b in backend.failed_batches for m in b["batch"]}
    delivered_ids = {m["messageId"] for m in backend.messages}
    assert len(backend.failed_batches) == 2 and failed_ids <= delivered_ids
    assert backend.starts == []  # ?replay=0: the replay bundle is never asked for


def test_events_of_a_page_left_at_once_are_sent_by_the_next_page(browser, backend, site):
    """A click that navigates away, its beacon refused, stays queued and the next page sends it."""
    context, page = new_page(browser, backend)
    page.goto(site + "/?replay=0")
    page.wait_for_function("() => window.footfall && window.footfall.loaded")
    page.click("article[data-sku='rain-jacket'] a.view-product")
    page.wait_for_url("**/products/rain-jacket")
    wait_in_browser(page, lambda: any(kind(m) == "click" for m in backend.messages),
                    "the click that left the first page")
    context.close()


def test_another_device_mobile_and_reset(browser, backend, site):
    phone = {"user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
                           "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
             "viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    laptop_ctx, laptop = new_page(browser, backend)
    laptop.goto(site + "/login?replay=0")
    laptop.fill("#email", "grace@example.com")
    laptop.fill("#password", PASSWORD)
    laptop.click("#login-submit")
    laptop.wait_for_url("**/welcome")
    on_laptop = ids(laptop)
    flush(laptop)
    laptop_ctx.close()

    phone_ctx, mobile = new_page(browser, backend, **phone)
    mobile.goto(site + "/login?replay=0")
    before = ids(mobile)
    mobile.fill("#email", "grace@example.com")
    mobile.fill("#password", PASSWORD)
    mobile.click("#login-submit")
    mobile.wait_for_url("**/welcome")
    on_phone = ids(mobile)
    mobile.click("#logout")  # resetIdentity: new anonymous user and session on this device
    mobile.wait_for_url(site + "/")
    after_reset = ids(mobile)
    flush(mobile)
    phone_ctx.close()

    assert on_phone["deviceId"] != on_laptop["deviceId"] and on_phone["userId"] != on_laptop["userId"]
    assert on_phone["userId"] == before["userId"] and on_phone["identity"] == "grace@example.com"
    assert after_reset["identity"] is None and after_reset["deviceId"] == on_phone["deviceId"]
    assert after_reset["userId"] != on_phone["userId"] and after_reset["sessionId"] != on_phone["sessionId"]
    identifies = [m for m in backend.messages if m["type"] == "identify"]
    assert {(m["userId"], m["context"]["footfall"]["device_id"]) for m in identifies} == {
        ("grace@example.com", on_laptop["deviceId"]), ("grace@example.com", on_phone["deviceId"])}
    phone_views = [m for m in backend.messages if m["context"]["footfall"]["device_id"] == on_phone["deviceId"]]
    assert all("iPhone" in m["context"]["userAgent"] for m in phone_views)
    last = phone_views[-1]
    assert kind(last) == "pageview" and "userId" not in last and last["anonymousId"] == after_reset["userId"]
