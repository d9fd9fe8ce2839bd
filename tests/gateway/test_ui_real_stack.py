"""The Users & Sessions UI in Debian's Chromium against the REAL stack (tests/stack.py).

Data goes through the real ingest by the real Segment client (a replay through the real recording
path: gateway admission, then the replay service's chunk upload), and every UI feature is driven
in the browser: newest-first feed, timeline presets and custom range, Add Filter (user property
with operators, did raw / defined event, event property), a session's events (raw translucent,
properties on click), inline definition labelled retroactively in another user's session, the
About and All-sessions modals, the play icon, the trial badge and live updates.

The stack's namespace outlives a run, so every identity carries this run's TAG and the feed is
narrowed to it with the UI's own identity filter.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import signal
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from tests.gateway.browser import browser, open_page, sign_in  # noqa: F401 (fixture)
from tests.stack import stack_settings
from tests.support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TAG = uuid.uuid4().hex[:8]
NOW = datetime.now(UTC).replace(microsecond=0)
ALICE, BOB, CAROL, DAVE = (f"{who}-{TAG}@e2e.example" for who in ("alice", "bob", "carol", "dave"))
EXPORTED = f"Exported Report {TAG}"  # a raw event both alice and bob did: defined inline, labelled for both
REPLAY_TEXT = f"Replay of alice {TAG}"
CHROME_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/120.0.0.0 Safari/537.36")
WAIT_MS = 30_000  # generous: the machine is shared, and the consumers work behind the browser
expect.set_options(timeout=WAIT_MS)  # process-wide; this is the only module that uses expect()

# Alice: two sessions two hours apart (client session ids, so the replay can name one); Bob one;
# Carol only 20 days ago.
A1_START, A2_START = NOW - timedelta(hours=3), NOW - timedelta(minutes=60)
BOB_START = NOW - timedelta(hours=2)  # on the web; earlier on his phone's browser, and in the iOS app
BOB_PHONE, BOB_APP = NOW - timedelta(hours=2, minutes=40), NOW - timedelta(hours=3, minutes=20)
IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.1 Mobile/15E148 Safari/604.1")
CAROL_AT = NOW - timedelta(days=20)
A1, A2 = f"a1-{TAG}", f"a2-{TAG}"


def _context(url: str, session_id: str | None = None) -> dict:
    """A browser's context in the Segment shape; `context.footfall` says web (the Python library
    alone would mean server) and, when given, the client session id the replay is keyed on."""
    footfall = {"source": "web", **({"session_id": session_id} if session_id else {})}
    return {"userAgent": CHROME_UA, "page": {"url": url, "path": url.split("example", 1)[1]}, "footfall": footfall}


def _recording(start: datetime) -> list[dict]:
    """A minimal rrweb recording: meta, a full snapshot (type 2) with a heading, an image whose
    onerror and a script would set window.__pwned, one mouse move."""
    t = int(start.timestamp() * 1000)
    document = {"type": 0, "id": 1, "childNodes": [
        {"type": 2, "tagName": "html", "attributes": {}, "id": 2, "childNodes": [
            {"type": 2, "tagName": "head", "attributes": {}, "id": 3, "childNodes": []},
            {"type": 2, "tagName": "body", "attributes": {}, "id": 4, "childNodes": [
                {"type": 2, "tagName": "h1", "attributes": {}, "id": 5, "childNodes": [
                    {"type": 3, "textContent": REPLAY_TEXT, "id": 6}]},
                # Recorded markup that would run if replayed carelessly.
                {"type": 2, "tagName": "img", "attributes": {"src": "x", "onerror": "window.top.__pwned = 'img'"},
                 "childNodes": [], "id": 7},
                {"type": 2, "tagName": "script", "attributes": {}, "id": 8, "childNodes": [
                    {"type": 3, "textContent": "window.top.__pwned = 'script'", "id": 9}]}]}]}]}
    return [
        {"type": 4, "data": {"href": "http://shop.example/welcome", "width": 800, "height": 500}, "timestamp": t},
        {"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}, "timestamp": t + 10},
        {"type": 3, "data": {"source": 1, "positions": [{"x": 10, "y": 10, "id": 5, "timeOffset": 0}]},
         "timestamp": t + 2000},
    ]


def _segment(stack):
    from segment import analytics

    return analytics.Client(write_key=stack.write_key, host=stack.url("ingest"), sync_mode=True)


class Api:
    """The gateway's public API with the stack's Bearer token."""

    def __init__(self, stack):
        self.base = f"{stack.url('gateway')}/api/v1/environments/{stack.env_id}"
        self.headers = {"Authorization": f"Bearer {stack.api_token}"}

    def get(self, path: str, **params):
        response = requests.get(self.base + path, headers=self.headers, params=params, timeout=10)
        return response.json() if response.status_code == 200 else None

    def post(self, path: str, body: dict) -> dict:
        response = requests.post(self.base + path, headers=self.headers, json=body, timeout=10)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def tagged_users(self, days: int = 30) -> dict[str, dict]:
        condition = [{"type": "user_property", "property": "identity", "op": "contains", "value": TAG}]
        feed = self.get("/users", filter=json.dumps(condition), limit=50,
                        **{"from": (datetime.now(UTC) - timedelta(days=days)).isoformat()})
        return {u["identity"]: u for u in (feed or {}).get("users", [])}


def _restart_trial(stack) -> None:
    """A fresh replay trial for the stack's environment: the namespace outlives the 14-day trial."""
    engine = create_engine(stack_settings().database_url)
    with engine.begin() as conn:
        conn.execute(text("delete from gateway.replay_plans where env_id = :e"), {"e": stack.env_id})
    engine.dispose()


