"""The UI in a real Chromium against the real gateway, with contract stand-ins for the services.

Exercises every feature of the Users & Sessions view; the end-to-end twin with every real service
and data through real ingest is test_e2e_stack.py.
"""
from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from tests.gateway.browser import browser, screenshot, sign_in  # noqa: F401 (fixture)
from tests.gateway.conftest import ADMIN
from tests.gateway.standin_ui import gateway_url, page  # noqa: F401 (fixtures)
from tests.gateway.standins import _event, _session
from tests.support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
XSS_IDENTITY = "<img src=x onerror=\"window.__pwned='identity'\">"
XSS_SCRIPT = "<script>window.__pwned='property'</script>"


def test_feed_sessions_events_and_define_inline(page, standins):
    sign_in(page, *ADMIN)
    cards = page.locator("[data-testid=user-card]")
    cards.first.wait_for()
    # Newest activity first, identifier at the top, property summary on the side.
    assert cards.nth(0).locator("[data-testid=user-name]").inner_text() == "ada@acme.example"
    assert cards.nth(1).locator("[data-testid=user-name]").inner_text() == "User 2002"
    assert "Date First Seen" in cards.nth(0).locator("[data-testid=user-summary]").inner_text()
    ada = cards.nth(0)
    # Platform and browser icons, with details on hover.
    platforms = [r.get_attribute("data-platform") for r in ada.locator("[data-platform]").all()]
    assert platforms == ["web", "ios"]
    assert cards.nth(1).locator("[data-platform]").get_attribute("data-platform") == "mobile_web"
    ada.locator("[data-testid=session-icons]").first.hover()
    tip = ada.locator("[data-testid=session-tip]").first
    assert tip.is_visible() and "Browser: Chrome" in tip.inner_text() and "Mac OS X" in tip.inner_text()
    # Trial state in the header (the real replay admission store: trial not started yet).
    assert "14 days" in page.locator("[data-testid=trial-badge]").inner_text()
    screenshot(page, "users-and-sessions.png")

    # A session's events: raw ones translucent, click for properties, define inline.
    ada.locator("[data-testid=session-open]").first.click()
    events = ada.locator("[data-testid=event]")
    events.first.wait_for()
    assert [e.get_attribute("data-defined") for e in events.all()] == ["false", "false", "false"]
    assert float(ada.locator(".event.raw .event-button").first.evaluate("e => getComputedStyle(e).opacity")) < 1
    events.nth(1).locator("button").click()
    panel = ada.locator("[data-testid=event-panel]")
    assert "Buy now" in panel.locator("[data-testid=event-properties]").inner_text()
    name = panel.locator("[data-testid=define-name]")
    page.wait_for_function("() => document.querySelector('[data-testid=define-name]').value !== ''")
    assert name.input_value() == "Suggested click"  # pre-filled from the suggest endpoint
    screenshot(page, "define-event.png")
    name.fill("Clicked Buy")
    panel.locator("[data-testid=define-submit]").click()
    page.wait_for_selector("[data-testid=event][data-defined=true]")
    defined = ada.locator("[data-testid=event][data-defined=true]")
    assert defined.inner_text().startswith("Clicked Buy")
    marker = defined.locator(".marker").evaluate("e => getComputedStyle(e).backgroundColor")
    assert marker == "rgb(108, 92, 231)"
    assert page.errors == []


def test_modals_filters_and_highlighted_sessions(page, standins):
    sign_in(page, *ADMIN)
    ada = page.locator("[data-testid=user-card]").first
    ada.wait_for()
    ada.locator("[data-testid=see-more]").click()
    about = page.locator("[data-testid=about-modal]")
    about.locator("dl").wait_for()
    assert "Initial Browser" in about.inner_text() and "pro" in about.inner_text()
    screenshot(page, "about-this-user.png")
    page.keyboard.press("Escape")

    # Add Filter → did event (raw click) where property; the chip shows, the query carries it.
    standins["calls"].clear()
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-event_property]")
    page.select_option("[data-testid=filter-event]", "kind:click")
    page.fill("[data-testid=filter-property]", "plan")
    page.select_option("[data-testid=filter-op]", "equals")
    page.fill("[data-testid=filter-value]", "pro")
    page.click("[data-testid=filter-apply]")
    assert "where plan equals" in page.locator("[data-testid=filter-chip]").inner_text()
    page.wait_for_selector("[data-testid=session-row][data-matched=true]")
    sent = [orjson.loads(c[2]["filter"]) for c in standins["calls"] if c[0] == "sessions" and "filter" in c[2]]
    assert sent[-1] == [{"type": "did_event", "event": {"kind": "click"},
                         "where": [{"property": "plan", "op": "equals", "value": "pro"}]}]
    # User property (identity) with an operator: a second chip, ANDed.
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-user_property]")
    page.select_option("[data-testid=filter-op]", "contains")
    page.fill("[data-testid=filter-value]", "ada")
    page.click("[data-testid=filter-apply]")
    assert page.locator("[data-testid=filter-chip]").count() == 2

    ada.locator("[data-testid=see-all-sessions]").click()
    modal = page.locator("[data-testid=sessions-modal]")
    modal.locator("[data-testid=session-row]").first.wait_for()
    rows = modal.locator("[data-testid=session-row]")
    assert {r.get_attribute("data-session-id"): r.get_attribute("data-matched") for r in rows.all()} == \
        {"s-ada-1": "true", "s-ada-2": "false"}
    screenshot(page, "all-sessions.png")
    page.keyboard.press("Escape")
    assert page.errors == []


