"""Heap server API normalisation (pure): track (single and bulk), user properties, identify."""
import pytest

from footfall.ids import identified_user_id
from footfall.messages import EventsCaptured, IdentityCommands
from services.ingest import heap
from services.ingest.normalize import FieldError, TooManyItems
from tests.ingest.conftest import ENV_ID, receipt

pytestmark = pytest.mark.unit


def test_single_track_uses_the_idempotency_key_and_the_identitys_user():
    body = {"app_id": ENV_ID, "identity": "ada", "event": "Purchase", "idempotency_key": "k1",
            "timestamp": 1714564800000, "properties": {"amount": 12.5, "item": {"sku": "A"}}}
    out = heap.normalize_track(heap.track_items(body), receipt())
    [event] = EventsCaptured.model_validate({"env_id": ENV_ID, "events": out.events}).events
    assert (event.event_id, event.kind, event.name, event.source) == ("k1", "custom", "Purchase", "server")
    assert event.identity == "ada" and event.user_id == identified_user_id(ENV_ID, "ada")
    assert event.time.isoformat() == "2024-05-01T12:00:00+00:00"
    assert event.properties == {"amount": 12.5, "item.sku": "A"}


def test_bulk_track_reports_bad_events_by_index():
    body = {"app_id": ENV_ID, "events": [
        {"identity": "ada", "event": "A"}, {"event": "B"}, {"user_id": "123", "event": "C"}, {"identity": "x"}]}
    out = heap.normalize_track(heap.track_items(body), receipt())
    assert out.accepted == 2
    assert [(e["index"], e["field"]) for e in out.errors] == [(1, "identity"), (3, "event")]
    assert out.events[1]["user_id"] == out.events[1]["device_id"] == "123"


def test_more_than_1000_events_is_too_many():
    with pytest.raises(TooManyItems):
        heap.track_items({"app_id": ENV_ID, "events": [{}] * 1001})
    with pytest.raises(FieldError):
        heap.users_items({"app_id": ENV_ID, "users": "nope"})


def test_add_user_properties_single_and_bulk():
    single = heap.normalize_user_properties(
        heap.users_items({"app_id": ENV_ID, "identity": "ada", "properties": {"plan": "pro"}}), receipt())
    bulk = heap.normalize_user_properties(heap.users_items({"app_id": ENV_ID, "users": [
        {"identity": "bob", "properties": {"plan": "free"}}, {"identity": "eve"}]}), receipt())
    [ada] = IdentityCommands.model_validate({"env_id": ENV_ID, "commands": single.commands}).commands
    assert ada.type == "set_user_properties" and ada.identity == "ada" and ada.properties == {"plan": "pro"}
    assert bulk.accepted == 1 and bulk.errors == [{"index": 1, "field": "properties",
                                                  "message": "must be a non-empty object"}]


def test_identify_links_a_heap_user_id_to_an_identity():
    out = heap.normalize_identify([{"app_id": ENV_ID, "identity": "ada", "user_id": "4242"}], receipt())
    [command] = IdentityCommands.model_validate({"env_id": ENV_ID, "commands": out.commands}).commands
    assert (command.type, command.identity, command.user_id) == ("identify", "ada", "4242")
    missing = heap.normalize_identify([{"app_id": ENV_ID, "identity": "ada"}], receipt())
    assert missing.errors[0]["field"] == "user_id"
