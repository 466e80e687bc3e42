"""Shared pieces of the command line: consoles, option aliases, error display."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.panel import Panel

from vadkit.errors import VadkitError

console = Console()
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def parse_csv(value: str | None) -> list[str]:
    """``"vcr, ffp,prp"`` -> ``["vcr", "ffp", "prp"]``."""
    if not value:
        return []
    return [p.strip() for p in value.split(",") if p.strip()]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def show_error(exc: VadkitError) -> None:
    body = exc.message if not exc.hint else f"{exc.message}\n[dim]{exc.hint}[/dim]"
    err_console.print(Panel(body, title="vadkit: error", title_align="left", border_style="red"))


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Stop a command with a usage error (exit code 2)."""
    raise VadkitError(message, hint=hint)
