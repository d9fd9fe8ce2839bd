"""Private servers the fault tests may break: a RabbitMQ node, a Redis, a TCP door in front of S3.

The machine's RabbitMQ and Redis are shared (by `make run`, by other checkouts' tests): a test that
stops its broker or its Redis must start its own and stop only that. Each server here lives in a
temporary directory, on free ports, under a name of its own, and is stopped by its own pid or node
name; nothing here touches the shared servers.
"""
from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

_nodes = itertools.count()  # several private nodes may run at once in one process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _rabbit_bin(tool: str) -> str:
    """The RabbitMQ script itself: Debian's /usr/sbin wrappers switch to the rabbitmq user and
    drop the environment that names our node, ports and directories."""
    packaged = Path("/usr/lib/rabbitmq/bin") / tool
    if packaged.exists():
        return str(packaged)
    found = shutil.which(tool)
    if not found:
        raise RuntimeError(f"{tool} not found: the fault tests need RabbitMQ installed")
    return found


class PrivateRabbit:
    """A RabbitMQ node of our own: `start()`, `stop_app()`/`start_app()` (an outage), `stop()`."""

    def __init__(self, name: str | None = None):
        self.node = f"{name or f'footfall-faults-{os.getpid()}-{next(_nodes)}'}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="footfall-rabbit-"))
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.dir / "rabbitmq-env.conf").write_text("")
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "HOME": str(self.dir),  # its own Erlang cookie, shared by the server and rabbitmqctl
            "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.dir / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"), "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbit.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def ctl(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        done = subprocess.run([_rabbit_bin("rabbitmqctl"), "-n", self.node, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done

    def start(self, timeout: float = 90) -> PrivateRabbit:
        subprocess.run([_rabbit_bin("rabbitmq-server"), "-detached"], env=self.env, check=True,
                       capture_output=True, cwd=self.dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                started = self.ctl("await_startup", "--timeout", "5", check=False, timeout=30).returncode == 0
            except subprocess.TimeoutExpired:
                started = False
            if started and answers(self.port):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"private RabbitMQ {self.node} did not start: {self.log_tail()}")

    def stop_app(self) -> None:
        """The broker goes away: every connection is closed, no port answers."""
        self.ctl("stop_app", timeout=120)

    def start_app(self, timeout: float = 120) -> None:
        """The broker comes back (retried: the listener's port may still be held for a moment, and
        a loaded machine may take a while)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                done = self.ctl("start_app", check=False, timeout=60)
                if done.returncode == 0 and self.ctl("await_startup", "--timeout", "30", check=False,
                                                     timeout=60).returncode == 0:
                    return
                failure = f"{done.stdout}{done.stderr}"
            except subprocess.TimeoutExpired as exc:
                failure = repr(exc)
            if time.monotonic() > deadline:
                raise RuntimeError(f"start_app failed: {failure}\n{self.log_tail()}")
            time.sleep(1)

    def stop(self) -> None:
        self.ctl("stop", check=False)
        pid_file = self.dir / "rabbit.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        logs = sorted((self.dir / "log").glob("*.log")) if (self.dir / "log").exists() else []
        return "\n".join(logs[-1].read_text(errors="replace").splitlines()[-lines:]) if logs else "(no log)"


class PrivateRedis:
    """A redis-server of our own, without persistence: stopping it and starting it again loses
    everything, like a Redis restarted in a pod."""

    def __init__(self):
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> PrivateRedis:
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server not found: the fault tests need Redis installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not answers(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"private redis-server on :{self.port} did not start")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


class TcpDoor:
    """A TCP forwarder in front of a server, which a test can shut (connections refused and cut)
    and open again: the server behind it keeps its state, as S3 does through an outage."""

    def __init__(self, target_port: int):
        self.port, self.target = free_port(), target_port
        self._listener: socket.socket | None = None
        self._open = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def open(self) -> TcpDoor:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        self._open.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def shut(self) -> None:
        self._open.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._open.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            with self._lock:
                self._sockets.discard(source)
                self._sockets.discard(sink)
