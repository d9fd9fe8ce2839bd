"""Fixtures of the UI tests over contract stand-ins: the real gateway served on a port, a desktop
page and a phone page in Chromium. Import them into a test module as fixtures."""
from __future__ import annotations

import copy

import pytest

from tests.gateway.browser import open_page
from tests.gateway.standins import Served

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def gateway_url(app, standins):
    saved = copy.deepcopy(standins["data"])
    server = Served(app)
    yield server.url
    server.stop()
    standins["data"].clear()
    standins["data"].update(saved)


@pytest.fixture
def page(browser, gateway_url):
    page = open_page(browser, gateway_url)
    yield page
    page.context.close()


@pytest.fixture
def phone(browser, gateway_url):
    """A phone-sized page (390 × 844, touch)."""
    page = open_page(browser, gateway_url, viewport=PHONE, is_mobile=True, has_touch=True)
    yield page
    page.context.close()
