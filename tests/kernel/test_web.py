"""The shared Flask scaffolding: probes, errors, metrics, OpenAPI, and its guards."""
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests
from flask import Blueprint, Response
from flask.testing import FlaskClient
from pydantic import BaseModel

from footfall.web import ApiError, OpenAPI, create_service_app, operation

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Greeting(BaseModel):
    name: str


bp = Blueprint("demo", __name__)


@bp.post("/greet/<who>")
@operation("Greet someone", request=Greeting, responses={200: Greeting, 400: "invalid"})
def greet(who):
    from flask import request

    body = Greeting.model_validate(request.get_json())
    if body.name == "nobody":
        raise ApiError(400, "name must be somebody", field="name")
    return {"name": f"{who} greets {body.name}"}


@pytest.fixture
def app(settings):
    state = {"db_up": True}

    def database():
        if not state["db_up"]:
            raise ConnectionError("database down")

    app = create_service_app("demo", [bp], settings=settings, readiness={"database": database},
                             openapi=OpenAPI("demo"))
    app.state = state
    return app


def test_health_and_readiness(app, settings):
    client = app.test_client()  # with the service token: an operator sees which check failed
    assert client.get("/healthz").json["status"] == "ok"
    assert client.get("/readyz").status_code == 200
    app.state["db_up"] = False
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["failures"] == {"database": "ConnectionError"}
    app.state["db_up"] = True
    drain = pathlib.Path(settings.drain_file)
    drain.touch()
    try:
        assert client.get("/readyz").json["status"] == "draining"
    finally:
        drain.unlink()


def test_errors_are_json_with_the_field_and_a_request_id(app):
    client = app.test_client()
    response = client.post("/greet/ada", json={"name": "nobody"}, headers={"X-Request-Id": "r-1"})
    assert response.status_code == 400
    assert response.json["error"] == {"code": 400, "message": "name must be somebody", "field": "name"}
    assert response.headers["X-Request-Id"] == "r-1"
    invalid = client.post("/greet/ada", json={"nom": 1})
    assert invalid.status_code == 400 and invalid.json["error"]["errors"][0]["field"] == "name"
    assert client.get("/nowhere").json["error"]["code"] == 404


def test_metrics_count_requests(app):
    client = app.test_client()
    client.post("/greet/ada", json={"name": "bob"})
    body = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="/greet/<who>",method="POST",service="demo",status="200"}' in body


# --- the guards ----------------------------------------------------------------------------------

internal = Blueprint("internal", __name__)


@internal.get("/internal/v1/envs/<env_id>/things")
@operation("Things of an environment", responses={200: "OK"})
def things(env_id):
    return {"env_id": env_id}


@pytest.fixture
def guarded(settings):
    def database():
        raise ConnectionError("could not connect to server at db-7.internal.example:5432")

    return create_service_app("guarded", [internal], settings=settings.with_(service_tokens=(NEW, OLD)),
                              readiness={"database": database})


def outsider(app) -> FlaskClient:
    """A caller without the service token (tests' default clients carry it, see tests/conftest.py)."""
    return FlaskClient(app, Response)


NEW, OLD = "n" * 43, "o" * 43


def test_internal_apis_answer_only_the_service_token(guarded):
    """The attack: sessions, identity, definitions and the replay manifest (pre-signed URLs of any
    environment) answered anyone who could reach them."""
    client = outsider(guarded)
    refused = client.get("/internal/v1/envs/acme/things")
    assert refused.status_code == 401 and refused.json["error"]["field"] == "X-Service-Token"
    assert client.get("/internal/v1/envs/acme/things", headers={"X-Service-Token": "guess"}).status_code == 401
    assert client.get("/internal/v1/envs/acme/things", headers={"X-Service-Token": "é"}).status_code == 401
    for token in (NEW, OLD):  # both while rotating
        assert client.get("/internal/v1/envs/acme/things", headers={"X-Service-Token": token}).json == {
            "env_id": "acme"}
    spec = client.get("/openapi.json").json  # the contract says so
    operation_ = spec["paths"]["/internal/v1/envs/{env_id}/things"]["get"]
    assert "401" in operation_["responses"] and operation_["security"] == [{"serviceToken": []}]
    assert spec["components"]["securitySchemes"]["serviceToken"]["name"] == "X-Service-Token"


def test_metrics_and_readiness_details_are_for_operators_only(guarded):
    """The attack: /metrics and /readyz were public on the gateway, and /readyz named the database host."""
    client = outsider(guarded)
    assert client.get("/metrics").status_code == 401
    public = client.get("/readyz")
    assert public.status_code == 503 and public.json == {"status": "unavailable", "service": "guarded"}
    operator = client.get("/readyz", headers={"X-Service-Token": OLD})
    assert operator.json["failures"] == {"database": "ConnectionError"}
    assert "db-7" not in operator.get_data(as_text=True)
    assert client.get("/metrics", headers={"X-Service-Token": NEW}).status_code == 200


def test_forwarded_headers_count_only_from_trusted_proxies(settings):
    """The attack: the session cookie was not Secure behind the TLS ingress, and no HSTS was sent;
    and anyone could claim an address or HTTPS with forwarded headers."""
    seen = Blueprint("seen", __name__)

    @seen.get("/whoami")
    def whoami():
        from flask import request

        return {"ip": request.remote_addr, "secure": request.is_secure}

    forwarded = {"X-Forwarded-For": "198.51.100.7, 203.0.113.5", "X-Forwarded-Proto": "https"}
    behind = create_service_app("behind", [seen], settings=settings.with_(trusted_proxies=("127.0.0.0/8",)))
    answer = behind.test_client().get("/whoami", headers=forwarded)
    assert answer.json == {"ip": "203.0.113.5", "secure": True}  # one hop: what our proxy saw
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    exposed = create_service_app("exposed", [seen], settings=settings.with_(trusted_proxies=("10.0.0.0/8",)))
    answer = exposed.test_client().get("/whoami", headers=forwarded)
    assert answer.json == {"ip": "127.0.0.1", "secure": False}
    assert "Strict-Transport-Security" not in answer.headers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_metrics_listener_serves_operators_without_the_token(settings):
    """Under gunicorn, METRICS_BIND is a second port; only requests arriving there skip the token
    (the port is the accepted socket's, not the Host header a client writes)."""
    public, metrics = _free_port(), _free_port()
    env = {**os.environ, "BIND": f"127.0.0.1:{public}", "METRICS_BIND": f"127.0.0.1:{metrics}",
           "WEB_CONCURRENCY": "1"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "python:footfall.gunicorn_conf",
                               "demo.site:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{public}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert requests.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).status_code == 200
        assert requests.get(f"http://127.0.0.1:{public}/metrics", timeout=5).status_code == 401
        spoofed = requests.get(f"http://127.0.0.1:{public}/metrics", headers={"Host": f"127.0.0.1:{metrics}"},
                               timeout=5)
        assert spoofed.status_code == 401
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


def test_openapi_describes_marked_routes(app):
    spec = app.test_client().get("/openapi.json").json
    op = spec["paths"]["/greet/{who}"]["post"]
    assert op["summary"] == "Greet someone"
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Greeting")
    assert "Greeting" in spec["components"]["schemas"]
