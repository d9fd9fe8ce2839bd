"""The bus against the real local RabbitMQ: confirms, batches, dead letters, redrive."""
import os
import pathlib
import signal
import subprocess
import sys
import threading

import pika
import pytest
from sqlalchemy.exc import OperationalError

from footfall import bus
from footfall.messages import DefinitionChanged
from footfall.worker import Consumer
from tests.support import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Recorder(Consumer):
    """Records what it handled; fails on definition ids listed in `poison`."""

    queue = "sessions.facts"

    def __init__(self, settings, poison=()):
        super().__init__(settings)
        self.poison, self.seen, self.batches = set(poison), [], []
        self.lock = threading.Lock()

    def handle(self, deliveries):
        ids = [d.message.definition_id for d in deliveries]
        if self.poison & set(ids):
            raise ValueError(f"poison in {ids}")
        with self.lock:
            self.seen.extend(ids)
            self.batches.append(len(ids))


def changed(definition_id):
    return DefinitionChanged(env_id="env", definition_id=definition_id, action="updated")


def dead_letters(settings, queue="sessions.facts"):
    return bus.queue_depths(settings)[bus.dead_letter_queue(queue)]


def test_messages_arrive_in_batches_and_are_acked(settings, clean_bus):
    publisher = bus.Publisher(settings)
    for i in range(300):
        publisher.publish(changed(f"d{i}"))
    consumer = Recorder(settings).start()
    try:
        wait_until(lambda: len(consumer.seen) == 300, message="300 messages handled")
        assert max(consumer.batches) > 1, "messages should be handled in batches"
    finally:
        consumer.stop()
    assert bus.queue_depths(settings)["sessions.facts"] == 0


def test_poison_message_is_dead_lettered_after_the_limit_and_the_rest_flow(settings, clean_bus):
    publisher = bus.Publisher(settings)
    publisher.publish(changed("poison"))
    for i in range(50):
        publisher.publish(changed(f"ok{i}"))
    consumer = Recorder(settings, poison={"poison"}).start()
    try:
        wait_until(lambda: len(consumer.seen) == 50, message="the good messages")
        wait_until(lambda: dead_letters(settings) == 1, timeout=20, message="poison in the DLQ")
    finally:
        consumer.stop()
    assert "poison" not in consumer.seen
    assert bus.queue_depths(settings)["sessions.facts"] == 0


def test_undecodable_message_goes_straight_to_dead_letters(settings, clean_bus):
    publisher = bus.Publisher(settings)
    publisher.publish_raw("definition.changed", b'{"not": "a contract"}', "m-bad")
    publisher.publish(changed("fine"))
    consumer = Recorder(settings).start()
    try:
        wait_until(lambda: consumer.seen == ["fine"], message="the valid message")
        wait_until(lambda: dead_letters(settings) == 1, message="bad message dead-lettered")
    finally:
        consumer.stop()


def test_redrive_moves_dead_letters_back(settings, clean_bus):
    publisher = bus.Publisher(settings)
    publisher.publish(changed("flaky"))
    consumer = Recorder(settings, poison={"flaky"}).start()
    try:
        wait_until(lambda: dead_letters(settings) == 1, timeout=20, message="dead letter")
        consumer.poison.clear()  # the bug is fixed; redrive
        assert bus.redrive("sessions.facts", settings=settings) == 1
        wait_until(lambda: consumer.seen == ["flaky"], message="redriven message handled")
    finally:
        consumer.stop()
    assert dead_letters(settings) == 0


def test_publish_without_a_broker_raises_instead_of_pretending(settings):
    publisher = bus.Publisher(settings.with_(amqp_url="amqp://guest:guest@127.0.0.1:1/%2F"))
    with pytest.raises(bus.BrokerUnavailable):
        publisher.publish(changed("lost"))


def test_topology_declaration_is_idempotent(settings):
    connection = pika.BlockingConnection(bus.connection_parameters(settings.amqp_url))
    channel = connection.channel()
    bus.declare_topology(channel, settings.delivery_limit)
    bus.declare_topology(channel, settings.delivery_limit)
    depths = bus.queue_depths(settings)
    assert set(bus.QUEUES) <= set(depths)
    connection.close()


class FlakyDatabase(Recorder):
    """Fails with a database outage a few times, then recovers."""

    def __init__(self, settings, outages):
        super().__init__(settings)
        self.outages = outages

    def handle(self, deliveries):
        if self.outages:
            self.outages -= 1
            raise OperationalError("insert …", {}, ConnectionRefusedError("database is down"))
        super().handle(deliveries)


def test_an_infrastructure_outage_is_waited_out_not_dead_lettered(settings, clean_bus):
    publisher = bus.Publisher(settings)
    for i in range(5):
        publisher.publish(changed(f"d{i}"))
    consumer = FlakyDatabase(settings, outages=3).start()
    try:
        wait_until(lambda: len(consumer.seen) == 5, timeout=20, message="handled after the outage")
    finally:
        consumer.stop()
    assert dead_letters(settings) == 0


def test_sigterm_stops_a_consumer_process_cleanly(settings, clean_bus):
    code = ("from tests.kernel.test_bus import Recorder; from footfall.config import get_settings; "
            "Recorder(get_settings()).run_forever()")
    process = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ), cwd=str(ROOT))
    try:
        bus.Publisher(settings).publish(changed("before-stop"))
        wait_until(lambda: bus.queue_depths(settings)["sessions.facts"] == 0, message="consumed")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_a_fact_no_queue_needs_is_confirmed_without_a_subscriber(settings):
    from footfall.messages import EnvironmentChanged

    bus.Publisher(settings).publish(EnvironmentChanged(env_id="env", action="key_rotated"))


def test_a_message_no_queue_receives_is_refused_when_it_needs_one(settings):
    with pytest.raises(bus.BrokerUnavailable):
        bus.Publisher(settings).publish_raw("nobody.listens", b"{}", "m-1")
