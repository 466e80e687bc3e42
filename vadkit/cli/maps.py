"""``vadkit maps``: draw a video's anomaly maps over its frames (PNG frames and an MP4)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from vadkit.cli.app import app
from vadkit.cli.common import (
    CheckpointOpt,
    ErrorOpt,
    JsonFlag,
    NormOpt,
    RunArg,
    WeightsOpt,
    console,
    fail,
    plain,
    print_json,
)


def parse_frames(text: str | None) -> tuple[int, int] | None:
    """``"A:B"`` -> ``(A, B)`` (half-open); None stays None."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*:\s*(\d+)\s*", text)
    if match is None or int(match[1]) >= int(match[2]):
        fail(
            f"--frames {text!r} is not a frame range A:B with A < B.",
            hint="E.g. --frames 40:80 (frames 40 to 79, 0-based).",
        )
    return int(match[1]), int(match[2])


@app.command("maps")
def maps_cmd(
    run: RunArg,
    video: Annotated[
        str, typer.Argument(help="Test video name (as in the score sets) or a video file.")
    ],
    frames: Annotated[
        str | None,
        typer.Option(
            "--frames",
            help="Frames A:B to draw (half-open, 0-based). Default: every scored frame.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder for the pictures (default: RUN/maps/<video>).", show_default=False
        ),
    ] = None,
    checkpoint: CheckpointOpt = "last",
    weights: WeightsOpt = None,
    error: ErrorOpt = None,
    normalizer: NormOpt = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    json_out: JsonFlag = False,
) -> None:
    """Draw the anomaly maps of a video: each task's and the fused one over every frame (PNG),
    and the fused overlays as an MP4. Drawn inside the run (the default), they are written
    under the run's lock."""
    from vadkit.inference.framemaps import frame_maps
    from vadkit.inference.mapviews import write_map_views
    from vadkit.scoring.scoreset import safe_file_stem
    from vadkit.storage.lock import lock_runs_written

    span = parse_frames(frames)
    target = out if out is not None else Path(run) / "maps"
    with lock_runs_written(target, [run], "vadkit maps"):  # pictures inside the run: its writer
        maps = frame_maps(
            run,
            video,
            span,
            checkpoint=checkpoint,
            weights=weights,
            error=error,
            normalizer=normalizer,
            device=device,
        )
        folder = out if out is not None else Path(run) / "maps" / safe_file_stem(maps.video)
        written = write_map_views(maps, folder)
    result = {
        "video": maps.video,
        "frames": [int(maps.frames[0]), int(maps.frames[-1]) + 1],
        "tasks": list(maps.tasks),
        "folder": str(folder),
        **written,
    }
    if json_out:
        print_json(result)
        return
    count = len(maps.frames)
    console.print(
        f"Anomaly maps of [bold]{plain(maps.video)}[/], frames {result['frames'][0]}:"
        f"{result['frames'][1]} ({count} frames; tasks {', '.join(maps.tasks)} and fused)."
    )
    console.print(f"PNG frames: [bold]{plain(folder)}[/]")
    console.print(f"Video: [bold]{plain(written['mp4'])}[/]")
