"""Our browser SDK's `context.footfall` extension inside Segment messages (pure)."""

import pytest

from footfall.ids import anonymous_user_id
from footfall.messages import EventsCaptured
from services.ingest import segment
from tests.ingest.conftest import ENV_ID, no_geo, receipt

pytestmark = pytest.mark.unit

SDK_CONTEXT = {
    "library": {"name": "footfall.js", "version": "0.1.0"},
    "page": {"url": "https://shop.example/cart", "path": "/cart", "search": "", "title": "Cart"},
    "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
}


def sdk_message(message_type="track", **footfall):
    return {"type": message_type, "anonymousId": "1234567890123", "messageId": "m",
            "timestamp": "2024-05-01T11:59:59Z", "context": {**SDK_CONTEXT, "footfall": footfall}}


def normalize(*messages):
    body = {"writeKey": "k", "sentAt": "2024-05-01T12:00:00Z", "batch": list(messages)}
    return segment.normalize(segment.batch_items(body), body, receipt(ip="81.2.69.160"), no_geo)


def test_click_carries_session_device_and_target_hierarchy():
    message = sdk_message(device_id="dev-1", session_id="s-1", kind="click", target={
        "text": "Add to cart", "href": "/checkout",
        "hierarchy": [{"tag": "BUTTON", "id": "add", "classes": ["btn"], "attributes": {"data-sku": 42}, "nth": 2},
                      {"tag": "div"}]})
    out = normalize(message)
    [event] = EventsCaptured.model_validate({"env_id": ENV_ID, "events": out.events}).events
    assert (event.kind, event.name, event.session_id, event.device_id) == ("click", None, "s-1", "dev-1")
    assert event.user_id == anonymous_user_id("1234567890123") == "1234567890123"  # the SDK's id kept as is
    assert event.source == "web" and event.library == "footfall.js"
    assert event.device.device_type == "Mobile" and event.device.os == "iOS"
    assert event.page.path == "/cart" and event.ip == "81.2.69.160"
    assert event.target.text == "Add to cart" and event.target.href == "/checkout"
    button, div = event.target.hierarchy
    assert (button.tag, button.id, button.classes, button.attributes, button.nth) == (
        "button", "add", ["btn"], {"data-sku": "42"}, 2)
    assert div.tag == "div" and div.nth is None


def test_page_message_is_a_pageview_and_kinds_override_the_default():
    out = normalize(sdk_message("page", kind="pageview", session_id="s"), sdk_message("track", kind="submit"))
    assert [e["kind"] for e in out.events] == ["pageview", "submit"]


def test_bad_extension_fields_are_named():
    out = normalize(
        sdk_message(kind="hover"),
        sdk_message(kind="click", target={"hierarchy": [{"id": "x"}]}),
        sdk_message(kind="click", target={"hierarchy": [{"tag": "a", "nth": 0}]}),
        sdk_message(kind="click", target={"hierarchy": "body > a"}),
    )
    assert [e["field"] for e in out.errors] == [
        "context.footfall.kind", "context.footfall.target.hierarchy[0].tag",
        "context.footfall.target.hierarchy[0].nth", "context.footfall.target.hierarchy"]


def test_frustration_signals_are_events_of_their_own_kind():
    target = {"text": "Pay now", "hierarchy": [{"tag": "button", "id": "pay"}]}
    out = normalize(sdk_message(kind="rage_click", target=target), sdk_message(kind="dead_click", target=target))
    events = EventsCaptured.model_validate({"env_id": ENV_ID, "events": out.events}).events
    assert [(e.kind, e.name, e.target.text) for e in events] == [("rage_click", None, "Pay now"),
                                                                ("dead_click", None, "Pay now")]