def _record_replay(stack, session_id: str, device_id: str, start: datetime) -> None:
    """The SDK's recording path: admission at the gateway, then one gzip chunk to the replay service."""
    admitted = requests.post(f"{stack.url('gateway')}/replay/v1/start", timeout=10, json={
        "write_key": stack.write_key, "session_id": session_id, "device_id": device_id})
    assert admitted.status_code == 200, admitted.text
    grant = admitted.json()
    uploaded = requests.post(grant["upload_url"], params={"seq": 0}, timeout=10,
                             data=gzip.compress(orjson.dumps(_recording(start))),
                             headers={"Authorization": f"Bearer {grant['token']}",
                                      "Content-Type": "application/json"})
    assert uploaded.status_code in (200, 201), uploaded.text


@pytest.fixture(scope="module")
def sent(stack):
    """Alice, Bob and Carol through the real ingest; alice's second session recorded. Waits until the
    gateway's feed shows all of it, so the browser tests only wait for rendering."""
    client = _segment(stack)
    for who, anon, traits, at in (
        (ALICE, f"anon-alice-{TAG}", {"plan": "pro", "company": f"Acme {TAG}", "favourite_colour": "teal"}, A1_START),
        (BOB, f"anon-bob-{TAG}", {"plan": "free"}, BOB_START),
        (CAROL, f"anon-carol-{TAG}", {"plan": "free"}, CAROL_AT),
    ):
        client.identify(who, traits, anonymous_id=anon, timestamp=at)
    alice = {"user_id": ALICE, "anonymous_id": f"anon-alice-{TAG}"}
    client.page(name="Pricing", properties={"path": "/pricing"}, timestamp=A1_START, **alice,
                context=_context("http://shop.example/pricing", A1))
    client.track(event=EXPORTED, properties={"format": "csv"}, timestamp=A1_START + timedelta(minutes=2),
                 **alice, context=_context("http://shop.example/pricing", A1))
    client.page(name="Welcome", properties={"path": "/welcome"}, timestamp=A2_START, **alice,
                context=_context("http://shop.example/welcome", A2))
    client.track(event="Signed Up", properties={"plan": "pro"}, timestamp=A2_START + timedelta(minutes=1),
                 **alice, context=_context("http://shop.example/welcome", A2))
    bob = {"user_id": BOB, "anonymous_id": f"anon-bob-{TAG}"}
    client.page(name="Docs", properties={"path": "/docs"}, timestamp=BOB_START, **bob,
                context=_context("http://shop.example/docs"))
    client.track(event="Opened Docs", properties={"section": "api"}, timestamp=BOB_START + timedelta(minutes=1),
                 **bob, context=_context("http://shop.example/docs"))
    client.track(event=EXPORTED, properties={"format": "pdf"}, timestamp=BOB_START + timedelta(minutes=2),
                 **bob, context=_context("http://shop.example/docs"))
    client.track(event="Signed Up", properties={"plan": "free"}, timestamp=BOB_START + timedelta(minutes=3),
                 **bob, context=_context("http://shop.example/docs"))
    client.page(BOB, name="Pricing", anonymous_id=f"anon-bob-phone-{TAG}", timestamp=BOB_PHONE,
                context={**_context("http://shop.example/pricing"), "userAgent": IPHONE_UA})
    client.screen(BOB, name="Dashboard", anonymous_id=f"anon-bob-app-{TAG}", timestamp=BOB_APP,
                  context={"footfall": {"source": "ios"}, "os": {"name": "iOS", "version": "17.1"},
                           "device": {"model": "iPhone15,2"}, "app": {"name": "Shop", "version": "3.4.1"}})
    client.page(name="Home", properties={"path": "/"}, timestamp=CAROL_AT, user_id=CAROL,
                anonymous_id=f"anon-carol-{TAG}", context=_context("http://shop.example/"))
    client.flush()
    _restart_trial(stack)
    _record_replay(stack, A2, f"anon-alice-{TAG}", A2_START)
    api = Api(stack)

    def landed():
        users = api.tagged_users()
        a, b, c = users.get(ALICE), users.get(BOB), users.get(CAROL)
        if not (a and b and c and a.get("session_count") == 2 and b.get("session_count") == 3 and c["sessions"]):
            return None
        if a["properties"].get("company") != f"Acme {TAG}" or b["properties"].get("plan") != "free":
            return None
        replayed = {s["session_id"]: s["replay"]["playable"] for s in a["sessions"]}
        events = [(api.get(f"/sessions/{s['session_id']}/events") or {}).get("events", [])
                  for s in a["sessions"] + b["sessions"]]
        return users if replayed.get(A2) and sum(len(e) for e in events) == 10 else None

    return wait_until(landed, timeout=90, interval=1, message="alice, bob and carol in the feed")


