"""The queue-worker base class every consumer process uses (after zulip's zerver/worker/base.py).

A worker pulls up to `batch_size` deliveries (or what arrived within `max_wait`), hands the decoded
batch to `handle`, which commits, and then acks them all with one `multiple=True` ack. So a crash
before the commit redelivers the batch, and handlers must be idempotent (they are: every consumer
joins facts by min, max or union, or skips what it already stored).

Two kinds of failure, told apart by `is_transient`:
- Infrastructure (database or broker down, a connection cut): not the message's fault, since every
  other message would fail the same way. The batch is retried in place with backoff, without limit;
  a lost broker connection is re-opened, and whatever was not acked comes back from the broker.
  Nothing ends the worker but `stop()`: not an outage, not a closed channel, not a bug in a batch.
- Data (a message or an item the handler cannot store): only what fails is set aside. A failed
  batch is retried message by message; a message that fails alone is split in halves, recursively,
  so the items that store are stored and each item that fails on its own goes to the queue's
  dead-letter queue with its reason (headers `x-footfall-reason`, `-item`, `-env`), where
  `python -m footfall.bus redrive QUEUE` finds it after a fix. Each one is also published as an
  ingestion warning of its environment (`ingest.warning`), so customers see what was set aside.
  An undecodable message is split the same way: its readable items go on.

The queue's delivery limit stays as the backstop for a message that kills the process each time
(a crash leaves no chance to set it aside): the broker dead-letters it after that many deliveries.

A third kind is the batch that hangs: an attempt that runs past `CONSUMER_BATCH_TIMEOUT_S` is
abandoned (nacked back to the queue, logged) and the worker goes on; each redelivery counts
towards the delivery limit, so a batch that always hangs ends in the dead-letter queue too.
Metrics, the time limit and liveness are in footfall/consumer_health.py.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass

import pika
import psycopg
from pika.exceptions import AMQPError
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from footfall.bus import (
    ENV_HEADER,
    ITEM_HEADER,
    REASON_HEADER,
    Publisher,
    connection_parameters,
    declare_topology,
)
from footfall.clock import utcnow
from footfall.config import Settings, get_settings
from footfall.consumer_health import (
    BATCHES,
    DEAD_LETTERED,
    DURATION,
    FAILURES,
    ITEMS,
    LAG,
    MESSAGES,
    BatchTimer,
    Monitor,
)
from footfall.messages import (
    MESSAGE_TYPES,
    IngestionWarning,
    IngestionWarnings,
    Message,
    UnknownMessage,
    decode,
    describe_item,
    join_items,
    split_items,
)

log = logging.getLogger(__name__)

# Failures that mean "infrastructure is down or a connection was cut", not "this data is bad".
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,  # SQLAlchemy's wrapper of the driver's connection-level errors
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool had no connection to give
    psycopg.OperationalError,  # raised unwrapped by code on the raw driver connection (COPY)
    psycopg.InterfaceError,
    AMQPError,
    ConnectionError,
    TimeoutError,
)
UNDECODABLE = (ValidationError, UnknownMessage, ValueError)
MAX_REASON = 1000
MIN_BACKOFF, MAX_BACKOFF = 0.25, 5.0
# A connection that worked this long was healthy: the next failure starts the backoff afresh.
HEALTHY_AFTER_S = 30.0


def is_transient(exc: BaseException, extra: tuple[type[BaseException], ...] = ()) -> bool:
    """True when `exc` (or an error it was raised from) is an outage rather than bad data."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TRANSIENT_ERRORS + extra) or getattr(seen, "connection_invalidated", False):
            return True
        seen = seen.__cause__
    return False


def reason_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_REASON]


@dataclass(frozen=True)
class Delivery:
    routing_key: str
    message: Message
    delivery_tag: int
    redelivered: bool
    body: bytes = b""  # the raw message, for handlers that hand it on as is (e.g. COPY into a DB)


@dataclass(frozen=True)
class SetAside:
    """An item (or a message that cannot be split) that failed on its own, and why."""

    routing_key: str
    body: bytes
    message_id: str
    reason: str


