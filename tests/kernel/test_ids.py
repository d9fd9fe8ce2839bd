import pytest
from hypothesis import given
from hypothesis import strategies as st

from footfall.ids import MAX_ID, anonymous_user_id, hash53, identified_user_id, is_user_id

pytestmark = pytest.mark.unit


@given(st.lists(st.text(), min_size=1, max_size=3))
def test_hash53_is_a_53_bit_decimal_string_and_stable(parts):
    value = hash53(*parts)
    assert value.isdigit() and 0 <= int(value) <= MAX_ID
    assert value == hash53(*parts)
    assert is_user_id(value)


def test_hash53_separates_parts():
    assert hash53("a", "bc") != hash53("ab", "c")
    assert identified_user_id("env1", "ada") != identified_user_id("env2", "ada")


def test_sdk_ids_are_kept_and_other_anonymous_ids_hashed():
    assert anonymous_user_id("4572292114282934") == "4572292114282934"
    segment_id = "0b7e5b2e-5f2a-4c7e-9b7f-2a1c3d4e5f60"
    assert anonymous_user_id(segment_id) == hash53(segment_id)
    assert not is_user_id(str(2**53))
