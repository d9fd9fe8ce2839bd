"""What makes a queue consumer observable: its metrics, its batch time limit, and its liveness.

- Metrics (Prometheus, per queue): batches, messages and items handled, failures by kind, items
  dead-lettered, batch duration, the queue's waiting messages and the age of the oldest message
  of the last batch (lag). A consumer process serves them at `/metrics` on the `METRICS_BIND`
  listener, the port the HTTP services serve theirs on, open to monitoring only.
- The batch time limit (`BatchTimer`): one attempt at a batch that runs past
  `CONSUMER_BATCH_TIMEOUT_S` is abandoned: `BatchTimedOut` is raised in the consumer's thread, the
  worker requeues the batch (nack), logs it and goes on. An exception can only be raised between
  Python bytecodes, so a handler blocked inside C (a socket read, a lock) is abandoned when the
  call returns, or never; liveness covers that case.
- Liveness (`/healthz` on the same listener, the Kubernetes liveness probe): a consumer has
  stalled when it made no progress (an acked batch, a retry of an outage) for `CONSUMER_STALL_S`
  while messages wait for it (in its hands, or ready in its queue). A consumer that keeps up with
  an empty queue, or waits out a broker or database outage, stays live: restarting it would not help.
"""
from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
import pika
from pika.exceptions import AMQPError
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_wsgi_app

from footfall.bus import connection_parameters

if TYPE_CHECKING:
    from footfall.worker import Consumer

log = logging.getLogger(__name__)

BATCHES = Counter("footfall_consumer_batches_total", "Batches handled and acked", ["queue"])
MESSAGES = Counter("footfall_consumer_messages_total", "Messages handled and acked", ["queue"])
ITEMS = Counter("footfall_consumer_items_total",
                "Items of the messages handled (events, commands, merges, users, …)", ["queue"])
FAILURES = Counter("footfall_consumer_failures_total",
                   "Failed attempts at a batch: transient (an outage, retried in place), data (retried "
                   "item by item), timeout (abandoned and requeued)", ["queue", "kind"])
DEAD_LETTERED = Counter("footfall_consumer_dead_lettered_total", "Items set aside in the dead-letter queue",
                        ["queue"])
