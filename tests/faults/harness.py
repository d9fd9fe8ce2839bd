"""The fault harness: a whole stack on private servers, a steady realistic load, faults, invariants.

Used by the fault suite in `make test` (tests/faults/test_fault_suite.py) and by the soak
(bench/soak.py). Nothing here touches the shared RabbitMQ or Redis: the stack runs on a private
RabbitMQ node and a private redis-server (tests/faults/servers.py), its own database, and ports of
its own; replay reaches S3 through a door the harness can shut.

The load is what a product sends: people identified from their first event (events carry userId and
anonymousId), anonymous people who identify later (an identify call, then events with both ids),
people who stay anonymous; batches resent as they were (a client retrying after a lost answer);
two environments, one on the bootstrap write key (no Redis needed) and one on a key the gateway made
(read from Redis); and session replays uploading chunks. Like an SDK, the load sends a batch again
until ingest answers 200 (it retries 503s and refused connections), and remembers what was accepted.

The oracle is computed from what was sent, never from what was stored: sessions by
`services.sessions.sessionize.partition` over the accepted events, owners by identity (an anonymous
id that ever sent its identity belongs to `identified_user_id(env, identity)`).
"""
from __future__ import annotations

import gzip
import itertools
import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from footfall import bus, db
from footfall.config import Settings, get_settings
from footfall.ids import anonymous_user_id, identified_user_id
from footfall.web import service_headers
from services.sessions.sessionize import Point, partition
from tests.faults.servers import PrivateRabbit, PrivateRedis, TcpDoor
from tests.stack import PORT_SHIFT, SERVICE_PORTS, Stack, read_procfile, start_stack

# Every queue consumer of the Procfile (the processes that hold a batch when killed).
CONSUMERS = tuple(sorted(name for name in read_procfile() if name.endswith("-consumer")))
SECOND_ENV, THIRD_ENV = "faults-two", "faults-three"
SOURCE = "web"  # analytics.js: sessions time out after 30 minutes
MAX_PEOPLE = 300  # people the load keeps sending for at once
# analytics.js runs in browsers: a browser's user agent (python-requests' is a bot's, and bot
# traffic is dropped by default).
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/124.0.0.0 Safari/537.36"}


# --- the stack on private servers -------------------------------------------------------------


@dataclass
class FaultStack:
    stack: Stack
    rabbit: PrivateRabbit
    redis: PrivateRedis
    s3_door: TcpDoor
    settings: Settings
    keys: dict[str, str]  # env id -> write key
    killed: Counter = field(default_factory=Counter)  # deaths the harness caused, per process

    @property
    def envs(self) -> list[str]:
        return list(self.keys)

    def engine(self, schema: str = "sessions"):
        return db.make_engine(schema, self.settings, pool_size=2, max_overflow=0)

    def stop(self) -> None:
        try:
            self.stack.stop()
        finally:
            self.s3_door.shut()
            self.redis.stop()
            self.rabbit.stop()


def start_fault_stack(port_shift: int | None = None) -> FaultStack:
    """Private RabbitMQ and Redis, then every process under footfall.supervise pointed at them."""
    shift = PORT_SHIFT + 500 if port_shift is None else port_shift
    rabbit = PrivateRabbit().start()
    redis = PrivateRedis().start()
    door = TcpDoor(SERVICE_PORTS["s3"] + shift).open()
    base = get_settings()
    database = make_url(base.database_url)
    settings = base.with_(
        database_url=database.set(database=f"{database.database}_faults").render_as_string(hide_password=False),
        amqp_url=rabbit.amqp_url, redis_url=redis.url)
    try:
        stack = start_stack(settings=settings, port_shift=shift, supervised=True,
                            s3_endpoint_url=f"http://127.0.0.1:{door.port}")
    except Exception:
        door.shut()
        redis.stop()
        rabbit.stop()
        raise
    faults = FaultStack(stack, rabbit, redis, door, settings, {stack.env_id: stack.write_key})
    try:
        admin = requests.Session()
        login = admin.post(stack.url("gateway") + "/auth/login",
                           json={"email": stack.admin_email, "password": stack.admin_password}, timeout=10)
        login.raise_for_status()
        for env_id in (SECOND_ENV, THIRD_ENV):
            created = admin.post(stack.url("gateway") + "/api/v1/environments", json={"id": env_id},
                                 headers={"X-CSRF-Token": login.json()["csrf_token"]}, timeout=10)
            created.raise_for_status()
            faults.keys[env_id] = created.json()["write_key"]
    except Exception:
        faults.stop()
        raise
    return faults


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Person:
    env_id: str
    anonymous_id: str
    identity: str | None
    kind: str  # "known" (identified from the first event), "later" (identifies later), "anonymous"
    clock: datetime
    sent: int = 0


