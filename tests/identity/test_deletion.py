"""Deleting users in the identity service, through the real queue: every member's rows go, and
their events and commands sent again (or redelivered) never bring them back."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from footfall import bus
from footfall.ids import anonymous_user_id, identified_user_id
from footfall.messages import DeletionRequested
from services.identity.consumer import IdentityConsumer
from tests.identity.factories import ENV, at, commands, event, events, identify, set_properties
from tests.support import wait_until

ADA = identified_user_id(ENV, "ada")
TABLES = {"users": "user_id", "links": "anonymous_user_id", "devices": "user_id",
          "user_properties": "user_id", "merge_log": "from_user_id"}


@pytest.fixture
def consumer(settings, engine, clean_bus):
    consumer = IdentityConsumer(settings).start()
    yield consumer
    consumer.stop()


def _rows(engine, ids: list[str]) -> dict[str, int]:
    with engine.connect() as conn:
        counts = {t: conn.scalar(text(f"select count(*) from {t} where env_id = :e and {c} = any(:ids)"),
                                 {"e": ENV, "ids": ids}) for t, c in TABLES.items()}
        counts["merge_log_into"] = conn.scalar(text(
            "select count(*) from merge_log where env_id = :e and into_user_id = any(:ids)"), {"e": ENV, "ids": ids})
    return counts


def _deletion(user_ids, at_minute=30) -> DeletionRequested:
    return DeletionRequested(env_id=ENV, deletion_id=str(uuid.uuid4()), requested_at=at(at_minute),
                             user_ids=user_ids)


def test_a_deleted_user_and_its_devices_stay_deleted(settings, engine, consumer):
    publisher = bus.Publisher(settings)
    d1, d2, bob = anonymous_user_id("d1"), anonymous_user_id("d2"), anonymous_user_id("bob-device")
    history = [events(event("e1", "d1", 0), event("e2", "d2", 2, identity="ada"), event("b1", "bob-device", 3)),
               commands(identify("c1", "d1", "ada", 1), set_properties("c2", 4, {"plan": "pro"}, identity="ada"))]
    for message in history:
        publisher.publish(message)
    wait_until(lambda: _rows(engine, [d1, d2, ADA])["merge_log"] == 2, message="ada with two devices")
    publisher.publish(_deletion([ADA]))
    gone = {name: 0 for name in _rows(engine, [])}
    wait_until(lambda: _rows(engine, [d1, d2, ADA]) == gone, message="nothing of ada")
    for message in history:  # an SDK's offline queue, a redelivery: the same facts again
        publisher.publish(message)
    publisher.publish(commands(identify("c9", "d1", "ada", 20)))  # dated before the deletion
    wait_until(lambda: _rows(engine, [bob])["users"] == 1 and consumer.handled >= 6, message="all handled")
    assert _rows(engine, [d1, d2, ADA]) == gone
    with engine.connect() as conn:
        counts = conn.execute(text("select counts from deletions")).scalar()
    assert counts["members"] == 3 and counts["devices"] >= 2 and counts["properties"] == 1
    # After the deletion, the person comes back: a new user, with nothing from before.
    publisher.publish(events(event("e9", "d1", 40)))
    wait_until(lambda: _rows(engine, [d1])["users"] == 1, message="d1 seen again")
    assert _rows(engine, [ADA])["users"] == 0
    publisher.close()


def test_ingestion_warnings_are_kept_in_an_environment_with_deletions(settings, engine, consumer):
    """Deletion screens events and commands; a warning has neither, and must not fail the batch."""
    from footfall.messages import IngestionWarning, IngestionWarnings

    publisher = bus.Publisher(settings)
    publisher.publish(events(event("e1", "d1", 0, identity="ada")))
    wait_until(lambda: _rows(engine, [ADA])["users"] == 1, message="ada")
    publisher.publish(_deletion([ADA]))
    wait_until(lambda: _rows(engine, [ADA])["users"] == 0, message="ada deleted")
    publisher.publish(IngestionWarnings(env_id=ENV, warnings=[IngestionWarning(
        key="time_clamped:e7", kind="time_clamped", message="claimed 9999-12-31", occurred_at=at(40))]))
    with engine.connect() as conn:
        wait_until(lambda: conn.execute(text("select count(*) from warnings where env_id = :e and key = :k"),
                                        {"e": ENV, "k": "time_clamped:e7"}).scalar() == 1,
                   message="the warning kept")
    assert consumer.set_aside == 0
    publisher.close()
