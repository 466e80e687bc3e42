"""Write the generated reference pages under ``docs/reference/generated/``.

    python -m docs_src.generate            # write the pages that changed
    python -m docs_src.generate --check    # exit 1, naming them, when a page is out of date

The pages are committed, so that a reader of the repository sees them on GitHub without building
the site; ``tests/test_docs_generated.py`` regenerates them in memory and fails when a committed
page differs. Each page is generated from the code, the one source of its facts: the component
contracts from their source (:mod:`docs_src.contracts_reference`), the config keys from the
settings dataclasses (:mod:`docs_src.config_reference`), the commands from the Typer application
(:mod:`docs_src.cli_reference`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from docs_src import cli_reference, config_reference, contracts_reference

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "docs" / "reference" / "generated"
#: The command that rewrites the pages (what a failing check tells to run).
COMMAND = "python -m docs_src.generate"

#: Each page, by file name, and the function that writes it.
PAGES: dict[str, Callable[[], str]] = {
    "contracts.md": contracts_reference.page,
    "config-keys.md": config_reference.page,
    "cli-commands.md": cli_reference.page,
}


def render() -> dict[Path, str]:
    """Every page's path and text, generated now."""
    return {FOLDER / name: make() for name, make in PAGES.items()}


def stale(pages: dict[Path, str] | None = None) -> list[Path]:
    """The pages whose committed file differs from what the code generates (or is missing)."""
    pages = render() if pages is None else pages
    return [
        path
        for path, text in pages.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a page is out of date"
    )
    args = parser.parse_args(argv)
    pages = render()
    changed = stale(pages)
    if args.check:
        for path in changed:
            print(f"out of date: {path.relative_to(ROOT)} (run: {COMMAND})", file=sys.stderr)
        return 1 if changed else 0
    from vadkit.storage.io import write_text

    FOLDER.mkdir(parents=True, exist_ok=True)
    for path in changed:
        write_text(path, pages[path])
        print(f"written: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
