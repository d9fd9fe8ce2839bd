"""What the screen shows, in Chromium over contract stand-ins: a phone's layout, long content that
wraps inside its box, icons and labels per browser and platform, the iOS event panel, a clamped
future time, and a time filter that is the window in any time zone."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from playwright.sync_api import expect

from tests.gateway.browser import browser, open_page, sign_in  # noqa: F401 (fixture)
from tests.gateway.conftest import ADMIN
from tests.gateway.standin_ui import PHONE, gateway_url, page, phone  # noqa: F401 (fixtures)
from tests.gateway.standins import NOW, _event, _session, iso

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LONG_ID = "4821937465019283"  # 16 digits
LONG_NAME = "utm_referring_campaign_identifier_from_the_partner_network_" * 2
LONG_URL = "https://shop.example/landing/" + "very-long-segment-" * 15 + "?utm_source=newsletter&utm_campaign=spring"


def _inside(box: dict, width: int, height: int) -> bool:
    return (box["x"] >= 0 and box["y"] >= 0
            and box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5)


def test_a_phone_sees_the_whole_top_bar_the_filter_editor_and_dialogs(phone):
    sign_in(phone, *ADMIN)
    width, height = PHONE["width"], PHONE["height"]
    phone.locator("[data-testid=user-card]").first.wait_for()
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= width
    for control in ("[data-testid=sign-out]", ".topbar .account",
                    "[data-testid=env-select]", "[data-testid=nav-definitions]"):
        assert _inside(phone.locator(control).bounding_box(), width, height), control

    phone.click("[data-testid=add-filter]")
    phone.click("[data-testid=filter-type-event_property]")
    editor = phone.locator("[data-testid=filter-editor]")
    assert _inside(editor.bounding_box(), width, height)
    apply = phone.locator("[data-testid=filter-apply]")
    assert _inside(apply.bounding_box(), width, height)
    phone.fill("[data-testid=filter-property]", "plan")
    phone.fill("[data-testid=filter-value]", "pro")
    apply.click()
    expect(phone.locator("[data-testid=filter-chip]")).to_have_count(1)

    phone.locator("[data-testid=see-more]").first.click()
    about = phone.locator("[data-testid=about-modal]")
    about.locator("dl").wait_for()
    assert _inside(about.bounding_box(), width, height)
    assert _inside(about.locator("[data-testid=modal-close]").bounding_box(), width, height)
    about.locator("[data-testid=modal-close]").click()
    expect(about).to_have_count(0)
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= width


def _lines(page, selector: str, text: str) -> list[int]:
    """How many lines `text` takes inside each element matching `selector` (1 = not broken)."""
    return page.evaluate("""([selector, text]) => [...document.querySelectorAll(selector)].map((el) => {
        const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.data.indexOf(text);
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + text.length);
            return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
        }
        return 0;
    })""", [selector, text])


def _long_user(standins) -> None:
    data = standins["data"]["acme"]
    data["users"][LONG_ID] = {"user_id": LONG_ID, "identity": None, "display_name": f"User {LONG_ID}",
                              "first_seen": iso(NOW - timedelta(days=1)), "last_seen": iso(NOW - timedelta(minutes=1)),
                              "properties": {LONG_NAME: "blue", "plan": "team"}, "session_count": 1}
    data["sessions"]["s-long"] = _session("s-long", LONG_ID, 2, landing_page=LONG_URL)
    data["events"]["e-long"] = _event("e-long", "s-long", LONG_ID, "pageview", 2)


def test_long_content_wraps_inside_its_box(page, phone, standins):
    _long_user(standins)
    sign_in(page, *ADMIN)
    card = page.locator(f"[data-testid=user-card][data-user-id='{LONG_ID}']")
    card.locator("[data-testid=session-icons]").hover()  # the landing URL's tooltip stays on screen
    tip = card.locator("[data-testid=session-tip]")
    expect(tip).to_contain_text("very-long-segment")
    assert _inside(tip.bounding_box(), 1440, 900)

    card.locator("[data-testid=see-more]").click()
    about = page.locator("[data-testid=about-modal] dl")
    about.wait_for()
    # A very long property name wraps; its value keeps a usable column.
    value = about.locator("dt", has_text=LONG_NAME[:30]).locator("xpath=following-sibling::dd[1]")
    assert value.inner_text() == "blue" and value.bounding_box()["width"] > 150
    assert _lines(page, "[data-testid=about-modal] dd", LONG_ID)[:2] == [1, 1]  # Identifier, User ID
    page.keyboard.press("Escape")

    sign_in(phone, *ADMIN)
    phone_card = phone.locator(f"[data-testid=user-card][data-user-id='{LONG_ID}']")
    phone_card.wait_for()
    # The 16-digit id never breaks mid-number, in the card's name and summary.
    assert _lines(phone, f"[data-user-id='{LONG_ID}'] [data-testid=user-name]", LONG_ID) == [1]
    assert _lines(phone, f"[data-user-id='{LONG_ID}'] [data-testid=user-summary] dd", LONG_ID) == [1, 0, 0, 0, 0]
    phone_card.locator("[data-testid=see-more]").click()
    phone.locator("[data-testid=about-modal] dl").wait_for()
    assert _lines(phone, "[data-testid=about-modal] dd", LONG_ID)[:2] == [1, 1]
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def test_browsers_have_their_own_icons_and_platforms_read_as_heap_says(page):
    sign_in(page, *ADMIN)
    ada = page.locator("[data-testid=user-card][data-user-id='1001']")
    anon = page.locator("[data-testid=user-card][data-user-id='2002']")
    chrome = ada.locator("[data-testid=browser-icon] svg")
    safari = anon.locator("[data-testid=browser-icon] svg")
    assert (chrome.get_attribute("data-browser"), safari.get_attribute("data-browser")) == ("chrome", "safari")
    assert chrome.inner_html() != safari.inner_html()  # another glyph, not the same one in a colour

    ada.locator("[data-session-id=s-ada-2] [data-testid=session-icons]").hover()
    tip = ada.locator("[data-session-id=s-ada-2] [data-testid=session-tip]")
    expect(tip).to_contain_text("iOS app")
    assert "iOS · iOS" not in tip.inner_text()

    ada.locator("[data-session-id=s-ada-2] [data-testid=session-open]").click()
    ada.locator("[data-testid=event][data-event-id=e5] button").click()
    rows = _panel_rows(ada)
    assert rows["Source"] == "iOS"
    assert (rows["App version"], rows["Device model"], rows["OS"], rows["OS version"]) == (
        "4.2.0", "iPhone15,2", "iOS", "17.1")
    ada.locator("[data-session-id=s-ada-1] [data-testid=session-open]").click()
    ada.locator("[data-testid=event][data-event-id=e1] button").click()
    assert _panel_rows(ada)["Source"] == "Web"


def _panel_rows(scope) -> dict[str, str]:
    panel = scope.locator("[data-testid=event-properties]")
    panel.wait_for()
    terms, values = panel.locator("dt").all_inner_texts(), panel.locator("dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


def test_a_clamped_future_time_is_explained_in_the_event_panel(page, standins):
    ahead = NOW + timedelta(days=3)
    standins["data"]["acme"]["events"]["e-ahead"] = _event(
        "e-ahead", "s-ada-1", "1001", "custom", 7, name="Synced", properties={"$original_time": iso(ahead)})
    sign_in(page, *ADMIN)
    ada = page.locator("[data-testid=user-card][data-user-id='1001']")
    ada.locator("[data-testid=event][data-event-id=e-ahead] button").click()
    note = ada.locator("[data-testid=clamped-note]")
    expect(note).to_contain_text("had not happened yet")
    expect(note).to_contain_text(ahead.strftime("%b %-d, %Y"))
    assert "$original_time" not in _panel_rows(ada)  # said once, in words


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Los_Angeles"])
def test_a_time_filter_is_the_window_whatever_the_timeline_and_zone(browser, gateway_url, standins, zone):  # noqa: F811
    page = open_page(browser, gateway_url, timezone_id=zone)
    try:
        sign_in(page, *ADMIN)  # the timeline says "Past 7 days"
        today = datetime.now(ZoneInfo(zone)).date()
        first, last = today - timedelta(days=20), today - timedelta(days=14)
        standins["calls"].clear()
        page.click("[data-testid=add-filter]")
        page.click("[data-testid=filter-type-seen]")
        page.fill("[data-testid=filter-from]", first.isoformat())
        page.fill("[data-testid=filter-to]", last.isoformat())
        page.click("[data-testid=filter-apply]")
        # The chip names the days picked, not the UTC days of their midnights.
        expect(page.locator("[data-testid=filter-chip]")).to_have_text(f"Seen {_day(first)} – {_day(last)}")
        expect(page.locator("[data-testid=timeline-button]")).to_contain_text("(time filter)")
        start, end = _midnight(first, zone), _midnight(last + timedelta(days=1), zone)

        def asked():
            return next((c[2] for c in list(standins["calls"]) if c[1].endswith("/users")
                         and c[2].get("from", "").startswith(start[:16])), None)
        params = _wait(asked)
        # The filter IS the window (not ANDed with the past 7 days), and not sent again as a condition.
        assert (params["from"][:19], params["to"][:19]) == (start[:19], end[:19])
        assert "filter" not in params or all(f["type"] != "seen" for f in orjson.loads(params["filter"]))
        page.reload()
        expect(page.locator("[data-testid=filter-chip]")).to_have_text(f"Seen {_day(first)} – {_day(last)}")
    finally:
        page.context.close()


def _day(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


def _midnight(day: date, zone: str) -> str:
    return datetime.combine(day, time(), ZoneInfo(zone)).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S")


def _wait(predicate):
    from tests.support import wait_until

    return wait_until(predicate, timeout=10, message="the feed request for the time filter")