@pytest.fixture
def page(browser, stack, sent):  # noqa: F811
    page = open_page(browser, stack.url("gateway"))
    page.set_default_timeout(WAIT_MS)
    yield page
    page.context.close()


def _sign_in(page, stack, poll_ms: int | None = None) -> None:
    query = f"?env={stack.env_id}" + (f"&poll_ms={poll_ms}" if poll_ms else "")
    sign_in(page, stack.admin_email, stack.admin_password, query=query)


def _add_property_filter(page, prop: str, op: str, value: str | None = None) -> None:
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-user_property]")
    page.fill("[data-testid=filter-property]", prop)
    page.select_option("[data-testid=filter-op]", op)
    if value is not None:
        page.fill("[data-testid=filter-value]", value)
    page.click("[data-testid=filter-apply]")


def _add_event_filter(page, ref: str, name: str = "", where: tuple[str, str, str] | None = None) -> None:
    page.click("[data-testid=add-filter]")
    page.click(f"[data-testid=filter-type-{'event_property' if where else 'did_event'}]")
    page.select_option("[data-testid=filter-event]", ref)
    if name:
        page.fill("[data-testid=filter-event-name]", name)
    if where:
        page.fill("[data-testid=filter-property]", where[0])
        page.select_option("[data-testid=filter-op]", where[1])
        page.fill("[data-testid=filter-value]", where[2])
    page.click("[data-testid=filter-apply]")


def _only_this_run(page, stack) -> None:
    """Sign in and narrow the feed to this run's users with the UI's identity filter."""
    _sign_in(page, stack)
    _add_property_filter(page, "identity", "contains", TAG)
    _feed_settled(page)


def _names(page):
    return page.locator("[data-testid=user-name]")


def _card(page, identity: str):
    return page.locator(f"[data-testid=user-card]:has([data-testid=user-name] a:text-is('{identity}'))")


