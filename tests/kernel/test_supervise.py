"""footfall.supervise: a dead process of the local stack is restarted; one that keeps dying stops
the stack with its reason; SIGTERM reaches the process."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from footfall.supervise import supervise, wrapped_procfile
from tests.support import wait_until

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_that_keeps_dying_stops_the_stack_loudly(tmp_path, capsys):
    starts = tmp_path / "starts"
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        code = supervise("flaky", f"sh -c 'echo started >> {starts}; exit 3'", max_crashes=3, window_s=30,
                         first_delay_s=0.05)
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    assert code == 1
    assert starts.read_text().count("started") == 3
    said = capsys.readouterr().err
    assert said.count("exited with code 3; restarting it") == 2
    assert "dead 3 times within 30 s" in said and "the stack stops" in said


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_a_killed_process_is_restarted_and_sigterm_stops_it(tmp_path):
    supervisor = subprocess.Popen([sys.executable, "-m", "footfall.supervise", "sleeper", "--", "sleep 60"],
                                  cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        [first] = wait_until(lambda: children(supervisor.pid), message="the command started")
        os.kill(first, signal.SIGKILL)
        [second] = wait_until(lambda: [c for c in children(supervisor.pid) if c != first], timeout=10,
                              message="the command restarted")
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=10) == 0
        assert not Path(f"/proc/{second}").exists() or _is_zombie(second)
        assert "was killed by SIGKILL; restarting it" in supervisor.stderr.read()
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except FileNotFoundError:
        return True


def test_the_procfile_for_honcho_wraps_every_line_and_keeps_the_commands(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("# comment\nweb: BIND=1 gunicorn 'app:create()'\nworker: python -m w\n")
    wrapped = wrapped_procfile(procfile, "py")
    expected = """web: py -m footfall.supervise web -- 'BIND=1 gunicorn '"'"'app:create()'"'"''"""
    assert wrapped.splitlines()[1] == expected
    assert wrapped.splitlines()[0] == "# comment"
