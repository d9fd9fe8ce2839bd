"""The shared operators: unit cases, and the SQL compiler held equal to the evaluator in PostgreSQL."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Integer

from criteria.conditions import OPS, compile_condition, evaluate, parse_date, text_form
from criteria.model import Condition, Criteria, parse_criteria
from tests.criteria.conftest import sql_verdicts


@pytest.mark.unit
@pytest.mark.parametrize("op, actual, value, expected", [
    ("equals", "Pro", "Pro", True),
    ("equals", "pro", "Pro", False),
    ("equals", 5, "5", True),
    ("equals", 1.5, 1.5, True),
    ("equals", True, "true", True),
    ("equals", None, "x", False),
    ("not_equals", None, "x", True),
    ("not_equals", "x", "x", False),
    ("contains", "checkout-page", "out-p", True),
    ("not_contains", None, "a", True),
    ("not_contains", "abc", "b", False),
    ("starts_with", "/blog/post", "/blog", True),
    ("ends_with", "file.pdf", ".pdf", True),
    ("ends_with", "pdf", "file.pdf", False),
    ("wildcard", "/Blog/2024/Post", "/blog/*", True),
    ("wildcard", "/blog", "/blog/*", False),
    ("wildcard", "a%b_c", "a%b_c", True),
    ("wildcard", "axbyc", "a%b_c", False),
    ("is_set", "", None, True),
    ("is_set", None, None, False),
    ("is_not_set", None, None, True),
    ("gt", "10", 9, True),
    ("gt", "10", "9.5", True),
    ("lt", "abc", 9, False),
    ("gt", 1e20, "1e19", True),
    ("gt", "2024-03-01", "2024-02-29T23:59:59Z", True),
    ("lt", "2024-03-01T00:30:00+01:00", "2024-03-01T00:00:00Z", True),
    ("gt", "2023-02-29", "2000-01-01", False),  # not a real day: never compares
])
def test_operators(op, actual, value, expected):
    assert evaluate(op, actual, value) is expected


@pytest.mark.unit
def test_text_form_is_postgres_numeric_text():
    assert [text_form(v) for v in (1e20, 1.0, 1e-7, -0.0, 3, False)] == [
        "100000000000000000000", "1.0", "0.0000001", "0.0", "3", "false"]


@pytest.mark.unit
def test_iso_dates_without_offset_are_utc():
    assert parse_date("2024-01-02T03:04") == datetime(2024, 1, 2, 3, 4, tzinfo=UTC)
    assert parse_date("2024-13-01") is None and parse_date("24-01-01") is None


@pytest.mark.unit
def test_invalid_conditions_say_what_is_wrong():
    with pytest.raises(ValidationError, match="needs a value"):
        Condition(property="plan", op="equals")
    with pytest.raises(ValidationError, match="number or an ISO 8601 date"):
        Condition(property="plan", op="gt", value="pro")
    with pytest.raises(ValidationError) as info:
        parse_criteria([{"kind": "click"}, {"properties": [{"property": "a", "op": "near", "value": 1}]}])
    assert info.value.errors()[0]["loc"][:3] == (1, "properties", 0)
    with pytest.raises(ValidationError, match="at least one condition"):
        Criteria()
    with pytest.raises(ValidationError):
        parse_criteria([])


# --- Differential: SQL against the evaluator ---------------------------------------------------

ALPHABET = st.sampled_from("aAbB*%_\\. -:01239eE+TZé")
texts = st.text(ALPHABET, max_size=8)
dates = st.datetimes(min_value=datetime(1999, 12, 30), max_value=datetime(2001, 1, 2)).map(
    lambda d: d.isoformat(timespec="seconds"))
date_texts = st.one_of(dates, dates.map(lambda s: s + "Z"), dates.map(lambda s: s[:10]),
                       dates.map(lambda s: s + "+05:30"), st.just("2000-02-30"), st.just("2001-02-29"))
scalars = st.one_of(st.none(), texts, date_texts, st.booleans(), st.integers(-1000, 1000),
                    st.floats(allow_nan=False, allow_infinity=False, width=32),
                    st.decimals(-100, 100, places=2).map(str))


def _condition_value(op):
    if op in ("is_set", "is_not_set"):
        return st.none()
    if op in ("gt", "lt"):
        return st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False), date_texts,
                         st.decimals(-100, 100, places=3).map(str))
    return st.one_of(texts, st.integers(-5, 5), st.booleans())


conditions = st.sampled_from(OPS).flatmap(
    lambda op: _condition_value(op).map(lambda v: (op, v)))


@hsettings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(condition=conditions, values=st.lists(scalars, min_size=1, max_size=25))
def test_sql_agrees_with_evaluator(engine, condition, values):
    op, value = condition
    try:
        criteria = Criteria(properties=[Condition(property="p", op=op, value=value)])
    except ValidationError:
        return  # e.g. gt on a value that is neither a number nor a date: rejected up front
    batch = [{"properties": {"p": v} if v is not None else {}} for v in values]
    expected = [evaluate(op, v, value) for v in values]
    assert sql_verdicts(engine, criteria, batch) == expected


# --- Case-insensitive operators (feed filters' default) ----------------------------------------

CASE_ALPHABET = st.sampled_from("aAbBİıßσΣς*% é")


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from([o for o in OPS if o not in ("gt", "lt")]),
       value=st.text(CASE_ALPHABET, min_size=1, max_size=4),
       values=st.lists(st.one_of(st.none(), st.text(CASE_ALPHABET, max_size=6)), min_size=1, max_size=20))
def test_ignore_case_sql_agrees_with_evaluator(engine, op, value, values):
    from sqlalchemy import Text, column, select
    from sqlalchemy import values as sql_values

    table = sql_values(column("i", Integer), column("t", Text), name="v").data(list(enumerate(values)))
    predicate = compile_condition(op, table.c.t, value, ignore_case=True)
    with engine.connect() as conn:
        verdicts = dict(conn.execute(select(table.c.i, predicate)).all())
    expected = [evaluate(op, v, value, ignore_case=True) for v in values]
    assert [bool(verdicts[i]) for i in range(len(values))] == expected


def test_ignore_case_folds_both_sides():
    assert evaluate("contains", "maria.gonzalez@northwind.io", "MARIA", ignore_case=True)
    assert not evaluate("contains", "maria.gonzalez@northwind.io", "MARIA")
    assert evaluate("equals", "Start Free Trial", "start free trial", ignore_case=True)
    assert evaluate("not_equals", None, "x", ignore_case=True)
