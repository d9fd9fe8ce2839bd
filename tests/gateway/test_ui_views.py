"""Shareable views in Chromium over contract stand-ins: everything in the URL (reload, Back, Copy
link), a page per user and per session that opens in a new tab, the latest session open by
default, the compact list, j/k/Enter, and times that name their zone."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from playwright.sync_api import expect

from tests.gateway.browser import browser, open_page, sign_in  # noqa: F401 (fixture)
from tests.gateway.conftest import ADMIN
from tests.gateway.standin_ui import gateway_url, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _query(page) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def _card(page, user_id: str):
    return page.locator(f"[data-testid=user-card][data-user-id='{user_id}']")


def test_the_view_lives_in_the_url_and_survives_reload_and_back(page):
    sign_in(page, *ADMIN)
    ada = _card(page, "1001")
    ada.wait_for()
    page.click("[data-testid=timeline-button]")
    page.click("[data-testid=timeline-30d]")
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-user_property]")
    page.fill("[data-testid=filter-property]", "plan")
    page.select_option("[data-testid=filter-op]", "equals")
    page.fill("[data-testid=filter-value]", "pro")
    page.click("[data-testid=filter-apply]")
    ada.locator("[data-session-id=s-ada-2] [data-testid=session-open]").click()
    ada.locator("[data-testid=event][data-event-id=e5] button").click()
    expect(ada.locator("[data-testid=event-panel]")).to_contain_text("Dashboard")
    query = _query(page)
    assert query["range"] == "30d" and query["session"] == "s-ada-2" and query["event"] == "e5"
    assert orjson.loads(query["f"]) == [{"type": "user_property", "property": "plan", "op": "equals", "value": "pro"}]

    page.reload()  # the whole view comes back from the URL
    ada.wait_for()
    expect(page.locator("[data-testid=timeline-button]")).to_contain_text("Past 30 days")
    expect(page.locator("[data-testid=filter-chip]")).to_have_text(["plan equals “pro”"])
    expect(ada.locator("[data-session-id=s-ada-2] [data-testid=session-open]")).to_have_attribute(
        "aria-pressed", "true")
    expect(ada.locator("[data-testid=event-panel]")).to_contain_text("Dashboard")

    # Back walks through the view's own steps and stays in the app.
    page.go_back()
    expect(ada.locator("[data-testid=event-panel]")).to_have_count(0)
    page.go_back()
    expect(ada.locator("[data-session-id=s-ada-1] [data-testid=session-open]")).to_have_attribute(
        "aria-pressed", "true")
    page.go_back()
    expect(page.locator("[data-testid=filter-chip]")).to_have_count(0)
    expect(page.locator("[data-testid=timeline-button]")).to_contain_text("Past 30 days")
    assert page.url.startswith(page.base_url) and page.errors == []


def test_users_and_sessions_have_pages_that_open_in_a_new_tab(page):
    sign_in(page, *ADMIN, query="?range=30d")
    ada = _card(page, "1001")
    link = ada.locator("[data-testid=user-name] a")
    href = link.get_attribute("href")
    assert href.startswith("/users/1001") and "range=30d" in href
    tab = page.context.new_page()  # what a middle click does: the same address in a new tab
    tab.goto(page.base_url + href)
    user_page = tab.locator("[data-testid=user-page]")
    expect(user_page.locator("[data-testid=user-properties]")).to_contain_text("Initial Browser")
    expect(user_page.locator("[data-testid=session-row]")).to_have_count(2)
    expect(user_page.locator("[data-testid=session-events] [data-testid=event]")).to_have_count(3)  # latest session
    user_page.locator("[data-session-id=s-ada-2] [data-testid=session-open]").click()
    assert "session=s-ada-2" in tab.url
    expect(user_page.locator("[data-testid=session-events] .event-name")).to_have_text(["View screen Dashboard"])

    session_href = ada.locator("[data-testid=session-page-link]").get_attribute("href")
    assert session_href.startswith("/sessions/s-ada-1")
    tab.goto(page.base_url + session_href)
    session_page = tab.locator("[data-testid=session-page]")
    expect(session_page.locator("[data-testid=session-user-link]")).to_have_text("ada@acme.example")
    expect(session_page.locator("[data-testid=replay-events] [data-testid=replay-event]")).to_have_count(3)
    expect(session_page.locator("[data-testid=session-events] [data-testid=event]")).to_have_count(3)
    tab.click("[data-testid=back-to-feed]")
    expect(tab.locator("[data-testid=feed] [data-testid=user-card]")).to_have_count(2)
    assert _query(tab) == {"range": "30d"}
    tab.close()

    # In place, a plain click navigates without reloading the page.
    page.evaluate("() => { window.__same_document = true; }")
    link.click()
    expect(page.locator("[data-testid=user-page]")).to_be_visible()
    assert page.evaluate("() => window.__same_document") is True
    page.go_back()
    expect(page.locator("[data-testid=feed]")).to_be_visible()


def test_copy_link_copies_the_address_of_the_view(browser, gateway_url):  # noqa: F811
    page = open_page(browser, gateway_url, permissions=["clipboard-read", "clipboard-write"])
    try:
        sign_in(page, *ADMIN, query="?range=90d&view=compact")
        page.click("[data-testid=copy-link]")
        expect(page.locator("[data-testid=copy-status]")).to_have_text("Link copied")
        copied = page.evaluate("() => navigator.clipboard.readText()")
        assert copied == page.url and "range=90d" in copied and "view=compact" in copied
    finally:
        page.context.close()


def test_picking_another_session_closes_the_old_events_panel(page):
    sign_in(page, *ADMIN)
    ada = _card(page, "1001")
    ada.locator("[data-testid=event][data-event-id=e2] button").click()
    expect(ada.locator("[data-testid=event-panel]")).to_contain_text("Buy now")
    ada.locator("[data-session-id=s-ada-2] [data-testid=session-open]").click()
    expect(ada.locator("[data-testid=session-events] .event-name")).to_have_text(["View screen Dashboard"])
    expect(ada.locator("[data-testid=event-panel]")).to_have_count(0)
    ada.locator("[data-session-id=s-ada-1] [data-testid=session-open]").click()
    expect(ada.locator("[data-testid=event]")).to_have_count(3)
    expect(ada.locator("[data-testid=event-panel]")).to_have_count(0)


def test_latest_sessions_open_by_default_compact_list_and_keys(page):
    sign_in(page, *ADMIN)
    # No empty "Pick a session" column: each user's latest session shows its events at once.
    expect(_card(page, "1001").locator("[data-testid=session-events] .event-name")).to_have_text(
        ["View page /pricing", "Click on 'Buy now'", "Signed Up"])
    expect(_card(page, "2002").locator("[data-testid=session-events] .event-name")).to_have_text(["View page /"])

    page.click("[data-testid=view-compact]")
    assert _query(page)["view"] == "compact"
    cards = page.locator("[data-testid=feed] [data-testid=user-card]")
    expect(cards).to_have_count(2)
    expect(page.locator("[data-testid=session-events]")).to_have_count(0)
    assert all(c.bounding_box()["height"] < 70 for c in cards.all())  # one line per user

    page.keyboard.press("j")
    expect(cards.nth(0)).to_be_focused()
    page.keyboard.press("j")
    expect(cards.nth(1)).to_be_focused()
    page.keyboard.press("k")
    expect(cards.nth(0)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("[data-testid=user-page][data-user-id='1001']")).to_be_visible()
    assert urlsplit(page.url).path == "/users/1001" and _query(page)["view"] == "compact"
    # Typing in a field is not a shortcut.
    page.go_back()
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-user_property]")
    page.fill("[data-testid=filter-value]", "jk")
    expect(cards.nth(0)).not_to_be_focused()
    assert page.errors == []


@pytest.mark.parametrize("zone, names", [("Europe/Berlin", ("GMT+1", "GMT+2")),
                                         ("America/Los_Angeles", ("PST", "PDT"))])
def test_times_name_their_zone_and_follow_the_switch(browser, gateway_url, zone, names):  # noqa: F811
    page = open_page(browser, gateway_url, timezone_id=zone)
    try:
        sign_in(page, *ADMIN)
        select = page.locator("[data-testid=zone-select]")
        label = select.evaluate("s => s.options[s.selectedIndex].text")
        assert label.startswith(zone.replace("_", " ")) and "this browser" in label
        ada = _card(page, "1001")
        ada.locator("[data-testid=event][data-event-id=e1] button").click()
        time_row = ada.locator("[data-testid=event-properties] dd").nth(3)  # Event, Kind, Source, Time
        assert time_row.inner_text().endswith(names), time_row.inner_text()
        shown = ada.locator("[data-session-id=s-ada-1] .session-time").inner_text()

        select.select_option("UTC")
        assert _query(page)["tz"] == "UTC"
        expect(time_row).to_have_text(re.compile(r"UTC$"))
        assert ada.locator("[data-session-id=s-ada-1] .session-time").inner_text() != shown
        page.reload()  # the zone is part of the view
        expect(page.locator("[data-testid=zone-select]")).to_have_value("UTC")
        expect(_card(page, "1001").locator("[data-session-id=s-ada-1] .session-time")).not_to_have_text(shown)
    finally:
        page.context.close()
