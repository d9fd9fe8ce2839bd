"""The queue-worker base class every consumer process uses (after zulip's zerver/worker/base.py).

A worker pulls up to `batch_size` deliveries (or what arrived within `max_wait`), hands the decoded
batch to `handle`, which commits, and then acks them all with one `multiple=True` ack. So a crash
before the commit redelivers the batch, and handlers must be idempotent (they are: DESIGN.md §2).

One bad message never blocks a queue: undecodable messages are rejected straight to the dead-letter
queue; when a batch fails, each message is retried alone and the failing one is `basic_reject`ed
(requeue), which counts toward the queue's `x-delivery-limit`, after which the broker dead-letters
it. Infrastructure errors (database down) are not the message's fault: the batch is retried in
place with backoff and nothing is rejected.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass

import pika
from pika.exceptions import AMQPConnectionError, ConnectionClosedByBroker, StreamLostError
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from footfall.bus import connection_parameters, declare_topology
from footfall.config import Settings, get_settings
from footfall.messages import Message, UnknownMessage, decode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    routing_key: str
    message: Message
    delivery_tag: int
    redelivered: bool
    body: bytes = b""  # the raw message, for handlers that hand it on as is (e.g. COPY into a DB)


class Consumer:
    """Subclass, set `queue`, implement `handle(deliveries)`; run with `run()` or `start()`."""

    queue: str = ""
    # Prefetch bounds how many unacked messages the broker pushes to us. 100-300 is RabbitMQ's
    # measured sweet spot (engineering.md §1); the batch is what we commit at once.
    prefetch: int | None = None
    batch_size: int | None = None
    max_wait: float = 0.05  # seconds to wait for a batch to fill before handling what we have
    # Exceptions that mean "infrastructure is down", not "this message is bad": retried in place,
    # without limit, since every other message would fail the same way.
    transient_errors: tuple[type[BaseException], ...] = (
        OperationalError,
        ConnectionError,
        TimeoutError,
    )

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.prefetch = self.prefetch or self.settings.prefetch
        self.batch_size = self.batch_size or self.settings.batch_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list[tuple[pika.spec.Basic.Deliver, pika.BasicProperties, bytes]] = []
        self.handled = 0  # messages acked since start, for tests and logs

    # --- to implement -------------------------------------------------------------------------

    def decode(self, routing_key: str, body: bytes) -> Message:
        """Parse and validate one message; override to validate less on a hot path (then keep raw)."""
        return decode(routing_key, body)

    def handle(self, deliveries: list[Delivery]) -> None:
        """Apply a batch and commit; raise to have it retried message by message."""
        raise NotImplementedError

    # --- running --------------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until stopped, reconnecting with backoff when the broker goes away."""
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._consume()
                backoff = 0.5
            except (AMQPConnectionError, StreamLostError, ConnectionClosedByBroker, OSError) as exc:
                log.warning("broker connection lost (%r); reconnecting in %.1fs", exc, backoff)
                self._pending.clear()  # unacked deliveries come back from the broker
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 15)

    def run_forever(self) -> None:
        """Entry point for a consumer process: SIGTERM/SIGINT finish the current batch, then exit."""
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        log.info("consuming %s", self.queue)
        self.run()

    def start(self) -> "Consumer":
        """Run in a background thread (tests, embedded use)."""
        self._thread = threading.Thread(target=self.run, name=f"consumer-{self.queue}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _consume(self) -> None:
        connection = pika.BlockingConnection(connection_parameters(self.settings.amqp_url))
        self._connection = connection
        try:
            channel = connection.channel()
            declare_topology(channel, self.settings.delivery_limit)
            channel.basic_qos(prefetch_count=self.prefetch)
            channel.basic_consume(self.queue, lambda _ch, m, p, b: self._pending.append((m, p, b)))
            first_at = None
            while not self._stop.is_set():
                connection.process_data_events(time_limit=self.max_wait)
                if not self._pending:
                    first_at = None
                    continue
                first_at = first_at or time.monotonic()
                if len(self._pending) >= self.batch_size or time.monotonic() - first_at >= self.max_wait:
                    batch, self._pending = self._pending[: self.batch_size], self._pending[self.batch_size :]
                    self._process(channel, batch)
                    first_at = None
        finally:
            self._pending.clear()
            if connection.is_open:
                connection.close()

    # --- one batch --------------------------------------------------------------------------------

    def _process(self, channel, raw: list) -> None:
        deliveries = []
        for method, properties, body in raw:
            # Publishers put the routing key in `type` too, so redriven messages (which come
            # straight to the queue through the default exchange) still name their contract.
            routing_key = properties.type or method.routing_key
            try:
                message = self.decode(routing_key, body)
            except (ValidationError, UnknownMessage, ValueError) as exc:
                # A message that cannot be read will never be read: dead-letter it now.
                log.error("rejecting undecodable message on %s: %s", self.queue, exc)
                channel.basic_reject(method.delivery_tag, requeue=False)
                continue
            deliveries.append(Delivery(routing_key, message, method.delivery_tag, method.redelivered, body))
        if not deliveries:
            return
        try:
            self._handle_with_backoff(deliveries)
            channel.basic_ack(deliveries[-1].delivery_tag, multiple=True)
            self.handled += len(deliveries)
            return
        except Exception:
            if len(deliveries) == 1:
                self._reject(channel, deliveries[0])
                return
            log.warning("batch of %d failed on %s; retrying one by one", len(deliveries), self.queue)
        for delivery in deliveries:
            try:
                self._handle_with_backoff([delivery])
                channel.basic_ack(delivery.delivery_tag)
                self.handled += 1
            except Exception:
                self._reject(channel, delivery)

    def _handle_with_backoff(self, deliveries: list[Delivery]) -> None:
        backoff = 0.5
        while True:
            try:
                self.handle(deliveries)
                return
            except self.transient_errors as exc:
                if self._stop.is_set():
                    raise
                log.warning("transient failure on %s (%r); retrying in %.1fs", self.queue, exc, backoff)
                # connection.sleep keeps heartbeats flowing while we wait for the database.
                self._connection.sleep(backoff)
                backoff = min(backoff * 2, 15)

    def _reject(self, channel, delivery: Delivery) -> None:
        log.exception("message %s failed on %s; rejecting (counts toward the delivery limit)",
                      delivery.message.message_id, self.queue)
        channel.basic_reject(delivery.delivery_tag, requeue=True)

