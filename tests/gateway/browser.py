"""Debian's Chromium driven by Playwright (no browser download), shared by the browser tests."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
AXE = Path(__file__).resolve().parents[2] / "gateway" / "ui" / "node_modules" / "axe-core" / "axe.min.js"
UI_BUILT = Path(__file__).resolve().parents[2] / "gateway" / "ui" / "dist" / "index.html"


@pytest.fixture(scope="session")
def browser(chromium):
    if not UI_BUILT.exists():
        pytest.fail("the UI is not built: `make ui-build`")
    return chromium


def open_page(browser, base_url: str, viewport: dict | None = None, **context_options):
    """A fresh context and page; every console error and page error is recorded on the page.
    `context_options` go to Playwright's new_context (timezone_id, permissions, is_mobile…)."""
    context = browser.new_context(viewport=viewport or {"width": 1440, "height": 900}, **context_options)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    # The one expected failed request: /auth/me answers 401 before signing in.
    page.on("console", lambda msg: msg.type == "error" and "status of 401" not in msg.text
            and page.errors.append(msg.text))
    page.base_url = base_url
    return page


def sign_in(page, email: str, password: str, query: str = "") -> None:
    page.goto(page.base_url + "/" + query)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=feed]")


def screenshot(page, name: str) -> None:
    """Refresh a picture in docs/ when FOOTFALL_SCREENSHOTS=1; otherwise only prove the view renders."""
    target = DOCS if os.environ.get("FOOTFALL_SCREENSHOTS") == "1" else Path(tempfile.gettempdir())
    target.mkdir(exist_ok=True)
    page.screenshot(path=str(target / name), full_page=False)


def axe_violations(page, context: str | None = None) -> list[dict]:
    """Serious and critical axe-core violations on the page (or inside the `context` selector).

    axe-core comes from the UI's npm dev dependencies; it is evaluated through the DevTools
    protocol, which the page's strict CSP (no inline scripts) does not apply to.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        """async (context) => {
            const r = await axe.run(context ? document.querySelector(context) : document,
                                    {resultTypes: ["violations"], iframes: false});
            return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
                                             nodes: v.nodes.slice(0, 5).map(
                                                 (n) => n.target.join(" ") + " :: " + n.failureSummary)}));
        }""", context)
    return [v for v in result if v["impact"] in ("serious", "critical")]
