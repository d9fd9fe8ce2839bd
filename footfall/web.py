"""Flask scaffolding every service shares: app factory pieces, probes, metrics, errors, logs, OpenAPI.

`create_service_app` gives each service the same outside: `/healthz` (the process is alive),
`/readyz` (its dependencies answer, and it is not draining), `/metrics` (Prometheus),
`/openapi.json`, JSON errors `{"error": {"code", "message", …}}`, orjson bodies, request ids
(`X-Request-Id`, echoed and logged) and one structured JSON log line per request.
"""
from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, g, jsonify, request
from flask.json.provider import JSONProvider
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from footfall.config import Settings, get_settings

log = logging.getLogger("footfall.http")

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "endpoint", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


class ApiError(Exception):
    """An error the client can fix: rendered as JSON with its status, message and details."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None, **details: Any):
        super().__init__(message)
        self.status, self.message, self.headers, self.details = status, message, headers or {}, details


def found(value: Any, message: str, **details: Any) -> Any:
    """`value`, or a 404 saying what was not found: for lookups that answer None when nothing is."""
    if value is None:
        raise ApiError(404, message, **details)
    return value


class OrjsonProvider(JSONProvider):
    """Flask JSON through orjson: several times faster on the hot paths (engineering.md §4)."""

    options = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_UTC_Z

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj, default=_default, option=self.options).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        body = orjson.dumps(obj, default=_default, option=self.options)
        return self._app.response_class(body, mimetype="application/json")


def _default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def configure_logging(level: str = "INFO") -> None:
    """One JSON object per log line on stderr."""
    try:
        from pythonjsonlogger.json import JsonFormatter
    except ImportError:  # python-json-logger < 3.1
        from pythonjsonlogger.jsonlogger import JsonFormatter
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("pika").setLevel(logging.WARNING)


def create_service_app(
    name: str,
    blueprints: Iterable[Blueprint],
    *,
    settings: Settings | None = None,
    readiness: dict[str, Callable[[], Any]] | None = None,
    openapi: "OpenAPI | None" = None,
    max_content_length: int = 2 * 1024 * 1024,
) -> Flask:
    """A Flask app with the shared outside; each service adds its blueprints and readiness checks."""
    settings = settings or get_settings()
    app = Flask(name)
    app.json = OrjsonProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = max_content_length
    app.config["SETTINGS"] = settings
    app.extensions["readiness"] = dict(readiness or {})

    @app.before_request
    def _start() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        REQUESTS.labels(name, endpoint, request.method, response.status_code).inc()
        LATENCY.labels(name, endpoint).observe(elapsed)
        if endpoint not in ("/healthz", "/readyz", "/metrics") and log.isEnabledFor(logging.INFO):
            log.info("request", extra={
                "service": name, "method": request.method, "path": request.path,
                "status": response.status_code, "ms": round(elapsed * 1000, 2),
                "request_id": g.get("request_id"),
            })
        return response

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        body = {"error": {"code": exc.status, "message": exc.message, **exc.details}}
        return jsonify(body), exc.status, exc.headers

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        errors = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
        return jsonify({"error": {"code": 400, "message": "invalid request", "errors": errors}}), 400

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        body = {"error": {"code": exc.code, "message": exc.description or exc.name}}
        return jsonify(body), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"request_id": g.get("request_id")})
        body = {"error": {"code": 500, "message": "internal error", "request_id": g.get("request_id")}}
        return jsonify(body), 500

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "service": name}

    @app.get("/readyz")
    def readyz():
        if os.path.exists(settings.drain_file):
            return {"status": "draining", "service": name}, 503
        failures = {}
        for check_name, check in app.extensions["readiness"].items():
            try:
                check()
            except Exception as exc:  # any failure means "not ready"; say which and why
                failures[check_name] = repr(exc)[:200]
        if failures:
            return {"status": "unavailable", "service": name, "failures": failures}, 503
        return {"status": "ready", "service": name}

    @app.get("/metrics")
    def metrics():
        return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)

    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    spec = openapi or OpenAPI(name)

    @app.get("/openapi.json")
    def openapi_json():
        return spec.render(app)

    return app


def _registry():
    """The default registry, or the multiprocess one when gunicorn runs several workers."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


# --- OpenAPI ----------------------------------------------------------------------------------

_FLASK_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def operation(
    summary: str,
    *,
    request: type[BaseModel] | dict | None = None,
    responses: dict[int, type[BaseModel] | dict | str] | None = None,
    query: dict[str, dict] | None = None,
    tags: list[str] | None = None,
) -> Callable:
    """Describe a view for /openapi.json: request body model, responses, query parameters."""

    def mark(view: Callable) -> Callable:
        view.openapi = {"summary": summary, "request": request, "responses": responses or {200: "OK"},
                        "query": query or {}, "tags": tags or []}
        return view

    return mark


class OpenAPI:
    """Builds an OpenAPI 3.1 document (pydantic emits JSON Schema 2020-12, which 3.1 speaks) from the app's URL map and the `operation` marks on views."""

    def __init__(self, title: str, version: str = "1.0.0", description: str = ""):
        self.title, self.version, self.description = title, version, description

    def render(self, app: Flask) -> dict:
        components: dict[str, dict] = {}
        paths: dict[str, dict] = {}
        for rule in app.url_map.iter_rules():
            view = app.view_functions.get(rule.endpoint)
            meta = getattr(view, "openapi", None)
            if meta is None:
                continue
            path = _FLASK_PARAM.sub(r"{\2}", rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                paths.setdefault(path, {})[method.lower()] = self._operation(rule, meta, components)
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "paths": paths,
            "components": {"schemas": components},
        }

    def _operation(self, rule, meta: dict, components: dict) -> dict:
        params = [{"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
                  for arg in sorted(rule.arguments)]
        for name, schema in meta["query"].items():
            schema = dict(schema)
            required = schema.pop("required", False)
            params.append({"name": name, "in": "query", "required": required, "schema": schema})
        op: dict[str, Any] = {"summary": meta["summary"], "parameters": params,
                              "operationId": rule.endpoint, "responses": {}}
        if meta["tags"]:
            op["tags"] = meta["tags"]
        if meta["request"] is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema(meta["request"], components)}}}
        for status, body in meta["responses"].items():
            if isinstance(body, str):
                op["responses"][str(status)] = {"description": body}
            else:
                op["responses"][str(status)] = {"description": str(status), "content": {
                    "application/json": {"schema": _schema(body, components)}}}
        return op


def _schema(model: type[BaseModel] | dict, components: dict) -> dict:
    if isinstance(model, dict):
        return model
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}
