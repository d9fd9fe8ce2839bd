"""The identity service's HTTP app (internal API)."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from footfall.config import Settings, get_settings
from footfall.web import OpenAPI, create_service_app
from services.identity import store
from services.identity.api import bp


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    engine = store.make_identity_engine(settings)

    def database() -> None:
        with engine.connect() as conn:
            conn.execute(text("select 1"))

    app = create_service_app(
        "identity", [bp], settings=settings, readiness={"database": database},
        openapi=OpenAPI("Footfall identity", description="Users, merges, devices and ingestion warnings."),
    )
    app.extensions["identity_engine"] = engine
    return app
