"""The repository is self-contained: every link of its docs resolves, and nothing points outside it."""
from __future__ import annotations

import pathlib
import re
import subprocess

import pytest

pytestmark = pytest.mark.unit

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Documents and places that exist only on some developer's machine (bracketed letters: this
# pattern must not match its own source).
OUTSIDE = re.compile(r"DESIGN\.md|engineering\.md|heap[-]rules|(?<![\w/.])/wor[k]/|\bits issue\b|\(issue \d+\)")


def _tracked(*patterns: str) -> list[pathlib.Path]:
    listed = subprocess.run(["git", "ls-files", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in listed.stdout.splitlines() if (ROOT / line).is_file()]


def _markdown() -> list[pathlib.Path]:
    return [p for p in _tracked("*.md") if "node_modules" not in p.parts]


def test_every_relative_link_of_the_docs_resolves():
    broken = []
    for doc in _markdown():
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:|#", target):
                continue
            path = (doc.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{doc.relative_to(ROOT)} → {target}")
    assert not broken, broken


def test_the_semantic_rules_code_cites_exist():
    rules = set(re.findall(r"\*\*(R\d+)\*\*", (ROOT / "docs" / "semantics.md").read_text()))
    cited = set()
    for path in _tracked("*.py", "*.ts", "*.js", "*.jsx"):
        if "docs/semantics.md" in (text := path.read_text(errors="replace")):
            cited |= {f"R{n}" for span in re.findall(r"R\d+(?:\s*[-–]\s*R?\d+)?", text)
                      for n in _expand(span)}
    assert cited and cited <= rules, sorted(cited - rules)


def _expand(span: str) -> range:
    numbers = [int(n) for n in re.findall(r"\d+", span)]
    return range(numbers[0], numbers[-1] + 1)


def test_nothing_points_outside_the_repository():
    offenders = []
    for path in _tracked():
        if path.suffix in (".png", ".lock", ".gz", ".mmdb") or path.name == "package-lock.json":
            continue
        if path == pathlib.Path(__file__):
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, offenders
