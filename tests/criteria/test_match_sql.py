"""Two evaluators, one truth: the SQL predicate agrees with the Python matcher on generated events."""
from __future__ import annotations

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError

from criteria.match import matches
from criteria.model import Criteria
from tests.criteria.conftest import sql_verdicts
from tests.criteria.test_selector import selectors

KINDS = ["pageview", "click", "change", "submit", "rage_click", "dead_click", "custom"]
WORDS = ["Buy", "buy now", "Sign up", "a%b", "x_y", "*", "", "Über"]
PATHS = ["/", "/pricing", "/Pricing", "/blog/2024/post", "/blog", "/a_b", "/a%b"]
DOMAINS = ["shop.example.com", "Example.com", "blog.example.org"]

nodes = st.fixed_dictionaries({
    "tag": st.sampled_from(["div", "span", "a", "DIV"]),
    "id": st.none() | st.sampled_from(["c1", "btn", "x-1", "a:b", "1a"]),
    "classes": st.lists(st.sampled_from(["c1", "c2", "btn", "Btn", "x-1", "a:b"]), max_size=3, unique=True),
    "attributes": st.dictionaries(st.sampled_from(["data-x", "href", "title", "role"]),
                                  st.sampled_from(["", "a", "ab", "b a", "x-y"]), max_size=2),
    "nth": st.none() | st.integers(1, 5),
})
events = st.fixed_dictionaries({
    "kind": st.sampled_from(KINDS),
    "name": st.none() | st.sampled_from(["Signed up", "signed up", "Checkout"]),
    "page": st.none() | st.fixed_dictionaries({"path": st.none() | st.sampled_from(PATHS),
                                               "domain": st.none() | st.sampled_from(DOMAINS)}),
    "target": st.none() | st.fixed_dictionaries({"text": st.none() | st.sampled_from(WORDS),
                                                 "hierarchy": st.lists(nodes, max_size=5)}),
    "properties": st.dictionaries(st.sampled_from(["plan", "n", "at"]),
                                  st.one_of(st.sampled_from(["pro", "Pro", "free", "10", "2024-01-01"]),
                                            st.integers(-5, 20), st.floats(-10, 10), st.booleans()),
                                  max_size=3),
})
# Few, broad compounds, so that combinators decide often (random full selectors rarely match).
simple = st.sampled_from(["div", "span", "a", "*", ".c1", ".btn", ":nth-child(2)", "[data-x]", "#btn"])
simple_selectors = st.lists(st.tuples(st.sampled_from([" ", " > "]), simple), min_size=1, max_size=3).map(
    lambda parts: "".join(c + s for c, s in parts).lstrip(" >"))
patterns = st.sampled_from(["/pricing", "/blog/*", "*", "/a_b", "/a%b", "*example.com", "shop.*", "/B*g"])
conditions = st.fixed_dictionaries({
    "property": st.sampled_from(["plan", "n", "at", "missing"]),
    "op": st.sampled_from(["equals", "not_equals", "contains", "not_contains", "starts_with", "ends_with",
                           "wildcard", "is_set", "is_not_set", "gt", "lt"]),
    "value": st.sampled_from(["pro", "P*", "1", 5, 2.5, "2023-12-31", "", "*o"]),
})
FIELDS = {
    "kind": st.sampled_from(KINDS),
    "name": st.sampled_from(["Signed up", "Checkout"]),
    "path": patterns,
    "domain": patterns,
    "text": st.fixed_dictionaries({"op": st.sampled_from(["equals", "contains", "wildcard"]),
                                   "value": st.sampled_from(WORDS + ["buy*", "*o*"])}),
    "selector": selectors() | simple_selectors | simple_selectors,
    "properties": st.lists(conditions, min_size=1, max_size=2),
}
# One or two fields each (more rarely match anything); selectors twice as likely as the rest.
criteria = st.lists(st.sampled_from([*FIELDS, "selector"]), min_size=1, max_size=2, unique=True).flatmap(
    lambda names: st.fixed_dictionaries({n: FIELDS[n] for n in names}))


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(combo=st.lists(criteria, min_size=1, max_size=2), batch=st.lists(events, min_size=15, max_size=25))
def test_sql_predicate_agrees_with_python_matcher(engine, combo, batch):
    try:
        parsed = [Criteria.model_validate(c) for c in combo]
    except ValidationError:
        return  # empty criteria or gt on a word: rejected before any evaluation
    assert sql_verdicts(engine, parsed, batch) == [matches(parsed, e) for e in batch]
