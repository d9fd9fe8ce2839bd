"""Flask scaffolding every service shares: app factory pieces, probes, metrics, errors, logs, OpenAPI.

`create_service_app` gives each service the same outside: `/healthz` (the process is alive),
`/readyz` (its dependencies answer, and it is not draining), `/metrics` (Prometheus),
`/openapi.json`, JSON errors `{"error": {"code", "message", …}}`, orjson bodies, request ids
(`X-Request-Id`, echoed and logged) and one structured JSON log line per request.

And the same guards: routes under `/internal/` answer only callers with a service token
(`X-Service-Token`, one of `Settings.service_tokens`); `/metrics` and the failures of `/readyz`
are for operators (the service token, or a request on the `METRICS_BIND` listener); forwarded
headers count only from `TRUSTED_PROXIES`; HTTPS answers carry HSTS.
"""
from __future__ import annotations

import hmac
import ipaddress
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
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter

from footfall.config import Settings, get_settings, require_secrets

log = logging.getLogger("footfall.http")

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "endpoint", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "endpoint"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

INTERNAL_PREFIX = "/internal/"
SERVICE_TOKEN_HEADER = "X-Service-Token"
HSTS = "max-age=31536000"


def service_headers(settings: Settings) -> dict[str, str]:
    """The header that authenticates a call from one Footfall process to another's internal API."""
    return {SERVICE_TOKEN_HEADER: settings.service_token}


class ApiError(Exception):
    """An error the client can fix: rendered as JSON with its status, message and details."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None, **details: Any):
        super().__init__(message)
        self.status, self.message, self.headers, self.details = status, message, headers or {}, details


NUL = "\x00"  # PostgreSQL's text and jsonb cannot hold it: no stored id or name contains one


def nul_path(value: Any, path: str = "") -> str | None:
    """Where a parsed JSON value holds a NUL (in a string or a key), as a dotted path; None if nowhere."""
    if isinstance(value, str):
        return path if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                return here
            if (found := nul_path(item, here)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := nul_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


class AnyIdConverter(BaseConverter):
    """`<anyid:name>`: an id as a client made it (a messageId, a session id), '/' included — leading,
    doubled or trailing. Clients send it percent-encoded, but the WSGI server decodes `%2F` before
    routing, so `<name>` (no '/') and even `<path:name>` (no leading '/') miss some ids. Give the
    rule `merge_slashes=False` too, or '//' in an id is merged away."""

    regex = "[^/]*(?:/[^/]*)*?"
    part_isolating = False


def found(value: Any, message: str, **details: Any) -> Any:
    """`value`, or a 404 saying what was not found: for lookups that answer None when nothing is."""
    if value is None:
        raise ApiError(404, message, **details)
    return value


class OrjsonProvider(JSONProvider):
    """Flask JSON through orjson: several times faster than the json module on the hot paths."""

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
    """A Flask app with the shared outside; each service adds its blueprints and readiness checks.

    Refuses to build (MissingSecret) without the service tokens: no process serves unguarded.
    """
    settings = settings or get_settings()
    service_tokens = [token.encode() for token in require_secrets(settings, "service_tokens")]
    metrics_port = _port(settings.metrics_bind)
    app = Flask(name)
    app.url_map.converters["anyid"] = AnyIdConverter
    app.json = OrjsonProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = max_content_length
    app.config["SETTINGS"] = settings
    app.extensions["readiness"] = dict(readiness or {})
    app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies, settings.trusted_proxy_hops)

    def service_caller() -> bool:
        given = request.headers.get(SERVICE_TOKEN_HEADER, "").encode()
        # compare_digest against each accepted token: no early exit that timing could reveal.
        return bool(given) and sum(hmac.compare_digest(given, token) for token in service_tokens) > 0

    def operator() -> bool:
        return service_caller() or (metrics_port is not None and _local_port() == metrics_port)

    @app.before_request
    def _start() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        g.started = time.perf_counter()
        if request.path.startswith(INTERNAL_PREFIX) and not service_caller():
            raise ApiError(401, f"internal API: send the service token in {SERVICE_TOKEN_HEADER}",
                           field=SERVICE_TOKEN_HEADER)
        for arg, value in request.args.items(multi=True):
            if NUL in arg or NUL in value:
                raise ApiError(400, f"'{arg}' must not contain a NUL character", field=arg)

    @app.url_value_preprocessor
    def _refuse_nul_in_path(_endpoint: str | None, values: dict | None) -> None:
        for name, value in (values or {}).items():
            if isinstance(value, str) and NUL in value:
                raise ApiError(404, f"no {name} contains a NUL character", field=name)

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        if request.is_secure:  # as seen through a trusted proxy (TrustedProxies)
            response.headers.setdefault("Strict-Transport-Security", HSTS)
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
            except Exception as exc:  # any failure means "not ready"; the log says why
                log.warning("not ready", extra={"service": name, "check": check_name, "error": repr(exc)[:500]})
                failures[check_name] = type(exc).__name__  # never the message: it names hosts
        if failures:
            body = {"status": "unavailable", "service": name}
            if operator():
                body["failures"] = failures
            return body, 503
        return {"status": "ready", "service": name}

    @app.get("/metrics")
    def metrics():
        if not operator():
            raise ApiError(401, f"metrics are for operators: send the service token in {SERVICE_TOKEN_HEADER}"
                                " or scrape the metrics listener (METRICS_BIND)")
        return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)

    for blueprint in blueprints:
        app.register_blueprint(blueprint)

    spec = openapi or OpenAPI(name)

    @app.get("/openapi.json")
    def openapi_json():
        return spec.render(app)

    return app


def _port(bind: str) -> int | None:
    """The port of a host:port listener address, None when unset."""
    return int(bind.rsplit(":", 1)[1]) if bind else None


def _local_port() -> int | None:
    """The port the request arrived on, from the accepted socket (gunicorn), not from the Host
    header a client chooses."""
    sock = request.environ.get("gunicorn.socket")
    try:
        return sock.getsockname()[1] if sock is not None else None
    except (OSError, IndexError, TypeError):
        return None


class TrustedProxies:
    """werkzeug's ProxyFix, applied only when the direct peer is one of the configured proxies.

    ProxyFix alone trusts the last `hops` X-Forwarded-For/-Proto values whoever sends them; a
    client that reaches the service directly could then choose its address (rate limits, geo) and
    make plain HTTP pass for HTTPS. With no TRUSTED_PROXIES, forwarded headers are ignored.
    """

    def __init__(self, app, proxies: tuple[str, ...], hops: int):
        self.app = app
        self.networks = [ipaddress.ip_network(proxy, strict=False) for proxy in proxies]
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops)

    def __call__(self, environ, start_response):
        if self.networks and self._trusted(environ.get("REMOTE_ADDR", "")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)

    def _trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


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
    """Builds an OpenAPI 3.1 document (pydantic emits JSON Schema 2020-12,
    which 3.1 speaks) from the app's URL map and the `operation` marks on views."""

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
        document = {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "paths": paths,
            "components": {"schemas": components},
        }
        if any(path.startswith(INTERNAL_PREFIX) for path in paths):
            document["components"]["securitySchemes"] = {"serviceToken": {
                "type": "apiKey", "in": "header", "name": SERVICE_TOKEN_HEADER,
                "description": "one of SERVICE_TOKENS: only Footfall's own processes call internal APIs"}}
        return document

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
        responses = dict(meta["responses"])
        if rule.rule.startswith(INTERNAL_PREFIX):
            op["security"] = [{"serviceToken": []}]
            responses.setdefault(401, "missing or wrong service token")
        for status, body in responses.items():
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
