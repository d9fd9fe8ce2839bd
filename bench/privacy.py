"""Privacy benchmarks on the sessions store (its own database, `<DATABASE_URL db>_bench_privacy`):

1. delete a user with EVENTS events in SESSIONS sessions over MEMBERS merged ids, beside OTHERS
   events of other users (target: <= 10 s);
2. export that user (before deleting it) as JSON lines and CSV: MB/s and the process's peak memory
   growth (target: >= 20 MB/s, flat);
3. retention of one day of an environment of RETENTION_EVENTS events spread over 30 days (target: <= 5 s).

Run on a quiet machine: `.venv/bin/python bench/privacy.py [--events 100000 --sessions 2000
--retention-events 5000000]`. Rows are generated in SQL (generate_series), shaped like the events
path's (sessions of 50 events, 30 s apart).
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from footfall import db  # noqa: E402
from footfall.config import get_settings  # noqa: E402
from footfall.messages import DeletionRequested  # noqa: E402
from services.sessions import deletion, export  # noqa: E402
from services.sessions.retention import apply_retention  # noqa: E402
from tests.support import migrate_fresh  # noqa: E402

ENV = "bench-privacy"
NOW = datetime.now(UTC).replace(microsecond=0)

# `n` sessions of `per` events each for anonymous ids prefix0..prefix{members-1}, round robin, the
# k-th session starting k * gap before now, all merged into `survivor` (prefix0 unless named); the
# first `replays` sessions are client sessions with a replay (replays are recorded under those).
GENERATE = """
    insert into sessions (env_id, session_id, anon_user_id, source, client, start, "end", event_count,
                          first_event_id, props, has_replay)
    select :env, :prefix || '-s' || s, :prefix || (s % :members), 'web', s < :replays,
           :now - s * cast(:gap as interval), :now - s * cast(:gap as interval) + (:per - 1) * interval '30 seconds',
           :per, :prefix || '-e' || s || '-0', '{"source": "Web"}', s < :replays
    from generate_series(0, :n - 1) s;
    insert into events (env_id, event_id, kind, name, page_path, page_domain, target_text, hierarchy,
                        properties, time, received_at, anon_user_id, device_id, identity, source,
                        client_session_id, session_id, data)
    select :env, :prefix || '-e' || s || '-' || i, 'pageview', null, '/p/' || i, 'shop.example', null, '[]',
           '{"plan": "pro"}', t, t, :prefix || (s % :members), 'd-' || :prefix || (s % :members), null, 'web',
           null, :prefix || '-s' || s,
           jsonb_build_object('event_id', :prefix || '-e' || s || '-' || i, 'kind', 'pageview',
                              'source', 'web', 'time', t, 'page', jsonb_build_object('url',
                              'https://shop.example/products/' || i || '?ref=newsletter&utm_source=mail',
                              'path', '/products/' || i, 'title', 'A product page of the demo shop'),
                              'device', jsonb_build_object('browser', 'Chrome', 'os', 'Mac OS X',
                              'user_agent', 'Mozilla/5.0 (Macintosh, Intel Mac OS X 10_15_7) AppleWebKit/537.36'),
                              'properties', jsonb_build_object('plan', 'pro', 'seats', i))
    from generate_series(0, :n - 1) s, generate_series(0, :per - 1) i,
         lateral (select :now - s * cast(:gap as interval) + i * interval '30 seconds' as t) tt;
    insert into anon_users select :env, anon_user_id, min(start), max("end"), count(*) from sessions
        where env_id = :env and anon_user_id like :prefix || '%' group by anon_user_id;
    insert into replays (env_id, session_id) select :env, :prefix || '-s' || s from generate_series(0, :replays - 1) s;
    insert into users (env_id, user_id, first_seen, last_seen, session_count)
        select :env, :survivor, min(first_seen), max(last_seen), sum(session_count) from anon_users
        where env_id = :env and anon_user_id like :prefix || '%'
    on conflict (env_id, user_id) do update set first_seen = least(users.first_seen, excluded.first_seen),
        last_seen = greatest(users.last_seen, excluded.last_seen),
        session_count = users.session_count + excluded.session_count;
    insert into merges select :env, anon_user_id, :survivor, :now, :survivor from anon_users
        where env_id = :env and anon_user_id like :prefix || '%' and anon_user_id <> :survivor;
"""


def generate(engine, prefix: str, sessions: int, per: int, members: int, gap: str, replays: int = 0,
             env: str = ENV, survivor: str | None = None) -> None:
    params = {"env": env, "prefix": prefix, "n": sessions, "per": per, "members": members, "gap": gap,
              "now": NOW, "replays": replays, "survivor": survivor or f"{prefix}0"}
    with engine.begin() as conn:
        for statement in GENERATE.split(";"):
            if statement.strip():
                conn.execute(text(statement), params)
    with engine.begin() as conn:
        conn.execute(text("analyze"))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=2_000)
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--others", type=int, default=400_000)
    parser.add_argument("--retention-events", type=int, default=5_000_000)
    args = parser.parse_args(argv)
    base = get_settings()
    url = make_url(base.database_url)
    settings = base.with_(database_url=url.set(database=f"{url.database}_bench_privacy").render_as_string(
        hide_password=False))
    db.ensure_database(settings)
    migrate_fresh("services/sessions", settings)
    engine = db.make_engine("sessions", settings)
    per = max(1, args.events // args.sessions)

    started = time.perf_counter()
    generate(engine, "other", args.others // 50, 50, 1000, "1 minute")
    generate(engine, "victim", args.sessions, per, args.members, "2 hours", replays=50)
    print(f"generated {args.others} other events and {args.sessions * per} of the user in "
          f"{time.perf_counter() - started:.1f} s")

    ids = export.members(engine, ENV, "victim0")
    for fmt in ("json", "csv"):
        before, size, started = peak_mb(), 0, time.perf_counter()
        for part in ("sessions", "events"):
            for chunk in export.stream(engine, ENV, ids, part, fmt):
                size += len(chunk)
        elapsed = time.perf_counter() - started
        print(f"export {fmt}: {size / 1e6:.1f} MB in {elapsed:.2f} s = {size / 1e6 / elapsed:.1f} MB/s, "
              f"peak memory +{peak_mb() - before:.1f} MB")

    request = DeletionRequested(env_id=ENV, deletion_id="bench", requested_at=NOW, user_ids=["victim0"])
    started = time.perf_counter()
    with engine.begin() as conn:
        deletion.apply_deletion(conn, request, 400)
        counts = conn.execute(text("select counts from deletions where deletion_id = 'bench'")).scalar()
    print(f"delete: {time.perf_counter() - started:.2f} s for {counts}")

    migrate_fresh("services/sessions", settings)
    per_day = args.retention_events // 30
    started = time.perf_counter()
    generate(engine, "r", args.retention_events // 10, 10, 50_000,
             f"{86_400 * 30 // (args.retention_events // 10)} seconds")
    print(f"generated {args.retention_events} events over 30 days in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    counts = apply_retention(engine, ENV, days=28, now=NOW)  # the data spans ~29 days: its oldest day
    print(f"retention of one day (~{per_day} events): {time.perf_counter() - started:.2f} s, {dict(counts)}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
