"""The Segment spec dialect (and our browser SDK, which speaks it): messages → canonical shapes.

`track`, `page` and `screen` become events; `identify` becomes an identify command (when it links
an anonymousId to a userId) plus a set-user-properties command for its traits; `alias` becomes an
alias command; `group` sets the user properties `group_id` and `group.<trait>`. Ids (docs/semantics.md):
device_id = `context.footfall.device_id` or anonymousId; user_id = anonymous_user_id(anonymousId),
or, for server messages with only a userId, that identity's user id.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from services.ingest import browser, enrich
from services.ingest.normalize import (
    FieldError,
    Normalized,
    Receipt,
    alias_command,
    corrected_time,
    each,
    event,
    event_id,
    flatten,
    identifier,
    identify_command,
    items,
    obj,
    set_properties_command,
    text,
    timestamp,
    user_ids,
)

TYPES = ("track", "page", "screen", "identify", "alias", "group")
_DEFAULT_KIND = {"track": "custom", "page": "pageview", "screen": "screen"}
_PAGE_KEYS = ("url", "title", "referrer", "path", "search")  # the order of _page_of's arguments

Geo = Callable[[str], dict | None]  # geo.geolocator()


@dataclass(frozen=True)
class Envelope:
    """What a /v1/batch body says for all its messages."""

    sent_at: datetime | None = None
    context: dict | None = None


def batch_items(body: dict) -> list:
    return items(body, "batch")


def single_items(body: dict) -> list:
    return [body]


def normalize(raw_items: list, body: dict, receipt: Receipt, geo: Geo, forced_type: str | None = None) -> Normalized:
    """Normalise a /v1/batch (forced_type None) or the one message of /v1/<type>."""
    envelope = Envelope()
    if forced_type is None:
        envelope = Envelope(timestamp(body.get("sentAt"), "sentAt"), obj(body.get("context"), "context") or None)
    return each(raw_items, receipt, _message, envelope, receipt, forced_type, geo)


def _message(raw: dict, out: Normalized, envelope: Envelope, receipt: Receipt, forced_type: str | None,
             geo: Geo) -> None:
    msg_type = forced_type or raw.get("type")
    if msg_type not in TYPES:
        raise FieldError("type", f"must be one of {', '.join(TYPES)}")
    context = obj(raw.get("context"), "context")
    if envelope.context:
        context = {**envelope.context, **context}
    ext = browser.extension(context)
    anonymous_id = identifier(raw.get("anonymousId"), "anonymousId")
    identity = identifier(raw.get("userId"), "userId")
    sent_at = timestamp(raw.get("sentAt"), "sentAt") or envelope.sent_at
    client_time = timestamp(raw.get("timestamp") or raw.get("originalTimestamp"), "timestamp")
    time = corrected_time(client_time, sent_at, receipt.received_at)
    message_id = event_id(raw.get("messageId"), raw, "messageId")
    library = obj(context.get("library"), "context.library")
    library_name = text(library.get("name"), "context.library.name")
    os_info = obj(context.get("os"), "context.os")
    user_agent = text(context.get("userAgent"), "context.userAgent")
    page_context = obj(context.get("page"), "context.page")
    os_name = os_info.get("name")
    source = enrich.source_of(ext.source, library_name, os_name if type(os_name) is str else None,
                              bool(user_agent or page_context.get("url")))

    if msg_type == "alias":
        previous_id = identifier(raw.get("previousId"), "previousId")
        if previous_id is None:
            raise FieldError("previousId", "is required for alias")
        if identity is None:
            raise FieldError("userId", "is required for alias")
        out.commands.append(alias_command(message_id, time, previous_id, identity))
        return

    device_id, user_id = user_ids(receipt.env_id, anonymous_id, identity)
    device_id = ext.device_id or device_id
    if msg_type == "identify":
        traits = flatten(raw.get("traits", context.get("traits")), "traits")
        if identity is not None and anonymous_id is not None:
            out.commands.append(identify_command(message_id, time, identity, device_id=device_id,
                                                 user_id=user_id, source=source))
        if traits:
            out.commands.append(set_properties_command(f"{message_id}:traits", time, traits, identity=identity,
                                                       device_id=device_id, user_id=user_id))
        return
    if msg_type == "group":
        group_id = identifier(raw.get("groupId"), "groupId")
        if group_id is None:
            raise FieldError("groupId", "is required for group")
        properties = {"group_id": group_id, **flatten(raw.get("traits"), "traits", prefix="group.")}
        out.commands.append(set_properties_command(f"{message_id}:group", time, properties, identity=identity,
                                                   device_id=device_id, user_id=user_id))
        return

    kind = ext.kind or _DEFAULT_KIND[msg_type]
    name_field = "event" if msg_type == "track" else "name"
    name = text(raw.get(name_field), name_field)
    if msg_type == "track" and kind == "custom" and not name:
        raise FieldError("event", "is required for track")
    properties = flatten(raw.get("properties"), "properties")
    page = _page(page_context, raw.get("properties") if msg_type == "page" else None)
    if source != "web" and user_agent is None:
        device_info = obj(context.get("device"), "context.device")
        app_info = obj(context.get("app"), "context.app")
        device = enrich.device_from_context(os_info, device_info, enrich.screen_of(context.get("screen")),
                                            app_info) if (os_info or device_info or app_info) else None
    else:
        agent = user_agent or receipt.user_agent
        device = enrich.browser_device(agent, enrich.screen_of(context.get("screen"))) if agent else None
    ip = text(context.get("ip"), "context.ip") or (receipt.ip if source != "server" else None)
    out.events.append(event(
        receipt, event_id=message_id, kind=kind, name=name, device_id=device_id, user_id=user_id,
        identity=identity, time=time, source=source, session_id=ext.session_id, library=library_name,
        page=page, target=ext.target, device=device, geo=geo(ip) if ip else None, ip=ip,
        campaign=enrich.campaign_of(obj(context.get("campaign"), "context.campaign"), page and page["query"]),
        properties=properties,
    ))


def _page(context_page: dict, page_properties: object) -> dict | None:
    """The page an event happened on: context.page, overridden by a page call's own properties."""
    fields = [context_page.get(key) for key in _PAGE_KEYS]
    if isinstance(page_properties, dict):
        fields = [value if (own := page_properties.get(key)) is None else own
                  for key, value in zip(_PAGE_KEYS, fields)]
    try:
        return _page_of(*fields)
    except TypeError:  # an object or list where a string belongs: unhashable, so never cached
        for key, value in zip(_PAGE_KEYS, fields):
            text(value, f"context.page.{key}")
        raise


@lru_cache(maxsize=4096)
def _page_of(url: object, title: object, referrer: object, path: object, search: object) -> dict | None:
    """Cached: a batch's events mostly share their page (the dict is shared and never mutated)."""
    url, title, referrer, path, search = (text(value, f"context.page.{key}") for key, value in
                                          zip(_PAGE_KEYS, (url, title, referrer, path, search)))
    if url is None and path is None:
        return None
    parts = enrich.url_parts(url) if url else {"url": None, "domain": None, "path": None, "query": None,
                                                "hash": None}
    return {**parts, "path": parts["path"] or path, "query": parts["query"] or (search or "").lstrip("?") or None,
            "title": title, "referrer": referrer}