def _feed_settled(page) -> None:
    """Users, or the empty state — not the error banner (whose text says why)."""
    expect(page.locator("[data-testid=user-card], [data-testid=feed-empty], [data-testid=feed-error]").first
           ).to_be_visible()
    expect(page.locator("[data-testid=feed-error]")).to_have_count(0)
    expect(page.locator("[data-testid=feed-empty]")).to_have_count(0)


def _remove_last_chip(page) -> None:
    chips = page.locator("[data-testid=filter-chip]")
    count = chips.count()
    chips.last.locator("button").click()
    expect(chips).to_have_count(count - 1)


def _choose_timeline(page, preset: str) -> None:
    page.click("[data-testid=timeline-button]")
    page.click(f"[data-testid=timeline-{preset}]")


def test_feed_newest_first_with_session_icons_and_trial_badge(page, stack, sent):
    _only_this_run(page, stack)
    expect(_names(page)).to_have_text([ALICE, BOB])  # carol was active 20 days ago: not in the default 7
    alice = _card(page, ALICE)
    expect(alice.locator("[data-testid=session-row]")).to_have_count(2)
    assert [r.get_attribute("data-session-id") for r in alice.locator("[data-testid=session-row]").all()] == [A2, A1]
    assert alice.locator("[data-platform]").first.get_attribute("data-platform") == "web"
    expect(alice.locator("[data-testid=browser-icon]")).to_have_count(2)
    alice.locator("[data-testid=session-icons]").first.hover()
    assert "Browser: Chrome" in alice.locator("[data-testid=session-tip]").first.inner_text()
    assert "plan" in alice.locator("[data-testid=user-summary]").inner_text()
    # Bob's devices: web, then mobile web, then the iOS app (no browser icon, no replay there).
    bob = _card(page, BOB)
    expect(bob.locator("[data-platform]")).to_have_count(3)
    platforms = [p.get_attribute("data-platform") for p in bob.locator("[data-platform]").all()]
    assert platforms == ["web", "mobile_web", "ios"]
    assert bob.locator("[data-testid=session-row]").nth(2).locator("[data-testid=browser-icon]").count() == 0
    bob.locator("[data-testid=session-icons]").nth(1).hover()
    expect(bob.locator("[data-testid=session-tip]").nth(1)).to_contain_text("Mobile Safari")
    assert "native mobile" in bob.locator("[data-testid=session-row] .play.disabled").nth(2).get_attribute("title")

    # The trial started afresh with alice's recording (the fixture reset it): its admission counted.
    status = Api(stack).get("/replay/status")
    assert status["plan"] == "trial" and status["sessions_left"] == status["trial_session_limit"] - 1
    badge = page.locator("[data-testid=trial-badge]")
    expect(badge).to_contain_text(f"Replay trial: {status['trial_days']} days")
    assert re.sub(r"\D", "", badge.inner_text().split("·")[1]) == str(status["sessions_left"])
    assert page.errors == []


