"""The distribution path is true: no statement of the sessions service updates a row's `env_id`
(the distribution column) or `anon_user_id` (what events and sessions of a user are found by)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SERVICE = Path(__file__).resolve().parents[2] / "services" / "sessions"
NEVER_UPDATED = {"env_id", "anon_user_id"}
# The SET list of an UPDATE or of an upsert's DO UPDATE, up to the clause that ends it.
SET_LIST = re.compile(r"\b(?:update\s+\w+(?:\s+(?:as\s+)?\w+)?|do\s+update)\s+set\s+(.*?)"
                      r"(?=\bwhere\b|\bfrom\b|\breturning\b|\"\"\"|\)\s*$)", re.IGNORECASE | re.DOTALL | re.MULTILINE)


def assigned(set_list: str) -> set[str]:
    """The columns a SET list assigns (items split at commas outside parentheses)."""
    items, depth, current = [], 0, ""
    for char in set_list:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return {m.group(1) for item in items if (m := re.match(r'\s*"?(\w+)"?\s*=', item))}


def test_the_pattern_reads_set_lists():
    sql = 'update events e set session_id = r.new_id, "end" = greatest(a, b) from x where e.env_id = 1'
    assert assigned(SET_LIST.search(sql).group(1)) == {"session_id", "end"}


def test_no_statement_updates_the_distribution_or_member_columns():
    found = {}
    for path in sorted(SERVICE.glob("*.py")):
        for match in SET_LIST.finditer(path.read_text()):
            found.setdefault(path.name, set()).update(assigned(match.group(1)))
    assert found, "no UPDATE statements found: the pattern no longer reads the code"
    assert {name: cols & NEVER_UPDATED for name, cols in found.items() if cols & NEVER_UPDATED} == {}
