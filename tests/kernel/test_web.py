"""The shared Flask scaffolding: probes, errors, metrics, OpenAPI."""
import pathlib

import pytest
from flask import Blueprint
from pydantic import BaseModel

from footfall.web import ApiError, OpenAPI, create_service_app, operation


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
    client = app.test_client()
    assert client.get("/healthz").json["status"] == "ok"
    assert client.get("/readyz").status_code == 200
    app.state["db_up"] = False
    response = client.get("/readyz")
    assert response.status_code == 503 and "database" in response.json["failures"]
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


def test_openapi_describes_marked_routes(app):
    spec = app.test_client().get("/openapi.json").json
    op = spec["paths"]["/greet/{who}"]["post"]
    assert op["summary"] == "Greet someone"
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Greeting")
    assert "Greeting" in spec["components"]["schemas"]
