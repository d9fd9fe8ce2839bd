#!/usr/bin/env python3
"""Probe for queue consumers (no HTTP server): exit 0 while the container holds a broker connection.

A container has its own network namespace, so an ESTABLISHED TCP socket to the broker's port in
/proc/net/tcp{,6} is the consumer's own connection. The worker reconnects by itself within 15 s;
a consumer still without a connection after several probe periods is wedged or cut off.
Standard library only: it runs often, and must start fast.
"""
from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

ESTABLISHED = "01"
TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def broker_port(amqp_url: str) -> int:
    """The broker port named by AMQP_URL (5672 for amqp, 5671 for amqps when not given)."""
    parts = urlsplit(amqp_url)
    return parts.port or (5671 if parts.scheme == "amqps" else 5672)


def connected(port: int, tables: tuple[str, ...] = TABLES) -> bool:
    """True when some ESTABLISHED socket in the tables has `port` as its remote port."""
    for table in tables:
        try:
            with open(table) as rows:
                next(rows)  # header
                for row in rows:
                    fields = row.split()
                    remote, state = fields[2], fields[3]
                    if state == ESTABLISHED and int(remote.rsplit(":", 1)[1], 16) == port:
                        return True
        except FileNotFoundError:
            continue  # no IPv6 in this kernel
    return False


def main() -> int:
    port = broker_port(os.environ.get("AMQP_URL", "amqp://127.0.0.1:5672/"))
    if connected(port):
        return 0
    print(f"no established connection to the broker port {port}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
