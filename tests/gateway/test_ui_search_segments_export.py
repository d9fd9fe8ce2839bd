"""Search, segments and CSV export in a real Chromium, against the real gateway over the real
sessions service and moto's S3 (tests/gateway/real_feed.py)."""
from __future__ import annotations

import csv
import io

import pytest

from tests.gateway.browser import browser, open_page, screenshot, sign_in  # noqa: F401 (fixture)
from tests.gateway.conftest import ADMIN
from tests.gateway.real_feed import feed_app, people, s3_endpoint, sessions_served  # noqa: F401 (fixtures)
from tests.gateway.standins import Served

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser, feed_app, people):
    server = Served(feed_app)
    page = open_page(browser, server.url)
    yield page
    page.context.close()
    server.stop()


def names(page) -> list[str]:
    return page.locator("[data-testid=user-card] [data-testid=user-name]").all_inner_texts()


def test_search_as_you_type_save_open_rename_delete_and_export(page):
    sign_in(page, *ADMIN)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=user-card]').length === 2")
    assert names(page) == ["User bob", "ada@x.test"]

    # As you type: one character is not searched (and says so), two are, after a pause.
    box = page.locator("[data-testid=search-input]")
    box.press_sequentially("A")
    page.locator("[data-testid=search-hint]").wait_for()
    box.press_sequentially("d")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=user-card]').length === 1")
    assert names(page) == ["ada@x.test"] and "q=Ad" in page.url
    screenshot(page, "search.png")

    # Save the view as a segment: it is listed with its live count.
    page.click("[data-testid=segments-button]")
    page.fill("[data-testid=segment-name]", "Ada search")
    page.click("[data-testid=segment-save]")
    row = page.locator("[data-testid=segment-row][data-segment='Ada search']")
    row.locator("[data-testid=segment-count]").filter(has_text="1 user").wait_for()
    page.keyboard.press("Escape")

    # Clear the search, then open the segment: its search comes back, in the box and the feed.
    box.fill("")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=user-card]').length === 2")
    page.click("[data-testid=segments-button]")
    row.locator("[data-testid=segment-open]").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=user-card]').length === 1")
    assert box.input_value() == "Ad"

    # Rename, then delete (after the confirmation).
    page.click("[data-testid=segments-button]")
    row.locator("[data-testid=segment-rename]").click()
    page.fill("[data-testid=segment-rename-input]", "Only Ada")
    page.keyboard.press("Enter")
    renamed = page.locator("[data-testid=segment-row][data-segment='Only Ada']")
    renamed.wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    renamed.locator("[data-testid=segment-delete]").click()
    renamed.wait_for(state="detached")
    page.keyboard.press("Escape")

    # Export the searched view as CSV: progress, then a download link with one line per user.
    page.click("[data-testid=export-button]")
    page.uncheck("[data-testid=export-col-display_name]")
    page.fill("[data-testid=export-properties]", "plan, age")
    page.click("[data-testid=export-start]")
    page.locator("[data-testid=export-progress]").wait_for()
    link = page.locator("[data-testid=export-download]")
    link.wait_for()
    screenshot(page, "export.png")
    body = page.evaluate("(href) => fetch(href).then((r) => r.text())", link.get_attribute("href"))
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["user_id", "identity", "first_seen", "last_seen", "sessions", "plan", "age"]
    assert [r[0] for r in rows[1:]] == ["ada"] and rows[1][5:] == ["pro", "36"]
    assert page.errors == []
