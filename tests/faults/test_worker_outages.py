"""A consumer survives its broker going away at any step of a batch (a private RabbitMQ node)."""
import threading

from footfall import bus
from footfall.messages import ReplayRecording, ReplaysRecorded
from footfall.worker import Consumer
from tests.support import wait_until


class Outages(Consumer):
    """Stops the broker from inside `handle` for the session ids named in `triggers` (once each):
    "ack" then succeeds (so the ack meets a closed channel), "reject" then fails on its data (so
    setting it aside meets a broker that is gone)."""

    queue = "sessions.facts"

    def __init__(self, settings, rabbit):
        super().__init__(settings)
        self.rabbit, self.fired, self.seen = rabbit, set(), []
        self.lock = threading.Lock()

    def handle(self, deliveries):
        ids = [r.session_id for d in deliveries for r in d.message.replays]
        for trigger in ("ack", "reject"):
            if trigger in ids and trigger not in self.fired:
                self.fired.add(trigger)
                self.rabbit.stop_app()
                if trigger == "reject":
                    raise ValueError("bad data, and the broker is gone")
        if "reject" in ids:
            raise ValueError("bad data")
        with self.lock:
            self.seen.extend(ids)


def publish(settings, *ids):
    bus.Publisher(settings).publish(ReplaysRecorded(env_id="env-out", replays=[
        ReplayRecording(session_id=i) for i in ids]))


def test_a_broker_restart_at_any_step_leaves_the_consumer_running(settings, private_rabbit):
    private = settings.with_(amqp_url=private_rabbit.amqp_url)
    bus.purge_all(private)
    consumer = Outages(private, private_rabbit).start()
    try:
        publish(private, "before")
        wait_until(lambda: "before" in consumer.seen, timeout=20, message="the first message")

        before = consumer.reconnects
        publish(private, "ack")  # stored, then the ack meets a closed channel
        wait_until(lambda: consumer.reconnects > before, timeout=60, message="a reconnect attempt")
        private_rabbit.start_app()
        wait_until(lambda: "ack" in consumer.seen, timeout=60, message="the redelivered message")

        before = consumer.reconnects
        publish(private, "fine", "reject")  # fails on its data; setting it aside meets no broker
        wait_until(lambda: consumer.reconnects > before, timeout=60, message="another reconnect attempt")
        private_rabbit.start_app()
        wait_until(lambda: consumer.set_aside == 1, timeout=60, message="the bad item set aside")

        private_rabbit.stop_app()  # idle
        private_rabbit.start_app()
        publish(private, "after")
        wait_until(lambda: "after" in consumer.seen, timeout=60, message="consumption resumed")
        assert consumer._thread.is_alive()
        assert sorted(set(consumer.seen)) == ["ack", "after", "before", "fine"]
        assert bus.queue_depths(private)["sessions.facts.dead"] == 1
    finally:
        consumer.stop()
