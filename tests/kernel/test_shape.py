"""Every service has the same shape (docs/architecture.md, "The shape of a service")."""
from __future__ import annotations

import pathlib
import re

import pytest

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent for p in (ROOT / "services").glob("*/app.py"))
# Sessions splits its use case into named steps that its consumer runs (the docs say why).
USE_CASE = {"sessions": "consumer.py"}
WRITES_OR_PUBLISHES = re.compile(r"\.begin\(\)|\.publish(_raw)?\(")


def test_every_service_has_a_composition_root_views_and_a_use_case_module():
    assert [s.name for s in SERVICES] == ["definitions", "identity", "ingest", "replay", "sessions"]
    for service in SERVICES:
        for module in ("app.py", "api.py", USE_CASE.get(service.name, "service.py")):
            assert (service / module).is_file(), f"{service.name} has no {module}"


def test_no_view_module_opens_a_write_transaction_or_publishes():
    views = [p for p in [*ROOT.glob("services/*/*.py"), *ROOT.glob("gateway/**/*.py")]
             if "Blueprint(" in p.read_text()]
    assert len(views) > 10
    fat = [str(p.relative_to(ROOT)) for p in views if WRITES_OR_PUBLISHES.search(p.read_text())]
    assert fat == []