def test_timeline_presets_and_custom_range(page, stack, sent):
    _only_this_run(page, stack)
    expect(_names(page)).to_have_text([ALICE, BOB])
    _choose_timeline(page, "30d")
    expect(_names(page)).to_have_text([ALICE, BOB, CAROL])
    _choose_timeline(page, "7d")
    expect(_names(page)).to_have_text([ALICE, BOB])
    _choose_timeline(page, "90d")
    expect(_names(page)).to_have_text([ALICE, BOB, CAROL])
    # Today / yesterday in the browser's (= this machine's) time zone.
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    last_seen = {ALICE: A2_START + timedelta(minutes=1), BOB: BOB_START + timedelta(minutes=3)}
    for preset, start, end in (("today", midnight, None), ("yesterday", midnight - timedelta(days=1), midnight)):
        _choose_timeline(page, preset)
        seen = {ALICE: [A1_START, A2_START + timedelta(minutes=1)], BOB: [BOB_APP, BOB_START + timedelta(minutes=3)]}
        expected = [who for who in sorted(last_seen, key=last_seen.get, reverse=True)
                    if any(t >= start and (end is None or t < end) for t in seen[who])]
        if expected:
            expect(_names(page)).to_have_text(expected)
        else:
            expect(page.locator("[data-testid=feed-empty]")).to_be_visible()
    # A custom range around Carol's day only; then the same days as an Add Filter time condition,
    # which is the window: it finds Carol under "Past 7 days" too.
    day = CAROL_AT.astimezone()
    first, last = day - timedelta(days=1), day + timedelta(days=1)
    page.click("[data-testid=timeline-button]")
    page.click("[data-testid=timeline-custom]")
    page.fill(".custom-range input[name=from]", first.strftime("%Y-%m-%d"))
    page.fill(".custom-range input[name=to]", last.strftime("%Y-%m-%d"))
    page.click(".custom-range button[type=submit]")
    expect(page.locator("[data-testid=timeline-button]")).to_contain_text(f"{first:%b} {first.day}, {first.year}")
    expect(_names(page)).to_have_text([CAROL])
    _choose_timeline(page, "7d")
    expect(_names(page)).to_have_text([ALICE, BOB])
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-seen]")
    page.fill("[data-testid=filter-from]", first.strftime("%Y-%m-%d"))
    page.fill("[data-testid=filter-to]", last.strftime("%Y-%m-%d"))
    page.click("[data-testid=filter-apply]")
    expect(page.locator("[data-testid=filter-chip]").last).to_have_text(
        f"Seen {first:%b} {first.day}, {first.year} – {last:%b} {last.day}, {last.year}")
    expect(_names(page)).to_have_text([CAROL])
    assert page.errors == []


def test_add_filter_user_property_did_event_and_event_property(page, stack, sent):
    api = Api(stack)
    docs = next(e for s in sent[BOB]["sessions"]
                for e in api.get(f"/sessions/{s['session_id']}/events")["events"] if e["name"] == "Opened Docs")
    suggestion = api.get("/definitions/suggest", event_id=docs["event_id"])
    defined = api.post("/definitions", {"name": f"Read the docs {TAG}", "color": "#0984e3",
                                        "category": "e2e", "criteria": suggestion["criteria"]})
    _only_this_run(page, stack)
    names = _names(page)
    expect(names).to_have_text([ALICE, BOB])

    _add_property_filter(page, "plan", "equals", "pro")
    expect(names).to_have_text([ALICE])
    assert "plan equals “pro”" in page.locator("[data-testid=filter-chip]").last.inner_text()
    _remove_last_chip(page)
    _add_property_filter(page, "plan", "not_equals", "pro")
    expect(names).to_have_text([BOB])
    _remove_last_chip(page)
    _add_property_filter(page, "identity", "starts_with", "alice-")
    expect(names).to_have_text([ALICE])
    _remove_last_chip(page)

    _add_event_filter(page, "kind:custom", name="Opened Docs")  # a raw event by kind and name
    expect(names).to_have_text([BOB])
    _remove_last_chip(page)
    _add_event_filter(page, f"def:{defined['id']}")  # a defined event
    expect(page.locator("[data-testid=filter-chip]").last).to_contain_text(f"Read the docs {TAG}")
    expect(names).to_have_text([BOB])
    _remove_last_chip(page)
    _add_event_filter(page, "kind:custom", name="Signed Up", where=("plan", "equals", "pro"))
    expect(names).to_have_text([ALICE])
    _remove_last_chip(page)
    _add_event_filter(page, "kind:pageview", where=("path", "equals", "/docs"))
    expect(names).to_have_text([BOB])
    _add_property_filter(page, "plan", "is_set")  # an operator without a value
    expect(page.locator("[data-testid=filter-chip]").last).to_have_text("plan is set")
    expect(names).to_have_text([BOB])
    _add_property_filter(page, "plan", "equals", "pro")  # ANDed with Bob's conditions: nobody
    expect(page.locator("[data-testid=feed-empty]")).to_contain_text("No user matches these filters")
    assert page.errors == []


