"""Fixtures for the identity tests: a migrated `identity` schema, emptied before each test."""
from __future__ import annotations

import pytest

from footfall import db
from tests.support import migrate_fresh, truncate_schema


@pytest.fixture(scope="session")
def identity_engine(settings):
    migrate_fresh("services/identity", settings)
    engine = db.make_engine("identity", settings)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(identity_engine):
    truncate_schema(identity_engine, "identity")
    return identity_engine
