"""Internal HTTP API of definitions: CRUD, archive, expanded criteria, labelling and suggestions."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from footfall.bus import BrokerUnavailable
from footfall.web import ApiError, found, operation
from services.definitions.model import CriteriaError, parse_items
from services.definitions.service import Definitions, NameTaken
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


def _definitions() -> Definitions:
    return current_app.extensions["definitions"]


# The use case's refusals as HTTP answers, rendered by the kernel's ApiError handler.
@bp.errorhandler(CriteriaError)
def _invalid_criteria(exc: CriteriaError):
    return current_app.handle_user_exception(ApiError(400, "invalid criteria", errors=exc.errors))


@bp.errorhandler(NameTaken)
def _name_taken(exc: NameTaken):
    return current_app.handle_user_exception(
        ApiError(409, str(exc), field="name", definition_id=exc.twin["id"]))


@bp.errorhandler(BrokerUnavailable)
def _broker_down(_exc: BrokerUnavailable):
    return current_app.handle_user_exception(
        ApiError(503, "broker unavailable; nothing was changed", headers={"Retry-After": "5"}))


def _fields(body: DefinitionIn) -> dict[str, Any]:
    return body.model_dump(include={"name", "category", "color", "description"})


@bp.get("")
@operation("List an environment's definitions (oldest first)",
           responses={200: DefinitionList, 400: "archived is not false, true or all"},
           query={"archived": {"type": "string", "enum": ["false", "true", "all"]}})
def list_definitions(env_id: str):
    flag = request.args.get("archived", "false")
    if flag not in ("false", "true", "all"):
        raise ApiError(400, "archived must be false, true or all", field="archived")
    return {"definitions": _definitions().list(env_id, archived=None if flag == "all" else flag == "true")}


@bp.post("")
@operation("Create a definition (publishes definition.changed)", request=DefinitionIn,
           responses={201: Definition, 400: "invalid criteria or fields, with where",
                      409: "the name is taken (field: name)", 503: "broker down"})
def create_definition(env_id: str):
    body = DefinitionIn.model_validate(request.get_json(silent=True) or {})
    return _definitions().create(env_id, _fields(body), parse_items(body.criteria)), 201


@bp.get("/<definition_id>")
@operation("One definition", responses={200: Definition, 404: "unknown definition"})
def get_definition(env_id: str, definition_id: str):
    return found(_definitions().get(env_id, definition_id), "no such definition", definition_id=definition_id)


@bp.put("/<definition_id>")
@operation("Replace a definition's fields (publishes definition.changed)", request=DefinitionIn,
           responses={200: Definition, 400: "invalid", 404: "unknown definition",
                      409: "the name is taken (field: name)", 503: "broker down"})
def update_definition(env_id: str, definition_id: str):
    body = DefinitionIn.model_validate(request.get_json(silent=True) or {})
    row = _definitions().update(env_id, definition_id, _fields(body), parse_items(body.criteria))
    return found(row, "no such definition", definition_id=definition_id)


@bp.post("/<definition_id>/archive")
@operation("Archive a definition (publishes definition.changed)",
           responses={200: Definition, 404: "unknown definition", 503: "broker down"})
def archive_definition(env_id: str, definition_id: str):
    return found(_definitions().archive(env_id, definition_id), "no such definition",
                 definition_id=definition_id)


@bp.post("/<definition_id>/restore")
@operation("Restore an archived definition (publishes definition.changed)",
           responses={200: Definition, 404: "unknown definition",
                      409: "a live definition has its name (field: name)", 503: "broker down"})
def restore_definition(env_id: str, definition_id: str):
    return found(_definitions().restore(env_id, definition_id), "no such definition",
                 definition_id=definition_id)


@bp.get("/<definition_id>/criteria")
@operation("The definition's criteria with combos expanded: a plain OR list for sessions filters",
           responses={200: ExpandedCriteria, 404: "unknown definition"})
def definition_criteria(env_id: str, definition_id: str):
    combo = found(_definitions().expanded_criteria(env_id, definition_id), "no such definition",
                  definition_id=definition_id)
    return {"definition_id": definition_id,
            "criteria": [c.model_dump(exclude_none=True, exclude_defaults=True) for c in combo]}


@bp.post("/label")
@operation("Label events: the definition shown for each (most conditions wins; ties: earliest created)",
           request=LabelRequest, responses={200: LabelResponse, 400: "invalid body"})
def label_events(env_id: str):
    body = LabelRequest.model_validate(request.get_json(silent=True) or {})
    labels = _definitions().labeler(env_id).label_all(body.events)
    return {"labels": {event_id: label and label.as_json() for event_id, label in labels.items()}}


@bp.post("/suggest")
@operation("Propose criteria and a name from a raw event (\"define from this event\")",
           request=SuggestRequest, responses={200: Suggestion, 400: "invalid body"})
def suggest_definition(env_id: str):
    body = SuggestRequest.model_validate(request.get_json(silent=True) or {})
    return suggest(body.event)
