"""The internal API through the Flask test client, on real PostgreSQL and RabbitMQ."""
from __future__ import annotations

from services.definitions.app import create_app

BASE = "/internal/v1/envs/env1/definitions"

BUY = {"name": "Buy button", "color": "#ff0000", "category": "Checkout",
       "criteria": {"kind": "click", "selector": "button#buy"}}
BUY_EVENT = {"event_id": "e1", "kind": "click", "page": {"path": "/pricing"},
             "target": {"text": "Buy", "hierarchy": [{"tag": "button", "id": "buy", "classes": ["btn"]},
                                                      {"tag": "form", "id": "checkout"}]}}


def test_crud_archive_and_the_bus(client, facts):
    created = client.post(BASE, json=BUY)
    assert created.status_code == 201, created.json
    definition = created.json
    assert definition["criteria"] == [{"kind": "click", "selector": "button#buy"}]
    assert definition["archived"] is False and definition["category"] == "Checkout"
    definition_id = definition["id"]
    assert client.get(f"{BASE}/{definition_id}").json == definition
    assert client.get("/internal/v1/envs/other/definitions/" + definition_id).status_code == 404

    updated = client.put(f"{BASE}/{definition_id}", json={**BUY, "name": "Buy"})
    assert updated.status_code == 200 and updated.json["name"] == "Buy"
    assert updated.json["updated_at"] >= definition["updated_at"]
    archived = client.post(f"{BASE}/{definition_id}/archive")
    assert archived.json["archived"] is True
    assert client.get(BASE).json == {"definitions": []}
    assert [d["id"] for d in client.get(BASE + "?archived=all").json["definitions"]] == [definition_id]

    messages = facts()
    assert [(m.routing_key, m.env_id, m.definition_id, m.action) for m in messages] == [
        ("definition.changed", "env1", definition_id, action) for action in ("created", "updated", "archived")]


def test_invalid_criteria_say_what_and_where(client, facts):
    bad_selector = client.post(BASE, json={**BUY, "criteria": [{"kind": "click"}, {"selector": "a ~ b"}]})
    assert bad_selector.status_code == 400
    error = bad_selector.json["error"]["errors"][0]
    assert error["field"] == "criteria.1.selector"
    assert error["message"].startswith("unsupported combinator '~'") and "at position 2" in error["message"]

    bad_op = client.post(BASE, json={**BUY, "criteria": {"properties": [{"property": "p", "op": "near"}]}})
    assert bad_op.json["error"]["errors"][0]["field"] == "criteria.0.properties.0.op"
    assert client.post(BASE, json={**BUY, "criteria": []}).status_code == 400
    unknown = client.post(BASE, json={**BUY, "criteria": [{"definition_id": "nope"}]})
    assert unknown.status_code == 400 and "no definition 'nope'" in unknown.json["error"]["errors"][0]["message"]
    bad_color = client.post(BASE, json={**BUY, "color": "red"})
    assert bad_color.status_code == 400 and bad_color.json["error"]["errors"][0]["field"] == "color"
    assert client.get(BASE + "?archived=maybe").status_code == 400
    assert client.put(f"{BASE}/missing", json=BUY).status_code == 404
    assert facts() == []  # nothing changed, nothing published


def test_combos_expand_and_cannot_loop(client):
    buy = client.post(BASE, json=BUY).json
    signup = client.post(BASE, json={"name": "Signed up", "criteria": {"kind": "custom", "name": "signup"}}).json
    combo = client.post(BASE, json={"name": "Converted", "criteria": [
        {"definition_id": buy["id"]}, {"definition_id": signup["id"]}, {"kind": "pageview", "path": "/thanks"}]})
    assert combo.status_code == 201
    expanded = client.get(f"{BASE}/{combo.json['id']}/criteria").json
    assert expanded == {"definition_id": combo.json["id"], "criteria": [
        {"kind": "click", "selector": "button#buy"}, {"kind": "custom", "name": "signup"},
        {"kind": "pageview", "path": "/thanks"}]}
    # Editing a member changes the combo: definitions are retroactive.
    client.put(f"{BASE}/{signup['id']}", json={"name": "Signed up", "criteria": {"kind": "custom", "name": "join"}})
    assert client.get(f"{BASE}/{combo.json['id']}/criteria").json["criteria"][1] == {"kind": "custom", "name": "join"}
    loop = client.put(f"{BASE}/{buy['id']}", json={**BUY, "criteria": [{"definition_id": combo.json["id"]}]})
    assert loop.status_code == 400 and "combo cycle" in loop.json["error"]["errors"][0]["message"]


