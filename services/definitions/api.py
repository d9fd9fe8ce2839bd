"""Internal HTTP API of definitions: CRUD, archive, expanded criteria, labelling and suggestions."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection

from footfall.bus import BrokerUnavailable
from footfall.messages import DefinitionChanged
from footfall.web import ApiError, found, operation
from services.definitions import store
from services.definitions.labeler import Label, LabelDefinition, Labeler
from services.definitions.model import (
    CriteriaError,
    Item,
    dump_items,
    expand,
    expand_all,
    parse_items,
)
from services.definitions.suggest import suggest

bp = Blueprint("definitions", __name__, url_prefix="/internal/v1/envs/<env_id>/definitions")

CRITERIA_DOC = ("One criteria object or an OR list of them; a list item {\"definition_id\"} "
                "makes a combo with another definition.")


class DefinitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    category: str | None = Field(None, max_length=100)
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    description: str = Field("", max_length=2000)
    criteria: Any = Field(description=CRITERIA_DOC)

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        # Names are what people pick from lists: surrounding spaces would make look-alike twins.
        if not name.strip():
            raise ValueError("must not be blank")
        return name.strip()


class Definition(DefinitionIn):
    id: str
    created_at: str
    updated_at: str
    archived: bool


class DefinitionList(BaseModel):
    definitions: list[Definition]


class ExpandedCriteria(BaseModel):
    definition_id: str
    criteria: list[dict[str, Any]]


class LabelRequest(BaseModel):
    events: list[dict[str, Any]] = Field(max_length=10_000)


class LabelResponse(BaseModel):
    labels: dict[str, dict[str, Any] | None]


class SuggestRequest(BaseModel):
    event: dict[str, Any]


class Suggestion(BaseModel):
    name: str
    criteria: dict[str, Any]


def _engine():
    return current_app.extensions["definitions_engine"]


def _parse(obj: Any) -> list[Item]:
    try:
        return parse_items(obj)
    except CriteriaError as exc:
        raise ApiError(400, "invalid criteria", errors=exc.errors) from None


def _stored_items(conn: Connection, env_id: str) -> dict[str, list[Item]]:
    # Stored criteria were validated on write; parse_items only turns them back into models.
    return {i: parse_items(c) for i, c in store.all_criteria(conn, env_id).items()}


def _check_combos(conn: Connection, env_id: str, items: list[Item], definition_id: str | None) -> None:
    """Every referenced definition exists in this environment and no combo loops back."""
    stored = _stored_items(conn, env_id)
    try:
        expand(items, stored.get, within=(definition_id,) if definition_id else ())
    except CriteriaError as exc:
        raise ApiError(400, "invalid criteria", errors=exc.errors) from None


def _publish(env_id: str, definition_id: str, action: str) -> None:
    """Inside the write's transaction: a broker that does not confirm rolls the change back."""
    try:
        current_app.extensions["definitions_publisher"].publish(
            DefinitionChanged(env_id=env_id, definition_id=definition_id, action=action))
    except BrokerUnavailable:
        raise ApiError(503, "broker unavailable; nothing was changed", headers={"Retry-After": "5"}) from None


def _claim_name(conn: Connection, env_id: str, name: str, definition_id: str | None) -> None:
    """409 when another live definition of the environment already has this name (any case):
    two "Signed Up" in a filter list cannot be told apart. Holds the environment's name lock."""
    store.lock_names(conn, env_id)
    twin = store.live_named(conn, env_id, name, other_than=definition_id)
    if twin is not None:
        raise ApiError(409, f"a definition named {twin['name']!r} already exists", field="name",
                       definition_id=twin["id"])


def _write_fields(body: DefinitionIn, items: list[Item]) -> dict[str, Any]:
    fields = body.model_dump(include={"name", "category", "color", "description"})
    return {**fields, "criteria": dump_items(items)}


@bp.get("")
@operation("List an environment's definitions (oldest first)",
           responses={200: DefinitionList, 400: "archived is not false, true or all"},
           query={"archived": {"type": "string", "enum": ["false", "true", "all"]}})
def list_definitions(env_id: str):
    flag = request.args.get("archived", "false")
    if flag not in ("false", "true", "all"):
        raise ApiError(400, "archived must be false, true or all", field="archived")
    with _engine().connect() as conn:
        rows = store.list_(conn, env_id, archived=None if flag == "all" else flag == "true")
    return {"definitions": rows}


@bp.post("")
@operation("Create a definition (publishes definition.changed)", request=DefinitionIn,
           responses={201: Definition, 400: "invalid criteria or fields, with where",
                      409: "the name is taken (field: name)", 503: "broker down"})
def create_definition(env_id: str):
    body = DefinitionIn.model_validate(request.get_json(silent=True) or {})
    items = _parse(body.criteria)
    with _engine().begin() as conn:
        _check_combos(conn, env_id, items, None)
        _claim_name(conn, env_id, body.name, None)
        row = store.create(conn, env_id, _write_fields(body, items))
        _publish(env_id, row["id"], "created")
    return row, 201