@dataclass
class Ledger:
    """What was sent and what ingest accepted, per event; the oracle is built from it alone."""

    events: dict[str, tuple[str, str, datetime]] = field(default_factory=dict)  # id -> env, anon id, time
    accepted: set[str] = field(default_factory=set)
    claims: dict[tuple[str, str], str] = field(default_factory=dict)  # (env, anon id) -> identity, accepted
    submissions: Counter = field(default_factory=Counter)  # accepted submissions per event id
    answers: Counter = field(default_factory=Counter)  # HTTP status (or "unreachable") per request
    resent_batches: int = 0
    refused: list[str] = field(default_factory=list)  # 4xx other than 429: must stay empty
    chunks_accepted: dict[tuple[str, str], set[int]] = field(default_factory=dict)  # (env, session) -> seqs
    lock: threading.Lock = field(default_factory=threading.Lock)

    def counts(self) -> dict[str, int]:
        with self.lock:
            accepted_submissions = sum(self.submissions.values())
            return {"events sent": len(self.events), "events accepted": len(self.accepted),
                    "duplicates ignored": accepted_submissions - len(self.accepted),
                    "batches resent as they were": self.resent_batches,
                    "requests answered 503 or unreachable": self.answers["503"] + self.answers["unreachable"],
                    "replay chunks accepted": sum(len(s) for s in self.chunks_accepted.values())}


