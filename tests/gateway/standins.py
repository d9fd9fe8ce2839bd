"""Stand-ins for the sessions, definitions and identity internal APIs (docs/contracts.md), each route,
parameter and answer checked against the real service's OpenAPI (test_standins_contract.py).

They let the gateway's composition be tested over real HTTP with data shaped to the case at hand;
the end-to-end tests in test_e2e_stack.py use the real services. Data is per environment, so
isolation tests can see that another environment's data never leaks. A `ContractGuard` on each
stand-in holds it and the gateway to the real service's OpenAPI while the tests run.
"""
from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import orjson
from flask import Flask, abort, jsonify, request
from jsonschema import Draft202012Validator
from werkzeug.serving import make_server

from criteria.match import matches as criteria_match

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _session(sid: str, user_id: str, minutes_ago: int, **extra) -> dict:
    start = NOW - timedelta(minutes=minutes_ago)
    return {"session_id": sid, "user_id": user_id, "start": iso(start), "end": iso(start + timedelta(minutes=3)),
            "duration_s": 180, "source": "web", "platform": "Mac OS X", "browser": "Chrome",
            "device_type": "Desktop", "event_count": 3, "landing_page": "/pricing", "referrer": None,
            "country": "FR", "utm_source": None, "has_replay": False, **extra}


def _event(eid: str, sid: str, user_id: str, kind: str, minutes_ago: int, **extra) -> dict:
    return {"event_id": eid, "kind": kind, "name": extra.pop("name", None),
            "time": iso(NOW - timedelta(minutes=minutes_ago)),
            "source": "web", "page": {"path": extra.pop("path", "/pricing"), "domain": "shop.example"},
            "target": extra.pop("target", None), "device": {"browser": "Chrome"}, "geo": {"country": "FR"},
            "campaign": {}, "properties": extra.pop("properties", {}), "session_id": sid, "user_id": user_id,
            "device_id": "dev-" + user_id}


def dataset(env_id: str, secret_marker: str = "") -> dict:
    """Two users; Ada identified with a replayed web session and a mobile one."""
    ada, anon = "1001", "2002"
    sessions = {
        "s-ada-1": _session("s-ada-1", ada, 10, has_replay=True),
        "s-ada-2": _session("s-ada-2", ada, 600, source="ios", platform="iOS", browser=None, device_type="Mobile"),
        "s-anon-1": _session("s-anon-1", anon, 30, device_type="Mobile", browser="Safari"),
    }
    events = {
        "e1": _event("e1", "s-ada-1", ada, "pageview", 10),
        "e2": _event("e2", "s-ada-1", ada, "click", 9, target={"text": "Buy now",
                                                               "hierarchy": [{"tag": "button", "id": "buy"}]}),
        "e3": _event("e3", "s-ada-1", ada, "custom", 8, name="Signed Up", properties={"plan": "pro" + secret_marker}),
        "e4": _event("e4", "s-anon-1", anon, "pageview", 30, path="/"),
        # The iOS app's own screen view, with what a mobile SDK sends about the device and app.
        "e5": {**_event("e5", "s-ada-2", ada, "screen", 600, name="Dashboard"), "source": "ios", "page": None,
               "device": {"os": "iOS", "os_version": "17.1", "model": "iPhone15,2", "app_version": "4.2.0",
                          "device_type": "Mobile"}},
    }
    users = {
        ada: {"user_id": ada, "identity": f"ada@{env_id}.example", "display_name": f"ada@{env_id}.example",
              "first_seen": iso(NOW - timedelta(days=3)), "last_seen": iso(NOW - timedelta(minutes=8)),
              "properties": {"email": f"ada@{env_id}.example", "plan": "pro", "Initial Browser": "Chrome"},
              "session_count": 2},
        anon: {"user_id": anon, "identity": None, "display_name": f"User {anon}",
               "first_seen": iso(NOW - timedelta(minutes=30)), "last_seen": iso(NOW - timedelta(minutes=30)),
               "properties": {}, "session_count": 1},
    }
    return {"users": users, "sessions": sessions, "events": events}


