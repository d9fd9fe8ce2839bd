"""A small CSS selector engine over a captured hierarchy (target node first, then its ancestors).

Supported: type and `*`, `#id`, `.class`, `[attr]`, `[attr=v]`, `[attr^=v]`, `[attr$=v]`,
`[attr*=v]`, `:nth-child(an+b | odd | even)`, the descendant (space) and child (`>`) combinators,
and `,` (OR). Anything else is a `SelectorError` naming its position. Sibling combinators are out:
a hierarchy holds no siblings. A selector *matches an event* when it matches the target or any
ancestor, the nodes above that element standing for its ancestors.

HTML rules: type selectors and attribute names are case-insensitive (attribute names are
compared lowercased, as the DOM reports them), ids, classes and attribute values are not.
`[id…]` reads the node's `id`, `[class…]` its classes joined by one space.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from criteria.conditions import text_form

Node = Mapping[str, Any]


MAX_NTH = 1_000_000  # bound of a and b in :nth-child(an+b)


class SelectorError(ValueError):
    """An unsupported or malformed selector; `position` is the 0-based offset of the problem."""

    def __init__(self, message: str, selector: str, position: int):
        super().__init__(f"{message} at position {position} of selector {selector!r}")
        self.reason, self.selector, self.position = message, selector, position


@dataclass(frozen=True)
class AttributeTest:
    name: str  # lowercased
    op: str | None  # None (presence), "=", "^=", "$=", "*="
    value: str = ""


@dataclass(frozen=True)
class Compound:
    """One element's conditions: all must hold."""

    tag: str | None = None  # lowercased; None for `*` or no type selector
    ids: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    attributes: tuple[AttributeTest, ...] = ()
    nth: tuple[tuple[int, int], ...] = ()  # (a, b) of :nth-child(an+b)


@dataclass(frozen=True)
class Complex:
    """Compounds left to right, joined by combinators: " " (descendant) or ">" (child)."""

    compounds: tuple[Compound, ...]
    combinators: tuple[str, ...]


# --- Parsing -------------------------------------------------------------------------------------

_WS = " \t\n\r\f"
_HEX = re.compile(r"[0-9a-fA-F]{1,6}")
_ANB = re.compile(r"(?:([+-]?)([0-9]*)[nN](?:\s*([+-])\s*([0-9]+))?|([+-]?[0-9]+))")


