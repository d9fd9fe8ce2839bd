"""Per-item isolation in the worker, through the real RabbitMQ: what fails on its data is set aside
item by item, with its reason; the rest is handled; set-aside items are visible and re-drivable."""
import threading

import orjson

from footfall import bus
from footfall.messages import IngestionWarnings, ReplayRecording, ReplaysRecorded, decode
from footfall.worker import Consumer
from tests.support import wait_until

QUEUE = "sessions.facts"


class Replays(Consumer):
    """Records the replay session ids it handled; fails a whole batch holding a poisoned one."""

    queue = QUEUE

    def __init__(self, settings, poison=()):
        super().__init__(settings)
        self.poison, self.seen, self.calls = set(poison), [], 0
        self.lock = threading.Lock()

    def handle(self, deliveries):
        ids = [r.session_id for d in deliveries for r in d.message.replays]
        with self.lock:
            self.calls += 1
        if self.poison & set(ids):
            raise ValueError(f"cannot store {sorted(self.poison & set(ids))}")
        with self.lock:
            self.seen.extend(ids)


def replays(*session_ids, env="env-iso"):
    return ReplaysRecorded(env_id=env, replays=[ReplayRecording(session_id=s) for s in session_ids])


def dead_letters(settings, queue=QUEUE):
    """Everything in the queue's DLQ (taken off it), as (body, headers)."""
    connection, channel = bus.open_channel(settings)
    taken = []
    try:
        while True:
            method, properties, body = channel.basic_get(bus.dead_letter_queue(queue), auto_ack=True)
            if method is None:
                return taken
            taken.append((orjson.loads(body), properties.headers or {}, properties.type))
    finally:
        connection.close()


def warnings_sent(settings):
    """The ingestion warnings on identity's queue (taken off it)."""
    connection, channel = bus.open_channel(settings)
    found = []
    try:
        while True:
            method, properties, body = channel.basic_get("identity.inbox", auto_ack=True)
            if method is None:
                return found
            if properties.type == IngestionWarnings.routing_key:
                found.extend(decode(properties.type, body).warnings)
    finally:
        connection.close()


def test_only_the_failing_item_of_a_message_is_set_aside_with_its_reason(settings, clean_bus):
    bus.Publisher(settings).publish(replays(*[f"s{i}" for i in range(9)], "poison", "s9"))
    bus.Publisher(settings).publish(replays("t0", "t1"))
    consumer = Replays(settings, poison={"poison"}).start()
    try:
        wait_until(lambda: len(consumer.seen) == 12, timeout=20, message="every good item handled")
        wait_until(lambda: bus.queue_depths(settings)[bus.dead_letter_queue(QUEUE)] == 1, timeout=20,
                   message="the poisoned item set aside")
    finally:
        consumer.stop()
    assert sorted(consumer.seen) == sorted([f"s{i}" for i in range(10)] + ["t0", "t1"])
    [(body, headers, contract)] = dead_letters(settings)
    assert [r["session_id"] for r in body["replays"]] == ["poison"], "only the failing item"
    assert contract == "replay.recorded"
    assert headers["x-footfall-item"] == "poison" and headers["x-footfall-env"] == "env-iso"
    assert "cannot store ['poison']" in headers["x-footfall-reason"]
    assert consumer.set_aside == 1
    [warning] = warnings_sent(settings)
    assert warning.kind == "dead_lettered" and "poison" in warning.message
    assert warning.details["queue"] == QUEUE and "cannot store" in warning.details["reason"]
    assert bus.queue_depths(settings)[QUEUE] == 0


def test_a_set_aside_item_is_handled_once_redriven_after_a_fix(settings, clean_bus):
    bus.Publisher(settings).publish(replays("a", "flaky", "b"))
    consumer = Replays(settings, poison={"flaky"}).start()
    try:
        wait_until(lambda: bus.queue_depths(settings)[bus.dead_letter_queue(QUEUE)] == 1, timeout=20,
                   message="set aside")
        consumer.poison.clear()  # the fix
        assert bus.redrive(QUEUE, settings=settings) == 1
        wait_until(lambda: sorted(consumer.seen) == ["a", "b", "flaky"], timeout=20, message="redriven item")
    finally:
        consumer.stop()
    assert bus.queue_depths(settings)[bus.dead_letter_queue(QUEUE)] == 0


def test_the_readable_items_of_a_partly_unreadable_message_are_handled(settings, clean_bus):
    body = replays("r1", "r2", "r3").model_dump(mode="json")
    body["replays"][1]["start"] = "not a time"
    bus.Publisher(settings).publish_raw("replay.recorded", orjson.dumps(body), "m-partly")
    consumer = Replays(settings).start()
    try:
        wait_until(lambda: sorted(consumer.seen) == ["r1", "r3"], timeout=20, message="readable items")
        wait_until(lambda: bus.queue_depths(settings)[bus.dead_letter_queue(QUEUE)] == 1, timeout=20,
                   message="the unreadable item set aside")
    finally:
        consumer.stop()
    [(dead, headers, _)] = dead_letters(settings)
    assert [r["session_id"] for r in dead["replays"]] == ["r2"]
    assert "start" in headers["x-footfall-reason"]


def test_a_message_that_cannot_be_split_is_set_aside_whole_with_its_reason(settings, clean_bus):
    bus.Publisher(settings).publish_raw("replay.recorded", b"{not json", "m-garbage")
    bus.Publisher(settings).publish(replays("fine"))
    consumer = Replays(settings).start()
    try:
        wait_until(lambda: consumer.seen == ["fine"], timeout=20, message="the good message")
        wait_until(lambda: bus.queue_depths(settings)[bus.dead_letter_queue(QUEUE)] == 1, timeout=20,
                   message="the garbage set aside")
    finally:
        consumer.stop()
    connection, channel = bus.open_channel(settings)
    try:
        _, properties, body = channel.basic_get(bus.dead_letter_queue(QUEUE), auto_ack=True)
    finally:
        connection.close()
    assert body == b"{not json", "set aside as it came"
    assert "Invalid JSON" in properties.headers["x-footfall-reason"]


def test_isolating_one_bad_item_among_many_costs_a_logarithmic_number_of_attempts(settings, clean_bus):
    ids = [f"x{i}" for i in range(256)]
    ids[137] = "poison"
    bus.Publisher(settings).publish(replays(*ids))
    consumer = Replays(settings, poison={"poison"}).start()
    try:
        wait_until(lambda: len(consumer.seen) == 255, timeout=20, message="the 255 good items")
    finally:
        consumer.stop()
    # The whole message once, then two halves per level of an 8-level bisection.
    assert consumer.calls <= 1 + 2 * 8
