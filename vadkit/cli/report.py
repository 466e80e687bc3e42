"""``vadkit report``: one self-contained HTML page of a scored run, or of two side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vadkit.cli.app import app
from vadkit.cli.common import (
    AlphasOpt,
    ErrorOpt,
    JsonFlag,
    NormOpt,
    ScoreSetOpt,
    SmoothOpt,
    console,
    plain,
    print_json,
)
from vadkit.config.settings import REPORT_TOP_K


@app.command("report")
def report_cmd(
    run: Annotated[
        Path, typer.Argument(metavar="RUN", help="Scored run folder (`vadkit score RUN`).")
    ],
    run_b: Annotated[
        Path | None,
        typer.Argument(
            metavar="RUN_B", help="A second scored run, shown side by side.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="HTML file to write (default: RUN/report.html, or RUN/report-vs-RUN_B.html).",
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", help="How many of the most anomalous segments to show.")
    ] = REPORT_TOP_K,
    maps: Annotated[
        bool,
        typer.Option("--maps/--no-maps", help="Anomaly-map overlays of the segments' frames."),
    ] = True,
    scores: ScoreSetOpt = "testing",
    error: ErrorOpt = None,
    normalizer: NormOpt = None,
    smooth: SmoothOpt = None,
    alphas: AlphasOpt = None,
    json_out: JsonFlag = False,
) -> None:
    """One HTML file (no network needed to open it): metrics, protocol, curves, top segments."""
    from vadkit.report import ReportOptions, write_report

    options = ReportOptions(
        scores=scores, error=error, normalizer=normalizer, alphas=alphas, smooth=smooth, top_k=top
    )
    report = write_report(
        [run] if run_b is None else [run, run_b],
        out,
        options,
        maps=maps,
        on_stage=None if json_out else lambda text: console.print(f"[dim]{plain(text)}[/]"),
    )
    if json_out:
        print_json(
            {
                "report": str(report.path),
                "bytes": report.size,
                "runs": [str(r.run_dir) for r in report.runs],
                "segments": [len(r.segments) for r in report.runs],
                "notes": report.notes,
                "maps": report.maps,
            }
        )
        return
    for note in report.notes:
        if note:
            console.print(f"[yellow]note:[/] {plain(note)}")
    console.print(f"Report: [bold]{plain(report.path)}[/] ({report.size / 1024:.0f} KiB)")
