"""``vadkit watch``: live anomaly scores of a video stream, with alerts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.live import Live
from rich.text import Text

from vadkit.cli.app import app
from vadkit.cli.common import (
    PRECISION_HELP,
    AlphasOpt,
    CalibrationDataOpt,
    CheckpointOpt,
    DeviceOpt,
    ErrorOpt,
    JsonFlag,
    WeightsOpt,
    console,
    err_console,
    fail,
    plain,
    plain_name,
    print_json,
)
from vadkit.cli.progress import CalibrationBar
from vadkit.config.settings import DEFAULT_QUANTILE, DEFAULT_WINDOWS
from vadkit.stream.gaps import DEFAULT_MAX_GAP

if TYPE_CHECKING:
    from vadkit.stream import Alert, Gap, WatchStats


def _options(values: list[str] | None) -> dict[str, str]:
    out = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--option {item!r} is not KEY=VALUE.", hint="E.g. --option rtsp_transport=tcp")
        out[key.strip()] = value.strip()
    return out


def _status(stats: WatchStats, threshold: float | None) -> Text:
    last = stats.last
    fused = "-" if last is None or last.fused is None else f"{last.fused:.3f}"
    thr = "" if threshold is None else f" / threshold {threshold:.3f}"
    line = Text.assemble(
        ("watching ", "bold"),
        f"frame {stats.frames}  {stats.fps:5.1f} fps  fused {fused}{thr}  ",
        (f"alerts {stats.alerts}", "bold red" if stats.alert_open else ""),
        (" (open)" if stats.alert_open else "", "bold red"),
        f"  backlog {stats.backlog}" if stats.backlog else "",
        f"  gaps {stats.gaps}" if stats.gaps else "",
    )
    return line


def _when(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f} s"


def _ending(summary: dict[str, Any]) -> str:
    """The last line of a session: how it ended, then what it did."""
    broken = summary.get("broken")
    if broken is not None:
        how = f"Source broke at frame {broken['frame']} ({plain(broken['reason'])})"
    else:
        how = "Stopped (Ctrl-C)" if summary["interrupted"] else "Stream ended"
    fps = summary["mean_fps"]
    return (
        f"{how}: {summary['frames']} frames, {summary['windows']} windows scored, "
        f"{len(summary['alerts'])} alert(s), {len(summary['gaps'])} gap(s), mean "
        f"{fps if fps is not None else '-'} fps over {summary['seconds']:.1f} s."
        + (f" Scores: [bold]{plain(summary['jsonl'])}[/]" if summary["jsonl"] else "")
    )


@app.command("watch")
def watch_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder written by `vadkit train`.")],
    source: Annotated[
        str | None,
        typer.Argument(
            help="A video file, a URL FFmpeg reads (rtsp://, http://, ...) or a capture device "
            "(with --input-format). Optional with --calibrate.",
            show_default=False,
        ),
    ] = None,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="(Re)compute RUN/calibration.json first; without SOURCE, only calibrate.",
        ),
    ] = False,
    calibration_data: CalibrationDataOpt = None,
    calibration_windows: Annotated[
        int,
        typer.Option("--calibration-windows", min=1, help="Training windows scored to calibrate."),
    ] = DEFAULT_WINDOWS,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="Alert when the fused score exceeds this (default: the --quantile percentile "
            "of the fused calibration scores).",
            show_default=False,
        ),
    ] = None,
    quantile: Annotated[
        float | None,
        typer.Option(
            "--quantile",
            help="Percentile of the fused calibration scores used as threshold "
            f"(default {DEFAULT_QUANTILE}).",
            show_default=False,
        ),
    ] = None,
    error: ErrorOpt = None,
    normalizer: Annotated[
        str | None,
        typer.Option(
            "--normalizer",
            help="Normalizer fitted on the calibration scores that rescales live scores "
            "(default: the calibration's; a new calibration: the run's score.normalizer).",
            show_default=False,
            callback=plain_name,
        ),
    ] = None,
    alphas: AlphasOpt = None,
    gap: Annotated[
        int,
        typer.Option("--gap", min=0, help="Frames below the threshold that an alert bridges."),
    ] = 0,
    max_gap: Annotated[
        int,
        typer.Option(
            "--max-gap",
            min=0,
            help="Frame intervals between two frames' timestamps beyond which the window "
            "restarts and the open alert closes (a reported gap); 0: never.",
        ),
    ] = DEFAULT_MAX_GAP,
    max_frames: Annotated[
        int | None,
        typer.Option(
            "--max-frames", min=1, help="Stop after this many frames.", show_default=False
        ),
    ] = None,
    realtime: Annotated[
        bool,
        typer.Option(
            "--realtime", help="Pace a file at its frame rate (default: as fast as possible)."
        ),
    ] = False,
    jsonl: Annotated[
        Path | None,
        typer.Option(
            "--jsonl",
            help="Append every frame's scores to this file as JSON lines (flushed as it goes).",
            show_default=False,
        ),
    ] = None,
    max_batch: Annotated[
        int,
        typer.Option(
            "--max-batch",
            min=1,
            help="Most queued windows run in one batch when the model falls behind.",
        ),
    ] = 8,
    device: DeviceOpt = "auto",
    precision: Annotated[str, typer.Option("--precision", help=PRECISION_HELP)] = "auto",
    checkpoint: CheckpointOpt = "last",
    weights: WeightsOpt = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            help="FFmpeg input format, for devices (v4l2, avfoundation, dshow) or raw streams.",
            show_default=False,
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="FFmpeg option KEY=VALUE for the source (repeatable), e.g. rtsp_transport=tcp.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0, help="Seconds to wait for a network source.")
    ] = 10.0,
    json_out: JsonFlag = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No live line or progress bar.")
    ] = False,
) -> None:
    """Score a live video stream window by window, with calibrated scores and alerts.

    RUN may be a bundle written by `vadkit export`: it scores with ONNX Runtime or OpenVINO,
    without torch, and with the calibration stored in the bundle."""
    from vadkit.data.live import FrameReader, SourceError, check_source
    from vadkit.runtime.bundle import is_bundle
    from vadkit.stream import StreamScorer, open_for_stream, run_stream

    if source is None and not calibrate:
        fail(
            "Give a SOURCE to watch, or --calibrate to only calibrate.",
            hint=f"vadkit watch {run} VIDEO_OR_URL",
        )
    av_options = _options(option)
    if source is not None:
        check_source(source, input_format)  # a wrong path fails before a long calibration
    scorer: StreamScorer
    if is_bundle(run):  # an exported bundle: the torch-free runtime, its own calibration
        from vadkit.runtime.stream import bundle_stream_scorer

        scorer = bundle_stream_scorer(
            run,
            run_options={
                "--calibrate": calibrate,
                "--calibration-data": calibration_data is not None,
                "--calibration-windows": calibration_windows != DEFAULT_WINDOWS,
                "--checkpoint": checkpoint != "last",
                "--weights": weights is not None,
            },
            device=device,
            precision=precision,
            error=error,
            alphas=alphas,
            normalizer=normalizer,
            threshold=threshold,
            quantile=quantile,
            max_batch=max_batch,
            max_gap=max_gap,
        )
    else:
        bar = CalibrationBar(quiet or json_out)
        try:
            opened = open_for_stream(
                run,
                checkpoint=checkpoint,
                weights=weights,
                recalibrate=calibrate,
                calibration_data=calibration_data,
                calibration_windows=calibration_windows,
                quantile=quantile,
                normalizer=normalizer,
                device=device,
                precision=precision,
                on_calibrating=bar.announce,
                on_progress=bar.update,
            )
        finally:
            bar.stop()
        calibration = opened.calibration
        cal_file = Path(run) / "calibration.json"
        if source is None:
            if json_out:
                print_json(calibration.to_json() | {"scores": "(omitted)"})
            else:
                console.print(
                    f"Calibrated on {calibration.windows} training windows: threshold "
                    f"{calibration.threshold:.4f} ({calibration.quantile:g}th percentile of the "
                    f"fused scores, error {calibration.error}, normalizer {calibration.normalizer}) "
                    f"-> [bold]{plain(cal_file)}[/]"
                )
            return
        scorer = StreamScorer(
            opened.scorer(error),
            opened.settings,
            error=error,
            alphas=alphas,
            calibration=calibration,
            normalizer=normalizer,
            threshold=threshold,
            quantile=quantile,
            max_batch=max_batch,
            max_gap=max_gap,
        )
    assert source is not None  # a run without SOURCE returned above; a bundle refused it
    need = scorer.clip_length + 1
    if max_frames is not None and max_frames < need:
        fail(
            f"--max-frames {max_frames} is fewer than the clip_length + 1 = {need} frames of one "
            "window.",
            hint=f"Use --max-frames {need} or more.",
        )
    reader = FrameReader(
        source,
        preprocess=scorer.preprocess,
        realtime=realtime,
        max_frames=max_frames,
        input_format=input_format,
        options=av_options,
        timeout=timeout,
        queue_size=max(64, 4 * max_batch),
    )
    info = reader.describe()
    weights = ", ".join(f"{k}={v:g}" for k, v in scorer.alphas.items())
    rate = f" @ {info['rate']:.2f} fps" if info["rate"] else ""
    if not json_out:
        err_console.print(
            f"Watching [bold]{plain(source)}[/] ({plain(info['codec'])} "
            f"{info['width']}x{info['height']}{rate}) with {plain(run)}: error {scorer.error}, normalizer {scorer.normalizer}, weights {weights}, "
            f"threshold {scorer.threshold:.4f}{' (given)' if threshold is not None else ''}. "
            "Ctrl-C stops."
        )

    def on_alert(alert: Alert) -> None:
        if json_out:
            return
        console.print(
            f"[bold red]ALERT[/] frames {alert.start_frame}-{alert.end_frame} "
            f"({alert.frames} frames), peak {alert.peak_score:.3f} at frame {alert.peak_frame}, "
            f"stream time {_when(alert.start_time)} - {_when(alert.end_time)}, "
            f"opened {alert.opened_at}"
        )

    def on_gap(hole: Gap) -> None:
        if json_out:
            return
        missing = hole.missing_frames
        size = "time went back" if hole.seconds < 0 else f"about {missing} frame(s) missing"
        console.print(
            f"[yellow]GAP[/] before frame {hole.frame}: stream time {_when(hole.previous_time)} "
            f"-> {_when(hole.time)} ({size}); the window restarts"
        )

    live = None
    if not (quiet or json_out) and err_console.is_terminal:
        live = Live(
            Text("waiting for frames ...", style="dim"),
            console=err_console,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=True,
            redirect_stderr=False,
        )

    def on_tick(stats: WatchStats) -> None:
        if live is not None:
            live.update(_status(stats, scorer.threshold))

    if live is not None:
        live.start()
    broken: SourceError | None = None
    try:
        summary = run_stream(
            scorer,
            reader,
            jsonl=jsonl,
            gap=gap,
            on_alert=on_alert,
            on_gap=on_gap,
            on_tick=on_tick,
        )
    except SourceError as exc:
        if exc.summary is None:
            raise
        broken, summary = exc, exc.summary
    finally:
        if live is not None:
            live.stop()
    if json_out:
        print_json(summary)
    else:
        console.print(_ending(summary))
    if broken is not None:
        raise broken  # one message and exit code 2, as `vadkit score` gives for the same file
