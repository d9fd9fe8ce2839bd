"""The deletion of a user through the real queues, in any order with the user's events and merges
(identify commands that make them): afterwards nothing of the user remains in identity or
sessions, and another user, browsing and signing up meanwhile, is untouched."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text

from footfall import bus
from footfall.db import make_engine
from footfall.ids import anonymous_user_id, identified_user_id
from footfall.messages import DeletionRequested, Event, EventsCaptured, IdentifyCommand, IdentityCommands
from services.identity import store as identity_store
from services.identity.consumer import IdentityConsumer
from services.sessions.consumer import EventsConsumer, FactsConsumer
from tests.support import migrate_fresh, truncate_schema

pytestmark = pytest.mark.slow
ENV = "env-privacy"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
UNA, VIC = identified_user_id(ENV, "una"), identified_user_id(ENV, "vic")


def _events(device: str, minutes: list[int], identity: str | None = None, tag: str = "") -> EventsCaptured:
    return EventsCaptured(env_id=ENV, events=[Event(
        event_id=f"{device}-{m}{tag}", env_id=ENV, kind="pageview", device_id=device,
        user_id=anonymous_user_id(device), identity=identity, time=T0 + timedelta(minutes=m),
        received_at=T0 + timedelta(minutes=m), source="web") for m in minutes])


def _identify(device: str, identity: str, minute: int) -> IdentityCommands:
    return IdentityCommands(env_id=ENV, commands=[IdentifyCommand(
        command_id=f"id-{device}", time=T0 + timedelta(minutes=minute), identity=identity, device_id=device,
        user_id=anonymous_user_id(device), source="web")])


# The deleted user: two devices, one identified by a command, one sending events as "una".
UNAS = [_events("u-1", [0, 5, 50]), _identify("u-1", "una", 6), _events("u-2", [10, 12], identity="una"),
        _events("u-1", [55], tag="b")]
# Another user browsing and signing up meanwhile.
VICS = [_events("v-1", [1, 7, 40]), _identify("v-1", "vic", 8), _events("v-2", [20], identity="vic")]
UNA_IDS = [UNA, anonymous_user_id("u-1"), anonymous_user_id("u-2")]
VIC_IDS = [VIC, anonymous_user_id("v-1"), anonymous_user_id("v-2")]


@pytest.fixture(scope="module")
def running(settings):
    migrate_fresh("services/identity", settings)
    migrate_fresh("services/sessions", settings)
    engines = {"identity": identity_store.make_identity_engine(settings),
               "sessions": make_engine("sessions", settings)}
    bus.purge_all(settings)
    consumers = [IdentityConsumer(settings).start(), EventsConsumer(settings).start(),
                 EventsConsumer(settings).start(), FactsConsumer(settings).start()]
    yield engines
    for consumer in consumers:
        consumer.stop()
    for engine in engines.values():
        engine.dispose()


def _settle(settings, engines, quiet_checks: int = 4) -> None:
    """Until every queue of these consumers and identity's outbox stayed empty a moment (the replay
    service's queue is not consumed here)."""
    deadline, quiet = time.monotonic() + 60, 0
    while quiet < quiet_checks:
        assert time.monotonic() < deadline, "the queues did not settle"
        depths = {q: n for q, n in bus.queue_depths(settings).items() if not q.startswith("replay.")}
        with engines["identity"].connect() as conn:
            outbox = conn.scalar(text("select count(*) from outbox"))
        quiet = quiet + 1 if not any(depths.values()) and not outbox else 0
        time.sleep(0.15)


def _count(engine, sql: str, ids: list[str]) -> int:
    with engine.connect() as conn:
        return conn.scalar(text(sql), {"e": ENV, "ids": ids})


IDENTITY_ROWS = [
    "select count(*) from users where env_id = :e and (user_id = any(:ids) or owner_id = any(:ids))",
    "select count(*) from links where env_id = :e and anonymous_user_id = any(:ids)",
    "select count(*) from devices where env_id = :e and user_id = any(:ids)",
    "select count(*) from user_properties where env_id = :e and user_id = any(:ids)",
    "select count(*) from merge_log where env_id = :e and (from_user_id = any(:ids) or into_user_id = any(:ids))",
]
SESSIONS_ROWS = [
    "select count(*) from events where env_id = :e and anon_user_id = any(:ids)",
    "select count(*) from sessions where env_id = :e and anon_user_id = any(:ids)",
    "select count(*) from anon_users where env_id = :e and anon_user_id = any(:ids)",
    "select count(*) from users where env_id = :e and user_id = any(:ids)",
    "select count(*) from merges where env_id = :e and (from_user_id = any(:ids) or into_user_id = any(:ids))",
]


@hypothesis_settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
                     phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: each run is seconds
@given(order=st.permutations(range(len(UNAS) + len(VICS) + 1)),
       pauses=st.sets(st.integers(0, len(UNAS) + len(VICS))),
       again=st.lists(st.sampled_from(range(len(UNAS))), max_size=2))
def test_nothing_of_a_deleted_user_remains_and_others_are_untouched(settings, running, order, pauses, again):
    for engine, schema in ((running["identity"], "identity"), (running["sessions"], "sessions")):
        truncate_schema(engine, schema)
    deletion = DeletionRequested(env_id=ENV, deletion_id=str(uuid.uuid4()), requested_at=T0 + timedelta(minutes=90),
                                 user_ids=[UNA])
    messages = [*UNAS, *VICS, deletion]
    publisher = bus.Publisher(settings)
    try:
        for position, index in enumerate(order):
            publisher.publish(messages[index])
            if position in pauses:  # some orders arrive one by one, others all at once
                _settle(settings, running)
        for index in again:  # an SDK's offline queue sending old events again after the deletion
            publisher.publish(UNAS[index].model_copy(update={"message_id": str(uuid.uuid4())}))
        _settle(settings, running)
    finally:
        publisher.close()
    left = {sql.split(" from ")[1].split()[0]: _count(running["identity"], sql, UNA_IDS) for sql in IDENTITY_ROWS}
    left |= {"sessions." + sql.split(" from ")[1].split()[0]: _count(running["sessions"], sql, UNA_IDS)
             for sql in SESSIONS_ROWS}
    assert left == {name: 0 for name in left}
    # The other user: every event stored, one user with both devices, its feed row equal to a recount.
    assert _count(running["sessions"], SESSIONS_ROWS[0], VIC_IDS) == 4
    with running["sessions"].connect() as conn:
        feed = conn.execute(text("select user_id, session_count, identity from users where env_id = :e"),
                            {"e": ENV}).all()
        sessions = conn.scalar(text("select count(*) from sessions where env_id = :e"), {"e": ENV})
    assert [(r.user_id, r.session_count, r.identity) for r in feed] == [(VIC, sessions, "vic")]
    assert _count(running["identity"], IDENTITY_ROWS[0], [VIC]) == 3
