"""Fixtures of the fault tests: private servers to break (never the shared ones), and the stack on them.

Package-scoped: torn down after the last test of tests/faults, so they never run beside the
session's end-to-end stack (started by later packages), and the shared PostgreSQL's connections
are not taken twice over.
"""
from __future__ import annotations

import pytest

from tests.faults import harness
from tests.faults.servers import PrivateRabbit


@pytest.fixture(scope="package")
def private_rabbit():
    rabbit = PrivateRabbit().start()
    yield rabbit
    rabbit.stop()


@pytest.fixture(scope="package")
def faults():
    """Every Procfile process under footfall.supervise, on a private RabbitMQ node and Redis."""
    stack = harness.start_fault_stack()
    yield stack
    stack.stop()