def sessions_app(data: dict[str, dict], calls: list) -> Flask:
    app = Flask("sessions-standin")

    def env(env_id):
        return data.get(env_id) or {"users": {}, "sessions": {}, "events": {}}

    @app.get("/internal/v1/envs/<env_id>/users")
    def feed(env_id):
        calls.append(("sessions", request.path, dict(request.args)))
        if request.args.get("filter") == "boom":
            abort(500)
        d = env(env_id)
        flt = orjson.loads(request.args["filter"]) if request.args.get("filter") else []
        # Criteria of did_event filters are matched for real (the shared pure matcher); anything
        # else is not evaluated, and the replayed sessions stand for the matched ones.
        combos = [f["event"]["criteria"] for f in flt
                  if f.get("type") == "did_event" and "criteria" in (f.get("event") or {})]
        users = []
        for user in sorted(d["users"].values(), key=lambda u: u["last_seen"], reverse=True):
            sessions = sorted((s for s in d["sessions"].values() if s["user_id"] == user["user_id"]),
                              key=lambda s: s["start"], reverse=True)
            matched = [s["session_id"] for s in sessions if s["has_replay"]] if flt else []
            if combos:
                mine = [e for e in d["events"].values() if e["user_id"] == user["user_id"]]
                if not all(any(criteria_match(c, e) for e in mine) for c in combos):
                    continue
                matched = sorted({e["session_id"] for e in mine if any(criteria_match(c, e) for c in combos)})
            users.append({**user, "sessions": [dict(s) for s in sessions[:5]], "matched_session_ids": matched})
        limit = int(request.args.get("limit", 25))
        return {"users": users[:limit], "next_cursor": "c2" if len(users) > limit else None}

    @app.get("/internal/v1/envs/<env_id>/user-count")
    def user_count(env_id):
        calls.append(("sessions", request.path, dict(request.args)))
        return {"count": len(feed(env_id)["users"]), "estimated": False}

    @app.get("/internal/v1/envs/<env_id>/catalog/events", defaults={"part": "events"})
    @app.get("/internal/v1/envs/<env_id>/catalog/properties", defaults={"part": "properties"})
    @app.get("/internal/v1/envs/<env_id>/catalog/values", defaults={"part": "values"})
    def catalog(env_id, part):
        """Names and values of the stand-in's own events (no counts kept)."""
        calls.append(("sessions", request.path, dict(request.args)))
        events = list(env(env_id)["events"].values())
        q = (request.args.get("q") or "").lower()
        if part == "events":
            labels = sorted({(e["kind"], e.get("name") or e["kind"]) for e in events})
            return {"events": [{"kind": k, "label": n, "count": 1} for k, n in labels if q in n.lower()]}
        if part == "properties":
            names = sorted({k for e in events for k in (e.get("properties") or {})})
            return {"properties": [{"property": n, "count": 1, "autocaptured": False} for n in names if q in n.lower()]}
        prop = request.args.get("property", "")
        values = sorted({str((e.get("properties") or {}).get(prop)) for e in events
                         if prop in (e.get("properties") or {})})
        return {"values": [{"value": v, "count": 1} for v in values if q in v.lower()], "complete": True}

    @app.get("/internal/v1/envs/<env_id>/users/<user_id>")
    def user(env_id, user_id):
        found = env(env_id)["users"].get(user_id)
        return found if found else (jsonify({"error": {"code": 404, "message": "no such user"}}), 404)

    @app.get("/internal/v1/envs/<env_id>/users/<user_id>/sessions")
    def user_sessions(env_id, user_id):
        calls.append(("sessions", request.path, dict(request.args)))
        d = env(env_id)
        if user_id not in d["users"]:
            return jsonify({"error": {"code": 404, "message": "no such user"}}), 404
        rows = [{**s, "matched": bool(request.args.get("filter")) and s["has_replay"]}
                for s in d["sessions"].values() if s["user_id"] == user_id]
        return {"sessions": rows, "next_cursor": None}

    @app.get("/internal/v1/envs/<env_id>/sessions/<session_id>/events")
    def session_events(env_id, session_id):
        d = env(env_id)
        if session_id not in d["sessions"]:
            return jsonify({"error": {"code": 404, "message": "no such session"}}), 404
        return {"events": sorted((e for e in d["events"].values() if e["session_id"] == session_id),
                                 key=lambda e: e["time"])}

    @app.get("/internal/v1/envs/<env_id>/events/<event_id>")
    def event(env_id, event_id):
        found = env(env_id)["events"].get(event_id)
        return found if found else (jsonify({"error": {"code": 404, "message": "no such event"}}), 404)

    return app


