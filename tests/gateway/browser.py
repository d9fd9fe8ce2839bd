"""Debian's Chromium driven by Playwright (no browser download), shared by the browser tests."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
UI_BUILT = Path(__file__).resolve().parents[2] / "gateway" / "ui" / "dist" / "index.html"


@pytest.fixture(scope="session")
def browser(chromium):
    if not UI_BUILT.exists():
        pytest.fail("the UI is not built: `make ui-build`")
    return chromium


def open_page(browser, base_url: str):
    """A fresh context and page; every console error and page error is recorded on the page."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
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
