"""The sessions service's composition root: `create_app(settings=None)`."""
from __future__ import annotations

import orjson
from sqlalchemy import text

from footfall.config import Settings, get_settings
from footfall.db import make_engine
from footfall.web import OpenAPI, configure_logging, create_service_app
from services.sessions import api, csv_export
from services.sessions.tables import SCHEMA


def create_app(settings: Settings | None = None):
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    # orjson reads the JSONB columns (props of every listed session) several times faster.
    # JIT off: a filtered page walking the feed index with per-user probes is estimated at the
    # cost of the whole walk (past jit_above_cost) but stops after a few hundred users; compiling
    # it took 350 ms of a 40 ms query (docs/filters.md). The statement timeout: QUERY_TIMEOUT_S.
    engine = make_engine(SCHEMA, settings, json_deserializer=orjson.loads, server_settings={
        "jit": "off", "statement_timeout": f"{int(settings.query_timeout_s * 1000)}ms"})

    def database() -> None:
        with engine.connect() as conn:
            conn.execute(text("select 1"))

    app = create_service_app(
        "sessions", [api.bp, csv_export.bp], settings=settings, readiness={"database": database},
        openapi=OpenAPI("Footfall sessions", description="Events, sessions and the users feed"),
    )
    app.extensions["sessions_engine"] = engine
    return app