DURATION = Histogram("footfall_consumer_batch_duration_seconds", "Time to handle and ack a batch", ["queue"],
                     buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
QUEUE_MESSAGES = Gauge("footfall_consumer_queue_messages", "Messages ready in the queue (not yet delivered)",
                       ["queue"])
LAG = Gauge("footfall_consumer_lag_seconds",
            "Age of the oldest message of the last batch when it was handled (from its publish time)", ["queue"])
STALLED = Gauge("footfall_consumer_stalled", "1 while a consumer of the queue has stalled (liveness fails)",
                ["queue"])


class BatchTimedOut(Exception):
    """Raised in a consumer's thread when an attempt at a batch ran past its time limit."""


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise `exc` asynchronously in a thread (None withdraws one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                              ctypes.py_object(exc) if exc is not None else None)


class BatchTimer:
    """Times each attempt at a batch; one watchdog thread raises BatchTimedOut in an attempt that
    runs past `limit` seconds. `expired` tells the worker that the failure it caught is the
    timeout, whatever exception the handler turned it into on the way out."""

    def __init__(self, queue: str, limit: float, stopped: threading.Event):
        self.queue, self.limit, self._stopped = queue, limit, stopped
        self.expired = False
        self._lock = threading.Lock()
        self._thread_id: int | None = None
        self._deadline: float | None = None
        self._watchdog: threading.Thread | None = None

    def begin(self) -> None:
        with self._lock:
            self._thread_id, self._deadline, self.expired = threading.get_ident(), time.monotonic() + self.limit, False
            if self._watchdog is None or not self._watchdog.is_alive():
                self._watchdog = threading.Thread(target=self._watch, name=f"batch-timer-{self.queue}", daemon=True)
                self._watchdog.start()

    def end(self, failed: bool) -> None:
        """The attempt is over; `failed` when it raised (perhaps the timeout itself)."""
        with self._lock:
            self._deadline = None
            if self.expired and not failed:
                # It finished just as the watchdog fired: the exception must not land elsewhere.
                _raise_in(self._thread_id, None)
                self.expired = False

    def _watch(self) -> None:
        tick = min(1.0, self.limit / 4)
        while not self._stopped.wait(tick):  # ends with its consumer
            with self._lock:
                if self._deadline is None or self.expired or time.monotonic() < self._deadline:
                    continue
                self.expired = True
                log.error("%s: a batch ran past its limit of %.0f s; abandoning it (its messages go back "
                          "to the queue)", self.queue, self.limit)
                _raise_in(self._thread_id, BatchTimedOut)


class Monitor:
    """Watches a process's consumers: polls their queues' depth, judges liveness, and serves
    `/metrics`, `/healthz` (liveness) and `/readyz` (connected to the broker) on `bind`."""

    def __init__(self, consumers: Iterable[Consumer], amqp_url: str, stall_after: float, bind: str = "",
                 poll_every: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.consumers = list(consumers)
        self.amqp_url, self.stall_after, self.bind, self.poll_every = amqp_url, stall_after, bind, poll_every
        self.clock = clock
        self.depths: dict[str, int] = {}  # ready messages per queue, at the last poll that answered
        self._caught_up: dict[int, float] = {id(c): clock() for c in self.consumers}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: WSGIServer | None = None
        self._connection: pika.BlockingConnection | None = None
        self._failing = False

    # --- liveness -------------------------------------------------------------------------------

    def stalled(self) -> list[str]:
        """Queues of the consumers that made no progress for `stall_after` while messages wait."""
        now = self.clock()
        found = []
        for consumer in self.consumers:
            waiting = consumer.holding() > 0 or self.depths.get(consumer.queue, 0) > 0
            if not waiting:
                self._caught_up[id(consumer)] = now  # nothing to do counts as keeping up
            last = max(consumer.progress_at, self._caught_up[id(consumer)])
            if waiting and now - last > self.stall_after:
                found.append(consumer.queue)
        for queue in {c.queue for c in self.consumers}:
            STALLED.labels(queue).set(1 if queue in found else 0)
        return found

    def poll(self) -> None:
        """Read each queue's ready messages (a passive declare) into `depths` and the gauge."""
        try:
            if self._connection is None or not self._connection.is_open:
                self._connection = pika.BlockingConnection(connection_parameters(self.amqp_url))
            channel = self._connection.channel()
            try:
                for queue in {c.queue for c in self.consumers}:
                    depth = channel.queue_declare(queue, passive=True).method.message_count
                    self.depths[queue] = depth
                    QUEUE_MESSAGES.labels(queue).set(depth)
                self._failing = False
            finally:
                if channel.is_open:
                    channel.close()
        except (AMQPError, OSError) as exc:
            # Unknown depths count as empty: a broker outage is no reason to restart a consumer.
            if not self._failing:  # once per outage, not every poll
                log.warning("consumer monitor: cannot read queue depths (%r)", exc)
            self._failing = True
            self.depths.clear()
            self._close()

    # --- running --------------------------------------------------------------------------------

    def start(self) -> Monitor:
        self._threads.append(threading.Thread(target=self._poll_forever, name="consumer-monitor", daemon=True))
        if self.bind:
            host, port = self.bind.rsplit(":", 1)
            self._server = make_server(host, int(port), self.app, server_class=_ThreadingServer,
                                       handler_class=_QuietHandler)
            self._threads.append(threading.Thread(target=self._server.serve_forever, name="consumer-metrics",
                                                  daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(10)
        self._close()

    def _poll_forever(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self.stalled()
            self._stop.wait(self.poll_every)

    def _close(self) -> None:
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.close()
        except (AMQPError, OSError):
            pass  # already gone
        self._connection = None

    # --- HTTP -----------------------------------------------------------------------------------

    def app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return _METRICS(environ, start_response)
        if path == "/healthz":
            stalled = self.stalled()
            body = {"status": "stalled" if stalled else "ok", "stalled": stalled, "queues": self.depths}
            return _json(start_response, 503 if stalled else 200, body)
        if path == "/readyz":
            connected = all(c.connected() for c in self.consumers)
            return _json(start_response, 200 if connected else 503,
                         {"status": "ready" if connected else "unavailable"})
        return _json(start_response, 404, {"error": {"code": 404, "message": "not found"}})


_METRICS = make_wsgi_app(REGISTRY)
_REASONS = {200: "200 OK", 404: "404 Not Found", 503: "503 Service Unavailable"}


def _json(start_response, status: int, body: dict) -> list[bytes]:
    payload = orjson.dumps(body)
    start_response(_REASONS[status], [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # probes and scrapes every few seconds: no line each
        pass
