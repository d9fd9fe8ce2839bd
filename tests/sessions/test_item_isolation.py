"""The events consumer sets aside only the events PostgreSQL refuses; the rest of the message is stored."""
import orjson
from sqlalchemy import select

from footfall import bus
from footfall.messages import EventsCaptured
from services.sessions.consumer import EventsConsumer
from services.sessions.tables import events
from tests.sessions.conftest import ENV, ev
from tests.support import wait_until


def stored_ids(engine):
    with engine.connect() as conn:
        return sorted(conn.scalars(select(events.c.event_id).where(events.c.env_id == ENV)))


def test_an_event_postgresql_cannot_hold_is_set_aside_and_its_neighbours_stored(settings, clean_bus, engine):
    # What ingest now refuses or normalises, sent past it (an older producer, a replayed dead letter).
    message = EventsCaptured(env_id=ENV, events=[ev("u1", 0, event_id="ok-1"), ev("u1", 1, event_id="nul"),
                                                 ev("u2", 2, event_id="ok-2")]).model_dump(mode="json")
    message["events"][1]["properties"] = {"note": "a\u0000b"}
    bus.Publisher(settings).publish_raw("event.captured", orjson.dumps(message), "m-nul")
    consumer = EventsConsumer(settings).start()
    try:
        wait_until(lambda: stored_ids(engine) == ["ok-1", "ok-2"], timeout=30, message="the valid events")
        wait_until(lambda: consumer.set_aside == 1, timeout=30, message="the NUL event set aside")
    finally:
        consumer.stop()
    connection, channel = bus.open_channel(settings)
    try:
        _, properties, body = channel.basic_get("sessions.events.dead", auto_ack=True)
    finally:
        connection.close()
    assert [e["event_id"] for e in orjson.loads(body)["events"]] == ["nul"]
    assert properties.headers["x-footfall-item"] == "nul"
    assert "\\u0000" in properties.headers["x-footfall-reason"]
