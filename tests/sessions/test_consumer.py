"""The consumers through the real RabbitMQ: events in any order and duplicated, facts, poison."""
import random

import orjson
from sqlalchemy import func, select

from footfall import bus
from footfall.messages import (
    DefinitionChanged,
    EventsCaptured,
    ReplayRecording,
    ReplaysRecorded,
    UserMerge,
    UsersMerged,
    UserSnapshot,
    UsersUpdated,
)
from footfall.pipeline_lag import Marks, lag
from services.sessions.consumer import EventsConsumer, FactsConsumer
from services.sessions.tables import events, owner_of, sessions, users
from tests.sessions.conftest import ENV, T0, ev
from tests.sessions.oracle import expected, stored
from tests.sessions.test_store import scenario
from tests.support import wait_until


def count(engine, table):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_shuffled_duplicated_events_through_the_queue_match_the_oracle(settings, clean_bus, engine):
    evs = scenario()
    rng = random.Random(4)
    arrivals = evs + rng.sample(evs, 20)
    rng.shuffle(arrivals)
    publisher = bus.Publisher(settings)
    for i in range(0, len(arrivals), 7):
        publisher.publish(EventsCaptured(env_id=ENV, events=arrivals[i:i + 7]))
    consumer = EventsConsumer(settings)
    consumer.batch_size = 3  # several batches, so sessions are re-cut incrementally
    consumer.start()
    try:
        wait_until(lambda: consumer.handled == -(-len(arrivals) // 7), timeout=60,
                   message="every message handled")
    finally:
        consumer.stop()
    with engine.connect() as conn:
        assert stored(conn, ENV) == expected(ENV, evs)
    assert count(engine, events) == len(evs)


def test_stored_batches_clear_the_pipeline_lag(settings, clean_bus, engine, redis_client):
    message = EventsCaptured(env_id=ENV, events=[ev("lag", 0)])
    sent_at = message.sent_at.timestamp()
    Marks(redis_client).accepted(ENV, sent_at)  # as ingest does before publishing
    assert lag(redis_client, ENV, sent_at + 30)["behind_s"] == 30
    bus.Publisher(settings).publish(message)
    consumer = EventsConsumer(settings).start()
    try:
        wait_until(lambda: count(engine, events) == 1, timeout=30, message="the event stored")
        wait_until(lambda: lag(redis_client, ENV, sent_at + 30)["pending_since"] is None, timeout=10,
                   message="the lag cleared")
    finally:
        consumer.stop()
    assert lag(redis_client, ENV, sent_at)["last_stored"] == sent_at


def test_an_unreadable_message_is_dead_lettered_and_the_rest_stored(settings, clean_bus, engine):
    publisher = bus.Publisher(settings)
    good = ev("ok", 0)
    bad = EventsCaptured(env_id=ENV, events=[ev("bad", 0)]).model_dump(mode="json")
    bad["events"][0]["time"] = "yesterday"
    publisher.publish_raw("event.captured", orjson.dumps(bad), "m-bad")
    publisher.publish(EventsCaptured(env_id=ENV, events=[good]))
    consumer = EventsConsumer(settings).start()
    try:
        wait_until(lambda: count(engine, events) == 1, timeout=30, message="the good event stored")
        wait_until(lambda: bus.queue_depths(settings)["sessions.events.dead"] == 1, timeout=30,
                   message="the bad message dead-lettered")
    finally:
        consumer.stop()


def test_facts_through_the_queue_merge_update_and_mark_replays(settings, clean_bus, engine):
    publisher = bus.Publisher(settings)
    publisher.publish(EventsCaptured(env_id=ENV, events=[ev("anon", 0, session_id="s-anon"),
                                                         ev("known", 5)]))
    events_consumer = EventsConsumer(settings).start()
    try:
        wait_until(lambda: count(engine, sessions) == 2, timeout=30, message="two sessions")
    finally:
        events_consumer.stop()
    publisher.publish(UsersUpdated(env_id=ENV, users=[
        UserSnapshot(user_id="known", identity="kim@x.test", properties={"plan": "pro"}, version=2)]))
    publisher.publish(UsersMerged(env_id=ENV, merges=[
        UserMerge(from_user_id="anon", into_user_id="known", identity="kim@x.test", at=T0)]))
    publisher.publish(ReplaysRecorded(env_id=ENV, replays=[ReplayRecording(session_id="s-anon")]))
    publisher.publish(DefinitionChanged(env_id=ENV, definition_id="d1", action="created"))
    facts = FactsConsumer(settings).start()
    try:
        wait_until(lambda: facts.handled == 4, timeout=30, message="four facts handled")
    finally:
        facts.stop()
    with engine.connect() as conn:
        (user,) = conn.execute(select(users)).all()
        assert (user.user_id, user.identity, user.properties, user.session_count) == (
            "known", "kim@x.test", {"plan": "pro"}, 2)
        assert conn.execute(select(owner_of(ENV, sessions.c.anon_user_id), sessions.c.has_replay)
                            .where(sessions.c.session_id == "s-anon")).one() == ("known", True)
