"""Restart a process of the local stack when it dies; stop the stack, loudly, when it keeps dying.

`make run` starts every Procfile line under honcho, which stops *all* processes as soon as one
exits: a consumer killed by the OOM killer (or a bug) took the gateway, ingest and the rest down,
with its reason lost in the scroll. Each line now runs as

    python -m footfall.supervise NAME -- COMMAND…

which restarts the command when it dies (after 1 s, then doubling to 30 s), saying why on stderr,
as Kubernetes restarts a pod's container. Our processes are built to ride out outages of the
broker, the database, Redis and S3 without exiting, so a death is a bug or a kill, and restarting
is what production would do. But a process that dies `MAX_CRASHES` times within `WINDOW_S` is not
coming back by itself (a port taken, a broken install, a migration missing): then this exits
non-zero with the reason, and honcho stops the stack — loudly, never silently.

The Procfile itself stays as Kubernetes runs it (one line, one Deployment); `procfile` prints it
with every command wrapped, for honcho. SIGTERM and SIGINT go on to the command, which then stops.
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

MAX_CRASHES = 5
WINDOW_S = 60.0
FIRST_DELAY_S, MAX_DELAY_S = 1.0, 30.0


def _say(name: str, text: str) -> None:
    print(f"*** footfall.supervise: {name} {text}", file=sys.stderr, flush=True)


def describe(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def supervise(name: str, command: str, max_crashes: int = MAX_CRASHES, window_s: float = WINDOW_S,
              first_delay_s: float = FIRST_DELAY_S) -> int:
    """Run `command` (a shell line, as in the Procfile) until asked to stop; restart it when it dies."""
    stopping = False
    child: subprocess.Popen | None = None

    def forward(signum, _frame):
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    crashes: deque[float] = deque()
    delay = first_delay_s
    argv, env = _split(command)
    while True:
        started = time.monotonic()
        # exec: the shell becomes the command, so signals and the exit status are the command's own.
        child = subprocess.Popen(["/bin/sh", "-c", f"exec {shlex.join(argv)}"], env=env)
        code = child.wait()
        if stopping:
            return 0 if code in (0, -signal.SIGTERM, -signal.SIGINT) else code
        now = time.monotonic()
        if now - started > window_s:  # it had been running fine: this is a fresh failure
            delay = first_delay_s
        crashes.append(now)
        while crashes and now - crashes[0] > window_s:
            crashes.popleft()
        if len(crashes) >= max_crashes:
            _say(name, f"{describe(code)}: dead {len(crashes)} times within {window_s:.0f} s, it is not "
                       f"coming back by itself, so the stack stops. Look above for its last words.")
            return 1
        _say(name, f"{describe(code)}; restarting it in {delay:.1f} s "
                   f"({len(crashes)} of {max_crashes} deaths within {window_s:.0f} s before the stack stops)")
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return 0
        delay = min(delay * 2, MAX_DELAY_S)


def _split(command: str) -> tuple[list[str], dict[str, str]]:
    """A Procfile command's words, and the environment with its leading VAR=value assignments."""
    words, env = shlex.split(command), dict(os.environ)
    while words and "=" in words[0] and not words[0].startswith(("-", ".", "/")):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return words, env


def wrapped_procfile(procfile: Path, python: str) -> str:
    """The Procfile with each command run under this supervisor."""
    lines = []
    for line in procfile.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            lines.append(line)
            continue
        name, _, command = line.partition(":")
        lines.append(f"{name.strip()}: {python} -m footfall.supervise {name.strip()} -- "
                     f"{shlex.quote(command.strip())}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "procfile":
        print(wrapped_procfile(Path(argv[1]), os.environ.get("SUPERVISE_PYTHON", sys.executable)), end="")
        return 0
    if len(argv) == 3 and argv[1] == "--":
        return supervise(argv[0], argv[2])
    print("usage: python -m footfall.supervise NAME -- 'COMMAND' | procfile PROCFILE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
