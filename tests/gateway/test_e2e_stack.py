"""End to end: the real stack (tests/stack.py), data sent through real ingest by the real Segment
client, read in Debian's Chromium through the gateway."""
from __future__ import annotations

import pytest
import requests

from tests.gateway.browser import browser, open_page, screenshot, sign_in  # noqa: F401 (fixture)
from tests.support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
XSS_IMG = "<img src=x onerror=\"window.__pwned='img'\">"
XSS_SCRIPT = "<script>window.__pwned='script'</script>"


@pytest.fixture(scope="module")
def sent(stack):
    """A user identified by the Segment client, with markup in traits and event properties."""
    import segment.analytics as analytics

    client = analytics.Client(write_key=stack.write_key, host=stack.url("ingest"), sync_mode=True)
    client.identify("grace@e2e.example", {"name": XSS_IMG, "plan": "enterprise"}, anonymous_id="anon-grace")
    client.page("grace@e2e.example", name="Pricing",
                properties={"path": "/pricing", "url": "http://shop.example/pricing"})
    client.track("grace@e2e.example", "Signed Up", {"note": XSS_SCRIPT, "plan": "enterprise"})
    client.flush()
    headers = {"Authorization": f"Bearer {stack.api_token}"}
    feed_url = f"{stack.url('gateway')}/api/v1/environments/{stack.env_id}/users"

    def grace():
        users = requests.get(feed_url, headers=headers, timeout=5).json().get("users", [])
        return next((u for u in users if u["identity"] == "grace@e2e.example" and u["sessions"]), None)

    return wait_until(grace, timeout=30, message="grace in the feed")


def test_api_feed_through_real_services(stack, sent):
    assert sent["display_name"] == "grace@e2e.example"
    assert sent["properties"].get("plan") == "enterprise"
    session = sent["sessions"][0]
    assert {"session_id", "start", "end", "duration_s", "source", "replay"} <= set(session)
    other = requests.get(f"{stack.url('gateway')}/api/v1/environments/other/users",
                         headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=5)
    assert other.status_code == 403


def test_markup_from_real_ingest_runs_nothing_in_chromium(stack, sent, browser):  # noqa: F811
    page = open_page(browser, stack.url("gateway"))
    sign_in(page, stack.admin_email, stack.admin_password, query=f"?env={stack.env_id}")
    card = page.locator(f"[data-testid=user-card][data-user-id='{sent['user_id']}']")
    card.wait_for()
    card.locator("[data-testid=session-open]").first.click()
    events = card.locator("[data-testid=event]")
    events.first.wait_for()
    events.last.locator("button").click()
    assert XSS_SCRIPT in card.locator("[data-testid=event-properties]").inner_text()
    card.locator("[data-testid=see-more]").click()
    page.locator("[data-testid=about-modal] dl").wait_for()
    assert XSS_IMG in page.locator("[data-testid=about-modal]").inner_text()
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__pwned") is None and page.locator("img[src=x]").count() == 0
    screenshot(page, "e2e-about-this-user.png")
    page.context.close()
