"""Frustration signals, session summaries, online now and the visible pipeline in a real Chromium,
against the real gateway (and the real identity service for the Ingestion page)."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import text

from footfall.pipeline_lag import Marks
from gateway.app import create_app
from services.identity.store import make_identity_engine
from tests.gateway.browser import axe_violations, browser, screenshot, sign_in  # noqa: F401 (fixture)
from tests.gateway.conftest import ADMIN
from tests.gateway.standin_ui import gateway_url, page  # noqa: F401 (fixtures)
from tests.gateway.standins import _event
from tests.support import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PAY = {"text": "Pay now", "hierarchy": [{"tag": "button", "id": "pay"}]}
SUMMARY = {"pages_viewed": 3, "active_s": 95.0, "bounce": False, "entry_page": "/", "exit_page": "/checkout",
           "rage_clicks": 1, "dead_clicks": 1}


@pytest.fixture
def app(control_plane, standins, real_identity):
    """The gateway over the stand-ins, with the real identity service (warnings)."""
    standins["definitions_store"].clear()
    engine = make_identity_engine(control_plane)
    with engine.begin() as conn:
        conn.execute(text("delete from warnings where env_id = 'acme'"))
        conn.execute(text("insert into warnings (env_id, key, kind, message, subject, details, occurred_at) "
                          "values ('acme', 'k1', 'identity_refused', 'identity \"null\" refused: a "
                          "placeholder, not a person', '1001', '{}', now())"))
    engine.dispose()
    settings = control_plane.with_(sessions_url=standins["sessions"], definitions_url=standins["definitions"],
                                   identity_url=real_identity, replay_url=standins["sessions"])
    return create_app(settings)


@pytest.fixture
def frustrated(standins):
    """Ada raged at and dead-clicked Pay on /checkout a minute ago; she is online now."""
    data = standins["data"]["acme"]
    data["events"]["e6"] = _event("e6", "s-ada-1", "1001", "rage_click", 7, path="/checkout", target=PAY)
    data["events"]["e7"] = _event("e7", "s-ada-1", "1001", "dead_click", 7, path="/checkout", target=PAY)
    data["users"]["1001"]["online"] = True
    for session in data["sessions"].values():
        session["summary"] = dict(SUMMARY) if session["session_id"] == "s-ada-1" else {
            **SUMMARY, "pages_viewed": 1, "bounce": True, "rage_clicks": 0, "dead_clicks": 0}
    return data


def test_frustration_in_red_summaries_online_now_and_the_filter(page, standins, frustrated):
    sign_in(page, *ADMIN)
    ada = page.locator("[data-testid=user-card][data-user-id='1001']")
    ada.wait_for()
    assert ada.locator("[data-testid=online-now]").inner_text() == "online now"
    assert page.locator("[data-testid=user-card][data-user-id='2002'] [data-testid=online-now]").count() == 0
    summary = ada.locator("[data-testid=session-summary]").first.inner_text()
    assert "(1m 35s active)" in summary and "3 pages" in summary and "1 rage click, 1 dead click" in summary
    ada.locator("[data-testid=session-icons]").first.hover()
    tip = ada.locator("[data-testid=session-tip]").first.inner_text()
    assert "Entry page: /" in tip and "Exit page: /checkout" in tip

    ada.locator("[data-testid=session-open]").first.click()
    rage = ada.locator("[data-testid=event][data-frustration=rage_click]")
    rage.wait_for()
    assert rage.inner_text().startswith("Rage click on 'Pay now'")
    dead = ada.locator("[data-testid=event][data-frustration=dead_click]")
    assert dead.inner_text().startswith("Dead click on 'Pay now'")
    red = "rgb(198, 44, 63)"
    assert rage.locator(".event-name").evaluate("e => getComputedStyle(e).color") == red
    assert rage.locator(".marker").evaluate("e => getComputedStyle(e).backgroundColor") == red
    normal = ada.locator("[data-testid=event]:not([data-frustration])").first
    assert normal.locator(".event-name").evaluate("e => getComputedStyle(e).color") != red
    assert axe_violations(page, "[data-testid=feed]") == []
    screenshot(page, "frustration.png")

    # "Users who rage-clicked on /checkout": a raw kind on a page goes as criteria.
    standins["calls"].clear()
    page.click("[data-testid=add-filter]")
    page.click("[data-testid=filter-type-did_event]")
    page.select_option("[data-testid=filter-event]", "kind:rage_click")
    page.fill("[data-testid=filter-event-path]", "/checkout")
    page.click("[data-testid=filter-apply]")
    assert page.locator("[data-testid=filter-chip]").inner_text() == "Did rage click on /checkout"
    wait_until(lambda: page.locator("[data-testid=user-card]").count() == 1, message="only Ada listed")
    sent = [orjson.loads(c[2]["filter"]) for c in list(standins["calls"])
            if c[1].endswith("/users") and "filter" in c[2]]
    assert sent[-1] == [{"type": "did_event", "event": {"criteria": {"kind": "rage_click", "path": "/checkout"}}}]
    assert page.errors == []


def test_the_banner_says_how_far_behind_and_the_ingestion_page(page, redis_client):
    sign_in(page, *ADMIN, query="?pipeline_ms=1000")
    page.locator("[data-testid=user-card]").first.wait_for()
    assert page.locator("[data-testid=pipeline-behind]").count() == 0
    marks = Marks(redis_client)
    marks.accepted("acme", time.time() - 40)
    banner = page.locator("[data-testid=pipeline-behind]")
    banner.wait_for(timeout=10_000)
    assert "Events are 4" in banner.inner_text() and "s behind" in banner.inner_text()
    screenshot(page, "pipeline-behind.png")

    day = datetime.now(UTC).date().isoformat()
    redis_client.hset("footfall:bot_dropped:acme", mapping={f"{day}:crawler": 12, f"{day}:headless": 3})
    redis_client.hset("footfall:bot_traffic:acme", mapping={f"{day}:crawler": 12, f"{day}:headless": 3})
    redis_client.hset("footfall:ingest:rate_limited:acme", mapping={day: 250})
    banner.get_by_text("Ingestion health").click()
    page.locator("[data-testid=ingestion-page]").wait_for()
    assert page.url.split("?")[0].endswith("/ingestion")
    kind = page.locator("[data-testid=warning-kind][data-kind=identity_refused]")
    assert "Refused identities" in kind.inner_text() and "placeholder" in kind.inner_text()
    dropped = page.locator("[data-testid=bots-dropped]").inner_text()
    assert "Crawlers" in dropped and "12" in dropped and "Headless browsers" in dropped
    assert "250 events refused" in page.locator("[data-testid=ingestion-rate-limited]").inner_text()
    assert "behind" in page.locator("[data-testid=ingestion-pipeline]").inner_text()
    assert axe_violations(page) == []
    screenshot(page, "ingestion.png")

    marks.stored({"acme": time.time()})  # caught up: the banner goes
    banner.wait_for(state="detached", timeout=10_000)
    page.reload()
    page.locator("[data-testid=ingestion-page]").wait_for()  # the page has its own address
    assert page.errors == []