def test_timeline_presets_and_custom_range(page, standins):
    sign_in(page, *ADMIN)
    for preset, days in (("30d", 30), ("90d", 90), ("today", None), ("yesterday", None)):
        standins["calls"].clear()
        page.click("[data-testid=timeline-button]")
        page.click(f"[data-testid=timeline-{preset}]")
        if days:
            # A live refresh of the previous range may still land after the click: look for ours.
            wait_until(lambda days=days: days in [_span_days(p) for p in _feed_calls(standins)],
                       message=f"a feed request spanning {days} days")
        else:
            wait_until(lambda: _feed_calls(standins), message=f"a feed request for {preset}")
    page.click("[data-testid=timeline-button]")
    page.click("[data-testid=timeline-custom]")
    page.fill(".custom-range input[name=from]", "2024-03-01")
    page.fill(".custom-range input[name=to]", "2024-03-31")
    standins["calls"].clear()
    page.click(".custom-range button[type=submit]")
    # Local midnights of 1 and 31 March inclusive (the browser's time zone may shift the UTC hour).
    params = wait_until(lambda: next((p for p in _feed_calls(standins) if p["from"][:4] == "2024"), None),
                        message="a feed request for the custom range")
    assert "Mar 1, 2024 – Mar 31, 2024" in page.locator("[data-testid=timeline-button]").inner_text()
    assert params["from"][:10] in ("2024-02-29", "2024-03-01") and params["to"][:10] in ("2024-03-31", "2024-04-01")


def _span_days(params) -> int:
    start, end = datetime.fromisoformat(params["from"]), datetime.fromisoformat(params["to"])
    return round((end - start).total_seconds() / 86400)


def _feed_calls(standins) -> list[dict]:
    return [c[2] for c in list(standins["calls"]) if c[1].endswith("/users")]


def test_replay_plays_without_running_recorded_scripts(page):
    sign_in(page, *ADMIN)
    page.locator("[data-testid=play-replay]").first.click()
    player = page.locator("[data-testid=replay-player] iframe")
    player.wait_for(state="attached")
    frame = player.element_handle().content_frame()
    frame.wait_for_selector("text=Hello from the replay")
    assert player.get_attribute("sandbox") is not None and "allow-scripts" not in player.get_attribute("sandbox")
    page.wait_for_timeout(500)  # give a handler that would run the time to run
    assert page.evaluate("() => window.__pwned") is None
    screenshot(page, "replay.png")


def test_property_markup_renders_as_text_and_runs_nothing(page, standins):
    data = standins["data"]["acme"]
    data["users"]["3003"] = {**data["users"]["1001"], "user_id": "3003", "identity": XSS_IDENTITY,
                             "display_name": XSS_IDENTITY, "properties": {"bio": XSS_SCRIPT}}
    data["sessions"]["s-x"] = _session("s-x", "3003", 1)
    data["events"]["ex"] = _event("ex", "s-x", "3003", "custom", 1, name=XSS_SCRIPT, properties={"note": XSS_IDENTITY})
    sign_in(page, *ADMIN)
    card = page.locator("[data-testid=user-card][data-user-id='3003']")
    card.wait_for()
    assert card.locator("[data-testid=user-name]").inner_text() == XSS_IDENTITY
    card.locator("[data-testid=session-open]").first.click()
    card.locator("[data-testid=event] button").first.click()
    assert XSS_IDENTITY in card.locator("[data-testid=event-properties]").inner_text()
    card.locator("[data-testid=see-more]").click()
    page.locator("[data-testid=about-modal] dl").wait_for()
    assert XSS_SCRIPT in page.locator("[data-testid=about-modal]").inner_text()
    assert page.locator("img[src=x]").count() == 0 and page.evaluate("() => window.__pwned") is None


