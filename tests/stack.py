"""The whole Footfall stack for end-to-end tests: every Procfile process, on test ports.

The Procfile is the single list of processes (honcho runs it for `make run`, deploy/ turns it into
Deployments); here each line runs as a subprocess in a namespace of its own (the test database and
vhost of tests/conftest.py with a `_stack` suffix), with every fixed port moved up by 10,000 so a `make run` on the same
machine is never disturbed. Use the `stack` fixture (session-scoped, see tests/conftest.py):

    def test_something(stack):
        requests.post(stack.url("ingest") + "/v1/track", ...)

Credentials are deterministic: `stack.env_id`, `stack.write_key`, `stack.api_token`,
`stack.admin_password`.

`start_stack(settings=…, port_shift=…, supervised=True, s3_endpoint_url=…)` starts another stack
beside it: pointed at other servers (the fault tests' private RabbitMQ and Redis), on other ports,
each process under footfall.supervise as `make run` runs it, replay talking to S3 through a door
the test can shut. `stack.pid(name)` is the process itself (not its supervisor), to kill -9.
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import redis as redis_lib
import requests
from sqlalchemy.engine import make_url

from footfall import bus, db
from footfall.config import Settings, get_settings
from tests.support import ensure_vhost, migrate_fresh

ROOT = Path(__file__).resolve().parents[1]
# FOOTFALL_TEST_PORT_SHIFT lets several checkouts run their stacks side by side (one per namespace).
# Keep the shifted ports below Linux's ephemeral range (32768 and up), where any outgoing connection
# (to Redis, PostgreSQL…) may hold the port the stack wants to listen on.
PORT_SHIFT = int(os.environ.get("FOOTFALL_TEST_PORT_SHIFT", "10000"))
assert 9000 + PORT_SHIFT < 32768, "FOOTFALL_TEST_PORT_SHIFT puts the stack's ports in the ephemeral range"
# The fixed ports of the local stack and the settings that name them.
SERVICE_PORTS = {"gateway": 8080, "ingest": 8081, "identity": 8082, "sessions": 8083,
                 "definitions": 8084, "replay": 8085, "s3": 9000, "demo": 8090}
DEV_ONLY = ("demo",)  # processes started only on request (stack.start("demo-site"))


@dataclass
class Process:
    name: str
    command: str
    port: int | None
    popen: subprocess.Popen | None = None
    log_path: Path | None = None

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    env: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="footfall-stack-")))
    port_shift: int = PORT_SHIFT
    supervised: bool = False

    env_id: str = "e2e"
    write_key: str = "e2e-write-key"
    api_token: str = "e2e-api-token"
    admin_email: str = "admin@footfall.local"
    admin_password: str = "e2e-admin-password"

    def url(self, service: str) -> str:
        """Base URL of a service by its short name (gateway, ingest, identity, sessions, …)."""
        return f"http://127.0.0.1:{SERVICE_PORTS[service] + self.port_shift}"

    def start(self, name: str, timeout: float = 60) -> Process:
        process = self.processes[name]
        process.log_path = self.log_dir / f"{name}.log"
        log = process.log_path.open("ab")
        process.popen = subprocess.Popen(
            process.command, shell=True, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() reaches gunicorn's workers
        )
        if process.port:
            self._wait_ready(process, timeout)
        return process

    def _wait_ready(self, process: Process, timeout: float) -> None:
        path = "/readyz" if process.name != "s3" else "/moto-api/"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited ({process.popen.returncode}):\n{process.log_tail()}")
            try:
                if requests.get(f"http://127.0.0.1:{process.port}{path}", timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{process.name} not ready on :{process.port} after {timeout}s:\n{process.log_tail()}")

    def alive(self) -> dict[str, bool]:
        return {n: p.popen is not None and p.popen.poll() is None for n, p in self.processes.items()}

    def pid(self, name: str) -> int:
        """The pid of the process itself: under a supervisor, its child (the one a crash kills)."""
        popen = self.processes[name].popen
        if not self.supervised:
            return popen.pid
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            kids = [int(c) for task in Path(f"/proc/{popen.pid}/task").iterdir()
                    for c in (task / "children").read_text().split()]
            if kids:
                return kids[0]
            time.sleep(0.1)
        raise RuntimeError(f"{name} has no running process under its supervisor")

    def stop(self) -> None:
        running = [p for p in self.processes.values() if p.popen and p.popen.poll() is None]
        for process in running:
            os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in running:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()


def _shift_ports(command: str, shift: int = PORT_SHIFT) -> tuple[str, int | None]:
    """Move every fixed port in a Procfile command up by `shift`; return the HTTP port."""
    port = None
    for fixed in SERVICE_PORTS.values():
        pattern = rf"(127\.0\.0\.1:|-p |--port[ =]|:)({fixed})\b"
        if re.search(pattern, command):
            port = fixed + shift
            command = re.sub(pattern, lambda m, shifted=port: m.group(1) + str(shifted), command)
    return command, port


def read_procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    processes = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def stack_settings() -> Settings:
    """The test namespace with a `_stack` suffix: the stack's consumers must not drain the queues,
    nor see the rows, that other tests of the same run read directly."""
    settings = get_settings()
    database = make_url(settings.database_url)
    amqp = urlsplit(settings.amqp_url)
    redis = urlsplit(settings.redis_url)
    redis_db = (int(redis.path.strip("/") or 0) + 8) % 16
    return settings.with_(
        database_url=database.set(database=f"{database.database}_stack").render_as_string(hide_password=False),
        amqp_url=amqp._replace(path=f"{amqp.path.rstrip('/') or '/%2F'}_stack").geturl(),
        redis_url=redis._replace(path=f"/{redis_db}").geturl(),
    )


def build_stack(overrides: dict[str, str] | None = None, *, settings: Settings | None = None,
                port_shift: int = PORT_SHIFT, supervised: bool = False,
                s3_endpoint_url: str | None = None) -> Stack:
    """A Stack whose environment points every process at the stack namespace (or `settings`) and
    test ports (moved by `port_shift`); `overrides` change its environment (bench/pipeline.py
    restores `make run`'s gunicorn settings); `supervised` runs each under footfall.supervise."""
    settings = settings or stack_settings()
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": settings.database_url, "AMQP_URL": settings.amqp_url,
        "REDIS_URL": settings.redis_url, "REPLAY_TOKEN_SECRETS": ",".join(settings.replay_token_secrets),
        "SERVICE_TOKENS": ",".join(settings.service_tokens),
        "S3_ENDPOINT_URL": s3_endpoint_url or f"http://127.0.0.1:{SERVICE_PORTS['s3'] + port_shift}",
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "FOOTFALL_DEMO": "0",
        "WEB_CONCURRENCY": "1", "WEB_THREADS": "8", "LOG_LEVEL": "WARNING",
        "DRAIN_FILE": f"/tmp/footfall-e2e-draining-{port_shift}",
    })
    env.update(overrides or {})
    stack = Stack(env=env, port_shift=port_shift, supervised=supervised)
    env.update({
        "FOOTFALL_ENV_ID": stack.env_id, "FOOTFALL_WRITE_KEY": stack.write_key,
        "FOOTFALL_API_TOKEN": stack.api_token, "FOOTFALL_ADMIN_PASSWORD": stack.admin_password,
        "FOOTFALL_ADMIN_EMAIL": stack.admin_email,
    })
    for service in SERVICE_PORTS:
        env[f"{service.upper()}_URL"] = stack.url(service)
    for name, command in read_procfile().items():
        shifted, port = _shift_ports(command, port_shift)
        if supervised:
            shifted = f"exec .venv/bin/python -m footfall.supervise {name} -- {shlex.quote(shifted)}"
        stack.processes[name] = Process(name, shifted, port)
    return stack


