"""The API tokens page in Chromium, and the feed's polling bound."""
from __future__ import annotations

import time

import pytest
import requests

from tests.gateway.browser import browser, open_page, sign_in  # noqa: F401 (fixture)
from tests.gateway.conftest import ADMIN
from tests.gateway.standins import Served

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def gateway_url(app):
    server = Served(app)
    yield server.url
    server.stop()


@pytest.fixture
def page(browser, gateway_url):  # noqa: F811
    page = open_page(browser, gateway_url)
    yield page
    page.context.close()


def test_tokens_are_created_shown_once_used_and_revoked_from_the_ui(page, gateway_url):
    sign_in(page, *ADMIN)
    page.click("[data-testid=nav-tokens]")
    page.wait_for_selector("[data-testid=tokens]")
    assert page.locator("[data-testid=token-row]").count() == 1  # acme's token "test"
    page.fill("input[name=token-name]", "<b>nightly</b> export")
    page.select_option("select[name=token-expiry]", "30")
    page.click("[data-testid=token-form] button[type=submit]")
    secret = page.locator("[data-testid=token-secret]").inner_text()
    assert secret.startswith("ff_")
    rows = page.locator("[data-testid=token-row]")
    rows.nth(1).wait_for()
    newest = rows.first
    assert "<b>nightly</b> export" in newest.inner_text()  # text, never markup
    assert newest.locator("[data-testid=token-last-used]").inner_text() == "never"

    feed = f"{gateway_url}/api/v1/environments/acme/users"
    assert requests.get(feed, headers={"Authorization": f"Bearer {secret}"}, timeout=5).status_code == 200
    page.reload()
    page.wait_for_selector("[data-testid=tokens]")
    last_used = page.locator("[data-testid=token-row]").first.locator("[data-testid=token-last-used]")
    assert last_used.inner_text() != "never"

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-testid=token-row]").first.locator("[data-testid=token-revoke]").click()
    page.wait_for_selector("[data-testid=token-row][data-state=revoked]")
    time.sleep(0.1)
    assert requests.get(feed, headers={"Authorization": f"Bearer {secret}"}, timeout=5).status_code == 401
    page.reload()
    page.wait_for_selector("[data-testid=tokens]")
    assert page.locator("[data-testid=token-secret]").count() == 0  # shown once, never again
    assert page.errors == []


def test_a_link_cannot_make_the_feed_poll_more_than_twice_a_second(page):
    """The attack: ?poll_ms=1 made a logged-in browser poll ~42 times a second."""
    sign_in(page, *ADMIN, query="?poll_ms=1")
    polls = []
    page.on("request", lambda request: "/users?" in request.url and polls.append(time.monotonic()))
    page.wait_for_timeout(3000)
    assert 2 <= len(polls) <= 7, polls
