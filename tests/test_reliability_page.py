"""docs/reference/reliability.md names tests that exist: the page cannot drift from the suite."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reference" / "reliability.md"
NODE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _cases() -> list[tuple[str, str]]:
    rows = [line for line in PAGE.read_text(encoding="utf-8").splitlines() if line.startswith("|")]
    return [m.groups() for line in rows for m in [NODE.search(line)] if m]


def _missing(cases: list[tuple[str, str]]) -> list[str]:
    missing = []
    for path, name in cases:
        file = ROOT / path
        tree = ast.parse(file.read_text(encoding="utf-8")) if file.is_file() else ast.Module()
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if name not in defined:
            missing.append(f"{path}::{name}")
    return missing


def test_every_case_names_a_test_that_exists() -> None:
    cases = _cases()
    assert len(cases) >= 30, f"the reliability page lists {len(cases)} cases"
    missing = _missing(cases)
    assert not missing, "the reliability page names tests that do not exist: " + ", ".join(missing)


def test_the_check_sees_a_missing_test_or_file() -> None:
    assert _missing([("tests/test_reliability_page.py", "test_absent")]) == [
        "tests/test_reliability_page.py::test_absent"
    ]
    assert _missing([("tests/test_nothing.py", "test_x")]) == ["tests/test_nothing.py::test_x"]
    assert _missing([("tests/test_reliability_page.py", "_missing")]) == []
