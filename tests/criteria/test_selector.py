"""The CSS selector engine: parse errors name the position; matching agrees with soupsieve."""
from __future__ import annotations

import pytest
import soupsieve as sv
from bs4 import BeautifulSoup
from hypothesis import assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from criteria.selector import SelectorError, matches, matches_at, parse_selector

pytestmark = pytest.mark.unit

BUTTON = [
    {"tag": "button", "id": "buy", "classes": ["btn", "btn-primary"], "attributes": {"data-track": "buy-now"},
     "nth": 2},
    {"tag": "form", "id": "checkout", "classes": [], "attributes": {"action": "/pay"}, "nth": 1},
    {"tag": "BODY", "nth": 2},
    {"tag": "html", "nth": 1},
]


@pytest.mark.parametrize("selector, hit", [
    ("button", True), ("BUTTON", True), ("body", True), ("*", True), ("a", False),
    ("#buy", True), ("#Buy", False), (".btn.btn-primary", True), (".btn-secondary", False),
    ("[data-track]", True), ("[data-track=buy-now]", True), ('[data-track="buy"]', False),
    ("[data-track^=buy]", True), ("[data-track$=now]", True), ("[data-track*='y-n']", True),
    ("[data-track^='']", False), ("[DATA-TRACK]", True), ("[class='btn btn-primary']", True),
    ("[id=checkout]", True), ("[action$='/pay']", True),
    ("form > button", True), ("html > button", False), ("html button", True), ("html > body form", True),
    ("button > form", False), ("form#checkout > #buy.btn", True),
    (":nth-child(2)", True), ("button:nth-child(1)", False), ("button:nth-child(even)", True),
    ("form:nth-child(odd)", True), ("button:nth-child(-n+2)", True), ("button:nth-child(3n+2)", True),
    ("a, span", False), ("a, #checkout", True), ("#checkout > body", False),
    (r"#\62 uy", True), (r".btn\-primary", True),
])
def test_matches_target_or_any_ancestor(selector, hit):
    assert matches(selector, BUTTON) is hit


def test_matches_at_is_element_matching():
    assert matches_at("form", BUTTON, 1) and not matches_at("form", BUTTON, 0)
    assert matches_at("html > body > form", BUTTON, 1)


@pytest.mark.parametrize("selector, position, reason", [
    ("a + b", 2, "unsupported combinator '+'"),
    ("ul ~ li", 3, "unsupported combinator '~'"),
    ("a:hover", 1, "unsupported pseudo-class ':hover'"),
    ("li:nth-child(2n+)", 13, "expected an+b"),
    ("a::before", 1, "pseudo-elements are not supported"),
    ("[href~=x]", 5, "unsupported attribute operator '~='"),
    ("[href=x i]", 8, "attribute flags"),
    ("[href", 5, "expected ']'"),
    ("a[", 2, "expected an attribute name"),
    ("#", 1, "expected an id"),
    ("div > ", 6, "selector ends too early"),
    ("a,,b", 2, "expected a selector"),
    ("  ", 0, "empty selector"),
    ("a 'x'", 2, "expected a selector"),
    ("svg|rect", 3, "namespaces"),
    ("[title='x]", 7, "unterminated string"),
])
def test_errors_name_the_position(selector, position, reason):
    with pytest.raises(SelectorError) as info:
        parse_selector(selector)
    assert info.value.position == position and reason in str(info.value)
    assert f"at position {position}" in str(info.value)


# --- Differential against soupsieve -------------------------------------------------------------

TAGS = ["div", "span", "a", "p", "li", "section"]
NAMES = ["c1", "c2", "btn", "Btn", "x-1", "a:b", "1a"]  # a:b and 1a need escapes in a selector
ATTRS = ["data-x", "href", "title", "role"]
VALUES = ["", "a", "ab", "b a", "x-y", "A"]

elements = st.recursive(
    st.builds(lambda tag, id_, classes, attrs: (tag, id_, classes, attrs, []),
              st.sampled_from(TAGS), st.none() | st.sampled_from(NAMES),
              st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
              st.dictionaries(st.sampled_from(ATTRS), st.sampled_from(VALUES), max_size=2)),
    lambda children: st.builds(lambda el, kids: (*el[:4], kids),
                               children, st.lists(children, min_size=1, max_size=3)),
    max_leaves=12,
)


def to_html(element) -> str:
    tag, id_, classes, attrs, children = element
    parts = [tag]
    if id_ is not None:
        parts.append(f'id="{id_}"')
    if classes:
        parts.append(f'class="{" ".join(classes)}"')
    parts += [f'{k}="{v}"' for k, v in attrs.items()]
    return f"<{' '.join(parts)}>{''.join(map(to_html, children))}</{tag}>"


