"""Wildcards in linear time, bounded, and the same in Python and in PostgreSQL."""
from __future__ import annotations

import time
from functools import cache

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import literal, select

from criteria.conditions import (
    MAX_WILDCARD_PATTERN,
    MAX_WILDCARD_TEXT,
    compile_condition,
    evaluate,
    fold_case,
    wildcard_match,
)
from criteria.model import Condition, Criteria

# Characters that stress the matcher: LIKE's own metacharacters, and letters whose lowercase
# differs between per-character and context-aware folding (Σ at a word's end, İ).
ALPHABET = "aAb%_\\Üüσ Σİi."
texts = st.text(ALPHABET, max_size=12)
patterns = st.text(ALPHABET + "**", max_size=8)


def reference(pattern: str, text: str) -> bool:
    """Whole-text glob by dynamic programming over the folded strings: obviously right, quadratic."""
    pattern, text = fold_case(pattern), fold_case(text)

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(text)
        if pattern[i] == "*":
            return match(i + 1, j) or (j < len(text) and match(i, j + 1))
        return j < len(text) and pattern[i] == text[j] and match(i + 1, j + 1)

    return match(0, 0)


@pytest.mark.unit
@given(pattern=patterns, text=texts)
def test_the_linear_matcher_agrees_with_the_obvious_one(pattern, text):
    assert wildcard_match(pattern, text) == reference(pattern, text)


def sql_wildcard(engine, pattern: str, texts_: list[str | None]) -> list[bool]:
    with engine.connect() as conn:
        return [conn.scalar(select(compile_condition("wildcard", literal(text), pattern))) for text in texts_]


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=patterns, batch=st.lists(texts, min_size=5, max_size=10))
def test_postgres_agrees_with_the_matcher(engine, pattern, batch):
    assert sql_wildcard(engine, pattern, batch) == [evaluate("wildcard", text, pattern) for text in batch]


def test_values_longer_than_the_bound_never_match_in_either(engine):
    at_bound, over = "a" * MAX_WILDCARD_TEXT, "a" * (MAX_WILDCARD_TEXT + 1)
    assert [wildcard_match("*", at_bound), wildcard_match("*", over)] == [True, False]
    assert sql_wildcard(engine, "*", [at_bound, over, None]) == [True, False, False]


ATTACK = "*a*a*a*b"  # the review's pattern; the regex version backtracked over every split


@pytest.mark.unit
def test_the_backtracking_attack_takes_linear_time():
    """The attack: `*a*a*a*b` against 250 `a`s held a worker 1.6 s (minutes at 1,024)."""
    worst = "*" + "*".join("a" * 8 for _ in range(28)) + "*b"  # 28 parts, under the pattern bound
    assert len(worst) <= MAX_WILDCARD_PATTERN
    started = time.perf_counter()
    for pattern in (ATTACK, worst):
        for size in (250, 1024, MAX_WILDCARD_TEXT):
            assert not wildcard_match(pattern, "a" * size)
    assert time.perf_counter() - started < 0.05


def test_postgres_answers_the_attack_over_many_rows_quickly(engine):
    with engine.connect() as conn:
        started = time.perf_counter()
        matched = conn.scalar(select(compile_condition("wildcard", literal("a" * MAX_WILDCARD_TEXT), ATTACK)))
        for _ in range(200):
            conn.scalar(select(compile_condition("wildcard", literal("a" * MAX_WILDCARD_TEXT), ATTACK)))
        assert matched is False and time.perf_counter() - started < 2.0


@pytest.mark.unit
@pytest.mark.parametrize("build", [
    lambda p: Condition(property="plan", op="wildcard", value=p),
    lambda p: Criteria(path=p),
    lambda p: Criteria(domain=p),
    lambda p: Criteria(text={"op": "wildcard", "value": p}),
])
def test_patterns_over_the_bound_are_refused_when_defined(build):
    build("*" * MAX_WILDCARD_PATTERN)
    with pytest.raises(ValidationError, match=str(MAX_WILDCARD_PATTERN)):
        build("*a" * (MAX_WILDCARD_PATTERN // 2) + "b")