def test_label_uses_precedence_and_follows_edits(client):
    client.post(BASE, json=BUY)  # 2 conditions
    narrow = client.post(BASE, json={"name": "Buy on pricing", "color": "#00ff00", "criteria": {
        "kind": "click", "selector": "#checkout button", "path": "/pricing"}}).json  # 3 conditions
    client.post(BASE, json={"name": "Any click", "criteria": {"kind": "click"}})
    other = {"event_id": "e2", "kind": "click", "target": {"hierarchy": [{"tag": "a"}]}}
    pageview = {"event_id": "e3", "kind": "pageview", "page": {"path": "/"}}
    labels = client.post(f"{BASE}/label", json={"events": [BUY_EVENT, other, pageview]}).json["labels"]
    assert labels["e1"] == {"id": narrow["id"], "name": "Buy on pricing", "color": "#00ff00"}
    assert labels["e2"]["name"] == "Any click" and labels["e3"] is None

    junk = [{"event_id": "j1", "kind": "click", "target": {"hierarchy": ["junk", {"classes": "x"}]}},
            {"event_id": "j2", "kind": None, "page": "nope", "properties": [1]}]
    assert client.post(f"{BASE}/label", json={"events": junk}).json["labels"]["j1"]["name"] == "Any click"

    client.post(f"{BASE}/{narrow['id']}/archive")
    labels = client.post(f"{BASE}/label", json={"events": [BUY_EVENT]}).json["labels"]
    assert labels["e1"]["name"] == "Buy button"


def test_suggest_proposes_criteria_that_match_the_event(client):
    suggestion = client.post(f"{BASE}/suggest", json={"event": BUY_EVENT}).json
    assert suggestion == {"name": "Click \u201cBuy\u201d", "criteria": {
        "kind": "click", "selector": "button#buy", "text": {"op": "equals", "value": "Buy"}, "path": "/pricing"}}
    created = client.post(BASE, json={"name": suggestion["name"], "criteria": suggestion["criteria"]})
    labels = client.post(f"{BASE}/label", json={"events": [BUY_EVENT]}).json["labels"]
    assert labels["e1"]["id"] == created.json["id"]
    assert client.post(f"{BASE}/suggest", json={"nope": 1}).status_code == 400


def test_a_name_is_taken_once_among_live_definitions(client, facts):
    first = client.post(BASE, json={**BUY, "name": "Signed Up"}).json
    for name in ("Signed Up", "signed up", "  SIGNED UP "):
        twin = client.post(BASE, json={**BUY, "name": name})
        assert twin.status_code == 409, twin.json
        assert twin.json["error"]["field"] == "name" and twin.json["error"]["definition_id"] == first["id"]
    other = client.post(BASE, json={**BUY, "name": "Bought"}).json
    renamed = client.put(f"{BASE}/{other['id']}", json={**BUY, "name": "signed up"})
    assert renamed.status_code == 409 and renamed.json["error"]["field"] == "name"
    assert client.put(f"{BASE}/{first['id']}", json={**BUY, "name": "Signed Up"}).status_code == 200  # itself
    assert client.post(BASE, json={**BUY, "name": "   "}).json["error"]["errors"][0]["field"] == "name"

    # Archived names are free again; restoring one whose name was taken since is refused.
    client.post(f"{BASE}/{first['id']}/archive")
    again = client.post(BASE, json={**BUY, "name": "Signed Up"})
    assert again.status_code == 201
    refused = client.post(f"{BASE}/{first['id']}/restore")
    assert refused.status_code == 409 and refused.json["error"]["field"] == "name"
    client.post(f"{BASE}/{again.json['id']}/archive")
    restored = client.post(f"{BASE}/{first['id']}/restore")
    assert restored.status_code == 200 and restored.json["archived"] is False
    assert [d["id"] for d in client.get(BASE).json["definitions"]] == [first["id"], other["id"]]
    assert client.post(f"{BASE}/missing/restore").status_code == 404
    actions = [m.action for m in facts() if m.definition_id == first["id"]]
    assert actions == ["created", "updated", "archived", "updated"]


def test_concurrent_creates_of_one_name_leave_one(app):
    from concurrent.futures import ThreadPoolExecutor

    def create(k: int) -> int:
        return app.test_client().post(BASE, json={**BUY, "name": "Checkout"}).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(create, range(8)))
    assert statuses == [201] + [409] * 7
    listed = app.test_client().get(BASE).json["definitions"]
    assert [d["name"] for d in listed] == ["Checkout"]


def test_openapi_describes_the_api(client):
    paths = client.get("/openapi.json").json["paths"]
    assert set(paths["/internal/v1/envs/{env_id}/definitions"]) == {"get", "post"}
    assert "post" in paths["/internal/v1/envs/{env_id}/definitions/label"]
    restore = paths["/internal/v1/envs/{env_id}/definitions/{definition_id}/restore"]["post"]
    assert {"200", "404", "409"} <= set(restore["responses"])
    assert client.get("/readyz").json["status"] == "ready"


def test_with_the_broker_unreachable_a_write_answers_503_and_changes_nothing(settings, app):
    """definition.changed is published inside the write's transaction (docs/publishing.md)."""
    cut_off = create_app(settings.with_(amqp_url="amqp://guest:guest@127.0.0.1:9/none"))
    refused = cut_off.test_client().post(BASE, json=BUY)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert refused.json["error"]["message"] == "broker unavailable; nothing was changed"
    assert app.test_client().get(BASE + "?archived=all").json == {"definitions": []}
    cut_off.extensions["definitions"].engine.dispose()
