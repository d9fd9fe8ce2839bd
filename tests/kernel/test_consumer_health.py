"""Consumers are observable, through the real RabbitMQ: a batch past its time limit is abandoned and
requeued while the worker goes on; a wedged consumer is reported not live while messages wait; the
metrics count batches, items, failures and dead letters, and are served with liveness on METRICS_BIND."""
import threading
import time

import orjson
import requests
from prometheus_client import REGISTRY

from footfall import bus
from footfall.consumer_health import Monitor
from footfall.messages import ReplayRecording, ReplaysRecorded
from footfall.worker import Consumer
from tests.stack import PORT_SHIFT
from tests.support import wait_until

QUEUE = "sessions.facts"
METRICS_PORT = 9101 + PORT_SHIFT


def replays(*session_ids, env="env-health"):
    return ReplaysRecorded(env_id=env, replays=[ReplayRecording(session_id=s) for s in session_ids])


def sample(name, **labels):
    return REGISTRY.get_sample_value(name, {"queue": QUEUE, **labels}) or 0.0


class Recording(Consumer):
    queue = QUEUE

    def __init__(self, settings, **options):
        super().__init__(settings)
        self.seen, self.redelivered = [], []
        self.options = options

    def handle(self, deliveries):
        ids = [r.session_id for d in deliveries for r in d.message.replays]
        if "poison" in ids:
            raise ValueError("cannot store poison")
        self.seen.extend(ids)
        self.redelivered.extend(d.redelivered for d in deliveries)


class SlowOnce(Recording):
    """Spins (in Python, as a handler's own code does) on its first attempt, far past the limit."""

    batch_timeout = 1.0

    def handle(self, deliveries):
        if not getattr(self, "spun", False):
            self.spun = True
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                time.sleep(0.01)
        super().handle(deliveries)


class Wedged(Recording):
    """Blocks inside C (a lock), where no time limit can reach it, until released."""

    def __init__(self, settings):
        super().__init__(settings)
        self.release = threading.Event()

    def handle(self, deliveries):
        self.release.wait()
        super().handle(deliveries)


def test_a_batch_past_its_time_limit_is_requeued_and_the_worker_goes_on(settings, clean_bus):
    timeouts = sample("footfall_consumer_failures_total", kind="timeout")
    bus.Publisher(settings).publish(replays("slow-1", "slow-2"))
    consumer = SlowOnce(settings).start()
    try:
        wait_until(lambda: consumer.seen, timeout=20, message="the batch handled again after it was abandoned")
        bus.Publisher(settings).publish(replays("after"))
        wait_until(lambda: "after" in consumer.seen, message="the worker kept going")
    finally:
        consumer.stop()
    assert consumer.abandoned == 1
    assert consumer.seen == ["slow-1", "slow-2", "after"]
    assert consumer.redelivered[0] is True  # the same message, back from the queue
    assert sample("footfall_consumer_failures_total", kind="timeout") == timeouts + 1
    assert bus.queue_depths(settings)[bus.dead_letter_queue(QUEUE)] == 0


def _health(port=METRICS_PORT):
    response = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    return response.status_code, response.json()


def test_a_wedged_consumer_is_not_live_while_its_message_waits(settings, clean_bus):
    consumer = Wedged(settings).start()
    monitor = Monitor([consumer], settings.amqp_url, stall_after=1.0, bind=f"127.0.0.1:{METRICS_PORT}",
                      poll_every=0.2).start()
    try:
        wait_until(consumer.connected, message="consumer connected")
        time.sleep(1.5)  # idle past the stall limit: an empty queue is kept up with
        assert _health() == (200, {"status": "ok", "stalled": [], "queues": {QUEUE: 0}})
        bus.Publisher(settings).publish(replays("stuck"))
        wait_until(lambda: consumer.holding() == 1, message="the consumer took the message")
        _, body = wait_until(lambda: (found := _health())[0] == 503 and found, timeout=10,
                                  message="liveness failing")
        assert body["stalled"] == [QUEUE]
        assert sample("footfall_consumer_stalled") == 1
        consumer.release.set()
        wait_until(lambda: _health()[0] == 200, message="live again once it made progress")
        assert consumer.seen == ["stuck"]
    finally:
        consumer.release.set()
        monitor.stop()
        consumer.stop()


def test_a_consumer_that_receives_nothing_while_its_queue_fills_is_not_live(settings, clean_bus):
    idle = Recording(settings)  # never started: as if the broker had stopped delivering to it
    monitor = Monitor([idle], settings.amqp_url, stall_after=0.5)
    monitor.poll()
    assert monitor.stalled() == []
    bus.Publisher(settings).publish(replays("waiting"))
    time.sleep(0.6)
    monitor.poll()
    assert monitor.depths[QUEUE] == 1
    assert monitor.stalled() == [QUEUE]
    monitor.stop()


def test_metrics_count_batches_items_failures_and_dead_letters(settings, clean_bus):
    names = ("footfall_consumer_batches_total", "footfall_consumer_messages_total",
             "footfall_consumer_items_total", "footfall_consumer_dead_lettered_total")
    before = {name: sample(name) for name in names}
    data_failures = sample("footfall_consumer_failures_total", kind="data")
    batches_timed = sample("footfall_consumer_batch_duration_seconds_count")
    publisher = bus.Publisher(settings)
    publisher.publish(replays("a", "b", "c"))
    publisher.publish(replays("d", "poison"))
    consumer = Recording(settings)
    consumer.max_wait = 0.5  # both messages in one batch
    consumer.start()
    monitor = Monitor([consumer], settings.amqp_url, stall_after=60, bind=f"127.0.0.1:{METRICS_PORT}").start()
    try:
        wait_until(lambda: consumer.handled == 2, message="both messages handled")
        scraped = requests.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=5).text
    finally:
        monitor.stop()
        consumer.stop()
    after = {name: sample(name) - before[name] for name in names}
    assert after == {"footfall_consumer_batches_total": 1, "footfall_consumer_messages_total": 2,
                     "footfall_consumer_items_total": 5, "footfall_consumer_dead_lettered_total": 1}
    # The batch, then its poisoned message alone, then the poisoned half: three data failures.
    assert sample("footfall_consumer_failures_total", kind="data") - data_failures == 3
    assert sample("footfall_consumer_batch_duration_seconds_count") == batches_timed + 1
    assert 0 <= sample("footfall_consumer_lag_seconds") < 60
    assert sorted(consumer.seen) == ["a", "b", "c", "d"]
    for name in names + ("footfall_consumer_queue_messages", "footfall_consumer_batch_duration_seconds_count"):
        assert f'{name}{{queue="{QUEUE}"' in scraped
    connection, channel = bus.open_channel(settings)
    try:
        dead = orjson.loads(channel.basic_get(bus.dead_letter_queue(QUEUE), auto_ack=True)[2])
    finally:
        connection.close()
    assert [r["session_id"] for r in dead["replays"]] == ["poison"]
