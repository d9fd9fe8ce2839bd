"""The condition operators shared by feed filters and definitions: a pure evaluator and a SQL compiler.

Both sides compare the *text form* of a value, which is what PostgreSQL's `jsonb ->> key` yields:
strings as they are, booleans as `true`/`false`, numbers in numeric notation (no exponent), JSON
null or a missing key as "not set". `gt`/`lt` compare numbers numerically and ISO 8601 dates as
instants (no offset means UTC); a value that is neither never compares. `wildcard` matches the
whole value, `*` standing for any run of characters, case-insensitively (each character lowercased
on its own, as PostgreSQL's ILIKE does); every other operator is case-sensitive unless asked with
`ignore_case` (feed filters ask by default): both sides are then folded the same way (`fold_case`,
PostgreSQL's lower()). Negative operators (`not_equals`, `not_contains`) hold when the value is not
set.

Wildcards cost time linear in the value: `wildcard_match` anchors the first and last parts and
finds each middle part leftmost, never backtracking (a regex of `.*` joins backtracked: `*a*a*a*b`
against 250 `a`s held a worker 1.6 s). Patterns are at most MAX_WILDCARD_PATTERN characters and
values longer than MAX_WILDCARD_TEXT never match, in Python and in SQL alike (PostgreSQL's ILIKE
gives up a `%` as soon as the rest cannot fit, so it is bounded by both lengths).
"""
from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import ColumnElement, Numeric, and_, case, cast, false, func, literal, or_, true
from sqlalchemy.dialects.postgresql import TIMESTAMP

Op = Literal[
    "equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with", "wildcard",
    "is_set", "is_not_set", "gt", "lt",
]
OPS: tuple[str, ...] = Op.__args__
VALUELESS_OPS = frozenset({"is_set", "is_not_set"})
ORDER_OPS = frozenset({"gt", "lt"})

# ASCII digits only ([0-9], never \d): PostgreSQL and Python disagree on what else is a digit.
# Exponents are bounded so that every text the pattern accepts also casts to numeric.
NUMBER_PATTERN = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?"
DATE_PATTERN = (
    r"([1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):([0-5][0-9])(:([0-5][0-9])(\.([0-9]{1,6}))?)?"
    r"(Z|[+-](0[0-9]|1[0-4]):([0-5][0-9]))?)?"
)
MAX_WILDCARD_PATTERN = 256
MAX_WILDCARD_TEXT = 4096
_NUMBER = re.compile(NUMBER_PATTERN)
_DATE = re.compile(DATE_PATTERN)
_OFFSET_SUFFIX = r"(Z|[+-][0-9]{2}:[0-9]{2})$"


# --- Text form and typed values -----------------------------------------------------------------


def text_form(value: Any) -> str | None:
    """The text PostgreSQL's `->>` gives for a JSON scalar; None for null or missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        number = Decimal(repr(value))
        return format(abs(number) if number.is_zero() else number, "f")
    return str(value)


def parse_number(text: str) -> Decimal | None:
    return Decimal(text) if _NUMBER.fullmatch(text) else None


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28
    return 30 if month in (4, 6, 9, 11) else 31


def parse_date(text: str) -> datetime | None:
    """An aware datetime for an ISO 8601 date or date-time that both evaluators accept, else None."""
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    year, month, day = int(m[1]), int(m[2]), int(m[3])
    if day > _days_in_month(year, month):
        return None
    micro = int((m[10] or "").ljust(6, "0"))
    moment = datetime(year, month, day, int(m[5] or 0), int(m[6] or 0), int(m[8] or 0), micro,
                      tzinfo=UTC)
    if m[11] and m[11] != "Z":
        sign = 1 if m[11][0] == "+" else -1
        moment -= sign * timedelta(hours=int(m[12]), minutes=int(m[13]))
    return moment


def order_operand(value: Any) -> Decimal | datetime:
    """The typed operand of gt/lt: a number, or an ISO date; ValueError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("gt/lt need a finite number")
        return Decimal(text_form(value))
    if isinstance(value, str):
        parsed = parse_number(value)
        if parsed is not None:
            return parsed
        moment = parse_date(value)
        if moment is not None:
            return moment
    raise ValueError(f"gt/lt need a number or an ISO 8601 date, got {value!r}")


# --- The pure evaluator --------------------------------------------------------------------------


def check_wildcard(pattern: str) -> str:
    """The pattern, or ValueError when it is longer than MAX_WILDCARD_PATTERN."""
    if len(pattern) > MAX_WILDCARD_PATTERN:
        raise ValueError(f"a wildcard pattern has at most {MAX_WILDCARD_PATTERN} characters")
    return pattern


def fold_case(text: str) -> str:
    """Each character lowercased by itself, like PostgreSQL's lower(): no context-dependent final
    sigma, and İ becomes i rather than i + a combining dot."""
    if text.isascii():
        return text.lower()
    return "".join(char.lower()[0] for char in text)


@lru_cache(maxsize=4096)
def wildcard_parts(pattern: str) -> tuple[str, ...]:
    """The case-folded literal runs between the `*`s of a pattern."""
    return tuple(fold_case(check_wildcard(pattern)).split("*"))


