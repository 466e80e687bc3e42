"""``vadkit evaluate``: AUROC, EER and AP of each task and the fused score, from saved scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vadkit.cli.app import app
from vadkit.cli.common import (
    AlphasOpt,
    ErrorOpt,
    JsonFlag,
    NormOpt,
    RunArg,
    ScoreSetOpt,
    SmoothOpt,
    console,
    plain,
    print_json,
)
from vadkit.cli.tables import evaluation_table, protocol_lines

if TYPE_CHECKING:
    from vadkit.evaluation.result import Evaluation


@app.command("evaluate")
def evaluate_cmd(
    run: RunArg,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Re-read the ground truth from this dataset root.", show_default=False
        ),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="Ground-truth file or folder to use.", show_default=False),
    ] = None,
    error: ErrorOpt = None,
    normalizer: NormOpt = None,
    smooth: SmoothOpt = None,
    alphas: AlphasOpt = None,
    scores: ScoreSetOpt = "testing",
    plots: Annotated[
        bool, typer.Option("--plots/--no-plots", help="Write a PNG per video to RUN/plots/.")
    ] = True,
    json_out: JsonFlag = False,
) -> None:
    """Micro/macro AUROC, EER and AP of each task and the fused score, from saved scores."""
    from vadkit.evaluation.evaluate import evaluate_run

    result = evaluate_run(
        run,
        name=scores,
        error=error,
        normalizer=normalizer,
        alphas=alphas,
        data=data,
        labels=labels,
        plots=plots,
        smooth=smooth,
    )
    if json_out:
        print_json(result.to_json())
        return
    console.print(evaluation_table(result))
    for line in protocol_lines(result.protocol):
        console.print(f"[dim]{plain(line)}[/]")
    for line in pixel_lines(result):
        console.print(plain(line))
    console.print(f"Results: [bold]{plain(Path(run) / 'evaluation.json')}[/]")
    if result.plots:
        console.print(f"Plots: [bold]{plain(result.plots)}[/]")


def pixel_lines(result: Evaluation) -> list[str]:
    """The lines that report the pixel-level metrics (or why there are none)."""
    pixel = result.pixel
    if pixel is None:
        note = result.pixel_note
        return [f"pixel-level metrics: none ({note})"] if note else []
    f = pixel.fused
    tasks = ", ".join(f"{t} {auc:.3f}" for t, auc in pixel.tasks.items())
    h, w = pixel.size
    return [
        f"pixel-level ({pixel.error} maps at {h}x{w}): fused map pixel AUROC "
        f"{f.pixel_auroc:.3f}, RBDC {f.rbdc:.3f}, TBDC {f.tbdc:.3f}; per task pixel "
        f"AUROC: {tasks}"
    ]
