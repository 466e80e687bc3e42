"""``vadkit search``: grid-search the fusion weights of a run's saved scores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from vadkit.cli.app import app
from vadkit.cli.common import (
    ErrorOpt,
    JsonFlag,
    NormOpt,
    RunArg,
    ScoreSetOpt,
    SmoothOpt,
    console,
    plain,
    plain_name,
    print_json,
)
from vadkit.cli.tables import fmt_metric


@app.command("search")
def search_cmd(
    run: RunArg,
    holdout: Annotated[
        float | None,
        typer.Option(
            "--holdout",
            help="Search on this fraction of the test videos (seeded) and report on the rest. "
            "Without it the search uses the test labels: an optimistic result.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the video split.")] = 0,
    step: Annotated[
        float, typer.Option("--step", help="Grid step of each weight in [0, 1].")
    ] = 0.1,
    error: ErrorOpt = None,
    normalizer: NormOpt = None,
    smooth: SmoothOpt = None,
    scores: ScoreSetOpt = "testing",
    on: Annotated[
        str,
        typer.Option(
            "--on",
            help="'test': by the test labels (optimistic unless --holdout); 'pseudo': by the "
            "pseudo-AUROC of the held-out training videos with pseudo-anomalies, no label "
            "read; the choice is recorded in the score set (--alphas pseudo).",
            callback=plain_name,
        ),
    ] = "test",
    json_out: JsonFlag = False,
) -> None:
    """Grid-search the fusion weights by fused micro AUROC (optimistic unless --holdout), or
    without test labels by pseudo-AUROC (--on pseudo)."""
    from vadkit.evaluation.search import search_run

    result = search_run(
        run,
        name=scores,
        error=error,
        normalizer=normalizer,
        step=step,
        holdout=holdout,
        seed=seed,
        smooth=smooth,
        on=on,
    )
    if json_out:
        print_json(result)
        return
    if result["mode"] == "pseudo":
        _show_pseudo(run, scores, result)
        return
    best = result["best"]
    alphas = ",".join(f"{k}={v:g}" for k, v in best["alphas"].items())
    table = Table(title=f"Top fusion weights ({result['error']}, {result['normalizer']})")
    table.add_column("weights", style="cyan")
    table.add_column("micro AUROC (search videos)", justify="right")
    for row in result["top"][:5]:
        table.add_row(
            ", ".join(f"{k}={v:g}" for k, v in row["alphas"].items()),
            fmt_metric(row["search_micro_auroc"]),
        )
    console.print(table)
    console.print(
        f"Grid: {result['grid']['size']} weight vectors, step {result['grid']['step']:g}."
    )
    if result["optimistic"]:
        console.print(
            f"[yellow]Optimistic:[/] best weights {alphas}: micro AUROC "
            f"{fmt_metric(best['search_micro_auroc'])}, chosen on the same test labels it is reported "
            "on. Use --holdout 0.5 for an honest estimate."
        )
    else:
        console.print(
            f"Searched on {len(result['search_videos'])} video(s) "
            f"({plain(', '.join(result['search_videos']))}), reported on "
            f"{len(result['report_videos'])} other(s): best weights {alphas}: micro AUROC "
            f"{fmt_metric(best['search_micro_auroc'])} on the search videos, "
            f"[bold]{fmt_metric(best['report_micro_auroc'])}[/] on the report videos."
        )
    presets = ", ".join(
        f"{k} {fmt_metric(v)}" for k, v in result["presets_report_micro_auroc"].items()
    )
    if presets:
        console.print(f"The paper's presets on the report videos: {presets}")
    console.print(f"Use them with: vadkit evaluate {run} --alphas {alphas}", markup=False)
    console.print(f"Results: [bold]{plain(Path(run) / 'search.json')}[/]")


def _show_pseudo(run: Path, scores: str, result: dict) -> None:
    """The weights chosen by pseudo-AUROC, and how to evaluate with them."""
    best = result["best"]
    alphas = ",".join(f"{k}={v:g}" for k, v in best["alphas"].items())
    table = Table(title=f"Top fusion weights by pseudo-AUROC ({result['error']}, "
                  f"{result['normalizer']}; no test label read)")  # fmt: skip
    table.add_column("weights", style="cyan")
    table.add_column("pseudo-AUROC", justify="right")
    for row in result["top"][:5]:
        table.add_row(
            ", ".join(f"{k}={v:g}" for k, v in row["alphas"].items()),
            fmt_metric(row["pseudo_auroc"]),
        )
    console.print(table)
    presets = ", ".join(f"{k} {fmt_metric(v)}" for k, v in result["presets_pseudo_auroc"].items())
    console.print(
        f"Chosen: {alphas} (pseudo-AUROC {fmt_metric(best['pseudo_auroc'])}; the run's weights "
        f"{fmt_metric(result['default_pseudo_auroc'])}"
        + (f"; presets {presets}" if presets else "")
        + f"), on {result['windows']} windows of "
        f"{plain(', '.join(result['protocol']['held_out']))}.",
        markup=False,
    )
    name = "" if scores == "testing" else f" --scores {scores}"
    console.print(
        f"Recorded in score set '{scores}' as the preset 'pseudo': "
        f"vadkit evaluate {run}{name} --alphas pseudo",
        markup=False,
    )