class _Parser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def fail(self, message: str, position: int | None = None):
        raise SelectorError(message, self.text, self.pos if position is None else position)

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def skip_ws(self) -> bool:
        start = self.pos
        while self.peek() and self.peek() in _WS:
            self.pos += 1
        return self.pos > start

    def _name_char(self, c: str) -> bool:
        return c != "" and (c.isascii() and (c.isalnum() or c in "-_") or ord(c) >= 0x80)

    def _escape(self) -> str:
        self.pos += 1  # the backslash
        c = self.peek()
        if c == "" or c in "\n\r\f":
            self.fail("unfinished escape", self.pos - 1)
        m = _HEX.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            if self.peek() and self.peek() in _WS:
                self.pos += 1
            code = int(m.group(), 16)
            return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        self.pos += 1
        return c

    def name(self, what: str) -> str:
        """An identifier, escapes resolved."""
        start, out = self.pos, []
        lead = 1 if self.peek() == "-" else 0
        nxt = self.peek(lead)
        if not (nxt == "\\" or nxt.isalpha() and nxt.isascii() or nxt == "_" or (lead and nxt == "-")
                or (nxt and ord(nxt) >= 0x80)):
            self.fail(f"expected {what}")
        while True:
            c = self.peek()
            if c == "\\":
                out.append(self._escape())
            elif self._name_char(c):
                out.append(c)
                self.pos += 1
            else:
                break
        if not out:
            self.fail(f"expected {what}", start)
        return "".join(out)

    def string(self) -> str:
        quote, out = self.peek(), []
        start = self.pos
        self.pos += 1
        while True:
            c = self.peek()
            if c == "":
                self.fail("unterminated string", start)
            if c == quote:
                self.pos += 1
                return "".join(out)
            if c == "\\":
                if self.peek(1) == "\n":
                    self.pos += 2
                    continue
                out.append(self._escape())
            elif c == "\n":
                self.fail("newline in string")
            else:
                out.append(c)
                self.pos += 1

    def attribute(self) -> AttributeTest:
        self.pos += 1  # [
        self.skip_ws()
        if self.peek() == "|" or (self.peek() == "*" and self.peek(1) == "|"):
            self.fail("namespaces are not supported")
        name = self.name("an attribute name").lower()
        if self.peek() == "|" and self.peek(1) != "=":
            self.fail("namespaces are not supported")
        self.skip_ws()
        if self.peek() == "]":
            self.pos += 1
            return AttributeTest(name, None)
        op_start = self.pos
        if self.peek() == "=":
            op = "="
        elif self.peek() in "^$*" and self.peek(1) == "=":
            op = self.peek() + "="
        elif self.peek() in "~|" and self.peek(1) == "=":
            self.fail(f"unsupported attribute operator '{self.peek()}='")
        else:
            self.fail("expected ']' or an attribute operator (=, ^=, $=, *=)")
        self.pos = op_start + len(op)
        self.skip_ws()
        if self.peek() in ("'", '"'):
            value = self.string()
        else:
            value = self.name("an attribute value (identifier or quoted string)")
        self.skip_ws()
        if self.peek() != "]":
            if self._name_char(self.peek()):
                self.fail("attribute flags (i, s) are not supported")
            self.fail("expected ']'")
        self.pos += 1
        return AttributeTest(name, op, value)

    def pseudo(self) -> tuple[int, int]:
        start = self.pos
        if self.peek(1) == ":":
            self.fail("pseudo-elements are not supported")
        self.pos += 1
        name = self.name("a pseudo-class name").lower()
        if name != "nth-child" or self.peek() != "(":
            self.fail(f"unsupported pseudo-class ':{name}' (only :nth-child() is supported)", start)
        self.pos += 1
        close = self.text.find(")", self.pos)
        if close < 0:
            self.fail("unclosed ':nth-child('")
        inner = self.text[self.pos:close]
        arg, arg_at = inner.strip(_WS), self.pos + len(inner) - len(inner.lstrip(_WS))
        if arg.lower() == "odd":
            a, b = 2, 1
        elif arg.lower() == "even":
            a, b = 2, 0
        else:
            m = _ANB.fullmatch(arg)
            if not m or " of " in f" {arg.lower()} ":
                self.fail("expected an+b, odd or even in :nth-child()", arg_at)
            if m.group(5) is not None:
                a, b = 0, int(m.group(5))
            else:
                digits = m.group(2)
                a = int(digits) if digits else 1
                a = -a if m.group(1) == "-" else a
                b = int(m.group(4)) if m.group(4) else 0
                b = -b if m.group(3) == "-" else b
            if abs(a) > MAX_NTH or abs(b) > MAX_NTH:
                # A 20-digit step overflowed PostgreSQL's integers (a 500); no page has that many siblings.
                self.fail(f"the step and offset of :nth-child() must be at most {MAX_NTH:,}", arg_at)
        self.pos = close + 1
        return a, b

    def compound(self) -> Compound:
        start = self.pos
        tag, ids, classes, attrs, nth = None, [], [], [], []
        c = self.peek()
        if c == "*":
            if self.peek(1) == "|":
                self.fail("namespaces are not supported")
            self.pos += 1
        elif c == "|":
            self.fail("namespaces are not supported")
        elif c == "\\" or c == "-" or c == "_" or (c.isalpha() and c.isascii()) or (c and ord(c) >= 0x80):
            tag = self.name("a type selector").lower()
            if self.peek() == "|":
                self.fail("namespaces are not supported")
        while True:
            c = self.peek()
            if c == "#":
                self.pos += 1
                ids.append(self.name("an id after '#' (an identifier: escape a leading digit)"))
            elif c == ".":
                self.pos += 1
                classes.append(self.name("a class name after '.'"))
            elif c == "[":
                attrs.append(self.attribute())
            elif c == ":":
                nth.append(self.pseudo())
            else:
                break
        if self.pos == start:
            if c in ("+", "~"):
                self.fail(f"unsupported combinator '{c}' (only descendant and '>' are supported)")
            self.fail("expected a selector" if c else "selector ends too early")
        return Compound(tag, tuple(ids), tuple(classes), tuple(attrs), tuple(nth))

    def complex(self) -> Complex:
        compounds, combinators = [self.compound()], []
        while True:
            had_ws = self.skip_ws()
            c = self.peek()
            if c in ("", ","):
                return Complex(tuple(compounds), tuple(combinators))
            if c == ">":
                self.pos += 1
                self.skip_ws()
                combinators.append(">")
            elif c in ("+", "~"):
                self.fail(f"unsupported combinator '{c}' (only descendant and '>' are supported)")
            elif had_ws:
                combinators.append(" ")
            else:
                self.fail(f"unexpected {c!r}")
            compounds.append(self.compound())

    def selector_list(self) -> tuple[Complex, ...]:
        self.skip_ws()
        if not self.text.strip(_WS):
            self.fail("empty selector", 0)
        out = [self.complex()]
        while self.peek() == ",":
            self.pos += 1
            self.skip_ws()
            out.append(self.complex())
        return tuple(out)


