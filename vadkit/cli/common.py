"""Shared pieces of the command line: consoles, option aliases, error display."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.panel import Panel

from vadkit.errors import VadkitError

console = Console()
err_console = Console(stderr=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

# Arguments and options shared by the commands that score and evaluate a run.
RunArg = Annotated[Path, typer.Argument(help="Run folder written by `vadkit train`.")]
ScoreSetOpt = Annotated[str, typer.Option("--scores", help="Score set to use (RUN/scores/<name>).")]

ErrorOpt = Annotated[
    str | None,
    typer.Option(
        "--error", help="Error measure (default: the run's score.error).", show_default=False
    ),
]
NormOpt = Annotated[
    str | None,
    typer.Option(
        "--normalizer", help="Per-video normalizer (default: the run's).", show_default=False
    ),
]
SmoothOpt = Annotated[
    float | None,
    typer.Option(
        "--smooth",
        help="Gaussian temporal smoothing of the normalised scores, sigma in frames "
        "(default: the run's score.smooth; 0 = the paper's protocol, no smoothing).",
        show_default=False,
    ),
]

AlphasOpt = Annotated[
    str | None,
    typer.Option(
        "--alphas",
        help="Fusion weights: a preset of the run's recipe (e.g. a dataset's name), 'a1,a2,a3' "
        "in task order, or 'TASK=WEIGHT,...'. Default: the run's score.alphas.",
        show_default=False,
    ),
]


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