class Consumer:
    """Subclass, set `queue`, implement `handle(deliveries)`; run with `run()` or `start()`."""

    queue: str = ""
    # Prefetch bounds how many unacked messages the broker pushes to us; 100-300 is RabbitMQ's
    # measured sweet spot. The batch is what we commit at once.
    prefetch: int | None = None
    batch_size: int | None = None
    max_wait: float = 0.05  # seconds to wait for a batch to fill before handling what we have
    # More exception types a subclass knows to be outages (see `is_transient` for the shared ones).
    transient_errors: tuple[type[BaseException], ...] = ()
    batch_timeout: float | None = None  # seconds per attempt at a batch; Settings' when None

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.prefetch = self.prefetch or self.settings.prefetch
        self.batch_size = self.batch_size or self.settings.batch_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pending: list[tuple[pika.spec.Basic.Deliver, pika.BasicProperties, bytes]] = []
        self._connection: pika.BlockingConnection | None = None
        self._publisher: Publisher | None = None
        self.handled = 0  # messages acked since start, for tests and logs
        self.set_aside = 0  # items sent to the dead-letter queue since start
        self.reconnects = 0  # broker connections re-opened after a failure
        self.abandoned = 0  # batches abandoned at their time limit (and requeued)
        # When the consumer last made progress (acked a batch, retried an outage): liveness.
        self.progress_at = time.monotonic()
        self._in_batch = 0
        self._timer = BatchTimer(self.queue, self.batch_timeout or self.settings.consumer_batch_timeout_s, self._stop)
        self._metrics = (BATCHES.labels(self.queue), MESSAGES.labels(self.queue), ITEMS.labels(self.queue),
                         DURATION.labels(self.queue), LAG.labels(self.queue))

    # --- to implement -------------------------------------------------------------------------

    def decode(self, routing_key: str, body: bytes) -> Message:
        """Parse and validate one message; override to validate less on a hot path (then keep raw)."""
        return decode(routing_key, body)

    def handle(self, deliveries: list[Delivery]) -> None:
        """Apply a batch and commit; raise to have it retried message by message, then item by item."""
        raise NotImplementedError

    def holding(self) -> int:
        """Deliveries received and not yet acked (waiting for a batch, or in the one being handled)."""
        return len(self._pending) + self._in_batch

    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and connection.is_open

    # --- running --------------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until stopped, reconnecting with backoff whatever ends a connection."""
        backoff = MIN_BACKOFF
        while not self._stop.is_set():
            opened = time.monotonic()
            try:
                self._consume()
            except Exception as exc:  # no failure may end a consumer; each is logged
                if is_transient(exc, self.transient_errors):
                    log.warning("%s: broker or database connection lost (%r); reconnecting in %.2fs",
                                self.queue, exc, backoff)
                else:
                    log.exception("%s: unexpected failure; reconnecting in %.2fs (unacked messages "
                                  "come back; the delivery limit bounds a message that keeps failing)",
                                  self.queue, backoff)
            finally:
                self._pending.clear()  # unacked deliveries come back from the broker
            if self._stop.is_set():
                break
            if time.monotonic() - opened > HEALTHY_AFTER_S:
                backoff = MIN_BACKOFF
            self.reconnects += 1
            self._stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
        if self._publisher is not None:
            self._publisher.close()

    def run_forever(self) -> int:
        """Entry point for a consumer process: SIGTERM/SIGINT finish the current batch, then exit."""
        return run_consumers([self])

    def start(self) -> Consumer:
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
            try:
                if connection.is_open:
                    connection.close()
            except (AMQPError, OSError):
                pass  # already gone: the broker went away

    # --- one batch --------------------------------------------------------------------------------

    def _process(self, channel, raw: list) -> None:
        """Handle a batch, set aside what fails on its data, then ack the whole batch at once."""
        started = time.perf_counter()
        self._in_batch = len(raw)
        try:
            handled = self._apply(raw)
        except Exception:
            if not self._timer.expired:
                raise
            # Abandoned at its time limit: back to the queue (the broker counts the delivery).
            channel.basic_nack(raw[-1][0].delivery_tag, multiple=True, requeue=True)
            self.abandoned += 1
            return
        finally:
            self._in_batch = 0
        # Every delivery of the batch is now stored or set aside (confirmed): one ack for all.
        channel.basic_ack(raw[-1][0].delivery_tag, multiple=True)
        self.handled += len(raw)
        self.progress_at = time.monotonic()
        batches, messages, items, duration, lag = self._metrics
        batches.inc()
        messages.inc(len(raw))
        items.inc(sum(_items(d) for d in handled))
        duration.observe(time.perf_counter() - started)
        published = [properties.timestamp for _, properties, _ in raw if properties.timestamp]
        if published:
            lag.set(max(0.0, time.time() - min(published)))

    def _apply(self, raw: list) -> list[Delivery]:
        """Handle the readable deliveries (isolating what fails), set aside the rest; returns the readable."""
        deliveries: list[Delivery] = []
        aside: list[SetAside] = []
        for method, properties, body in raw:
            # Publishers put the routing key in `type` too, so redriven and dead-lettered messages
            # (which travel under other keys) still name their contract.
            routing_key = properties.type or method.routing_key
            delivery, unreadable = self._read(routing_key, body, method, properties.message_id)
            aside += unreadable
            if delivery is not None:
                deliveries.append(delivery)
        if deliveries:
            try:
                self._handle_with_backoff(deliveries)
            except Exception as exc:
                if self._timer.expired or is_transient(exc, self.transient_errors):
                    raise  # abandoned, or stopping: nothing is acked, the broker redelivers
                if len(deliveries) > 1:
                    log.warning("batch of %d failed on %s (%s); retrying one by one", len(deliveries),
                                self.queue, reason_of(exc))
                for delivery in deliveries:
                    aside += self._isolate(delivery, exc if len(deliveries) == 1 else None)
        if aside:
            self._set_aside(aside)
        return deliveries

    def _read(self, routing_key: str, body: bytes,
              method, message_id: str | None) -> tuple[Delivery | None, list[SetAside]]:
        """The delivery decoded; when it cannot be, its readable items as one delivery and the rest set aside."""
        try:
            message = self.decode(routing_key, body)
            return Delivery(routing_key, message, method.delivery_tag, method.redelivered, body), []
        except UNDECODABLE as exc:
            error = exc
        halves = split_items(routing_key, body, parts=None)  # one body per item
        if halves is None:
            log.error("setting aside an undecodable message on %s: %s", self.queue, reason_of(error))
            return None, [SetAside(routing_key, body, message_id or "unknown", reason_of(error))]
        readable: list[bytes] = []
        aside = []
        for item in halves:
            try:
                self.decode(routing_key, item)
                readable.append(item)
            except UNDECODABLE as exc:
                aside.append(SetAside(routing_key, item, message_id or "unknown", reason_of(exc)))
        log.error("%s: %d undecodable item(s) of message %s set aside", self.queue, len(aside), message_id)
        if not readable:
            return None, aside
        body = join_items(routing_key, readable)
        return Delivery(routing_key, self.decode(routing_key, body), method.delivery_tag, method.redelivered,
                        body), aside

    def _isolate(self, delivery: Delivery, failure: BaseException | None) -> list[SetAside]:
        """Store what stores of one message: halves recursively, down to the items that fail alone."""
        if failure is None:
            try:
                self._handle_with_backoff([delivery])
                return []
            except Exception as exc:
                if self._timer.expired or is_transient(exc, self.transient_errors):
                    raise
                failure = exc
        halves = split_items(delivery.routing_key, delivery.body)
        if halves is None:
            log.error("%s: message %s failed alone; setting it aside: %s", self.queue,
                      delivery.message.message_id, reason_of(failure))
            return [SetAside(delivery.routing_key, delivery.body, delivery.message.message_id, reason_of(failure))]
        aside: list[SetAside] = []
        for body in halves:
            half = Delivery(delivery.routing_key, self.decode(delivery.routing_key, body), delivery.delivery_tag,
                            delivery.redelivered, body)
            aside += self._isolate(half, None)
        return aside

    def _handle_with_backoff(self, deliveries: list[Delivery]) -> None:
        backoff = MIN_BACKOFF
        while True:
            try:
                self._timer.begin()
                try:
                    self.handle(deliveries)
                except BaseException:
                    self._timer.end(failed=True)
                    raise
                self._timer.end(failed=False)
                return
            except Exception as exc:
                transient = not self._timer.expired and is_transient(exc, self.transient_errors)
                FAILURES.labels(self.queue, "timeout" if self._timer.expired else
                                "transient" if transient else "data").inc()
                if not transient or self._stop.is_set():
                    raise
                self.progress_at = time.monotonic()  # waiting out an outage is not a wedge
                log.warning("transient failure on %s (%r); retrying in %.2fs", self.queue, exc, backoff)
                # connection.sleep keeps heartbeats flowing while we wait for the database; it
                # raises if the broker went away meanwhile, and run() reconnects.
                self._connection.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    def _set_aside(self, aside: list[SetAside]) -> None:
        """Dead-letter each item with its reason, and tell its environment (both confirmed)."""
        if self._publisher is None:
            self._publisher = Publisher(self.settings)
        warnings: dict[str, list[IngestionWarning]] = {}
        now = utcnow()
        for item in aside:
            env_id, item_id = describe_item(item.routing_key, item.body)
            headers = {REASON_HEADER: item.reason, ITEM_HEADER: item_id or "", ENV_HEADER: env_id or ""}
            self._publisher.dead_letter(self.queue, item.routing_key, item.body,
                                        f"{item.message_id}/{item_id or 'message'}", headers)
            self.set_aside += 1
            DEAD_LETTERED.labels(self.queue).inc()
            # A warning about a warning could loop if warnings themselves fail: those only go to the DLQ.
            if env_id and item.routing_key != IngestionWarnings.routing_key:
                what = f"{item.routing_key} item {item_id}" if item_id else f"{item.routing_key} message"
                warnings.setdefault(env_id, []).append(IngestionWarning(
                    key=f"dead_letter:{self.queue}:{item_id or item.message_id}", kind="dead_lettered",
                    message=f"{what} could not be stored and was set aside in {self.queue}.dead: {item.reason}",
                    occurred_at=now, details={"queue": self.queue, "routing_key": item.routing_key,
                                              "item": item_id, "reason": item.reason}))
        for env_id, items in warnings.items():
            self._publisher.publish(IngestionWarnings(env_id=env_id, warnings=items))