@bp.get("/<definition_id>")
@operation("One definition", responses={200: Definition, 404: "unknown definition"})
def get_definition(env_id: str, definition_id: str):
    with _engine().connect() as conn:
        return found(store.get(conn, env_id, definition_id), "no such definition",
                     definition_id=definition_id)


@bp.put("/<definition_id>")
@operation("Replace a definition's fields (publishes definition.changed)", request=DefinitionIn,
           responses={200: Definition, 400: "invalid", 404: "unknown definition",
                      409: "the name is taken (field: name)", 503: "broker down"})
def update_definition(env_id: str, definition_id: str):
    body = DefinitionIn.model_validate(request.get_json(silent=True) or {})
    items = _parse(body.criteria)
    with _engine().begin() as conn:
        current = store.get(conn, env_id, definition_id, lock=True)
        if current is None:
            raise ApiError(404, "no such definition", definition_id=definition_id)
        _check_combos(conn, env_id, items, definition_id)
        if not current["archived"]:
            _claim_name(conn, env_id, body.name, definition_id)
        row = store.update_(conn, env_id, definition_id, _write_fields(body, items))
        _publish(env_id, definition_id, "updated")
    return row


@bp.post("/<definition_id>/archive")
@operation("Archive a definition (publishes definition.changed)",
           responses={200: Definition, 404: "unknown definition", 503: "broker down"})
def archive_definition(env_id: str, definition_id: str):
    with _engine().begin() as conn:
        row = store.get(conn, env_id, definition_id, lock=True)
        if row is None:
            raise ApiError(404, "no such definition", definition_id=definition_id)
        if not row["archived"]:
            row = store.update_(conn, env_id, definition_id, {"archived": True})
            _publish(env_id, definition_id, "archived")
    return row


@bp.post("/<definition_id>/restore")
@operation("Restore an archived definition (publishes definition.changed)",
           responses={200: Definition, 404: "unknown definition",
                      409: "a live definition has its name (field: name)", 503: "broker down"})
def restore_definition(env_id: str, definition_id: str):
    with _engine().begin() as conn:
        row = store.get(conn, env_id, definition_id, lock=True)
        if row is None:
            raise ApiError(404, "no such definition", definition_id=definition_id)
        if row["archived"]:
            _claim_name(conn, env_id, row["name"], definition_id)
            row = store.update_(conn, env_id, definition_id, {"archived": False})
            # "updated": consumers already treat any change as "labels may differ now".
            _publish(env_id, definition_id, "updated")
    return row


@bp.get("/<definition_id>/criteria")
@operation("The definition's criteria with combos expanded: a plain OR list for sessions filters",
           responses={200: ExpandedCriteria, 404: "unknown definition"})
def definition_criteria(env_id: str, definition_id: str):
    with _engine().connect() as conn:
        stored = _stored_items(conn, env_id)
    if definition_id not in stored:
        raise ApiError(404, "no such definition", definition_id=definition_id)
    combo = expand(stored[definition_id], stored.get, within=(definition_id,))
    return {"definition_id": definition_id,
            "criteria": [c.model_dump(exclude_none=True, exclude_defaults=True) for c in combo]}


def labeler_for(env_id: str) -> Labeler:
    """The environment's compiled labeler, rebuilt only when a definition changed."""
    cache: dict[str, tuple[tuple, Labeler]] = current_app.extensions["definitions_labelers"]
    with _engine().connect() as conn:
        fingerprint = store.fingerprint(conn, env_id)
        cached = cache.get(env_id)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        live = store.list_(conn, env_id, archived=False)
        expanded = expand_all(_stored_items(conn, env_id))
    labeler = Labeler(
        LabelDefinition(Label(d["id"], d["name"], d["color"]), d["created_at"], expanded[d["id"]])
        for d in live if d["id"] in expanded
    )
    cache[env_id] = (fingerprint, labeler)
    return labeler


@bp.post("/label")
@operation("Label events: the definition shown for each (most conditions wins; ties: earliest created)",
           request=LabelRequest, responses={200: LabelResponse, 400: "invalid body"})
def label_events(env_id: str):
    body = LabelRequest.model_validate(request.get_json(silent=True) or {})
    labels = labeler_for(env_id).label_all(body.events)
    return {"labels": {event_id: label and label.as_json() for event_id, label in labels.items()}}


@bp.post("/suggest")
@operation("Propose criteria and a name from a raw event (\"define from this event\")",
           request=SuggestRequest, responses={200: Suggestion, 400: "invalid body"})
def suggest_definition(env_id: str):
    body = SuggestRequest.model_validate(request.get_json(silent=True) or {})
    return suggest(body.event)