def hierarchy_of(el) -> list[dict]:
    """What the SDK captures: the element, then its ancestors, each with its position among siblings."""
    out = []
    while el is not None and el.name != "[document]":
        siblings = [s for s in el.parent.children if getattr(s, "name", None)]
        attrs = {k: v for k, v in el.attrs.items() if k not in ("id", "class")}
        out.append({"tag": el.name, "id": el.get("id"), "classes": list(el.get("class", [])),
                    "attributes": attrs, "nth": next(i for i, s in enumerate(siblings, 1) if s is el)})
        el = el.parent
    return out


def ident(draw, name: str) -> str:
    return sv.escape(name) if draw(st.booleans()) or not name[0].isalpha() or ":" in name else name


@st.composite
def compounds(draw) -> str:
    out = draw(st.sampled_from(["", "", "*", *TAGS, "DIV", "Span"]))
    for _ in range(draw(st.integers(0 if out else 1, 3))):
        kind = draw(st.sampled_from(["id", "class", "attr", "attr", "nth"]))
        if kind == "id":
            out += "#" + ident(draw, draw(st.sampled_from(NAMES)))
        elif kind == "class":
            out += "." + ident(draw, draw(st.sampled_from(NAMES)))
        elif kind == "attr":
            name = draw(st.sampled_from([*ATTRS, "id", "class", "DATA-X"]))
            op = draw(st.sampled_from(["", "=", "^=", "$=", "*="]))
            value = draw(st.sampled_from(VALUES + NAMES))
            quoted = draw(st.sampled_from(['"', "'"]))
            out += f"[{name}]" if not op else f"[{name}{op}{quoted}{value}{quoted}]"
        else:
            out += ":nth-child({})".format(draw(st.sampled_from(
                ["1", "2", "3", "odd", "even", "2n+1", "-n+2", "n", "3n", "0n+1", "-2n+3", "2n-1", "+3"])))
    return out


@st.composite
def selectors(draw) -> str:
    def complex_() -> str:
        out = draw(compounds())
        for _ in range(draw(st.integers(0, 2))):
            out += draw(st.sampled_from([" ", " > ", ">"])) + draw(compounds())
        return out
    return ", ".join(complex_() for _ in range(draw(st.integers(1, 2))))


@hsettings(max_examples=400, deadline=None)
@given(root=elements, chosen=st.lists(selectors(), min_size=5, max_size=5))
def test_agrees_with_soupsieve(root, chosen):
    soup = BeautifulSoup(to_html(root), "html.parser")
    nodes = soup.find_all(True)
    for selector in chosen:
        compiled = sv.compile(selector)
        for el in nodes:
            hierarchy = hierarchy_of(el)
            assert matches_at(selector, hierarchy) == compiled.match(el), (selector, str(soup), hierarchy)
            chain = [el, *el.parents][:-1]
            assert matches(selector, hierarchy) == any(compiled.match(x) for x in chain), selector


FIXED_DOM = BeautifulSoup(
    '<div id="app" class="c1"><ul class="btn x-1"><li data-x="a" class="c2">'
    '<a href="ab" id="1a" class="a:b Btn">x</a><span title="b a"></span></li><li></li></ul></div>',
    "html.parser")


@hsettings(max_examples=1500, deadline=None)
@given(text=st.text(st.sampled_from(list("adiv.#[]=^$*:()>+~, '\"\\-1n2c|xa_")), max_size=14))
def test_any_input_is_parsed_or_rejected_with_a_position(text):
    """Fuzzed input: accepted only when soupsieve accepts it too (and then matches alike)."""
    try:
        parse_selector(text)
    except SelectorError as exc:
        assert 0 <= exc.position <= len(text)
        return
    # soupsieve reads an escaped `\*` as the universal selector; CSS says it is a type named "*".
    assume("\\*" not in text)
    compiled = sv.compile(text)  # raises if we accepted what a real engine rejects
    for el in FIXED_DOM.find_all(True):
        assert matches_at(text, hierarchy_of(el)) == compiled.match(el), text


@pytest.mark.parametrize("text", ["li:nth-child(12345678901234567890n+1)", "li:nth-child(2n+99999999999)",
                                  "li:nth-child(-1000001n)"])
def test_nth_child_steps_and_offsets_are_bounded(text):
    with pytest.raises(SelectorError, match="at most"):
        parse_selector(text)