def test_session_events_properties_and_define_inline_retroactively(page, stack, sent):
    _only_this_run(page, stack)
    alice = _card(page, ALICE)
    alice.locator(f"[data-testid=session-row][data-session-id='{A1}'] [data-testid=session-open]").click()
    events = alice.locator("[data-testid=event]")
    expect(events).to_have_count(2)
    assert [e.get_attribute("data-defined") for e in events.all()] == ["false", "false"]
    assert float(alice.locator(".event.raw .event-button").first.evaluate("e => getComputedStyle(e).opacity")) < 1

    events.filter(has_text=EXPORTED).locator("button").click()
    panel = alice.locator("[data-testid=event-panel]")
    expect(panel.locator("[data-testid=event-properties]")).to_contain_text("csv")
    expect(panel.locator("[data-testid=event-properties]")).to_contain_text("/pricing")
    name = panel.locator("[data-testid=define-name]")
    expect(name).to_have_value(EXPORTED)  # pre-filled from the suggestion
    expect(panel.locator("[data-testid=criteria-name]")).to_have_value(EXPORTED)  # what it will match
    # Counted by the real services before defining: alice's export and bob's, this week.
    expect(panel.locator("[data-testid=define-preview]")).to_have_text("Matches 2 events from 2 users in the window")
    name.fill(f"Exported {TAG}")
    panel.locator("[aria-label='colour #00a3a3']").click()
    panel.locator("[data-testid=define-submit]").click()

    labelled = alice.locator("[data-testid=event][data-defined=true]")
    expect(labelled).to_have_count(1)
    expect(labelled.locator(".event-name")).to_have_text(f"Exported {TAG}")
    assert labelled.locator(".marker").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 163, 163)"
    assert float(labelled.locator(".event-button").evaluate("e => getComputedStyle(e).opacity")) == 1
    # Retroactive and everywhere: Bob's earlier session labels his own export the same way.
    bob = _card(page, BOB)
    bob.locator("[data-testid=session-open]").first.click()
    bob_events = bob.locator("[data-testid=event]")
    expect(bob_events).to_have_count(4)
    bob_export = bob_events.nth(2)  # by time: Docs, Opened Docs, the export, Signed Up
    expect(bob_export.locator(".event-name")).to_have_text(f"Exported {TAG}")
    assert bob_export.get_attribute("data-defined") == "true"
    assert bob_export.locator(".marker").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(0, 163, 163)"
    # The new definition is offered by Add Filter at once, and finds both users (not Carol).
    _choose_timeline(page, "30d")
    expect(_names(page)).to_have_text([ALICE, BOB, CAROL])
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-did_event]")
    page.select_option("[data-testid=filter-event]", label=f"Exported {TAG}")
    page.click("[data-testid=filter-apply]")
    expect(page.locator("[data-testid=filter-chip]").last).to_have_text(f"Did Exported {TAG}")
    expect(_names(page)).to_have_text([ALICE, BOB])
    assert page.errors == []


def test_a_view_restored_from_its_url_and_the_pages_of_a_user_and_a_session(page, stack, sent):
    _only_this_run(page, stack)
    alice = _card(page, ALICE)
    alice.locator(f"[data-testid=session-row][data-session-id='{A1}'] [data-testid=session-open]").click()
    # ("Exported": the export may be defined by now, under another name.)
    alice.locator("[data-testid=event]").filter(has_text="Exported").locator("button").click()
    expect(alice.locator("[data-testid=event-properties]")).to_contain_text("csv")
    page.reload()
    expect(_names(page)).to_have_text([ALICE, BOB])
    expect(page.locator("[data-testid=filter-chip]")).to_have_text([f"identity contains “{TAG}”"])
    expect(alice.locator("[data-testid=event-properties]")).to_contain_text("csv")

    # Alice's page, as a new tab would open it, then the recorded session's page: replay and events.
    tab = page.context.new_page()
    tab.goto(stack.url("gateway") + alice.locator("[data-testid=user-name] a").get_attribute("href"))
    expect(tab.locator("[data-testid=user-properties]")).to_contain_text(f"Acme {TAG}")
    expect(tab.locator("[data-testid=user-page] [data-testid=session-row]")).to_have_count(2)
    tab.locator("[data-testid=user-page] [data-testid=session-page-link]").click()
    session_page = tab.locator(f"[data-testid=session-page][data-session-id='{A2}']")
    expect(session_page.locator("[data-testid=replay-event] .event-name")).to_have_text(
        [re.compile("/welcome"), "Signed Up"])
    tab.locator("[data-testid=replay-player] iframe").wait_for(state="attached")
    expect(session_page.locator("[data-testid=session-user-link]")).to_have_text(ALICE)
    tab.close()


