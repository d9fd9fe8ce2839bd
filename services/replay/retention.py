"""Retention job: `python -m services.replay.retention [--days N]` deletes replays past retention.

Only sessions whose last chunk is older than the retention (Settings.replay_retention_days, 30 by
default) lose their objects and index rows; nothing else is touched. Run it daily (a CronJob).
"""
from __future__ import annotations

import argparse
import logging

from footfall.config import get_settings
from footfall.web import configure_logging
from services.replay.app import build_replays

log = logging.getLogger("footfall.replay.retention")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, help="retention in days (default: REPLAY_RETENTION_DAYS or 30)")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.days is not None:
        if args.days < 1:
            parser.error("--days must be at least 1")
        settings = settings.with_(replay_retention_days=args.days)
    configure_logging(settings.log_level)
    replays = build_replays(settings)
    replays.storage.ensure_bucket()  # keeps the lifecycle rule in step with the retention
    deleted = replays.delete_expired()
    log.info("replay retention done", extra={"deleted_sessions": deleted,
                                             "retention_days": settings.replay_retention_days})
    print(f"deleted {deleted} replay sessions older than {settings.replay_retention_days} days")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
