"""End to end: browse the demo site in Chromium on two devices, read the user back through the gateway.

Needs the whole stack (tests/stack.py starts every Procfile process on test ports); the demo site
is started on request. Checks: the right events in the right session, the identity merge across
devices (the anonymous browsing before signup included, retroactively), and a playable replay.
"""
from __future__ import annotations

import json
import uuid

import pytest
import requests

from footfall.ids import identified_user_id
from tests.support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def visit(browser, script) -> dict:
    """One device: run the script, deliver everything (events and replay), return its ids."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        script(page)
        page.wait_for_function("() => window.footfall && window.footfall.loaded")
        ids = page.evaluate("() => footfall.getIds()")
        page.evaluate("() => footfall.flush()")
        return ids
    finally:
        context.close()


def test_demo_visitor_reads_back_through_the_gateway(stack, browser, sdk_dist):
    if "demo-site" not in stack.processes:
        pytest.fail("the Procfile has no demo-site process")
    if not stack.alive().get("demo-site"):
        stack.start("demo-site")
    site, gateway = stack.url("demo"), stack.url("gateway")
    api = f"{gateway}/api/v1/environments/{stack.env_id}"
    auth = {"Authorization": f"Bearer {stack.api_token}"}
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"

    def sign_up(page):
        page.goto(site + "/?utm_source=e2e")
        page.click("article[data-sku='day-pack'] a.view-product")
        page.click("#add-to-cart")
        page.goto(site + "/checkout?sku=day-pack")
        page.click("#apply-coupon", click_count=4)  # does nothing: a rage click, then a dead click
        page.wait_for_timeout(1300)
        page.goto(site + "/signup?plan=pro")
        page.fill("#name", "E2E")
        page.fill("#email", email)
        page.fill("#password", "never-recorded")
        page.click("#signup-submit")
        page.wait_for_url("**/welcome")

    def log_in_elsewhere(page):
        page.goto(site + "/login")
        page.fill("#email", email)
        page.fill("#password", "never-recorded")
        page.click("#login-submit")
        page.wait_for_url("**/welcome")

    laptop = visit(browser, sign_up)
    phone = visit(browser, log_in_elsewhere)
    user_id = identified_user_id(stack.env_id, email)

    def get(path, **params):
        response = requests.get(api + path, headers=auth, params=params, timeout=10)
        return response.json() if response.status_code == 200 else None

    def merged_user():
        feed = get("/users", filter=json.dumps([{"type": "user_property", "property": "identity",
                                                  "op": "equals", "value": email}]))
        users = (feed or {}).get("users", [])
        return users[0] if users and users[0].get("session_count", 0) >= 2 else None

    user = wait_until(merged_user, timeout=90, interval=1, message="the merged user in the feed")
    assert user["user_id"] == user_id and user["identity"] == email
    assert user["display_name"] == email
    assert user["properties"].get("plan") == "pro"

    sessions = wait_until(lambda: get(f"/users/{user_id}/sessions"), timeout=30, interval=1,
                          message="the user's sessions")["sessions"]
    by_id = {s["session_id"]: s for s in sessions}
    assert {laptop["sessionId"], phone["sessionId"]} <= set(by_id)  # both devices, one user
    first = by_id[laptop["sessionId"]]
    assert first["landing_page"] and "/" in first["landing_page"]
    assert first.get("utm_source") in (None, "e2e")  # when the feed exposes it, it is the landing UTM

    def all_events():
        # Batches travel separately (fetch, sendBeacon on page hide): wait until the last one landed.
        events = (get(f"/sessions/{laptop['sessionId']}/events") or {}).get("events", [])
        return events if any(e.get("name") == "Signed Up" for e in events) and any(
            e["kind"] == "pageview" and (e.get("page") or {}).get("path") == "/" for e in events) else None

    events = wait_until(all_events, timeout=30, interval=1, message="the first session's events")
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "pageview"  # the anonymous landing, merged retroactively
    assert {"pageview", "click", "change", "submit", "custom", "rage_click", "dead_click"} <= set(kinds)
    # Counted in the session's summary, computed from the stored events.
    summary = next(s for s in get(f"/users/{user_id}/sessions")["sessions"]
                   if s["session_id"] == laptop["sessionId"])["summary"]
    assert (summary["rage_clicks"], summary["dead_clicks"]) == (1, 1)
    assert summary["entry_page"] == "/" and summary["pages_viewed"] >= 5 and not summary["bounce"]
    # "Users who rage-clicked on /checkout" finds this one.
    raged = get("/users", filter=json.dumps([{"type": "did_event", "event": {"criteria": {
        "kind": "rage_click", "path": "/checkout"}}}]))
    assert user_id in [u["user_id"] for u in raged["users"]]
    assert any(e.get("name") == "Added to Cart" for e in events)
    assert any(e.get("name") == "Signed Up" for e in events)
    assert "never-recorded" not in json.dumps(events)

    replay = wait_until(lambda: get(f"/replays/{laptop['sessionId']}", inline="1"), timeout=60, interval=1,
                        message="the first session's replay")
    recorded = replay["events"]
    assert replay["has_full_snapshot"] and any(e["type"] == 2 for e in recorded)  # the player can start
    assert replay["device_id"] == laptop["deviceId"]
    assert "never-recorded" not in json.dumps(recorded)