def test_new_activity_appears_without_reload(page, standins):
    sign_in(page, *ADMIN, query="?poll_ms=300")
    page.locator("[data-testid=user-card]").first.wait_for()
    data = standins["data"]["acme"]
    data["users"]["4004"] = {**data["users"]["2002"], "user_id": "4004", "display_name": "newcomer@acme.example",
                             "last_seen": "2999-01-01T00:00:00Z"}
    page.wait_for_selector("text=newcomer@acme.example", timeout=10000)
    assert page.locator("[data-testid=user-name]").first.inner_text() == "newcomer@acme.example"


def test_empty_and_error_states(page, app):
    sign_in(page, *ADMIN)
    page.click("[data-testid=add-filter]")  # the menu opens; the feed below is what we check
    page.keyboard.press("Escape")
    page.select_option("[data-testid=env-select]", "globex")
    page.locator("[data-testid=user-card]").first.wait_for()
    app.extensions["services"].sessions.base_url = "http://127.0.0.1:9"
    page.click("[data-testid=timeline-button]")
    page.click("[data-testid=timeline-30d]")
    assert "unavailable" in page.locator("[data-testid=feed-error]").inner_text()
    screenshot(page, "error-state.png")


def test_empty_feed_says_so(page, standins):
    standins["data"]["acme"] = {"users": {}, "sessions": {}, "events": {}}
    sign_in(page, *ADMIN)
    assert "No users in this time range" in page.locator("[data-testid=feed-empty]").inner_text()


def test_live_updates_say_when_they_pause_and_resume(page, app):
    sign_in(page, *ADMIN, query="?poll_ms=300")
    page.locator("[data-testid=user-card]").first.wait_for()
    upstream = app.extensions["services"].sessions
    working, upstream.base_url = upstream.base_url, "http://127.0.0.1:9"
    paused = page.locator("[data-testid=live-paused]")
    paused.wait_for()
    assert "unavailable" in paused.inner_text()
    assert page.locator("[data-testid=user-card]").count() == 2  # what was shown stays
    upstream.base_url = working
    paused.wait_for(state="detached")


def test_selective_filters_count_suggestions_and_filter_this(page, standins):
    sign_in(page, *ADMIN)
    cards = page.locator("[data-testid=user-card]")
    cards.first.wait_for()
    # The match count beside the feed (the stand-in counts the users it lists).
    assert page.locator("[data-testid=feed-count]").inner_text() == "2 users"
    # Did not do: a raw click named by its text, the editor suggesting names from the catalog.
    standins["calls"].clear()
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-did_not_event]")
    page.select_option("[data-testid=filter-event]", "kind:custom")
    page.fill("[data-testid=filter-event-name]", "sig")
    wait_until(lambda: "Signed Up" in page.locator("#filter-event-names").inner_html())
    page.fill("[data-testid=filter-event-name]", "Signed Up")
    page.click("[data-testid=filter-apply]")
    assert page.locator("[data-testid=filter-chip]").inner_text().startswith("Did not do custom “Signed Up”")
    sent = [orjson.loads(c[2]["filter"]) for c in standins["calls"] if c[0] == "sessions" and "filter" in c[2]]
    assert sent[-1] == [{"type": "did_not_event", "event": {"kind": "custom", "name": "Signed Up"}}]
    page.click("[aria-label^='Remove filter']")
    # Event property on any event, property and value suggested from the catalog, exact case.
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-event_property]")
    assert page.locator("[data-testid=filter-event]").input_value() == "any"
    page.fill("[data-testid=filter-property]", "pl")
    wait_until(lambda: 'value="plan"' in page.locator("#event-props").inner_html())
    page.fill("[data-testid=filter-property]", "plan")
    page.select_option("[data-testid=filter-op]", "starts_with")
    page.fill("[data-testid=filter-value]", "pro")
    page.check("[data-testid=filter-exact-case]")
    standins["calls"].clear()
    page.click("[data-testid=filter-apply]")
    assert "(exact case)" in page.locator("[data-testid=filter-chip]").inner_text()
    wait_until(lambda: any(c[0] == "sessions" and c[1].endswith("/user-count") for c in standins["calls"]))
    sent = [orjson.loads(c[2]["filter"]) for c in standins["calls"] if c[0] == "sessions" and "filter" in c[2]]
    assert sent[-1] == [{"type": "event_property", "property": "plan", "op": "starts_with", "value": "pro",
                         "exact_case": True}]
    page.click("[aria-label^='Remove filter']")
    # Every property of an event's panel: "filter users who did this", one click away.
    ada = cards.nth(0)
    ada.locator("[data-testid=session-open]").first.click()
    ada.locator("[data-testid=event]").nth(1).locator("button").click()
    panel = ada.locator("[data-testid=event-panel]")
    panel.locator("[aria-label='Filter users who did this: Target text Buy now']").click()
    chip = page.locator("[data-testid=filter-chip]")
    chip.wait_for()
    assert chip.inner_text() == "Did any event where Target text equals “Buy now”"
    assert "%24text" in page.url or "$text" in page.url
    assert page.errors == []
