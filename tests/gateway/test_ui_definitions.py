"""Definitions you can trust, in Chromium over contract stand-ins: the suggested criteria shown and
editable before Define, a live preview of what they match, duplicate names warned about (and
refused by the server), Undo after Define, and the Definitions page."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.gateway.browser import browser, sign_in  # noqa: F401 (fixture)
from tests.gateway.conftest import ADMIN
from tests.gateway.standin_ui import gateway_url, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _definitions(standins) -> list[dict]:
    return list(standins["definitions_store"].get("acme", {}).values())


def _seed(standins, *definitions) -> None:
    store = standins["definitions_store"].setdefault("acme", {})
    for k, (name, color, criteria) in enumerate(definitions, start=1):
        store[str(k)] = {"id": str(k), "name": name, "color": color, "category": "Seeded", "description": "",
                         "criteria": criteria, "archived": False, "created_at": "2026-01-0%dT00:00:00Z" % k,
                         "updated_at": "2026-01-01T00:00:00Z"}


def _open_buy_click(page):
    sign_in(page, *ADMIN)
    ada = page.locator("[data-testid=user-card][data-user-id='1001']")
    ada.locator("[data-testid=event][data-event-id=e2] button").click()
    panel = ada.locator("[data-testid=event-panel]")
    expect(panel.locator("[data-testid=define-name]")).to_have_value("Suggested click")
    return ada, panel


def test_define_shows_editable_criteria_with_a_preview_and_can_be_undone(page, standins):
    ada, panel = _open_buy_click(page)
    criteria = panel.locator("[data-testid=define-criteria]")
    # What the suggestion matches on is on screen, the page included, and can be changed.
    expect(criteria.locator("[data-testid=criteria-selector]")).to_have_value("button#buy")
    expect(criteria.locator("[data-testid=criteria-text]")).to_have_value("Buy now")
    expect(criteria.locator("[data-testid=scope-page]")).to_be_checked()
    expect(criteria.locator("[data-testid=criteria-path]")).to_have_value("/pricing")
    preview = panel.locator("[data-testid=define-preview]")
    expect(preview).to_have_text("Matches 1 event from 1 user in the window")
    criteria.locator("[data-testid=scope-any]").check()
    expect(criteria.locator("[data-testid=criteria-path]")).to_have_count(0)
    criteria.locator("[data-testid=criteria-use-text]").uncheck()  # any button#buy, any text, any page
    expect(preview).to_have_text("Matches 1 event from 1 user in the window")

    panel.locator("[data-testid=define-name]").fill("Clicked Buy")
    panel.locator("[aria-label='colour #e17055']").click()
    panel.locator("[data-testid=define-submit]").click()
    defined = ada.locator("[data-testid=event][data-event-id=e2]")
    expect(defined).to_have_attribute("data-defined", "true")
    [created] = _definitions(standins)
    assert created["criteria"] == {"kind": "click", "selector": "button#buy"}  # as edited: no path, no text
    assert created["color"] == "#e17055"

    toast = page.locator("[data-testid=toast]")
    expect(toast).to_contain_text("Defined “Clicked Buy”")
    toast.locator("[data-testid=toast-action]").click()
    expect(toast).to_contain_text("Undone")
    expect(defined).to_have_attribute("data-defined", "false")
    assert _definitions(standins)[0]["archived"] is True
    assert page.errors == []


def test_duplicate_names_are_warned_about_and_refused(page, standins):
    _seed(standins, ("Signed Up", "#2d9d5a", {"kind": "custom", "name": "Signed Up"}))
    ada, panel = _open_buy_click(page)
    name = panel.locator("[data-testid=define-name]")
    name.fill("  signed up ")
    expect(panel.locator("[data-testid=define-duplicate]")).to_contain_text("“Signed Up” already exists")
    expect(panel.locator("[data-testid=define-submit]")).to_be_disabled()
    name.fill("Clicked Buy")
    expect(panel.locator("[data-testid=define-duplicate]")).to_have_count(0)
    # Someone else takes the name meanwhile: the server refuses it and the form says why.
    _seed(standins, ("Signed Up", "#2d9d5a", {"kind": "custom", "name": "Signed Up"}),
          ("Clicked Buy", "#0984e3", {"kind": "click"}))
    panel.locator("[data-testid=define-submit]").click()
    expect(panel.locator("[role=alert]")).to_contain_text("a definition named 'Clicked Buy' already exists")
    assert len(_definitions(standins)) == 2


def test_definitions_page_lists_searches_edits_recolours_archives_and_restores(page, standins):
    _seed(standins, ("Signed Up", "#2d9d5a", {"kind": "custom", "name": "Signed Up"}),
          ("Viewed pricing", "#0984e3", {"kind": "pageview", "path": "/pricing"}))
    sign_in(page, *ADMIN)
    signed_up = page.locator("[data-testid=user-card][data-user-id='1001'] [data-event-id=e3] .marker")
    expect(signed_up).to_have_css("background-color", "rgb(45, 157, 90)")
    page.click("[data-testid=nav-definitions]")
    rows = page.locator("[data-testid=definition]")
    expect(rows.locator("[data-testid=definition-name]")).to_have_text(["Signed Up", "Viewed pricing"])
    expect(rows.nth(1)).to_contain_text("pageview at /pricing")
    page.fill("[data-testid=definitions-search]", "pricing")
    expect(rows.locator("[data-testid=definition-name]")).to_have_text(["Viewed pricing"])
    page.reload()  # the search is in the URL
    expect(page.locator("[data-testid=definitions-search]")).to_have_value("pricing")
    page.fill("[data-testid=definitions-search]", "")

    rows.nth(0).locator("[data-testid=definition-edit]").click()
    editor = page.locator("[data-testid=definition-editor]")
    editor.locator("[data-testid=edit-name]").fill("viewed PRICING")
    expect(editor.locator("[data-testid=edit-duplicate]")).to_be_visible()
    expect(editor.locator("[data-testid=edit-save]")).to_be_disabled()
    editor.locator("[data-testid=edit-name]").fill("Joined")
    editor.locator("[aria-label='colour #d63384']").click()
    expect(editor.locator("[data-testid=define-preview]")).to_have_text("Matches 1 event from 1 user in the window")
    editor.locator("[data-testid=edit-save]").click()
    expect(rows.locator("[data-testid=definition-name]")).to_have_text(["Joined", "Viewed pricing"])
    assert standins["definitions_store"]["acme"]["1"]["name"] == "Joined"
    assert standins["definitions_store"]["acme"]["1"]["color"] == "#d63384"

    rows.nth(1).locator("[data-testid=definition-archive]").click()
    expect(rows.locator("[data-testid=definition-name]")).to_have_text(["Joined"])
    page.click("[data-testid=definitions-archived]")
    expect(rows.locator("[data-testid=definition-name]")).to_have_text(["Viewed pricing"])
    rows.nth(0).locator("[data-testid=definition-restore]").click()
    expect(page.locator("[data-testid=definitions-empty]")).to_contain_text("Nothing is archived")
    page.click("[data-testid=definitions-live]")
    expect(rows.locator("[data-testid=definition-name]")).to_have_text(["Joined", "Viewed pricing"])

    page.click("[data-testid=nav-feed]")  # recoloured everywhere
    expect(page.locator("[data-testid=user-card][data-user-id='1001'] [data-event-id=e3] .marker")).to_have_css(
        "background-color", "rgb(214, 51, 132)")
    assert page.errors == []
