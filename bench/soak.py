"""Soak: the fault suite's load and faults, round after round, for 30 minutes (outside CI).

    .venv/bin/python bench/soak.py [--minutes 30] [--batches-per-s 8]
    make soak SOAK_ARGS="--minutes 10"

Starts the stack of tests/faults/harness.py (every Procfile process under footfall.supervise, on a
private RabbitMQ node and a private Redis, its own database and ports), runs the steady load, and
cycles through the faults: broker restart, every database connection cut, kill -9 of each consumer,
Redis down (back empty), S3 down for replay uploads. After each fault it checks the suite's
invariants (every accepted event stored exactly once, sessions and owners equal to the oracle,
nothing dead-lettered, no process died unless killed, every process ready) and prints a line; at
the end, the counts and the resident memory of every process at the start and the end.
Exits non-zero when an invariant failed. Uses the test namespace variables (DATABASE_URL…) like
`make test`, and FOOTFALL_TEST_PORT_SHIFT (the soak stack takes that shift + 600).
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/footfall_test")
os.environ.setdefault("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/footfall_test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
# No secret has a default: the soak makes up its own, as `make run` does (footfall.secretfile).
os.environ.setdefault("REPLAY_TOKEN_SECRETS", secrets.token_urlsafe(32))
os.environ.setdefault("SERVICE_TOKENS", secrets.token_urlsafe(32))

from footfall import db  # noqa: E402 (after the environment defaults above)
from footfall.config import get_settings  # noqa: E402 (after the environment defaults above)
from tests.faults import harness  # noqa: E402 (after the environment defaults above)
from tests.stack import PORT_SHIFT  # noqa: E402 (after the environment defaults above)
from tests.support import ensure_vhost  # noqa: E402 (after the environment defaults above)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/soak.py")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--batches-per-s", type=float, default=8)
    args = parser.parse_args(argv)
    settings = get_settings()
    ensure_vhost(settings.amqp_url)
    db.ensure_database(settings)
    os.chdir(ROOT)
    faults = harness.start_fault_stack(port_shift=PORT_SHIFT + 600)
    load = harness.Load(faults, batches_per_s=args.batches_per_s)
    engine = faults.engine()
    failures = 0
    try:
        time.sleep(5)  # let every process finish starting before the first memory reading
        rss_start = harness.rss_mb(faults)
        load.start()
        faults_in_turn = [
            ("broker restart", lambda: harness.broker_restart(faults)),
            ("database connections cut", lambda: harness.database_connections_cut(faults)),
            ("consumers kill -9", lambda: harness.consumers_killed(faults)),
            ("redis down", lambda: harness.redis_down(faults, load)),
            ("s3 down", lambda: harness.s3_down(faults)),
        ]
        started, rounds = time.monotonic(), 0
        while time.monotonic() - started < args.minutes * 60:
            for name, fault in faults_in_turn:
                load.resume()
                time.sleep(20)  # steady load between faults
                observed = fault()
                time.sleep(5)
                report = harness.settle(faults, load, engine)
                bad = {k: report[k] for k in ("problems", "dead letters", "down", "unexpected deaths", "refused")
                       if report[k]}
                failures += bool(bad)
                elapsed = (time.monotonic() - started) / 60
                print(f"[{elapsed:5.1f} min] {name:26} {'FAILED ' + str(bad) if bad else 'ok'}  "
                      f"accepted {report['events accepted']}, settled in {report['settled in s']} s  {observed}",
                      flush=True)
                if time.monotonic() - started >= args.minutes * 60:
                    break
            rounds += 1
        load.pause()
        report = harness.settle(faults, load, engine)
        rss_end = harness.rss_mb(faults)
        with engine.connect() as conn:
            stored = conn.exec_driver_sql("select count(*) from events").scalar()  # its own database
        print(f"\nsoak: {args.minutes:g} min, {rounds} rounds of faults, {failures} failed checks")
        print(f"events sent {report['events sent']}, accepted {report['events accepted']}, stored {stored}, "
              f"duplicates ignored {report['duplicates ignored']}, dead-lettered "
              f"{sum(report['dead letters'].values())}, requests answered 503 or unreachable "
              f"{report['requests answered 503 or unreachable']}, replay chunks {report['replay chunks accepted']}")
        print(f"\n{'process':28} {'RSS start MB':>12} {'RSS end MB':>11}")
        for name in sorted(rss_start):
            print(f"{name:28} {rss_start[name]:12.1f} {rss_end.get(name, 0):11.1f}")
        return 1 if failures or stored != report["events accepted"] else 0
    finally:
        load.stop()
        engine.dispose()
        faults.stop()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