def replay_app(data: dict[str, dict]) -> Flask:
    """The replay service's manifest (?inline=1) of the sessions that have one: a page that tries
    to run scripts."""
    app = Flask("replay-standin")

    @app.get("/internal/v1/envs/<env_id>/replays/<session_id>")
    def replay(env_id, session_id):
        session = (data.get(env_id) or {"sessions": {}})["sessions"].get(session_id, {})
        if not session.get("has_replay"):
            return jsonify({"error": {"code": 404, "message": "no replay"}}), 404
        return {"session_id": session_id, "events": recording(datetime.fromisoformat(session["start"]))}

    return app


def identity_app(calls: list, warnings: dict[str, list[dict]]) -> Flask:
    """The identity service's ingestion warnings, newest first, a page at a time."""
    app = Flask("identity-standin")

    @app.get("/internal/v1/envs/<env_id>/warnings")
    def listing(env_id):
        calls.append(("identity", request.path, dict(request.args)))
        rows = warnings.get(env_id, [])
        start = int(request.args.get("cursor", 0))
        limit = int(request.args.get("limit", 50))
        page = rows[start:start + limit]
        return {"warnings": page, "next_cursor": str(start + limit) if start + limit < len(rows) else None}

    return app


def recording(start: datetime = NOW) -> list[dict]:
    """A minimal rrweb recording from `start` whose page carries an inline script and an onerror
    handler; it spans 2.5 minutes (a last mouse move), so it covers Ada's first session."""
    t = int(start.timestamp() * 1000)
    body = {"type": 2, "tagName": "body", "attributes": {}, "id": 4, "childNodes": [
        {"type": 2, "tagName": "h1", "attributes": {}, "id": 5, "childNodes": [
            {"type": 3, "textContent": "Hello from the replay", "id": 6}]},
        {"type": 2, "tagName": "img", "attributes": {"src": "x", "onerror": "window.top.__pwned = 'replay-img'"},
         "childNodes": [], "id": 7},
        {"type": 2, "tagName": "script", "attributes": {}, "id": 8, "childNodes": [
            {"type": 3, "textContent": "window.top.__pwned = 'replay-script'", "id": 9}]},
    ]}
    document = {"type": 0, "id": 1, "childNodes": [
        {"type": 2, "tagName": "html", "attributes": {}, "id": 2, "childNodes": [
            {"type": 2, "tagName": "head", "attributes": {}, "id": 3, "childNodes": []}, body]}]}
    return [
        {"type": 4, "data": {"href": "http://shop.example/", "width": 800, "height": 500}, "timestamp": t},
        {"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}, "timestamp": t + 10},
        {"type": 3, "data": {"source": 1, "positions": [{"x": 10, "y": 10, "id": 5, "timeOffset": 0}]},
         "timestamp": t + 2000},
        {"type": 3, "data": {"source": 1, "positions": [{"x": 40, "y": 30, "id": 5, "timeOffset": 0}]},
         "timestamp": t + 150_000},
    ]


def definitions_app(calls: list, store: dict[str, dict[str, dict]]) -> Flask:
    """Definitions by (kind, name/text) equality: enough to exercise labelling through the gateway."""
    app = Flask("definitions-standin")

    def matches(criteria: dict, event: dict) -> bool:
        if criteria.get("kind") and criteria["kind"] != event.get("kind"):
            return False
        if criteria.get("name") and criteria["name"] != event.get("name"):
            return False
        text = (criteria.get("text") or {}).get("value")
        return not text or text == ((event.get("target") or {}).get("text"))

    def taken(env_id, name, other_than=None):
        """The 409 of the real service when a live definition has this name (any case)."""
        twin = next((d for d in store.get(env_id, {}).values() if not d["archived"] and d["id"] != other_than
                     and d["name"].strip().lower() == name.strip().lower()), None)
        return twin and (jsonify({"error": {"code": 409, "message": f"a definition named {twin['name']!r} already "
                                            "exists", "field": "name", "definition_id": twin["id"]}}), 409)

    @app.get("/internal/v1/envs/<env_id>/definitions")
    def listing(env_id):
        wanted = {"false": [False], "true": [True], "all": [False, True]}[request.args.get("archived", "false")]
        return {"definitions": [d for d in store.get(env_id, {}).values() if d["archived"] in wanted]}

    @app.post("/internal/v1/envs/<env_id>/definitions")
    def create(env_id):
        body = request.get_json()
        if not body.get("name"):
            return jsonify({"error": {"code": 400, "message": "name is required", "field": "name"}}), 400
        if refused := taken(env_id, body["name"]):
            return refused
        envs = store.setdefault(env_id, {})
        now = iso(NOW)
        definition = {"id": str(len(envs) + 1), "name": body["name"], "color": body.get("color", "#6c5ce7"),
                      "category": body.get("category"), "description": body.get("description", ""),
                      "criteria": body["criteria"], "archived": False, "created_at": now, "updated_at": now}
        envs[definition["id"]] = definition
        return definition, 201

    @app.get("/internal/v1/envs/<env_id>/definitions/<def_id>")
    def one(env_id, def_id):
        found = store.get(env_id, {}).get(def_id)
        return found if found else (jsonify({"error": {"code": 404, "message": "no such definition"}}), 404)

    @app.put("/internal/v1/envs/<env_id>/definitions/<def_id>")
    def update(env_id, def_id):
        found = store.get(env_id, {}).get(def_id)
        if not found:
            return jsonify({"error": {"code": 404, "message": "no such definition"}}), 404
        body = request.get_json()
        if not found["archived"] and (refused := taken(env_id, body.get("name") or found["name"], def_id)):
            return refused
        found.update({k: v for k, v in body.items() if k in ("name", "color", "criteria", "category", "description")})
        return found

    @app.post("/internal/v1/envs/<env_id>/definitions/<def_id>/restore")
    def restore(env_id, def_id):
        found = store.get(env_id, {}).get(def_id)
        if not found:
            return jsonify({"error": {"code": 404, "message": "no such definition"}}), 404
        if found["archived"] and (refused := taken(env_id, found["name"], def_id)):
            return refused
        found["archived"] = False
        return found

    @app.post("/internal/v1/envs/<env_id>/definitions/<def_id>/archive")
    def archive(env_id, def_id):
        found = store.get(env_id, {}).get(def_id)
        if not found:
            return jsonify({"error": {"code": 404, "message": "no such definition"}}), 404
        found["archived"] = True
        return found

    @app.get("/internal/v1/envs/<env_id>/definitions/<def_id>/criteria")
    def criteria(env_id, def_id):
        calls.append(("definitions", request.path, {}))
        found = store.get(env_id, {}).get(def_id)
        if not found:
            return jsonify({"error": {"code": 404, "message": "no such definition"}}), 404
        criteria = found["criteria"]  # an OR list, as the real one expands combos into
        return {"definition_id": def_id, "criteria": criteria if isinstance(criteria, list) else [criteria]}

    @app.post("/internal/v1/envs/<env_id>/definitions/label")
    def label(env_id):
        defs = [d for d in store.get(env_id, {}).values() if not d["archived"]]
        labels = {}
        for event in request.get_json()["events"]:
            hit = next((d for d in defs if matches(d["criteria"], event)), None)
            labels[event["event_id"]] = {"id": hit["id"], "name": hit["name"], "color": hit["color"]} if hit else None
        return {"labels": labels}

    @app.post("/internal/v1/envs/<env_id>/definitions/suggest")
    def suggest(env_id):
        event = request.get_json()["event"]
        criteria = {"kind": event["kind"]}
        if event.get("name"):
            criteria["name"] = event["name"]
        target = event.get("target") or {}
        if target.get("hierarchy"):  # like the real one: the element, its text, the page it was on
            node = target["hierarchy"][0]
            criteria["selector"] = node["tag"] + (f"#{node['id']}" if node.get("id") else "")
        if target.get("text"):
            criteria["text"] = {"op": "equals", "value": target["text"]}
        if event["kind"] in ("click", "change", "submit", "pageview") and (event.get("page") or {}).get("path"):
            criteria["path"] = event["page"]["path"]
        return {"name": f"Suggested {event['kind']}", "criteria": criteria}

    return app


class Served:
    """A WSGI app on a free local port, in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ContractGuard:
    """Holds a stand-in, and the gateway calling it, to the real service's OpenAPI document.

    Every request must be an operation of the real service with only parameters it declares;
    every answer a status it documents (or a 5xx, which any service may give), and a documented
    JSON body must match its schema. What breaks the contract is recorded in `violations`, which
    the gateway tests require to stay empty: a parameter the real service does not read, or a
    shape it does not answer, fails here instead of passing against a lenient stand-in.
    """

    def __init__(self, service: str, spec: dict):
        self.service, self.spec, self.violations = service, spec, []
        self._operations = []
        for path, operations in spec["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\{(\w+)\\}", r"[^/]+", re.escape(path)) + "$")
            for method, operation in operations.items():
                if method in ("get", "post", "put", "patch", "delete"):
                    self._operations.append((pattern, method.upper(), path, operation))
        # Literal segments first: /users/by-identity/{identity} before /users/{user_id}.
        self._operations.sort(key=lambda entry: entry[2].count("{"))

    def install(self, app: Flask) -> Flask:
        app.before_request(self._check_request)
        app.after_request(self._check_response)
        return app

    def operation(self, method: str, path: str) -> tuple[str, dict] | None:
        for pattern, op_method, template, operation in self._operations:
            if op_method == method and pattern.match(path):
                return template, operation
        return None

    def _check_request(self):
        found = self.operation(request.method, request.path)
        if found is None:
            self._refuse(f"{request.method} {request.path} is no operation of the real {self.service} service")
            abort(404)
        template, operation = found
        declared = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        if undeclared := sorted(set(request.args) - declared):
            self._refuse(f"{request.method} {template}: the real {self.service} service reads no {undeclared} "
                         f"(it declares {sorted(declared)})")

    def _check_response(self, response):
        found = self.operation(request.method, request.path)
        if found is None or response.status_code >= 500:
            return response
        template, operation = found
        documented = operation.get("responses", {}).get(str(response.status_code))
        if documented is None:
            self._refuse(f"{request.method} {template}: the real {self.service} service never answers "
                         f"{response.status_code}")
            return response
        schema = (documented.get("content") or {}).get("application/json", {}).get("schema")
        if schema and response.is_json:
            validator = Draft202012Validator({**schema, "components": self.spec.get("components", {})})
            for error in validator.iter_errors(response.get_json()):
                where = "/".join(map(str, error.absolute_path)) or "body"
                self._refuse(f"{request.method} {template} {response.status_code}: {where}: {error.message[:200]}")
        return response

    def _refuse(self, what: str) -> None:
        self.violations.append(what)