def _items(delivery: Delivery) -> int:
    """How many items (events, commands, …) a delivery's message holds; 1 for a single fact."""
    model = MESSAGE_TYPES.get(delivery.routing_key)
    field = model.items_field if model is not None else None
    return len(getattr(delivery.message, field, ())) if field else 1


def run_consumers(consumers: list[Consumer], settings: Settings | None = None) -> int:
    """A consumer process: each consumer in its own thread, with their Monitor (metrics, liveness
    on METRICS_BIND), until SIGTERM/SIGINT, which finish the current batches; non-zero when a
    consumer's thread died (the process is then restarted)."""
    settings = settings or consumers[0].settings
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    monitor = Monitor(consumers, settings.amqp_url, settings.consumer_stall_s, settings.metrics_bind).start()
    threads = [threading.Thread(target=c.run, name=f"{c.queue}-{i}") for i, c in enumerate(consumers)]
    for thread in threads:
        thread.start()
    log.info("consuming %s with %d consumer(s)", ", ".join(sorted({c.queue for c in consumers})), len(consumers))
    while not stopping.wait(1) and all(t.is_alive() for t in threads):
        pass
    for consumer in consumers:
        consumer.stop()
    for thread in threads:
        thread.join()
    monitor.stop()
    return 0 if stopping.is_set() else 1
