"""Settings from environment variables, with localhost defaults: the one place config is read.

Secrets have no default. A process that needs one refuses to start without it (`require_secrets`):
`make run` generates them once into `.footfall/secrets.env` (footfall/secretfile.py), compose into a
volume, Kubernetes takes them from a Secret. `FOOTFALL_SECRETS_FILE` names an env-format file whose
entries fill in variables the environment does not set (compose and `make run` use it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

# HMAC keys and bearer secrets shorter than this are refused: 32 bytes is SHA-256's own size.
MIN_SECRET_BYTES = 32
# Each secret a process may need, by Settings field: its variable and what it is for.
SECRETS = {
    "replay_token_secrets": ("REPLAY_TOKEN_SECRETS", "signs and verifies replay recording tokens"),
    "service_tokens": ("SERVICE_TOKENS", "authenticates calls between Footfall's own processes"),
}


class MissingSecret(RuntimeError):
    """A required secret is unset or too short: the process must not start."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _list(name: str) -> tuple[str, ...]:
    """A comma-separated list (blank entries dropped); secrets lists put the current one first."""
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


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
    # The environment `python -m gateway.bootstrap` creates; its write key when set (else generated).
    env_id: str = field(default_factory=lambda: _env("FOOTFALL_ENV_ID", "demo"))
    write_key: str = field(default_factory=lambda: _env("FOOTFALL_WRITE_KEY", ""))
    # Keys of replay recording tokens (the gateway signs with the first, replay accepts any):
    # rotate by adding the new key last, then moving it first, then dropping the old one.
    replay_token_secrets: tuple[str, ...] = field(default_factory=lambda: _list("REPLAY_TOKEN_SECRETS"))
    # Bearer secrets of internal calls (the gateway sends the first, services accept any), and of
    # operators' /metrics and detailed /readyz. Rotated like the replay keys.
    service_tokens: tuple[str, ...] = field(default_factory=lambda: _list("SERVICE_TOKENS"))
    # Reverse proxies in front of the HTTP services: X-Forwarded-For/-Proto are believed only from
    # a peer in TRUSTED_PROXIES (CIDRs), and only the last TRUSTED_PROXY_HOPS entries of them.
    trusted_proxies: tuple[str, ...] = field(default_factory=lambda: _list("TRUSTED_PROXIES"))
    trusted_proxy_hops: int = field(default_factory=lambda: _int("TRUSTED_PROXY_HOPS", 1))
    # A second listener (host:port) for /metrics and detailed /readyz, reachable by monitoring only.
    metrics_bind: str = field(default_factory=lambda: _env("METRICS_BIND", ""))
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
    # Queue worker knobs (see footfall.worker.Consumer for why these numbers).
    prefetch: int = field(default_factory=lambda: _int("BUS_PREFETCH", 200))
    batch_size: int = field(default_factory=lambda: _int("BUS_BATCH_SIZE", 200))
    delivery_limit: int = field(default_factory=lambda: _int("BUS_DELIVERY_LIMIT", 5))
    # Seconds one attempt at a batch may take before it is abandoned and its messages requeued
    # (batches take seconds; a deletion's many S3 calls take longest).
    consumer_batch_timeout_s: float = field(default_factory=lambda: float(_env("CONSUMER_BATCH_TIMEOUT_S", "300")))
    # Seconds without progress, while messages wait, after which a consumer's liveness fails;
    # longer than the batch limit, so a batch is abandoned first when it can be.
    consumer_stall_s: float = field(default_factory=lambda: float(_env("CONSUMER_STALL_S", "600")))
    # Seconds one statement of a read API may run. A question whose asker is gone (the client
    # or gunicorn gave up) must not keep a PostgreSQL backend busy; a streamed export's every
    # FETCH is a statement of its own, so long exports stay possible.
    query_timeout_s: float = field(default_factory=lambda: float(_env("QUERY_TIMEOUT_S", "30")))
    # Ingest's per-environment rate limit: events per window (0 turns it off); generous by default.
    ingest_rate_limit: int = field(default_factory=lambda: _int("INGEST_RATE_LIMIT", 1_000_000))
    ingest_rate_window_s: int = field(default_factory=lambda: _int("INGEST_RATE_WINDOW_S", 60))
    # Replay admission per minute (0 turns one off): /replay/v1/start calls of one device, and new
    # sessions from one client address and in one environment. The write key is public, so these
    # are what stands between a script and a trial's 10,000 sessions (100 a minute: 100 minutes).
    replay_starts_per_device: int = field(default_factory=lambda: _int("REPLAY_STARTS_PER_DEVICE", 30))
    replay_new_sessions_per_ip: int = field(default_factory=lambda: _int("REPLAY_NEW_SESSIONS_PER_IP", 20))
    replay_new_sessions_per_env: int = field(default_factory=lambda: _int("REPLAY_NEW_SESSIONS_PER_ENV", 100))
    # Password checks (argon2, ~50 ms of CPU and 64 MB each) one gateway process runs at once.
    login_concurrency: int = field(default_factory=lambda: _int("LOGIN_CONCURRENCY", 1))
    # Events timed more than this after their receipt are stored at their receipt time (a day).
    ingest_future_margin_s: int = field(default_factory=lambda: _int("INGEST_FUTURE_MARGIN_S", 86_400))
    # An operator's MaxMind database (GeoIP2 or GeoLite2 City/Country .mmdb, kept current with
    # MaxMind's geoipupdate): ingest reads country, region and city from it. Empty: the country of
    # the address block's registry allocation only (docs/geo.md).
    geoip_database: str = field(default_factory=lambda: _env("GEOIP_DATABASE", ""))

    def with_(self, **changes) -> "Settings":
        """A copy with some fields changed (tests, CLIs)."""
        return replace(self, **changes)

    @property
    def replay_token_secret(self) -> str:
        """The key new replay tokens are signed with."""
        return require_secrets(self, "replay_token_secrets")[0]

    @property
    def service_token(self) -> str:
        """The token this process sends on internal calls."""
        return require_secrets(self, "service_tokens")[0]


def require_secrets(settings: Settings, *names: str) -> tuple[str, ...]:
    """Check that each named secret is set, every value at least MIN_SECRET_BYTES long; raise
    MissingSecret naming the variable otherwise. Returns the values of the last one checked."""
    values: tuple[str, ...] = ()
    for name in names:
        variable, purpose = SECRETS[name]
        values = getattr(settings, name)
        if not values:
            raise MissingSecret(f"{variable} is not set: it {purpose}. `make run` generates one into "
                                f".footfall/secrets.env (python -m footfall.secretfile PATH)")
        if any(len(value.encode()) < MIN_SECRET_BYTES for value in values):
            raise MissingSecret(f"every value of {variable} must have at least {MIN_SECRET_BYTES} bytes")
    return values


_loaded_files: set[str] = set()


def load_secrets_file(path: str | None = None) -> None:
    """Fill in unset environment variables from an env-format file (KEY=VALUE lines, # comments):
    FOOTFALL_SECRETS_FILE, read once per process. Variables already set win."""
    path = path or os.environ.get("FOOTFALL_SECRETS_FILE")
    if not path or path in _loaded_files or not os.path.exists(path):
        return  # a missing file adds nothing: processes that need a secret then say which
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            key, sep, value = line.strip().partition("=")
            if sep and key and not key.startswith("#"):
                os.environ.setdefault(key.strip(), value.strip())
    _loaded_files.add(path)


def get_settings() -> Settings:
    """Read the environment now; cheap, so callers need no cache."""
    load_secrets_file()
    return Settings()
