"""The pure chunk rules: reading gzip rrweb arrays, summaries, keys."""
import gzip
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.replay import chunks
from tests.replay.helpers import BASE_MS, chunk_body, rrweb_events

pytestmark = pytest.mark.unit


def test_a_chunk_is_summarised_by_its_time_span_and_full_snapshot():
    summary = chunks.summarize(chunks.read_events(chunk_body(rrweb_events(0, 4, full_snapshot=True))))
    assert summary.start == datetime.fromtimestamp(BASE_MS / 1000, timezone.utc)
    assert summary.end - summary.start == timedelta(seconds=3)
    assert summary.event_count == 4 and summary.has_full_snapshot


@pytest.mark.parametrize("body, message", [
    (b"not gzip", "not gzip"),
    (gzip.compress(b"{not json"), "not JSON"),
    (gzip.compress(b"{}"), "non-empty JSON array"),
    (gzip.compress(b"[]"), "non-empty JSON array"),
    (gzip.compress(b'[{"type": 2, "timestamp": 1}, 1]'), r"Expected `object`, got `int` - at `\$\[1\]`"),
    (gzip.compress(b'[{"type": "2", "timestamp": 1}]'), r"Expected `int`, got `str` - at `\$\[0\].type`"),
    (gzip.compress(b'[{"type": true, "timestamp": 1}]'), r"Expected `int`, got `bool` - at `\$\[0\].type`"),
    (gzip.compress(b'[{"type": 2}]'), "missing required field `timestamp`"),
    (gzip.compress(b'[{"type": 2, "timestamp": -5}]'), ">= 0"),
    (gzip.compress(b'[{"type": 2, "timestamp": 1}]')[:-6], "truncated"),
])
def test_bad_chunks_say_what_is_wrong(body, message):
    with pytest.raises(chunks.BadChunk, match=message):
        chunks.summarize(chunks.read_events(body))


def test_a_gzip_bomb_is_refused_without_inflating_it_whole(monkeypatch):
    monkeypatch.setattr(chunks, "MAX_INFLATED_BYTES", 1000)
    with pytest.raises(chunks.ChunkTooLarge):
        chunks.inflate(gzip.compress(b"[" + b" " * 5000 + b"]"))


@pytest.mark.parametrize("value", [None, "", "-1", "1.5", "x", "100000000"])
def test_seq_must_be_a_small_non_negative_integer(value):
    with pytest.raises(chunks.BadChunk, match="'seq'"):
        chunks.parse_seq(value)


@given(st.lists(st.integers(0, chunks.MAX_SEQ), min_size=1, max_size=30, unique=True))
def test_keys_of_a_session_share_its_prefix_and_sort_by_seq(seqs):
    keys = [chunks.chunk_key("env", "sess", seq) for seq in seqs]
    assert all(key.startswith(chunks.session_prefix("env", "sess")) for key in keys)
    assert [keys[i] for i in sorted(range(len(seqs)), key=lambda i: seqs[i])] == sorted(keys)
    assert not chunks.chunk_key("env", "sess-2", 0).startswith(chunks.session_prefix("env", "sess"))


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-10, 2**40), st.floats(-1, 2e12, allow_nan=False),
                        st.text(max_size=3))
EVENTS = st.lists(st.one_of(
    st.fixed_dictionaries({"type": st.integers(0, 6), "timestamp": st.integers(0, 2**42)}),
    st.fixed_dictionaries({"type": JSON_VALUES, "timestamp": JSON_VALUES}),
    st.dictionaries(st.sampled_from(["type", "timestamp", "data"]), JSON_VALUES),
    JSON_VALUES, st.lists(JSON_VALUES, max_size=2),
), min_size=1, max_size=8)


def is_rrweb_event(event) -> bool:
    """The rule, event by event: an object with an integer type and a non-negative numeric timestamp."""
    return (isinstance(event, dict) and type(event.get("type")) is int
            and type(event.get("timestamp")) in (int, float) and event["timestamp"] >= 0)


@given(EVENTS)
def test_a_chunk_is_accepted_exactly_when_every_event_is_rrweb_shaped(events):
    """read_events checks shapes in one typed decode; it must agree with the rule event by event."""
    body = chunk_body(events)
    if not all(is_rrweb_event(event) for event in events):
        with pytest.raises(chunks.BadChunk, match="not an rrweb event"):
            chunks.read_events(body)
        return
    try:
        summary = chunks.summarize(chunks.read_events(body))
    except chunks.BadChunk as exc:
        assert "out of range" in str(exc)
        return
    timestamps = [event["timestamp"] for event in events]
    assert summary.start == datetime.fromtimestamp(min(timestamps) / 1000, timezone.utc)
    assert summary.end == datetime.fromtimestamp(max(timestamps) / 1000, timezone.utc)
    assert summary.has_full_snapshot == any(event["type"] == chunks.FULL_SNAPSHOT for event in events)
    assert summary.event_count == len(events)
