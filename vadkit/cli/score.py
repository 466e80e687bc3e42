"""``vadkit score``: score a run's test videos (or video files) and save the score set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vadkit.cli.app import app
from vadkit.cli.common import (
    PRECISION_HELP,
    CheckpointOpt,
    CriterionOpt,
    DeviceOpt,
    JsonFlag,
    QuietOpt,
    RunArg,
    WeightsOpt,
    console,
    launch_processes,
    nproc_option,
    plain,
    plain_name,
    print_json,
)
from vadkit.cli.progress import LazyBar


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
        typer.Option("--precision", help=PRECISION_HELP, show_default=False),
    ] = None,
    device: DeviceOpt = "auto",
    checkpoint: CheckpointOpt = "last",
    labels: Annotated[
        Path | None,
        typer.Option(
            "--labels",
            help="Ground-truth file or folder `vadkit evaluate` will read (recorded; score "
            "opens no label file). Default: data.labels, else found next to the data.",
            show_default=False,
        ),
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
    weights: WeightsOpt = None,
    criterion: CriterionOpt = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="Score set name (default: 'testing' for a dataset, 'videos' for files).",
            show_default=False,
            callback=plain_name,
        ),
    ] = None,
    maps: Annotated[
        bool,
        typer.Option(
            "--maps",
            help="Also store each task's anomaly map (float16, reduced size), for pixel-level "
            "metrics in evaluate (which reads the dataset's pixel masks).",
        ),
    ] = False,
    nproc: Annotated[
        int | None,
        nproc_option(
            "process i scores every N-th video from the i-th, rank 0 writes the one score set."
        ),
    ] = None,
    json_out: JsonFlag = False,
    quiet: QuietOpt = False,
) -> None:
    """Score a run's test videos (or video files): every task, every error measure, one pass.

    RUN may be a bundle written by `vadkit export`: it then scores video files (or --data)
    with ONNX Runtime or OpenVINO, without torch (--device onnxruntime|openvino|cpu|cuda).

    With --nproc N (or under torchrun) the videos are split over the processes; the score set
    is the one a single process writes."""
    from vadkit.runtime.bundle import is_bundle

    bundle = is_bundle(run)
    main = True
    if not bundle:  # a bundle's runtime imports no torch
        from vadkit.compute import distributed

        launch_processes(nproc)
        # under torchrun every process scores some videos and rank 0 writes and reports
        main = distributed.current().is_main
    # argument checks live in the engine (score_run), so Python and the CLI refuse alike
    bar = None if quiet or json_out or not main else LazyBar("scoring windows")
    try:
        if bundle:  # an exported bundle: the torch-free runtime
            from vadkit.runtime.files import score_bundle

            result = score_bundle(
                run,
                video_files=videos or (),
                data=data,
                labels=labels,
                name=name,
                frames=frames,
                batch_size=batch_size,
                device=device,
                precision=precision,
                run_options={
                    "--checkpoint": checkpoint != "last",
                    "--average-last": average_last is not None,
                    "--weights": weights is not None,
                    "--criterion": criterion is not None,
                    "--maps": maps,
                    "--nproc": nproc is not None,
                },
                on_progress=bar.update if bar else None,
            )
        else:
            from vadkit.inference.score import score_run

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
                maps=maps,
                weights=weights,
                criterion=criterion,
            )
    finally:
        if bar is not None:
            bar.stop()
    if not main:
        return
    if json_out:
        print_json(result.to_json())
        return
    rt = result.runtime
    where = "" if rt is None or rt.device is None else f" on {rt.device} ({rt.precision})"
    console.print(
        f"Scored [bold]{len(result.videos)}[/] video(s): {result.frames_scored} of "
        f"{result.total_frames} frames (frames mode [bold]{result.frames_mode}[/]), "
        f"tasks {', '.join(result.tasks)}, error measures {', '.join(result.errors)}; "
        f"{result.windows_per_second} windows/s{where}."
    )
    used = result.weights or {}
    if used.get("mode") == "auto":
        choice = used["choice"]
        measures = ", ".join(
            f"{k} pseudo-AUROC {v['pseudo']['fused']:.3f}"
            if "pseudo" in v
            else f"{k} {v['losses']['loss']:.5f}"
            for k, v in choice["candidates"].items()
        )
        console.print(
            f"Weights: [bold]{plain(choice['chosen'])}[/] ({plain(choice['criterion'])}: "
            f"{plain(measures)})"
        )
    elif used:
        console.print(f"Weights: [bold]{plain(str(used.get('checkpoint')))}[/]")
    pchoice = result.precision_choice
    if pchoice and pchoice.get("chosen") != pchoice.get("candidate"):
        console.print(
            f"[yellow]Precision:[/] fp32, not {plain(pchoice['candidate'])}: its scores rank "
            f"training windows differently (Spearman below {pchoice['min_spearman']})."
        )
    for skip in result.skipped:
        console.print(
            f"[yellow]Not scored:[/] {plain(skip.name)} ({skip.num_frames} frames, "
            f"fewer than clip_length + 1 = {(result.clip_length or 0) + 1})"
        )
    for measure, why in result.left_out_errors.items():
        console.print(f"[yellow]Error measure left out:[/] {plain(measure)} ({plain(why)})")
    set_name = str(result.name)
    console.print(f"Scores: [bold]{plain(Path(run) / 'scores' / set_name)}[/]")
    if result.source.ground_truth_at is not None:  # from a dataset: evaluate reads its labels
        console.print(
            f"Next: vadkit evaluate {run}"
            + ("" if set_name == "testing" else f" --scores {set_name}"),
            markup=False,
        )