def test_an_ios_app_event_shows_what_the_sdk_sent(page, stack, sent):
    _only_this_run(page, stack)
    bob = _card(page, BOB)
    app_session = bob.locator("[data-testid=session-row]").nth(2)
    app_session.locator("[data-testid=session-icons]").hover()
    expect(app_session.locator("[data-testid=session-tip]")).to_contain_text("iOS app")
    expect(app_session.locator("[data-testid=session-tip]")).not_to_contain_text("iOS · iOS")
    app_session.locator("[data-testid=session-open]").click()
    bob.locator("[data-testid=event] button").first.click()
    properties = bob.locator("[data-testid=event-properties]")
    expect(properties).to_contain_text("View screen Dashboard")
    rows = dict(zip(properties.locator("dt").all_inner_texts(), properties.locator("dd").all_inner_texts(),
                    strict=True))
    assert (rows["Source"], rows["App version"], rows["Device model"], rows["OS version"]) == (
        "iOS", "3.4.1", "iPhone15,2", "17.1")
    assert page.errors == []


def test_about_this_user_shows_custom_traits(page, stack, sent):
    _only_this_run(page, stack)
    _card(page, ALICE).locator("[data-testid=see-more]").click()
    about = page.locator("[data-testid=about-modal]")
    expect(about.locator("dl")).to_be_visible()
    for shown in (ALICE, f"Acme {TAG}", "favourite_colour", "teal", "pro"):
        expect(about).to_contain_text(shown)
    page.keyboard.press("Escape")
    expect(about).to_have_count(0)


def test_all_sessions_modal_highlights_filtered_sessions(page, stack, sent):
    _only_this_run(page, stack)
    _add_event_filter(page, "kind:custom", name="Signed Up")
    names = _names(page)
    expect(names).to_have_text([ALICE, BOB])
    alice = _card(page, ALICE)
    expect(alice.locator("[data-testid=session-row][data-matched=true]")).to_have_count(1)
    alice.locator("[data-testid=see-all-sessions]").click()
    rows = page.locator("[data-testid=sessions-modal] [data-testid=session-row]")
    expect(rows).to_have_count(2)
    assert {r.get_attribute("data-session-id"): r.get_attribute("data-matched") for r in rows.all()} == \
        {A1: "false", A2: "true"}
    modal = page.locator("[data-testid=sessions-modal]")
    expect(modal).to_contain_text("1 of 2 sessions")
    modal.locator(f"[data-session-id='{A2}'] [data-testid=session-open]").click()
    expect(modal.locator("[data-testid=event] .event-name")).to_have_text([re.compile("/welcome"), "Signed Up"])


def test_play_icon_opens_the_recorded_replay(page, stack, sent):
    _only_this_run(page, stack)
    alice = _card(page, ALICE)
    expect(alice.locator(f"[data-session-id='{A1}'] [data-testid=play-replay]")).to_have_count(0)  # not recorded
    alice.locator(f"[data-session-id='{A2}'] [data-testid=play-replay]").click()
    player = page.locator("[data-testid=replay-player] iframe")
    player.wait_for(state="attached")
    frame = player.element_handle().content_frame()
    frame.wait_for_selector(f"text={REPLAY_TEXT}")
    assert "allow-scripts" not in (player.get_attribute("sandbox") or "allow-scripts")
    # The image has failed to load (its onerror had its chance) and nothing ran.
    frame.wait_for_function("() => [...document.images].length > 0 && [...document.images].every(i => i.complete)")
    assert page.evaluate("() => window.__pwned") is None
    # Expected console noise: Chromium refusing the recorded handler, and the image's 404.
    blocked = "because the document's frame is sandboxed and the 'allow-scripts' permission is not set"
    assert [e for e in page.errors if blocked not in e and "NOT FOUND" not in e] == [], page.errors


