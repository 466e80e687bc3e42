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
    runs: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUN...",
            help="Scored run folders (`vadkit score RUN`): one; two, shown side by side; or "
            "more (e.g. the seeds of a recipe), summarised by group over runs.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="HTML file to write (default: RUN/report.html; RUN/report-vs-RUN_B.html for "
            "two; report-of-N-runs.html in the folder holding them for more).",
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
    """One HTML file (no network needed to open it): metrics, protocol, curves, top segments;
    with several runs, micro and macro AUROC over runs (mean, std, 95% interval) by group, and
    each recipe's paper claims beside what was measured here."""
    from vadkit.report import ReportOptions, write_report

    options = ReportOptions(
        scores=scores, error=error, normalizer=normalizer, alphas=alphas, smooth=smooth, top_k=top
    )
    report = write_report(
        runs,
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
                "groups": [g.as_dict() for g in report.groups],
                "claims": [c.as_dict() for c in report.claims],
            }
        )
        return
    for note in report.notes:
        if note:
            console.print(f"[yellow]note:[/] {plain(note)}")
    if len(report.runs) > 1:
        for i, group in enumerate(report.groups, start=1):
            s = group.spread("fused", "micro_auroc")
            if s.mean is None:
                continue
            value = f"{s.mean:.4f}" + ("" if s.std is None else f" ± {s.std:.4f}")
            console.print(
                f"Group {i} ({plain(group.label)}): fused micro AUROC {value} over "
                f"{len(group.runs)} run(s)"
            )
    console.print(f"Report: [bold]{plain(report.path)}[/] ({report.size / 1024:.0f} KiB)")
