"""The README's results are the committed records' numbers: the side-by-side table equals what
docs/benchmarks/methods.json holds, and the sentence on label-free validation says what
docs/benchmarks/validation.json decided. A record rewritten without the README fails here."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RECORDS = ROOT / "docs" / "benchmarks"


def _table_rows() -> dict[str, list[str]]:
    """README results table: recipe -> its cells after the recipe."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        found = re.match(r"\| [^|]+ \| `([\w-]+)` \|(.*)\|$", line)
        if found:
            rows[found.group(1)] = [c.strip() for c in found.group(2).split("|")]
    return rows


def test_the_results_table_is_the_methods_record():
    record = json.loads((RECORDS / "methods.json").read_text(encoding="utf-8"))
    rows = _table_rows()
    assert set(rows) == {r["method"] for r in record["runs"]}
    for method, cells in rows.items():
        values = [r["fused_micro_auroc"] for r in record["runs"] if r["method"] == method]
        expected = [
            f"{statistics.fmean(values):.3f}",
            f"{statistics.stdev(values):.3f}",
            f"{min(values):.3f}",
            f"{record['speed']['frames_per_second'][method]:.0f}",
        ]
        assert cells == expected, f"README row of {method}: {cells}, the record says {expected}"
    seeds = {m: sum(r["method"] == m for r in record["runs"]) for m in rows}
    words = {3: "three"}
    assert all(f"{words.get(n, n)} seeds per method" in README.read_text() for n in seeds.values())


def test_the_validation_sentence_is_the_studys_verdict():
    verdict = json.loads((RECORDS / "validation.json").read_text(encoding="utf-8"))["ranks_well"]
    text = " ".join(README.read_text(encoding="utf-8").split())
    said = "does not rank runs like the test AUROC does" in text
    assert said != verdict, "README's sentence on label-free validation contradicts the record"
