"""The consumer through the real RabbitMQ: messages in on identity.inbox, facts out to sessions.facts."""
import pytest
from sqlalchemy import func, select

from footfall import bus
from footfall.ids import anonymous_user_id, identified_user_id
from footfall.messages import UserMerge, UsersMerged, UserSnapshot, UsersUpdated, encode
from services.identity import batch_store, store
from services.identity.consumer import IdentityConsumer
from services.identity.service import outgoing
from tests.identity.bus_tap import Tap
from tests.identity.factories import ENV, at, commands, event, events, identify, set_properties
from tests.identity.state import db_users, model_users
from tests.support import wait_until

ADA = identified_user_id(ENV, "ada")


@pytest.fixture
def tap(settings, clean_bus):
    tap = Tap(settings, "user.merged", "user.updated")
    yield tap
    tap.close()


@pytest.fixture
def consumer(settings, engine):
    consumer = IdentityConsumer(settings).start()
    yield consumer
    consumer.stop()


def test_events_and_identify_become_one_merge_and_versioned_snapshots(settings, engine, tap, consumer):
    messages = [
        events(event("e1", "d1", 0, device={"browser": "Safari"}), event("e2", "d1", 6)),
        events(event("e3", "d2", 3, identity="ada")),
        commands(identify("c1", "d1", "ada", 4), set_properties("c2", 5, {"plan": "pro"}, identity="ada")),
    ]
    publisher = bus.Publisher(settings)
    for message in messages:
        publisher.publish(message)
    expected = model_users(messages, ENV)
    wait_until(lambda: db_users(engine, ENV) == expected, message="the users the model implies")

    merges = wait_until(lambda: [m for msg in tap.of(UsersMerged) for m in msg.merges], message="user.merged")
    assert {(m.from_user_id, m.into_user_id) for m in merges} >= {(anonymous_user_id("d1"), ADA)}

    def final_ada():
        snapshot = _latest_snapshots(tap).get(ADA)
        return snapshot if snapshot is not None and snapshot.last_seen == at(6) else None

    latest = wait_until(final_ada, message="ada's final snapshot")
    assert latest.identity == "ada" and latest.first_seen == at(0)
    assert latest.properties["plan"] == "pro" and latest.properties["Initial Browser"] == "Safari"
    wait_until(lambda: _outbox_size(engine) == 0, message="an empty outbox")
    publisher.close()


def _outbox_size(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(store.outbox))


def test_a_batch_announces_in_one_message_per_kind_not_per_user():
    merges = [UserMerge(from_user_id=str(i), into_user_id=ADA, at=at(0)) for i in range(3)]
    snapshots = [UserSnapshot(user_id=str(i), version=1) for i in range(5)]
    messages = outgoing(ENV, batch_store.Outcome(merges, snapshots))
    assert [type(m) for m in messages] == [UsersMerged, UsersUpdated]
    assert len(messages[0].merges) == 3 and len(messages[1].users) == 5
    assert outgoing(ENV, batch_store.Outcome()) == []


def _latest_snapshots(tap) -> dict:
    latest = {}
    for message in tap.of(UsersUpdated):
        for snapshot in message.users:
            if snapshot.user_id not in latest or snapshot.version > latest[snapshot.user_id].version:
                latest[snapshot.user_id] = snapshot
    return latest


def test_a_redelivered_batch_changes_nothing_and_the_rest_flows(settings, engine, tap, consumer):
    publisher = bus.Publisher(settings)
    batch = events(event("e1", "d1", 0, identity="ada"))
    publisher.publish(batch)
    wait_until(lambda: ADA in _latest_snapshots(tap), message="the first snapshot")
    publisher.publish(batch)  # a redelivery: same message, same facts
    publisher.publish(events(event("e2", "d2", 1)))
    wait_until(lambda: anonymous_user_id("d2") in _latest_snapshots(tap), message="the next batch")
    assert _latest_snapshots(tap)[ADA].version == 1
    publisher.close()


def test_messages_a_crash_left_in_the_outbox_go_out_with_the_next_batch(settings, engine, tap, consumer):
    """A commit followed by a crash before the publish leaves outbox rows; nothing is lost."""
    stranded = UsersMerged(env_id=ENV, merges=[{"from_user_id": "1", "into_user_id": "2", "at": at(0)}])
    with engine.begin() as conn:
        store.enqueue(conn, stranded.routing_key, stranded.message_id, encode(stranded))
    bus.Publisher(settings).publish(events(event("e1", "d1", 0)))
    wait_until(lambda: any(m.message_id == stranded.message_id for m in tap.of(UsersMerged)),
               message="the stranded merge published")


def test_generic_identities_are_refused_with_a_warning(settings, engine, tap, consumer):
    bus.Publisher(settings).publish(commands(identify("c1", "d1", "undefined", 0)))
    wait_until(lambda: _warnings(engine), message="a warning")
    assert _warnings(engine)[0]["kind"] == "identity_refused"
    assert db_users(engine, ENV) == {}


def _warnings(engine):
    with engine.connect() as conn:
        return store.list_warnings(conn, ENV, 10)
