"""Checks that PostgreSQL, RabbitMQ and Redis answer; with --start, starts the ones that are down.

`make run` checks and explains; `make test` (and CI) starts what this machine can start.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from footfall.config import get_settings

HOW_TO_START = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "RabbitMQ": "rabbitmq-server -detached",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
}
LAPTOP_HINT = "or on a laptop: docker compose -f deploy/compose.yaml up -d postgres rabbitmq redis minio"


def _address(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def services() -> dict[str, tuple[str, int]]:
    settings = get_settings()
    return {
        "PostgreSQL": _address(settings.database_url, 5432),
        "RabbitMQ": _address(settings.amqp_url, 5672),
        "Redis": _address(settings.redis_url, 6379),
    }


def main(argv: list[str]) -> int:
    start = "--start" in argv
    missing = []
    for name, (host, port) in services().items():
        if _answers(host, port):
            continue
        local = host in ("127.0.0.1", "localhost")
        if start and local and shutil.which(HOW_TO_START[name].split()[0]):
            print(f"{name} is down on {host}:{port}; starting it: {HOW_TO_START[name]}")
            subprocess.run(HOW_TO_START[name], shell=True, check=False)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _answers(host, port):
                time.sleep(1)
            if _answers(host, port):
                continue
        missing.append(name)
        print(f"{name} is not answering on {host}:{port}. Start it with: {HOW_TO_START[name]}  "
              f"({LAPTOP_HINT})", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