def test_load_more_pages_through_the_feed(page, stack, sent):
    """More users than one page (25): Load more appends the next page, newest first throughout."""
    # Not TAG: the other tests' feed stays alice, bob (and carol). Digits, "e", digits: the filter
    # value reads as a number in scientific notation, and must still be matched as text.
    crowd = f"{uuid.uuid4().int % 10**6:06d}e9"
    people = [f"crowd{k:02d}-{crowd}@e2e.example" for k in range(27)]
    client = _segment(stack)
    for k, who in enumerate(people):
        client.page(who, name="Home", anonymous_id=f"anon-{who}", timestamp=NOW - timedelta(minutes=10 + k),
                    context=_context("http://shop.example/"))
    client.flush()
    condition = [{"type": "user_property", "property": "identity", "op": "contains", "value": crowd}]
    api = Api(stack)
    wait_until(lambda: len((api.get("/users", filter=json.dumps(condition), limit=50) or {}).get("users", [])) == 27,
               timeout=60, interval=1, message="the crowd in the feed")
    _sign_in(page, stack, poll_ms=300)
    _add_property_filter(page, "identity", "contains", crowd)
    _feed_settled(page)
    expect(_names(page)).to_have_text(people[:25])
    newest = _card(page, people[0])  # one pageview each: nouns in the singular
    expect(newest).to_contain_text("1 session ·")
    expect(newest.locator(".session-meta")).to_have_text(re.compile(r" · 1 event$"))
    page.click("[data-testid=load-more]")
    expect(_names(page)).to_have_text(people)
    expect(page.locator("[data-testid=load-more]")).to_have_count(0)
    # The live refresh of the first page keeps the list whole: no Load more back, nothing twice.
    for _ in range(2):
        with page.expect_response(lambda r: "/users?" in r.url and "cursor" not in r.url):
            pass
    expect(page.locator("[data-testid=load-more]")).to_have_count(0)
    expect(_names(page)).to_have_text(people)


def test_new_activity_appears_without_reload(page, stack, sent):
    _sign_in(page, stack, poll_ms=500)
    _add_property_filter(page, "identity", "contains", TAG)
    expect(_names(page)).to_have_text([ALICE, BOB])
    alice = _card(page, ALICE)
    alice.locator(f"[data-session-id='{A2}'] [data-testid=session-open]").click()
    expect(alice.locator("[data-testid=event]")).to_have_count(2)
    client = _segment(stack)
    client.track(ALICE, "Invited Teammate", anonymous_id=f"anon-alice-{TAG}",
                 context=_context("http://shop.example/welcome", A2))
    client.track(DAVE, "Opened App", {"via": "e2e"}, anonymous_id=f"anon-dave-{TAG}",
                 context=_context("http://shop.example/app"))
    client.flush()
    expect(_names(page)).to_have_text([DAVE, ALICE, BOB])  # a new user, on top
    # The open session grows too.
    expect(alice.locator("[data-testid=event] .event-name").last).to_have_text("Invited Teammate")
    assert page.errors == []


def test_error_state_while_sessions_is_down_then_retry(page, stack, sent):
    """The sessions service stops: the feed says so (no blank page); once it is back, Retry recovers."""
    _only_this_run(page, stack)
    expect(_card(page, ALICE)).to_be_visible()
    sessions_api = stack.processes["sessions-api"]
    # SIGKILL, an outage: a graceful stop would still answer on the gateway's keep-alive connections.
    os.killpg(sessions_api.popen.pid, signal.SIGKILL)
    try:
        sessions_api.popen.wait(15)
        _choose_timeline(page, "30d")
        expect(page.locator("[data-testid=feed-error]")).to_contain_text("unavailable")
    finally:
        if sessions_api.popen.poll() is not None:
            stack.start("sessions-api")
    page.locator("[data-testid=feed-error] button").click()
    expect(page.locator("[data-testid=feed-error]")).to_have_count(0)
    expect(_names(page).filter(has_text=CAROL)).to_have_count(1)