def start_stack(overrides: dict[str, str] | None = None, *, settings: Settings | None = None,
                port_shift: int = PORT_SHIFT, supervised: bool = False,
                s3_endpoint_url: str | None = None) -> Stack:
    """A fresh stack: empty schemas, queues and Redis db, migrated and bootstrapped, then every
    non-dev process started. Nothing of an earlier run leaks into this one."""
    stack = build_stack(overrides, settings=settings, port_shift=port_shift, supervised=supervised,
                        s3_endpoint_url=s3_endpoint_url)
    busy = [p.port for p in stack.processes.values() if p.port and not _free(p.port)]
    if busy:
        raise RuntimeError(f"test ports already in use: {busy} (a previous stack still running?)")
    settings = settings or stack_settings()
    ensure_vhost(settings.amqp_url)
    db.ensure_database(settings)
    redis_lib.Redis.from_url(settings.redis_url).flushdb()
    bus.purge_all(settings)
    for folder in sorted(ROOT.glob("services/*/migrations")) + sorted(ROOT.glob("gateway/migrations")):
        migrate_fresh(str(folder.parent), settings)
    if (ROOT / "gateway" / "bootstrap.py").exists():
        done = subprocess.run(shlex.split(".venv/bin/python -m gateway.bootstrap"), check=False, cwd=ROOT,
                              env=stack.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"gateway bootstrap failed:\n{done.stdout}\n{done.stderr}")
    try:
        # S3 first: the replay service creates its bucket at start.
        order = sorted(stack.processes, key=lambda n: (n != "s3", n))
        for name in order:
            if not name.startswith(DEV_ONLY):
                stack.start(name)
    except Exception:
        stack.stop()
        raise
    return stack
