"""``vadkit score``, ``vadkit evaluate``, ``vadkit search`` and ``vadkit demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vadkit.cli.app import app
from vadkit.cli.common import (
    AlphasOpt,
    ErrorOpt,
    JsonFlag,
    NormOpt,
    SmoothOpt,
    console,
    fail,
    print_json,
)

RunArg = Annotated[Path, typer.Argument(help="Run folder written by `vadkit train`.")]
ScoreSetOpt = Annotated[str, typer.Option("--scores", help="Score set to use (RUN/scores/<name>).")]


class _LazyBar:
    """A rich progress bar that appears on the first update (one live display at a time)."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.progress: Progress | None = None
        self.task: Any = None

    def update(self, done: int, total: int) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn(f"[bold]{self.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            )
            self.task = self.progress.add_task(self.description, total=total)
            self.progress.start()
        self.progress.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@app.command("score")
def score_cmd(
    run: RunArg,
    videos: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Video files to score instead of a dataset (no labels).", show_default=False
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Dataset root (default: the run's data.root).", show_default=False
        ),
    ] = None,
    frames: Annotated[
        str | None,
        typer.Option(
            "--frames",
            help="'protocol': drop the first T frames of each video (the paper); 'all': score "
            "every frame (the first T get the first window's score). Default: score.frames.",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Windows per batch.", show_default=False),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option("--precision", help="auto, fp32, bf16 or fp16 (CUDA).", show_default=False),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    checkpoint: Annotated[
        str, typer.Option("--checkpoint", help="'last', an epoch number, or a .safetensors path.")
    ] = "last",
    labels: Annotated[
        Path | None,
        typer.Option("--labels", help="Ground-truth file or folder to use.", show_default=False),
    ] = None,
    average_last: Annotated[
        int | None,
        typer.Option(
            "--average-last",
            min=2,
            help="Score the average of the weights of the last K epoch checkpoints, with "
            "BatchNorm statistics re-estimated on the training windows (instead of --checkpoint).",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Score set name (default: 'testing' for a dataset, 'videos' for files).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Score a run's test videos (or video files): every task, every error measure, one pass."""
    from vadkit.engine.score import score_run

    if videos and data is not None:
        fail(
            "Give either --data ROOT or video files, not both.", hint="vadkit score RUN --data ROOT"
        )
    if videos and labels is not None:
        fail("--labels applies to a dataset, not to video files.", hint="Leave out --labels.")
    if average_last is not None and checkpoint != "last":
        fail(
            "Give either --checkpoint or --average-last, not both.",
            hint="--average-last K averages the run's last K epoch checkpoints.",
        )
    bar = None if quiet or json_out else _LazyBar("scoring windows")
    try:
        result = score_run(
            run,
            data=data,
            video_files=videos or (),
            name=name,
            frames=frames,
            batch_size=batch_size,
            precision=precision,
            device=device,
            checkpoint=checkpoint,
            labels=labels,
            on_progress=bar.update if bar else None,
            verbose=bar is not None,
            average_last=average_last,
        )
    finally:
        if bar is not None:
            bar.stop()
    if json_out:
        print_json(result)
        return
    rt = result["runtime"]
    console.print(
        f"Scored [bold]{len(result['videos'])}[/] video(s): {result['frames_scored']} of "
        f"{result['total_frames']} frames (frames mode [bold]{result['frames_mode']}[/]), "
        f"tasks {', '.join(result['tasks'])}, error measures {', '.join(result['errors'])}; "
        f"{result['windows_per_second']} windows/s on {rt['device']} ({rt['precision']})."
    )
    for skip in result.get("skipped", []):
        console.print(
            f"[yellow]Not scored:[/] {skip['name']} ({skip['num_frames']} frames, too short)"
        )
    console.print(f"Scores: [bold]{Path(run) / 'scores' / result['name']}[/]")
    if result.get("ground_truth") or result.get("anomalous_frames") is not None:
        console.print(
            f"Next: vadkit evaluate {run}"
            + ("" if result["name"] == "testing" else f" --scores {result['name']}")
        )


def evaluation_table(result: dict[str, Any], title: str = "Frame-level detection") -> Table:
    """The rich table of an evaluation: one row per task alone, then the fused score."""
    p = result["protocol"]
    table = Table(title=title)
    for col, style in (
        ("score", "bold cyan"),
        ("micro AUROC", "bold"),
        ("macro AUROC", ""),
        ("EER", ""),
        ("AP", ""),
    ):
        table.add_column(col, style=style, justify="left" if col == "score" else "right")
    for key, row in result["results"].items():
        label = "fused" if key == "fused" else f"{key} alone"
        if key != "fused" and key in p.get("error_tasks", []):
            label += f" ({p['error']})"
        macro = _fmt(row["macro_auroc"])
        if row["macro_auroc"] is not None:
            macro += f" ({row['macro_videos']})"
        table.add_row(
            label,
            _fmt(row["micro_auroc"]),
            macro,
            _fmt(row["eer"]),
            _fmt(row["average_precision"]),
            end_section=key != "fused" and list(result["results"])[-2] == key,
        )
    return table


def protocol_lines(p: dict[str, Any]) -> list[str]:
    alphas = ", ".join(f"{k}={v:g}" for k, v in p["alphas"].items())
    return [
        f"frames scored: {p['frames_scored']} of {p['total_frames']} ({p['frames_mode']} mode), "
        f"{p['anomalous_frames']} anomalous, {p['videos']} videos",
        f"error: {p['error']}   normalizer: {p['normalizer']} (per video)   weights: {alphas}",
        "temporal smoothing: "
        + (
            f"Gaussian, sigma {p['smoothing_sigma']:g} frames"
            if p.get("smoothing_sigma")
            else "none"
        ),
        f"ground truth: {p['ground_truth'] or '-'}",
        "micro AUROC: all frames pooled, thresholds common to all videos; macro AUROC: mean of "
        "per-video AUROCs over the (n) videos with both classes (optimistic)",
    ]


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
    from vadkit.engine.evaluate import evaluate_run

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
        print_json(result)
        return
    console.print(evaluation_table(result))
    for line in protocol_lines(result["protocol"]):
        console.print(f"[dim]{line}[/]")
    console.print(f"Results: [bold]{Path(run) / 'evaluation.json'}[/]")
    if result.get("plots"):
        console.print(f"Plots: [bold]{result['plots']}[/]")


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
    json_out: JsonFlag = False,
) -> None:
    """Grid-search the fusion weights by fused micro AUROC (optimistic unless --holdout)."""
    from vadkit.engine.search import search_run

    result = search_run(
        run,
        name=scores,
        error=error,
        normalizer=normalizer,
        step=step,
        holdout=holdout,
        seed=seed,
        smooth=smooth,
    )
    if json_out:
        print_json(result)
        return
    best = result["best"]
    alphas = ",".join(f"{k}={v:g}" for k, v in best["alphas"].items())
    table = Table(title=f"Top fusion weights ({result['error']}, {result['normalizer']})")
    table.add_column("weights", style="cyan")
    table.add_column("micro AUROC (search videos)", justify="right")
    for row in result["top"][:5]:
        table.add_row(
            ", ".join(f"{k}={v:g}" for k, v in row["alphas"].items()),
            _fmt(row["search_micro_auroc"]),
        )
    console.print(table)
    console.print(
        f"Grid: {result['grid']['size']} weight vectors, step {result['grid']['step']:g}."
    )
    if result["optimistic"]:
        console.print(
            f"[yellow]Optimistic:[/] best weights {alphas}: micro AUROC "
            f"{_fmt(best['search_micro_auroc'])}, chosen on the same test labels it is reported "
            "on. Use --holdout 0.5 for an honest estimate."
        )
    else:
        console.print(
            f"Searched on {len(result['search_videos'])} video(s) "
            f"({', '.join(result['search_videos'])}), reported on "
            f"{len(result['report_videos'])} other(s): best weights {alphas}: micro AUROC "
            f"{_fmt(best['search_micro_auroc'])} on the search videos, "
            f"[bold]{_fmt(best['report_micro_auroc'])}[/] on the report videos."
        )
    presets = ", ".join(f"{k} {_fmt(v)}" for k, v in result["presets_report_micro_auroc"].items())
    if presets:
        console.print(f"The paper's presets on the report videos: {presets}")
    console.print(f"Use them with: vadkit evaluate {run} --alphas {alphas}")
    console.print(f"Results: [bold]{Path(run) / 'search.json'}[/]")


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
    from vadkit.engine.demo import run_demo

    show = not json_out
    callbacks: list[Any] = []
    if show:
        from vadkit.cli.run import ProgressBar

        callbacks.append(ProgressBar())

    bar = _LazyBar("scoring windows") if show else None

    def stage(name: str) -> None:
        if bar is not None:
            bar.stop()  # the scoring bar ends when the next stage starts
        if show:
            texts = {
                "scene": "Synthetic scene (generated once into the cache)",
                "train": "Training LUSS-AE (vcr, ffp, prp) on the normal videos",
                "score": "Scoring the test videos",
                "evaluate": "Evaluating",
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
        print_json(result)
        return
    console.print(evaluation_table(result, title="vadkit demo: synthetic scene"))
    for line in protocol_lines(result["protocol"]):
        console.print(f"[dim]{line}[/]")
    t = result["timings"]
    console.print(
        f"Run folder: [bold]{result['run']}[/]   plots: [bold]{result['plots']}[/]   "
        f"({t['total_s']:.0f} s: training {t['train_s']:.0f} s, scoring {t['score_s']:.0f} s)"
    )
