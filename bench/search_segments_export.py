"""Search, segment counts and CSV export on the 200,000-user generated environment, at the gateway.

    .venv/bin/python -m bench.sessions_generate --database ff_bench       # once
    .venv/bin/python -m bench.search_segments_export --generated ff_bench

Starts sessions, definitions and the gateway under gunicorn on that database (bench/gateway.py's
`Generated`) and a local S3 (footfall.local_s3), then measures through the public API:
- search: every prefix of ≥ 2 characters of real users' identities, names and ids, as typed, and
  two-character strings nobody matches (the worst case: no trigram, every row read); p50 and p99
  of the first page (25 users, the UI's page), target p99 ≤ 100 ms;
- segment counts: p50 and max of each kind of segment, target ≤ 500 ms;
- export: every user of the past 30 days with all columns and two properties, from the POST to
  `done`, target ≤ 30 s; and the peak memory (VmHWM) of the gateway's and the sessions service's
  processes, before and after, which must stay flat.
"""
from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway import Generated  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def workers_hwm_kb(master_pid: int) -> dict[int, int]:
    """Peak resident memory (VmHWM, KB) of each worker of a gunicorn master."""
    out = {}
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for pid in map(int, children):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out[pid] = int(line.split()[1])
    return out


def search_queries(http, base, auth, users: int, rng: random.Random) -> list[str]:
    page = http.get(f"{base}/users", params={"limit": 100, "from": "2000-01-01T00:00:00Z"}, headers=auth).json()
    queries = []
    for user in rng.sample(page["users"], users):
        for whole in (user.get("identity"), user["properties"].get("name"), user["user_id"]):
            if whole:
                queries += [whole[:n] for n in range(2, len(whole) + 1)]
    queries += ["zz", "qx", "jj", "#!", "vw", "kq"]  # nobody: every row of the window is read
    return queries


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generated", metavar="DATABASE", required=True)
    parser.add_argument("--users", type=int, default=6, help="users whose prefixes are searched")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    s3_port = _free_port()
    s3 = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-w", "1", "-k", "gthread", "--threads", "4",
                           "-b", f"127.0.0.1:{s3_port}", "--log-level", "warning", "footfall.local_s3:app"],
                          cwd=ROOT, start_new_session=True)
    os.environ["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{s3_port}"
    os.environ["S3_BUCKET"] = "ff-bench-exports"
    stack = Generated(args.generated)
    try:
        run(stack, args)
    finally:
        stack.stop()
        s3.terminate()
        s3.wait()


def run(stack: Generated, args) -> None:
    http, rng = requests.Session(), random.Random(19)
    base = f"{stack.urls['gateway']}/api/v1/environments/{stack.ENV}"
    auth = {"Authorization": f"Bearer {stack.TOKEN}"}
    queries = search_queries(http, base, auth, args.users, rng)
    for q in queries[:20]:  # warm connections and caches
        http.get(f"{base}/users", params={"q": q, "limit": 25}, headers=auth).raise_for_status()
    samples, worst = [], (0.0, "")
    for _ in range(args.repeat):
        for q in queries:
            started = time.perf_counter()
            http.get(f"{base}/users", params={"q": q, "limit": 25}, headers=auth).raise_for_status()
            ms = (time.perf_counter() - started) * 1000
            samples.append(ms)
            worst = max(worst, (ms, q))
    print(f"search, {len(queries)} queries x {args.repeat} (first page of 25, 7 days, load "
          f"{os.getloadavg()[0]:.1f}): p50 {statistics.median(samples):.1f} ms, p99 "
          f"{percentile(samples, 99):.1f} ms, max {worst[0]:.1f} ms ({worst[1]!r}); target p99 <= 100 ms")

    kinds = {
        "everyone, 7 days": {"timeline": {"range": "7d"}},
        "plan = pro, 30 days": {"timeline": {"range": "30d"}, "filters": [
            {"type": "user_property", "property": "plan", "op": "equals", "value": "pro"}]},
        "clicked with coupon SPRING, 7 days": {"timeline": {"range": "7d"}, "filters": [
            {"type": "did_event", "event": {"kind": "click"},
             "where": [{"property": "coupon", "op": "equals", "value": "SPRING"}]}]},
        "search 'lovelace', 30 days": {"timeline": {"range": "30d"}, "q": "lovelace"},
    }
    for segment in http.get(f"{base}/segments", headers=auth).json()["segments"]:
        http.delete(f"{base}/segments/{segment['id']}", headers=auth)
    print("segment counts (p50 / max of 5):")
    for name, view in kinds.items():
        made = http.post(f"{base}/segments", json={"name": name, **view}, headers=auth)
        made.raise_for_status()
        times, count = [], None
        for _ in range(5):
            started = time.perf_counter()
            answer = http.get(f"{base}/segments/{made.json()['id']}/count", headers=auth)
            times.append((time.perf_counter() - started) * 1000)
            count = answer.json()["count"] if answer.ok else f"HTTP {answer.status_code}"
        shown = f"{count:>8,} users" if isinstance(count, int) else f"{count:>14}"
        print(f"  {name:40} {shown}  {statistics.median(times):7.1f} / {max(times):7.1f} ms")

    masters = {name: next(p.pid for p in stack.processes if app in p.args[-1])
               for name, app in (("gateway", "gateway.app"), ("sessions", "services.sessions.app"))}
    before = {name: workers_hwm_kb(pid) for name, pid in masters.items()}
    started = time.perf_counter()
    job = http.post(f"{base}/exports", json={"timeline": {"range": "30d"}, "properties": ["plan", "name"]},
                    headers=auth)
    job.raise_for_status()
    job = job.json()
    while job["status"] == "running":
        time.sleep(0.2)
        job = http.get(f"{base}/exports/{job['id']}", headers=auth).json()
    elapsed = time.perf_counter() - started
    after = {name: workers_hwm_kb(pid) for name, pid in masters.items()}
    print(f"export: {job['status']}, {job['rows_done']:,} of {job['rows_total']:,} rows, "
          f"{job['bytes'] / 1e6:.1f} MB in {elapsed:.1f} s (target <= 30 s)"
          f"{' ' + job['error'] if job['error'] else ''}")
    for name in masters:
        peaks = [f"{before[name].get(pid, 0) / 1024:.0f} -> {kb / 1024:.0f} MB" for pid, kb in after[name].items()]
        print(f"  peak RSS of {name} workers: {', '.join(peaks)}")
    started = time.perf_counter()
    with http.get(f"{stack.urls['gateway']}{job['download_url']}", headers=auth, stream=True) as file:
        size = sum(len(piece) for piece in file.iter_content(256 * 1024))
    print(f"  download through the gateway: {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
    os._exit(0)
