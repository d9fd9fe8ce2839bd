"""The definitions service's HTTP app: named, coloured event definitions and labelling.

It owns the definitions table and publishes `definition.changed` on every change. It consumes no
queue, so it has no consumer.py: labels are computed at read time (definitions are retroactive),
and other services learn about changes from the bus.
"""
from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from footfall.bus import Publisher
from footfall.config import Settings, get_settings
from footfall.db import make_engine
from footfall.web import OpenAPI, create_service_app
from services.definitions.api import bp
from services.definitions.service import Definitions


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    engine = make_engine("definitions", settings)
    publisher = Publisher(settings)

    def database() -> None:
        with engine.connect() as conn:
            conn.execute(text("select 1"))

    app = create_service_app(
        "definitions", [bp], settings=settings,
        readiness={"database": database, "broker": publisher.check},
        openapi=OpenAPI("Footfall definitions",
                        description="Defined events: CRUD, expanded criteria, labelling, suggestions."),
    )
    app.extensions["definitions"] = Definitions(engine, publisher)
    return app
