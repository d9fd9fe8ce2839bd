"""Fast readers of message bodies for the hot paths, derived from the contracts in footfall.messages.

A consumer that needs a few fields of a large message (the events of `event.captured`) names them
once: `view` makes the pydantic model of just those fields, with the contract's types and defaults
(a type may be made stricter), and `FastReader` reads a body with a msgspec twin of that view
(`twin`): one typed pass, about five times faster than pydantic, that builds nothing it does not
name. Whatever the twin refuses goes to the pydantic view, which accepts what it always did and
refuses with its own reasons; so the twin may be stricter than pydantic, never looser. Both paths
end in the one schema-version check, `footfall.messages.check_schema_version`.

The twin is stricter in two ways on purpose: its datetimes must carry an offset (RFC 3339, as our
producers write them and as PostgreSQL reads them), and a field the contract fills in with a
factory (a message id, `sent_at`) is required: the fast path makes nothing up.
"""
from __future__ import annotations

import functools
import types
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from pydantic import AwareDatetime, BaseModel, Field, Strict

from footfall.messages import Message, Model, check_schema_version

# An ISO 8601 date-time with an offset; msgspec refuses one without.
WireTime = Annotated[datetime, msgspec.Meta(tz=True)]
# The same rule for pydantic, for views that must refuse naive times too (a `types` override).
StrictTime = Annotated[AwareDatetime, Strict()]

_CLASS_VARS = ("routing_key", "items_field", "item_id_field")


def view(model: type[BaseModel], name: str, fields: Iterable[str],
         parts: Mapping[str, Iterable[str]] | None = None,
         types_: Mapping[str, Any] | None = None) -> type[Model]:
    """The pydantic model of `fields` of `model`: their types and defaults, unknown fields ignored.

    `parts` narrows a nested model field to some of its own fields (`{"page": ("url", "path")}`),
    `types_` replaces a field's type (to be stricter than the contract)."""
    parts, types_ = parts or {}, types_ or {}
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__module__": model.__module__, "__annotations__": annotations,
                                 "__doc__": f"The fields of {model.__name__} a reader needs: {', '.join(fields)}."}
    for field_name in fields:
        info = model.model_fields[field_name]
        annotation = types_.get(field_name, info.annotation)
        if field_name in parts:
            nested = _model_in(annotation)
            narrowed = view(nested, f"{name}{nested.__name__}", parts[field_name])
            annotation = _replace(annotation, nested, narrowed)
        annotations[field_name] = annotation
        if info.default_factory is not None:
            namespace[field_name] = Field(default_factory=info.default_factory)
        elif not info.is_required():
            namespace[field_name] = info.default
    return type(name, (Model,), namespace)


def message_view(message: type[Message], name: str, item: type[BaseModel]) -> type[Message]:
    """The message `message` whose items are read as `item` (a `view` of the contract's item)."""
    field = message.items_field
    namespace = {"__module__": item.__module__, "__annotations__": {field: list[item]},
                 "__doc__": f"{message.__name__} as a reader sees it: its {field} as {item.__name__}."}
    namespace.update({var: getattr(message, var) for var in _CLASS_VARS})
    return type(name, (Message,), namespace)


@functools.cache
def twin(model: type[BaseModel]) -> type[msgspec.Struct]:
    """A msgspec Struct with `model`'s fields, types and defaults (nested models as twins)."""
    fields = []
    for field_name, info in model.model_fields.items():
        annotation = _wire(info.annotation)
        for meta in info.metadata:
            if not isinstance(meta, Strict):  # a bound (max_length, ge, …) the twin would not check
                raise TypeError(f"{model.__name__}.{field_name}: no fast reader for a field bound by {meta!r}")
        if info.default_factory in (dict, list):
            fields.append((field_name, annotation, msgspec.field(default_factory=info.default_factory)))
        elif info.default_factory is not None or info.is_required():
            fields.append((field_name, annotation))
        else:
            fields.append((field_name, annotation, info.default))
    namespace = {var: getattr(model, var) for var in _CLASS_VARS if hasattr(model, var)}
    return msgspec.defstruct(f"Wire{model.__name__}", fields, kw_only=True, gc=False, namespace=namespace)


class FastReader:
    """Reads a body of `message` (a view) with its twin, else with pydantic; checks the schema version."""

    def __init__(self, message: type[Message]):
        self.message = message
        self._decoder = msgspec.json.Decoder(twin(message))

    def __call__(self, body: bytes) -> Any:
        try:
            read = self._decoder.decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            read = self.message.model_validate_json(body)
        check_schema_version(read.schema_version)
        return read


def with_items(message: Any, items: list) -> Any:
    """A copy of a message (pydantic, or a twin as FastReader read it) holding `items` instead."""
    field = message.items_field
    if isinstance(message, BaseModel):
        return message.model_copy(update={field: items})
    return msgspec.structs.replace(message, **{field: items})


# --- types ----------------------------------------------------------------------------------------


def _wire(annotation: Any) -> Any:
    """The msgspec type that accepts what the pydantic annotation does, or less."""
    if annotation in (datetime, AwareDatetime):
        return WireTime
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return twin(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        for meta in args[1:]:
            if not isinstance(meta, Strict):
                raise TypeError(f"no fast reader for {annotation!r}")
        return _wire(args[0])
    if origin in (Union, types.UnionType):
        return Union[tuple(_wire(arg) for arg in args)]  # noqa: UP007 (built from a tuple)
    if origin is list:
        return list[_wire(args[0])]
    if origin is dict:
        return dict[_wire(args[0]), _wire(args[1])]
    if origin is Literal or annotation in (str, int, float, bool, type(None)):
        return annotation
    raise TypeError(f"no fast reader for {annotation!r}")


def _model_in(annotation: Any) -> type[BaseModel]:
    """The model of a `Model | None` annotation."""
    for arg in (annotation, *get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    raise TypeError(f"{annotation!r} names no model")


def _replace(annotation: Any, old: type, new: type) -> Any:
    if annotation is old:
        return new
    return Union[tuple(new if arg is old else arg for arg in get_args(annotation))]  # noqa: UP007