@lru_cache(maxsize=4096)
def parse_selector(text: str) -> tuple[Complex, ...]:
    """Parse a selector list (comma = OR); SelectorError names what is wrong and where."""
    return _Parser(text).selector_list()


# --- Matching ------------------------------------------------------------------------------------


def _classes(node: Node) -> list:
    classes = node.get("classes")
    return classes if isinstance(classes, list) else []


def attribute_value(node: Node, name: str) -> str | None:
    """The value an attribute selector sees on a node (id and class come from their own fields)."""
    if name == "id":
        value = node.get("id")
    elif name == "class":
        texts = [t for t in map(text_form, _classes(node)) if t is not None]  # as string_agg skips NULLs
        value = " ".join(texts) if texts else None
    else:
        value = (node.get("attributes") or {}).get(name)
    return value if value is None or isinstance(value, str) else text_form(value)


def nth_matches(a: int, b: int, position: Any) -> bool:
    """Whether a 1-based position is a*n+b for some n >= 0."""
    if not isinstance(position, int) or isinstance(position, bool):
        return False
    if a == 0:
        return position == b
    n, rest = divmod(position - b, a)
    return rest == 0 and n >= 0


def _attribute_ok(test: AttributeTest, node: Node) -> bool:
    value = attribute_value(node, test.name)
    if value is None:
        return False
    if test.op is None:
        return True
    if test.op == "=":
        return value == test.value
    if not test.value:  # CSS: ^=, $= and *= with an empty value match nothing
        return False
    if test.op == "^=":
        return value.startswith(test.value)
    if test.op == "$=":
        return value.endswith(test.value)
    return test.value in value


def compound_matches(compound: Compound, node: Node) -> bool:
    if compound.tag is not None and str(node.get("tag") or "").lower() != compound.tag:
        return False
    if compound.ids and any(node.get("id") != i for i in compound.ids):
        return False
    if compound.classes:
        have = _classes(node)
        if any(c not in have for c in compound.classes):
            return False
    if any(not _attribute_ok(t, node) for t in compound.attributes):
        return False
    return all(nth_matches(a, b, node.get("nth")) for a, b in compound.nth)


def _matches_from(cx: Complex, k: int, hierarchy: Sequence[Node], i: int) -> bool:
    """Whether compounds[:k+1] match with compounds[k] on hierarchy[i] (ancestors at i+1…)."""
    if not compound_matches(cx.compounds[k], hierarchy[i]):
        return False
    if k == 0:
        return True
    if cx.combinators[k - 1] == ">":
        return i + 1 < len(hierarchy) and _matches_from(cx, k - 1, hierarchy, i + 1)
    return any(_matches_from(cx, k - 1, hierarchy, j) for j in range(i + 1, len(hierarchy)))


def matches_at(selector: str | tuple[Complex, ...], hierarchy: Sequence[Node], index: int = 0) -> bool:
    """Whether the selector matches hierarchy[index] as an element (like Element.matches)."""
    complexes = parse_selector(selector) if isinstance(selector, str) else selector
    return any(_matches_from(cx, len(cx.compounds) - 1, hierarchy, index) for cx in complexes)


def matches(selector: str | tuple[Complex, ...], hierarchy: Sequence[Node]) -> bool:
    """Whether the selector matches the target or any of its ancestors."""
    complexes = parse_selector(selector) if isinstance(selector, str) else selector
    return any(
        _matches_from(cx, len(cx.compounds) - 1, hierarchy, i)
        for cx in complexes
        for i in range(len(hierarchy))
    )


def compile_matcher(selector: str) -> Callable[[Sequence[Node]], bool]:
    """A one-argument predicate over hierarchies for a selector (parsed once)."""
    complexes = parse_selector(selector)
    return lambda hierarchy: matches(complexes, hierarchy)
