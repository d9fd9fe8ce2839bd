"""Pure rules: generic identities, property cleaning, bounds, initial properties."""
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.identity.properties import (
    MAX_BYTES,
    MAX_KEYS,
    PropertyWrite,
    bound_properties,
    clean_properties,
    identity_problem,
    initial_properties,
    is_generic_identity,
)
from tests.identity.factories import T0, event

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("value", [
    None, "", "   ", "null", "NULL", "undefined", "None", "anonymous", "guest", "0", "[object Object]",
    "NaN", '"null"', "'undefined'", ' "  Anonymous " ', "\"'guest'\"", "`none`",
])
def test_placeholders_are_generic(value):
    assert is_generic_identity(value)
    assert identity_problem(value) == "generic identity"


@pytest.mark.parametrize("value", ["ada@example.com", "user-42", "00042", "Null Island", "nullable"])
def test_real_identities_are_not_generic(value):
    assert not is_generic_identity(value)
    assert identity_problem(value) is None


def test_identities_must_be_under_255_characters():
    assert identity_problem("a" * 254) is None
    assert "255" in identity_problem("a" * 255)


def test_cleaning_keeps_email_refuses_id_keys_and_truncates_values():
    cleaned, refused = clean_properties({
        "email": "ada@example.com", "Email": "other", "id": 1, "ID": 2, "user_id": "u", "USER_ID": "u",
        "plan": "x" * 5000, "seats": 3, "paid": True, "": "empty key", "blank": "  ", "none": None,
        "k" * 513: "long key",
    })
    assert cleaned == {"email": "ada@example.com", "Email": "other", "plan": "x" * 1024, "seats": 3, "paid": True}
    assert len(refused) == 6  # id, ID, user_id, USER_ID, the empty key, the long key
    assert any("'id'" in reason for reason in refused)


def test_one_write_keeps_at_most_1000_keys_and_says_so():
    cleaned, refused = clean_properties({f"k{i:04}": i for i in range(1005)})
    assert len(cleaned) == MAX_KEYS and len(refused) == 5
    assert "k1004" not in cleaned


def _write(value, minute_first, minute=None):
    first = T0 + timedelta(minutes=minute_first)
    return PropertyWrite(value, T0 + timedelta(minutes=minute if minute is not None else minute_first), "c", first)


def test_bounds_keep_email_then_the_earliest_set_keys():
    writes = {f"k{i:04}": _write(i, i) for i in range(MAX_KEYS + 10)}
    writes["email"] = _write("ada@example.com", 10_000)
    kept, dropped = bound_properties(writes)
    assert len(kept) == MAX_KEYS and "email" in kept
    assert sorted(dropped) == [f"k{i:04}" for i in range(MAX_KEYS - 1, MAX_KEYS + 10)]


def test_bounds_keep_at_most_64_kb():
    writes = {f"k{i:03}": _write("v" * 1000, i) for i in range(100)}
    kept, dropped = bound_properties(writes)
    assert sum(len(k) + len(v) + 2 for k, v in kept.items()) <= MAX_BYTES
    assert len(kept) == 65 and len(dropped) == 35  # 1006 bytes each


@given(st.dictionaries(st.text(max_size=3), st.integers(0, 50), max_size=30))
def test_bounds_depend_only_on_the_writes_not_their_order(firsts):
    writes = {key: _write(1, minute) for key, minute in firsts.items()}
    reversed_writes = dict(reversed(list(writes.items())))
    assert bound_properties(writes) == bound_properties(reversed_writes)


def test_initial_properties_come_from_the_event():
    e = event("e1", "d1", 0, device={"browser": "Firefox", "os": "Linux", "device_type": "Desktop"},
              geo={"country": "FR", "city": "Lyon"}, campaign={"utm_source": "news"})
    assert initial_properties(e) == {
        "Initial Referrer": "ref-e1", "Initial Landing Page": "https://shop.example/e1",
        "Initial Browser": "Firefox", "Initial Platform": "Linux", "Initial Device Type": "Desktop",
        "Initial Country": "FR", "Initial City": "Lyon", "Initial UTM Source": "news",
    }