class Load:
    """A steady stream of batches from `senders` threads, plus replay uploads; pause() to check."""

    def __init__(self, faults: FaultStack, batches_per_s: float = 8.0, senders: int = 2, seed: int = 14):
        self.faults, self.ledger = faults, Ledger()
        self.rng = random.Random(seed)
        self.interval = senders / batches_per_s
        self.senders = senders
        self.running = threading.Event()
        self.stopped = threading.Event()
        self.in_flight = 0
        self.flight = threading.Condition()
        self.people: list[Person] = []
        self.sent_bodies: list[tuple[str, bytes, list[str]]] = []
        self.replay_sessions: dict[str, dict] = {}
        self._ids = itertools.count()
        self._run = uuid.uuid4().hex[:6]
        self._threads: list[threading.Thread] = []
        self._rng_lock = threading.Lock()

    # lifecycle

    def start(self) -> Load:
        self.running.set()
        for i in range(self.senders):
            self._threads.append(threading.Thread(target=self._send_loop, name=f"load-{i}", daemon=True))
        self._threads.append(threading.Thread(target=self._replay_loop, name="load-replay", daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def pause(self, timeout: float = 180) -> None:
        """No new batch; returns once every batch in flight was accepted (or given up)."""
        self.running.clear()
        with self.flight:
            if not self.flight.wait_for(lambda: self.in_flight == 0, timeout):
                raise AssertionError(f"{self.in_flight} requests still in flight after {timeout}s")

    def resume(self) -> None:
        self.running.set()

    def stop(self) -> None:
        self.stopped.set()
        self.running.set()
        for thread in self._threads:
            thread.join(30)

    # what is sent

    def _person(self, env_id: str) -> Person:
        with self._rng_lock:
            ready = datetime.now(UTC) - timedelta(minutes=5)
            live = [p for p in self.people if p.env_id == env_id and p.clock < ready]
            if len(live) < 20 or self.rng.random() < 0.05:
                n = next(self._ids)
                kind = self.rng.choice(("known", "known", "later", "later", "anonymous"))
                identity = f"user-{self._run}-{n}@example.com" if kind != "anonymous" else None
                start = datetime.now(UTC) - timedelta(hours=6) + timedelta(minutes=self.rng.randint(0, 60))
                person = Person(env_id, f"anon-{self._run}-{n}", identity, kind, start.replace(microsecond=0))
                self.people.append(person)
                del self.people[:-MAX_PEOPLE]  # those who left come back no more (bounded work per pick)
                return person
            return self.rng.choice(live)

    def _message(self, person: Person) -> dict:
        with self._rng_lock:
            gap = self.rng.choice((1, 2, 3, 5, 8, 45))  # minutes; 45 starts a new session
            person.clock += timedelta(minutes=gap, milliseconds=self.rng.randint(0, 999))
            person.sent += 1
            n = next(self._ids)
            page = self.rng.random() < 0.5
        message = {"type": "page" if page else "track", "messageId": f"m-{self._run}-{n}",
                   "anonymousId": person.anonymous_id, "timestamp": person.clock.isoformat(),
                   "context": {"library": {"name": "analytics.js", "version": "1"},
                               "page": {"url": f"https://shop.example/p/{n % 7}"}}}
        if not page:
            message["event"] = "Added to cart"
            message["properties"] = {"sku": n % 13, "price": (n % 50) + 0.5}
        if person.kind == "known" or (person.kind == "later" and person.sent > 3):
            message["userId"] = person.identity
        return message

    def _batch(self, env_id: str) -> tuple[list[dict], list[tuple[str, str, datetime]]]:
        messages, records = [], []
        for _ in range(self.rng.randint(3, 12)):
            person = self._person(env_id)
            if person.kind == "later" and person.sent == 3:
                messages.append({"type": "identify", "anonymousId": person.anonymous_id,
                                 "userId": person.identity, "messageId": f"i-{self._run}-{next(self._ids)}",
                                 "timestamp": person.clock.isoformat(), "traits": {"plan": "pro"}})
            message = self._message(person)
            if person.clock > datetime.now(UTC) - timedelta(minutes=1):
                person.clock = datetime.now(UTC) - timedelta(hours=6)  # keep times in the past
                continue
            messages.append(message)
            records.append((message["messageId"], env_id, person.anonymous_id, person.clock))
        return messages, records

    # sending

    def _send_loop(self) -> None:
        http = requests.Session()
        http.headers.update(BROWSER)
        while not self.stopped.is_set():
            if not self.running.wait(0.2):
                continue
            started = time.monotonic()
            with self.flight:
                if not self.running.is_set():
                    continue
                self.in_flight += 1
            try:
                self._send_one(http)
            finally:
                with self.flight:
                    self.in_flight -= 1
                    self.flight.notify_all()
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    def _send_one(self, http: requests.Session) -> None:
        with self._rng_lock:
            resend = self.sent_bodies and self.rng.random() < 0.08
            env_id = self.rng.choice(self.faults.envs[:2])
        if resend:
            with self._rng_lock:
                env_id, body, ids = self.rng.choice(self.sent_bodies)
            with self.ledger.lock:
                self.ledger.resent_batches += 1
            self.post_batch(http, env_id, body, ids, [])
            return
        messages, records = self._batch(env_id)
        if not messages:
            return
        body = orjson.dumps({"batch": messages})
        with self.ledger.lock:
            for event_id, env, anonymous_id, when in records:
                self.ledger.events[event_id] = (env, anonymous_id, when)
        claims = [(env_id, m["anonymousId"], m["userId"]) for m in messages if m.get("userId")]
        if self.post_batch(http, env_id, body, [r[0] for r in records], claims):
            with self._rng_lock:
                self.sent_bodies.append((env_id, body, [r[0] for r in records]))
                del self.sent_bodies[:-200]

    def post_batch(self, http: requests.Session, env_id: str, body: bytes, event_ids: list[str],
                   claims: list[tuple[str, str, str]], give_up_s: float = 240) -> bool:
        """Send until 200 (retrying 503s and refused connections, as SDKs do); True when accepted."""
        deadline = time.monotonic() + give_up_s
        url = self.faults.stack.url("ingest") + "/v1/batch"
        while time.monotonic() < deadline:
            try:
                response = http.post(url, data=body, auth=(self.faults.keys[env_id], ""), timeout=15,
                                     headers={"Content-Type": "application/json"})
                status = str(response.status_code)
            except requests.RequestException:
                status = "unreachable"
            with self.ledger.lock:
                self.ledger.answers[status] += 1
            if status == "200":
                with self.ledger.lock:
                    self.ledger.accepted.update(event_ids)
                    self.ledger.submissions.update(event_ids)
                    for env, anonymous_id, identity in claims:
                        self.ledger.claims[(env, anonymous_id)] = identity
                return True
            if status.startswith("4") and status != "429":
                with self.ledger.lock:
                    self.ledger.refused.append(f"{status}: {response.text[:300]}")
                return False
            time.sleep(0.5)
        return False

    # replay

    def _replay_loop(self) -> None:
        http = requests.Session()
        http.headers.update(BROWSER)
        while not self.stopped.is_set():
            if not self.running.wait(0.2):
                continue
            with self.flight:
                if not self.running.is_set():
                    continue
                self.in_flight += 1
            try:
                self._upload_one(http)
            finally:
                with self.flight:
                    self.in_flight -= 1
                    self.flight.notify_all()
            time.sleep(0.7)

    def _upload_one(self, http: requests.Session) -> None:
        stack = self.faults.stack
        if len(self.replay_sessions) < 3 or self.rng.random() < 0.05:
            session_id = f"rs-{self._run}-{next(self._ids)}"
            self.replay_sessions[session_id] = {"seq": 0, "token": None}
        session_id = self.rng.choice(sorted(self.replay_sessions))
        state = self.replay_sessions[session_id]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                if state["token"] is None:
                    started = http.post(stack.url("gateway") + "/replay/v1/start", timeout=15, json={
                        "write_key": stack.write_key, "session_id": session_id, "device_id": f"d-{session_id}"})
                    if started.status_code != 200:
                        raise requests.RequestException(f"start answered {started.status_code}")
                    state["token"] = started.json()["token"]
                seq = state["seq"]
                now_ms = int(time.time() * 1000)
                events = [{"type": 2 if seq == 0 else 3, "timestamp": now_ms, "data": {"seq": seq}}]
                response = http.post(f"{stack.url('replay')}/replay/v1/chunks?seq={seq}", timeout=15,
                                     data=gzip.compress(orjson.dumps(events)),
                                     headers={"Authorization": f"Bearer {state['token']}",
                                              "Content-Type": "application/json"})
                if response.status_code == 401:
                    state["token"] = None
                    continue
                if response.status_code in (200, 201):
                    with self.ledger.lock:
                        self.ledger.chunks_accepted.setdefault((stack.env_id, session_id), set()).add(seq)
                    state["seq"] += 1
                    return
                if response.status_code != 503:
                    with self.ledger.lock:
                        self.ledger.refused.append(f"replay {response.status_code}: {response.text[:300]}")
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)


# --- the oracle and the checks ---------------------------------------------------------------


def expected(ledger: Ledger, env_id: str) -> tuple[dict[str, str], dict[str, tuple]]:
    """(owner per event id, sessions as (owner, start, end, sorted event ids)) of the accepted events."""
    with ledger.lock:
        accepted = [(i, *ledger.events[i]) for i in ledger.accepted if ledger.events[i][0] == env_id]
        claims = dict(ledger.claims)
    owner_of_anon = {}
    points = []
    for event_id, env, anonymous_id, when in accepted:
        anon_user = anonymous_user_id(anonymous_id)
        identity = claims.get((env, anonymous_id))
        owner_of_anon[anon_user] = identified_user_id(env, identity) if identity else anon_user
        points.append(Point(event_id, anon_user, SOURCE, when))
    owners = {event_id: owner_of_anon[anonymous_user_id(anon)] for event_id, _, anon, _ in accepted}
    anon_of = {p.event_id: p.user_id for p in points}
    sessions = {sid: (owner_of_anon[anon_of[s.first_event_id]], s.start, s.end, tuple(sorted(s.event_ids)))
                for sid, s in partition(env_id, points).items()}
    return owners, sessions


def stored(engine, env_id: str) -> tuple[dict[str, str], dict[str, tuple]]:
    """(owner per event id, sessions as the oracle's tuples): owners read through the merge map."""
    owner = ("coalesce((select m.into_user_id from merges m where m.env_id = x.env_id "
             "and m.from_user_id = x.anon_user_id), x.anon_user_id)")
    with engine.connect() as conn:
        members: dict[str, list[str]] = {}
        owners = {}
        for event_id, session_id, user_id in conn.execute(text(
                f"select x.event_id, x.session_id, {owner} from events x where x.env_id = :e"), {"e": env_id}):
            owners[event_id] = user_id
            members.setdefault(session_id, []).append(event_id)
        sessions = {r.session_id: (r.user_id, r.start, r.end, tuple(sorted(members.get(r.session_id, []))))
                    for r in conn.execute(text(f'select x.session_id, {owner} as user_id, x.start, x."end" '
                                               "from sessions x where x.env_id = :e"), {"e": env_id})}
    return owners, sessions


def feed_rows(engine, env_id: str) -> dict[str, int]:
    """Sessions per user in the feed (users with none are not in it)."""
    with engine.connect() as conn:
        return dict(conn.execute(text("select user_id, session_count from users where env_id = :e "
                                      "and session_count > 0"), {"e": env_id}).all())


def differences(faults: FaultStack, ledger: Ledger, engine) -> list[str]:
    """What differs between the stack and the oracle (empty when they agree)."""
    problems = []
    for env_id in faults.envs:
        want_owners, want_sessions = expected(ledger, env_id)
        have_owners, have_sessions = stored(engine, env_id)
        missing = set(want_owners) - set(have_owners)
        extra = set(have_owners) - set(want_owners)
        if missing or extra:
            problems.append(f"{env_id}: {len(missing)} accepted events missing (e.g. {sorted(missing)[:3]}), "
                            f"{len(extra)} never accepted stored (e.g. {sorted(extra)[:3]})")
            continue
        wrong_owner = [i for i, owner in want_owners.items() if have_owners[i] != owner]
        if wrong_owner:
            problems.append(f"{env_id}: {len(wrong_owner)} events not with the owner identity implies "
                            f"(e.g. {wrong_owner[:3]})")
        if want_sessions != have_sessions:
            differ = set(want_sessions) ^ set(have_sessions) or {
                s for s in want_sessions if want_sessions[s] != have_sessions[s]}
            problems.append(f"{env_id}: sessions differ from the oracle ({len(want_sessions)} expected, "
                            f"{len(have_sessions)} stored; e.g. {sorted(differ)[:3]})")
        want_feed = Counter(owner for owner, *_ in want_sessions.values())
        have_feed = feed_rows(engine, env_id)
        if dict(want_feed) != have_feed:
            differ = {u for u in set(want_feed) | set(have_feed) if want_feed.get(u) != have_feed.get(u)}
            problems.append(f"{env_id}: feed rows differ from the oracle's users and their session counts "
                            f"(e.g. {sorted(differ)[:3]})")
    with engine.connect() as conn:
        replays = set(conn.execute(text("select env_id, session_id from replays")).all())
    with ledger.lock:
        chunks = {key: set(seqs) for key, seqs in ledger.chunks_accepted.items()}
    for (env_id, session_id), seqs in chunks.items():
        manifest = requests.get(f"{faults.stack.url('replay')}/internal/v1/envs/{env_id}/replays/{session_id}",
                                headers=service_headers(faults.settings), timeout=10)
        got = {c["seq"] for c in manifest.json().get("chunks", [])} if manifest.status_code == 200 else set()
        if got != seqs:
            problems.append(f"replay {session_id}: chunks {sorted(seqs - got)} accepted but not stored")
        if (env_id, session_id) not in replays:
            problems.append(f"replay {session_id}: the feed does not know it has a replay")
    return problems


def dead_letters(faults: FaultStack) -> dict[str, int]:
    depths = bus.queue_depths(faults.settings)
    return {queue: n for queue, n in depths.items() if queue.endswith(".dead") and n}


def unexpected_deaths(faults: FaultStack) -> dict[str, int]:
    """Deaths the supervisors reported beyond the ones the harness caused: an outage must kill nothing."""
    deaths = {}
    for name, process in faults.stack.processes.items():
        if process.log_path and process.log_path.exists():
            said = process.log_path.read_text(errors="replace")
            count = (said.count(f"footfall.supervise: {name} exited")
                     + said.count(f"footfall.supervise: {name} was killed"))
            if count > faults.killed[name]:
                deaths[name] = count - faults.killed[name]
    return deaths


def unready(faults: FaultStack) -> list[str]:
    """Processes not running, and HTTP processes not answering /readyz 200."""
    down = [name for name, alive in faults.stack.alive().items() if not alive and not name.startswith("demo")]
    for name, process in faults.stack.processes.items():
        if process.port and not name.startswith("demo") and name != "s3":
            try:
                if requests.get(f"http://127.0.0.1:{process.port}/readyz", timeout=5).status_code != 200:
                    down.append(f"{name} (not ready)")
            except requests.RequestException:
                down.append(f"{name} (unreachable)")
    return down


def settle(faults: FaultStack, load: Load, engine, timeout: float = 120) -> dict:
    """Pause the load, wait until the stack agrees with the oracle (or time runs out); the report."""
    load.pause()
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while True:
        problems = differences(faults, load.ledger, engine)
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return {"problems": problems, "dead letters": dead_letters(faults), "down": unready(faults),
            "unexpected deaths": unexpected_deaths(faults),
            "refused": list(load.ledger.refused), "settled in s": round(time.monotonic() - started, 1),
            **load.ledger.counts()}


# --- the faults ----------------------------------------------------------------------------------


def broker_restart(faults: FaultStack, down_s: float = 6) -> dict:
    faults.rabbit.stop_app()
    time.sleep(down_s)
    faults.rabbit.start_app()
    return {}


def database_connections_cut(faults: FaultStack, rounds: int = 3) -> dict:
    """pg_terminate_backend of every connection to the stack's database (and no other)."""
    url = make_url(faults.settings.database_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    cut = 0
    try:
        for _ in range(rounds):
            with admin.connect() as conn:
                cut += len(conn.execute(text(
                    "select pg_terminate_backend(pid) from pg_stat_activity "
                    "where datname = :d and pid <> pg_backend_pid()"), {"d": url.database}).all())
            time.sleep(1.5)
    finally:
        admin.dispose()
    return {"connections cut": cut}


def consumers_killed(faults: FaultStack) -> dict:
    """kill -9 each consumer under load; its supervisor starts it again."""
    restarted = {}
    for name in CONSUMERS:
        pid = faults.stack.pid(name)
        os.kill(pid, signal.SIGKILL)
        faults.killed[name] += 1
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                new = faults.stack.pid(name)
            except RuntimeError:
                new = pid
            if new != pid:
                restarted[name] = new
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"{name} was not started again after kill -9")
        time.sleep(2)
    return {"restarted": sorted(restarted)}


def redis_down(faults: FaultStack, load: Load, down_s: float = 5) -> dict:
    """Redis stops (and comes back empty): what ingest does with write keys and its rate limit."""
    http = requests.Session()
    http.headers.update(BROWSER)

    def probe(env_id: str) -> tuple[bytes, str]:
        event_id, now = f"redis-{uuid.uuid4().hex[:10]}", datetime.now(UTC)
        with load.ledger.lock:
            load.ledger.events[event_id] = (env_id, f"probe-{env_id}", now)
        return orjson.dumps({"batch": [{"type": "track", "event": "Redis probe", "anonymousId": f"probe-{env_id}",
                                        "messageId": event_id, "timestamp": now.isoformat(),
                                        "context": {"library": {"name": "analytics.js"}}}]}), event_id

    def send(env_id: str, body: bytes, event_id: str) -> requests.Response:
        response = http.post(faults.stack.url("ingest") + "/v1/batch", data=body, auth=(faults.keys[env_id], ""),
                             timeout=15, headers={"Content-Type": "application/json"})
        if response.status_code == 200:
            with load.ledger.lock:
                load.ledger.accepted.add(event_id)
                load.ledger.submissions[event_id] += 1
        return response

    faults.redis.stop()
    time.sleep(1)
    # A key in use is in ingest's cache (served stale while Redis is away), and the rate limit
    # fails open: accepted.
    in_use = send(faults.stack.env_id, *probe(faults.stack.env_id))
    # A key the gateway made and ingest has not cached cannot be checked: 503, to be retried.
    unseen_body, unseen_id = probe(THIRD_ENV)
    unseen = send(THIRD_ENV, unseen_body, unseen_id)
    time.sleep(max(0.0, down_s - 1))
    faults.redis.start()
    back = time.monotonic()
    while True:  # Redis came back empty: the gateway puts the keys back; the retry then lands
        retried = send(THIRD_ENV, unseen_body, unseen_id)
        if retried.status_code == 200 or time.monotonic() - back > 30:
            break
        time.sleep(0.5)
    return {"key in use while down": in_use.status_code,
            "unseen key while down": (unseen.status_code, unseen.headers.get("Retry-After")),
            "unseen key retried after restart": retried.status_code,
            "keys back after s": round(time.monotonic() - back, 1)}


def s3_down(faults: FaultStack, down_s: float = 4) -> dict:
    faults.s3_door.shut()
    time.sleep(down_s)
    faults.s3_door.open()
    return {}


def rss_mb(faults: FaultStack) -> dict[str, float]:
    """Resident memory of every process of the stack (supervisor and children summed), in MB."""
    sizes = {}
    for name, process in faults.stack.processes.items():
        if process.popen is None or process.popen.poll() is not None:
            continue
        total, todo = 0, [process.popen.pid]
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (FileNotFoundError, StopIteration, ProcessLookupError):
                continue
        sizes[name] = round(total / 1024, 1)
    return sizes
