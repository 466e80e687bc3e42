"""``vadkit demo``: synthetic scene, training, scoring and evaluation in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vadkit.cli.app import app
from vadkit.cli.common import JsonFlag, console, plain, print_json
from vadkit.cli.progress import LazyBar, ProgressBar
from vadkit.cli.tables import evaluation_table, protocol_lines


@app.command("demo")
def demo_cmd(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Run folder (default: runs/demo-<date-time>).", show_default=False
        ),
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller settings: under a minute, weaker detection.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Synthetic scene -> training -> scoring -> evaluation -> plots, in minutes on a CPU."""
    from vadkit.demo import run_demo

    show = not json_out
    callbacks: list[Any] = []
    if show:
        callbacks.append(ProgressBar())

    bar = LazyBar("scoring windows") if show else None

    def stage(name: str) -> None:
        if bar is not None:
            bar.stop()  # the scoring bar ends when the next stage starts
        if show:
            texts = {
                "scene": "Synthetic scene (generated once into the cache)",
                "train": "Training the synthetic scene's recipe on the normal videos",
                "score": "Scoring the test videos",
                "evaluate": "Evaluating",
                "report": "Writing the report (curves, top segments and their anomaly maps)",
            }
            console.print(f"[bold]{texts.get(name, name)}[/]")

    try:
        result = run_demo(
            out,
            quick=quick,
            callbacks=callbacks,
            on_stage=stage,
            on_score_progress=bar.update if bar else None,
        )
    finally:
        if bar is not None:
            bar.stop()
    if json_out:
        print_json(result.to_json())
        return
    console.print(evaluation_table(result.evaluation, title="vadkit demo: synthetic scene"))
    for line in protocol_lines(result.evaluation.protocol):
        console.print(f"[dim]{plain(line)}[/]")
    t = result.timings
    plots = result.evaluation.plots or result.evaluation.plots_skipped
    console.print(
        f"Run folder: [bold]{plain(result.run)}[/]   plots: [bold]{plain(plots)}[/]   "
        f"({t['total_s']:.0f} s: training {t['train_s']:.0f} s, scoring {t['score_s']:.0f} s)"
    )
    if result.report:
        console.print(f"Report: [bold]{plain(result.report)}[/] (open it in a browser)")
