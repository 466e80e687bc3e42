"""No speed ratio is quoted outside the benchmark pages that measure it.

A ratio such as ``1.3x`` goes stale when the code or the machine changes; only the pages that the
benchmark scripts write (``docs/benchmarks/``, each naming the machine it measured) may state
one. Code and prose link to those pages instead.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The folders searched, and what is left out of them: the benchmark pages (written by
#: benchmarks/*.py) and third-party files shipped with the site (KaTeX).
SEARCHED = ("vadkit", "docs")
LEFT_OUT = ("docs/benchmarks", "docs/vendor")

#: A ratio: a number (``2``, ``1.3``, ``.5`` is not one) immediately followed by ``x`` (or ``×``)
#: and no letter or digit. Not a ratio: ``0x1f`` (hex), ``3x3`` (a kernel), ``1x16x256x256``
#: (a shape), ``64 x 64`` (a size, with spaces), ``x/127.5``, ``conv2x`` (part of a name).
RATIO = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[x×](?!\w)", re.IGNORECASE)


def quoted_ratios(text: str) -> list[str]:
    return [m.group(0) for m in RATIO.finditer(text)]


def searched_files() -> list[Path]:
    files = []
    for folder in SEARCHED:
        for path in sorted((ROOT / folder).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if not path.is_file() or any(rel.startswith(f"{d}/") for d in LEFT_OUT):
                continue
            if "__pycache__" in path.parts:
                continue
            files.append(path)
    return files


def test_the_pattern_finds_ratios_and_nothing_else():
    assert quoted_ratios("scores about 1.3x faster") == ["1.3x"]
    assert quoted_ratios("2.3x, 1.20x and 4X; (1.5x) and 2x.") == [
        "2.3x",
        "1.20x",
        "4X",
        "1.5x",
        "2x",
    ]
    assert quoted_ratios("1.3× faster") == ["1.3×"]
    for not_a_ratio in (
        "0x1234",
        "0xFF",
        "a 3x3 kernel",
        "Conv2d(256 -> 32, 3x3)",
        "64 x 64 frames",
        "1x16x256x256",
        "x/127.5 - 1",
        "conv2x",
        "N x batch_size",
        "v1.2x3",
    ):
        assert quoted_ratios(not_a_ratio) == [], not_a_ratio


def test_the_search_covers_code_and_pages_but_not_the_benchmark_pages():
    files = {p.relative_to(ROOT).as_posix() for p in searched_files()}
    assert "vadkit/runtime/bundle.py" in files and "docs/reference/protocol.md" in files
    assert "docs/tutorials/deploy.md" in files and "vadkit/report/assets/report.js" in files
    assert not any(f.startswith("docs/benchmarks/") for f in files)


def test_no_ratio_is_quoted_outside_the_benchmark_pages():
    found = []
    for path in searched_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:  # images and fonts
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for ratio in quoted_ratios(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {ratio}")
    assert not found, (
        "A speed ratio is quoted outside docs/benchmarks/ (it goes stale when the code or the "
        "machine changes): link the benchmark page that measures it instead.\n" + "\n".join(found)
    )
