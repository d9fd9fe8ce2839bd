"""Settings from environment variables, with localhost defaults: the one place config is read."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Settings:
    """Everything a Footfall process can be told from outside; tests build their own with `replace`."""

    database_url: str = field(
        default_factory=lambda: _env("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/footfall")
    )
    amqp_url: str = field(
        default_factory=lambda: _env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", "redis://127.0.0.1:6379/0"))
    s3_endpoint_url: str = field(default_factory=lambda: _env("S3_ENDPOINT_URL", "http://127.0.0.1:9000"))
    s3_bucket: str = field(default_factory=lambda: _env("S3_BUCKET", "footfall-replays"))
    # The bootstrap environment, until the gateway owns environments and write keys.
    env_id: str = field(default_factory=lambda: _env("FOOTFALL_ENV_ID", "demo"))
    write_key: str = field(default_factory=lambda: _env("FOOTFALL_WRITE_KEY", "demo-write-key"))
    # Shared secret that signs replay recording tokens (gateway signs, replay verifies).
    replay_token_secret: str = field(
        default_factory=lambda: _env("REPLAY_TOKEN_SECRET", "dev-only-replay-secret")
    )
    # Days a session replay is kept (replay service's retention job and S3 lifecycle rule).
    replay_retention_days: int = field(default_factory=lambda: _int("REPLAY_RETENTION_DAYS", 30))
    # Days a deleted user's tombstones stop their earlier events from coming back (queues,
    # redeliveries, SDK offline queues and server-side backfills all end well before).
    deletion_tombstone_days: int = field(default_factory=lambda: _int("DELETION_TOMBSTONE_DAYS", 400))
    # Internal service addresses the gateway composes.
    ingest_url: str = field(default_factory=lambda: _env("INGEST_URL", "http://127.0.0.1:8081"))
    identity_url: str = field(default_factory=lambda: _env("IDENTITY_URL", "http://127.0.0.1:8082"))
    sessions_url: str = field(default_factory=lambda: _env("SESSIONS_URL", "http://127.0.0.1:8083"))
    definitions_url: str = field(
        default_factory=lambda: _env("DEFINITIONS_URL", "http://127.0.0.1:8084")
    )
    replay_url: str = field(default_factory=lambda: _env("REPLAY_URL", "http://127.0.0.1:8085"))
    gateway_url: str = field(default_factory=lambda: _env("GATEWAY_URL", "http://127.0.0.1:8080"))
    # A file whose presence means "draining": /readyz fails so the load balancer stops sending.
    drain_file: str = field(default_factory=lambda: _env("DRAIN_FILE", "/tmp/footfall-draining"))
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO"))
    # Queue worker knobs (see footfall.bus.Consumer for why these numbers).
    prefetch: int = field(default_factory=lambda: _int("BUS_PREFETCH", 200))
    batch_size: int = field(default_factory=lambda: _int("BUS_BATCH_SIZE", 200))
    delivery_limit: int = field(default_factory=lambda: _int("BUS_DELIVERY_LIMIT", 5))
    # Ingest's per-environment rate limit: events per window (0 turns it off); generous by default.
    ingest_rate_limit: int = field(default_factory=lambda: _int("INGEST_RATE_LIMIT", 1_000_000))
    ingest_rate_window_s: int = field(default_factory=lambda: _int("INGEST_RATE_WINDOW_S", 60))

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed (tests, CLIs)."""
        return replace(self, **changes)


def get_settings() -> Settings:
    """Read the environment now; cheap, so callers need no cache."""
    return Settings()
