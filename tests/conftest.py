"""Shared fixtures: the real local PostgreSQL, RabbitMQ and Redis, each in a test-only namespace.

Tests use their own database (`footfall_test`), RabbitMQ vhost (`footfall_test`) and Redis db (1),
so `make test` never touches the data of `make run`. Point them elsewhere with the usual
variables (DATABASE_URL, AMQP_URL, REDIS_URL) — e.g. one namespace per developer running in parallel.
"""
from __future__ import annotations

import os
import secrets

os.environ.setdefault("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/footfall_test")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/footfall_test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
# No secret has a default: a test run makes up its own, as `make run` does (footfall.secretfile).
os.environ.setdefault("REPLAY_TOKEN_SECRETS", secrets.token_urlsafe(32))
os.environ.setdefault("SERVICE_TOKENS", secrets.token_urlsafe(32))
os.environ.setdefault("DRAIN_FILE", f"/tmp/footfall-test-draining-{os.getpid()}")

import pytest
import redis as redis_lib
from flask import Flask
from flask.testing import FlaskClient

from footfall import bus, db
from footfall.config import get_settings
from footfall.web import SERVICE_TOKEN_HEADER
from tests.support import ensure_vhost


class ServiceCaller(FlaskClient):
    """Test clients call a service's internal API as the gateway does, with the service token.

    Tests of the guard itself (tests/kernel/test_web.py) use clients without it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = self.application.config.get("SETTINGS")
        if settings is not None and settings.service_tokens:
            self.environ_base["HTTP_" + SERVICE_TOKEN_HEADER.upper().replace("-", "_")] = settings.service_tokens[0]


Flask.test_client_class = ServiceCaller


def pytest_collection_finish(session):
    """The test database and vhost exist before any test that needs them; a run of `unit` tests
    alone (`make test-unit`) needs neither, so it runs on a machine without the infrastructure."""
    if any(item.get_closest_marker("unit") is None for item in session.items):
        settings = get_settings()
        ensure_vhost(settings.amqp_url)
        db.ensure_database(settings)


@pytest.fixture(scope="session")
def settings():
    return get_settings()


@pytest.fixture
def clean_bus(settings):
    """Every queue empty before the test (and the topology declared)."""
    bus.purge_all(settings)
    yield
    bus.purge_all(settings)


@pytest.fixture
def redis_client(settings):
    client = redis_lib.Redis.from_url(settings.redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def stack():
    """Every Procfile process running on test ports (tests/stack.py); started once per session."""
    from tests.stack import start_stack

    running = start_stack()
    yield running
    running.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian Chromium for the whole run (Playwright's sync API allows one driver)."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
