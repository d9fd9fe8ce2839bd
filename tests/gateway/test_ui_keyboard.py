"""Keyboard, focus, the replay beside its events, accessibility and an ended session, in Chromium
over contract stand-ins."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from tests.gateway.browser import axe_violations, browser, sign_in  # noqa: F401 (fixture)
from tests.gateway.conftest import ADMIN
from tests.gateway.standin_ui import gateway_url, page, phone  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _in_dialog(page) -> bool:
    return page.evaluate("() => !!document.activeElement.closest('[role=dialog]')")


def _open_replay(page, beside: bool = True):
    page.locator("[data-testid=user-card][data-user-id='1001'] [data-testid=play-replay]").click()
    modal = page.locator("[data-testid=replay-modal]")
    modal.locator("[data-testid=replay-player] iframe").wait_for(state="attached")
    if beside:
        expect(modal.locator("[data-testid=replay-event]")).to_have_count(3)
    return modal


def test_escape_closes_the_replay_even_while_playback_has_focus(page):
    sign_in(page, *ADMIN)
    modal = _open_replay(page, beside=False)
    modal.locator(".rr-controller__btns button").first.click()  # pause: the player's control has focus
    page.keyboard.press("Escape")
    expect(modal).to_have_count(0)
    modal = _open_replay(page, beside=False)
    # Into the replayed page (as Tab or a click would take it): its document gets the keys now.
    modal.locator("[data-testid=replay-player] iframe").focus()
    page.keyboard.press("Escape")
    expect(modal).to_have_count(0)
    assert "replay=" not in page.url


def test_dialogs_take_focus_keep_it_and_give_it_back(page):
    sign_in(page, *ADMIN)
    opener = page.locator("[data-testid=user-card][data-user-id='1001'] [data-testid=see-more]")
    opener.click()
    page.locator("[data-testid=about-modal] dl").wait_for()
    assert _in_dialog(page)
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert _in_dialog(page), key  # Tab never escapes to the page behind
    page.keyboard.press("Escape")
    expect(page.locator("[data-testid=about-modal]")).to_have_count(0)
    expect(opener).to_be_focused()

    page.locator("[data-testid=user-card][data-user-id='1001'] [data-testid=see-all-sessions]").click()
    page.locator("[data-testid=sessions-modal] [data-testid=session-row]").first.wait_for()
    assert _in_dialog(page)
    page.keyboard.press("Shift+Tab")
    assert _in_dialog(page)


def test_menus_close_on_escape_and_on_a_click_outside(page):
    sign_in(page, *ADMIN)
    for button, menu in (("[data-testid=timeline-button]", "[data-testid=timeline] [role=menu]"),
                         ("[data-testid=add-filter]", ".filters [role=menu]")):
        page.click(button)
        expect(page.locator(menu)).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator(menu)).to_have_count(0)
        page.click(button)
        expect(page.locator(menu)).to_be_visible()
        page.click("h1")
        expect(page.locator(menu)).to_have_count(0)
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-user_property]")
    page.keyboard.press("Escape")  # the editor too, with focus in its field
    expect(page.locator("[data-testid=filter-editor]")).to_have_count(0)


def test_an_ended_session_asks_to_sign_in_and_comes_back_to_the_view(page, gateway_engine):
    sign_in(page, *ADMIN, query="?poll_ms=300&range=30d&view=compact")
    page.locator("[data-testid=user-card]").first.wait_for()
    with gateway_engine.begin() as conn:  # the session expires (or is ended elsewhere)
        conn.execute(text("delete from ui_sessions"))
    ended = page.locator("[data-testid=session-ended]")
    expect(ended).to_contain_text("Your session has ended")
    expect(page.locator("body")).not_to_contain_text("authentication required")
    page.fill("input[name=email]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    expect(page.locator("[data-testid=feed] [data-testid=user-card]")).to_have_count(2)
    assert "range=30d" in page.url and "view=compact" in page.url
    expect(page.locator("[data-testid=timeline-button]")).to_contain_text("Past 30 days")
    expect(page.locator("[data-testid=view-compact]")).to_have_attribute("aria-pressed", "true")


def test_the_replay_lists_the_sessions_events_and_follows_the_player(page):
    sign_in(page, *ADMIN)
    modal = _open_replay(page)
    events = modal.locator("[data-testid=replay-event]")
    expect(modal.locator("[data-testid=replay-stage]")).to_have_attribute("data-device", "desktop")
    events.nth(2).locator("button").click()  # jump to "Signed Up", two minutes in
    expect(events.nth(2)).to_have_attribute("data-current", "true")
    assert modal.locator(".rr-timeline__time").first.inner_text() >= "02:00"
    events.nth(0).locator("button").click()
    expect(events.nth(0)).to_have_attribute("data-current", "true")
    # Playing on (inactive stretches are skipped fast), the highlight walks down the list.
    expect(events.nth(1)).to_have_attribute("data-current", "true", timeout=15000)


def test_a_phone_recording_plays_in_a_device_frame(page, standins):
    standins["data"]["acme"]["sessions"]["s-anon-1"]["has_replay"] = True  # Mobile Safari
    sign_in(page, *ADMIN)
    page.locator("[data-testid=user-card][data-user-id='2002'] [data-testid=play-replay]").click()
    stage = page.locator("[data-testid=replay-stage]")
    expect(stage).to_have_attribute("data-device", "phone")
    page.locator("[data-testid=replay-player] iframe").wait_for(state="attached")
    frame = page.locator(".device-frame").bounding_box()
    assert frame["height"] > frame["width"] * 1.5  # upright, like the phone it was recorded on


def test_no_serious_accessibility_violations(page, phone):
    page.goto(page.base_url + "/")
    page.locator("[data-testid=login-form]").wait_for()
    assert axe_violations(page) == []
    sign_in(page, *ADMIN)
    page.locator("[data-testid=session-events] [data-testid=event]").first.wait_for()
    assert axe_violations(page) == []
    page.locator("[data-testid=event][data-event-id=e2] button").click()
    page.locator("[data-testid=define-preview]").wait_for()
    assert axe_violations(page) == []  # the event panel and its define form
    for opener, dialog in (("see-more", "about-modal"), ("see-all-sessions", "sessions-modal")):
        page.locator(f"[data-testid=user-card][data-user-id='1001'] [data-testid={opener}]").click()
        page.locator(f"[data-testid={dialog}] [data-testid=event], [data-testid={dialog}] dl").first.wait_for()
        assert axe_violations(page, f"[data-testid={dialog}]") == [], dialog
        page.keyboard.press("Escape")
    _open_replay(page)
    assert axe_violations(page, "[data-testid=replay-modal]") == []
    page.keyboard.press("Escape")
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-event_property]")
    assert axe_violations(page) == []
    page.goto(page.base_url + "/definitions")
    page.locator("[data-testid=definitions-page]").wait_for()
    assert axe_violations(page) == []
    sign_in(phone, *ADMIN)
    phone.locator("[data-testid=session-events] [data-testid=event]").first.wait_for()
    assert axe_violations(phone) == []
