"""SQLAlchemy 2 engines and Alembic migrations, one PostgreSQL schema per service.

Each service keeps its tables in its own schema (named after its folder: `identity`, `sessions`…)
so services can share one PostgreSQL in development and move apart in production. A service's
`migrations/env.py` is two lines: import `run_alembic_env` and call it with the schema.

CLI: `python -m footfall.db upgrade services/identity gateway …` migrates each folder's
`migrations/` into the schema named after the folder.
"""
from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from footfall.config import Settings, get_settings


def make_engine(schema: str, settings: Settings | None = None, server_settings: dict[str, str] | None = None,
                **kwargs) -> Engine:
    """An engine whose connections see `schema` first (then public, for extensions), with
    `server_settings` set on each connection at start (some, like temp_buffers, only can be)."""
    settings = settings or get_settings()
    flags = " ".join(f"-c{name}={value}" for name, value in {"search_path": f"{schema},public",
                                                             **(server_settings or {})}.items())
    # application_name shows in pg_stat_activity which service a backend works for.
    options = {"options": flags, "application_name": f"footfall-{schema}"}
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(settings.database_url, connect_args=options, pool_pre_ping=True, **kwargs)



def ensure_database(settings: Settings | None = None) -> None:
    """Create the configured database when missing (fresh machines), via the `postgres` database."""
    settings = settings or get_settings()
    url = create_engine(settings.database_url).url
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("select 1 from pg_database where datname = :n"), {"n": url.database})
        if not exists:
            conn.execute(text(f'create database "{url.database}"'))
    admin.dispose()


def upgrade(service_dir: str | Path, settings: Settings | None = None, revision: str = "heads") -> None:
    """Run a service's Alembic migrations into its schema (every branch: several teams may own one)."""
    from alembic import command
    from alembic.config import Config

    service_dir = Path(service_dir)
    config = Config()
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.attributes["schema"] = service_dir.name
    config.attributes["settings"] = settings or get_settings()
    command.upgrade(config, revision)


def run_alembic_env(schema: str) -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    from alembic import context

    settings = context.config.attributes.get("settings") or get_settings()
    engine = create_engine(settings.database_url)
    with engine.connect() as connection:
        connection.execute(text(f'create schema if not exists "{schema}"'))
        connection.execute(text(f'set search_path to "{schema}", public'))
        connection.commit()
        context.configure(connection=connection, version_table_schema=schema)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def _main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "upgrade":
        print("usage: python -m footfall.db upgrade SERVICE_DIR [SERVICE_DIR …]", file=sys.stderr)
        return 2
    ensure_database()
    for service_dir in argv[1:]:
        upgrade(service_dir)
        print(f"migrated {service_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
