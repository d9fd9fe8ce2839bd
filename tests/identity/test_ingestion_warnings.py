"""Ingestion warnings from the bus (ingest's clamped times, consumers' set-aside items) are kept per
environment, once each, and listed by the warnings API."""
from datetime import UTC, datetime

from footfall.messages import IngestionWarning, IngestionWarnings
from services.identity.app import create_app
from tests.identity.factories import ENV
from tests.identity.state import apply_batch

AT = datetime(2024, 5, 1, tzinfo=UTC)


def warnings(*items):
    return IngestionWarnings(env_id=ENV, warnings=[IngestionWarning(key=k, kind=kind, message=m, occurred_at=AT,
                                                                    details={"reason": m})
                                                   for k, kind, m in items])


def test_warnings_from_the_bus_are_listed_once_each(settings, engine):
    clamped = ("time_clamped:e1", "time_clamped", "event e1 claimed 9999-12-31")
    dead = ("dead_letter:sessions.events:e2", "dead_lettered", "could not be stored: a\x00b")
    apply_batch(engine, [warnings(clamped, dead)])
    apply_batch(engine, [warnings(clamped)])  # redelivered, or the same problem seen again
    listed = create_app(settings).test_client().get(f"/internal/v1/envs/{ENV}/warnings").json["warnings"]
    assert sorted((w["key"], w["kind"]) for w in listed) == sorted([clamped[:2], dead[:2]])
    [stored_dead] = [w for w in listed if w["kind"] == "dead_lettered"]
    assert "\x00" not in stored_dead["message"] and "\ufffd" in stored_dead["details"]["reason"]