def wildcard_match(pattern: str, text: str) -> bool:
    """Whether the whole text matches a `*` wildcard pattern, case-insensitively, in linear time.

    The first part must start the text and the last end it; the middle ones are found in order,
    each at its leftmost place after the one before: if any placement fits, that one does, since
    a `*` between parts absorbs whatever the leftmost placement leaves.
    """
    if len(text) > MAX_WILDCARD_TEXT:
        return False
    parts, text = wildcard_parts(pattern), fold_case(text)
    if len(parts) == 1:
        return text == parts[0]
    first, *middle, last = parts
    if len(first) + len(last) > len(text) or not text.startswith(first) or not text.endswith(last):
        return False
    position, end = len(first), len(text) - len(last)
    for part in middle:
        found = text.find(part, position, end)
        if found < 0:
            return False
        position = found + len(part)
    return True


def _compare(op: str, actual: str | None, operand: Decimal | datetime) -> bool:
    if actual is None:
        return False
    other = parse_number(actual) if isinstance(operand, Decimal) else parse_date(actual)
    if other is None:
        return False
    return other > operand if op == "gt" else other < operand


def evaluate(op: str, actual: Any, value: Any = None, ignore_case: bool = False) -> bool:
    """Whether a property value (a JSON scalar, None when missing) satisfies `op value`."""
    text = text_form(actual)
    if op == "is_set":
        return text is not None
    if op == "is_not_set":
        return text is None
    if op in ORDER_OPS:
        return _compare(op, text, order_operand(value))
    expected = text_form(value)
    if ignore_case and op != "wildcard":
        text = None if text is None else fold_case(text)
        expected = None if expected is None else fold_case(expected)
    if op == "not_equals":
        return text != expected
    if op == "not_contains":
        return text is None or expected not in text
    if text is None:
        return False
    if op == "equals":
        return text == expected
    if op == "contains":
        return expected in text
    if op == "starts_with":
        return text.startswith(expected)
    if op == "ends_with":
        return text.endswith(expected)
    if op == "wildcard":
        return wildcard_match(expected, text)
    raise ValueError(f"unknown operator {op!r}")


# --- The SQL compiler ----------------------------------------------------------------------------


def like_pattern(pattern: str) -> str:
    """A `*` wildcard as a LIKE pattern with backslash escapes."""
    escaped = check_wildcard(pattern).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def compile_wildcard(text: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
    """`wildcard` in SQL: ILIKE within the same bounds as wildcard_match (NULL is false)."""
    return case((func.char_length(text) <= MAX_WILDCARD_TEXT, text.ilike(like_pattern(pattern), escape="\\")),
                else_=false())


def _sql_date(text: ColumnElement[str]) -> ColumnElement:
    """The instant of an ISO date text already known to match DATE_PATTERN (no offset = UTC)."""
    return cast(case((text.regexp_match(_OFFSET_SUFFIX), text), else_=text + "Z"),
                TIMESTAMP(timezone=True))


def _sql_valid_day(text: ColumnElement[str]) -> ColumnElement[bool]:
    year = cast(func.substr(text, 1, 4), Numeric)
    month = cast(func.substr(text, 6, 2), Numeric)
    day = cast(func.substr(text, 9, 2), Numeric)
    leap = or_(and_(year % 4 == 0, year % 100 != 0), year % 400 == 0)
    days = case(
        (month == 2, case((leap, 29), else_=28)),
        (month.in_([4, 6, 9, 11]), 30),
        else_=31,
    )
    return day <= days


def _sql_compare(op: str, text: ColumnElement[str], operand: Decimal | datetime) -> ColumnElement[bool]:
    # CASE, not AND: PostgreSQL may evaluate AND operands in any order, and a cast of a text that
    # is not a number or a date would raise instead of being false.
    if isinstance(operand, Decimal):
        number = cast(text, Numeric)
        bound = cast(literal(str(operand)), Numeric)
        test = number > bound if op == "gt" else number < bound
        return case((text.regexp_match(f"^{NUMBER_PATTERN}$"), test), else_=false())
    moment = _sql_date(text)
    bound = literal(operand, TIMESTAMP(timezone=True))
    test = moment > bound if op == "gt" else moment < bound
    valid = case((_sql_valid_day(text), test), else_=false())
    return case((text.regexp_match(f"^{DATE_PATTERN}$"), valid), else_=false())


def compile_condition(op: str, text: ColumnElement[str], value: Any = None,
                      ignore_case: bool = False) -> ColumnElement[bool]:
    """`op value` over a text SQL expression (e.g. `properties ->> key`); NULL text = not set.

    With `ignore_case`, the text is lower()ed and the value fold_case()d (the same folding)."""
    if op == "is_set":
        return text.is_not(None)
    if op == "is_not_set":
        return text.is_(None)
    if op in ORDER_OPS:
        return _sql_compare(op, text, order_operand(value))
    expected = text_form(value)
    if ignore_case and op != "wildcard":
        text, expected = func.lower(text), fold_case(expected)
    if op == "equals":
        return text == expected
    if op == "not_equals":
        return text.is_distinct_from(expected)
    if op == "contains":
        return func.strpos(text, expected) > 0
    if op == "not_contains":
        return func.coalesce(func.strpos(text, expected) == 0, true())
    if op == "starts_with":
        return func.left(text, len(expected)) == expected
    if op == "ends_with":
        return func.right(text, len(expected)) == expected
    if op == "wildcard":
        return compile_wildcard(text, expected)
    raise ValueError(f"unknown operator {op!r}")
