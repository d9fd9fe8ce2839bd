"""Fixtures for the identity tests: a migrated `identity` schema, emptied before each test."""
from __future__ import annotations

import pytest

from services.identity import store
from tests.support import migrate_fresh, truncate_schema


@pytest.fixture(scope="session")
def identity_engine(settings):
    migrate_fresh("services/identity", settings)
    engine = store.make_identity_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(identity_engine):
    truncate_schema(identity_engine, "identity")
    return identity_engine
