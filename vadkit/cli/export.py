"""``vadkit export``: a trained run as a bundle that scores files and streams without torch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vadkit.cli.app import app
from vadkit.cli.common import (
    JsonFlag,
    RunArg,
    WeightsOpt,
    console,
    err_console,
    fail,
    plain,
    print_json,
)
from vadkit.cli.progress import LazyBar


@app.command("export")
def export_cmd(
    run: RunArg,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="onnx (model.onnx: ONNX Runtime and OpenVINO read it) or openvino (IR).",
        ),
    ] = "onnx",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Bundle folder (default: RUN/bundle).", show_default=False),
    ] = None,
    checkpoint: Annotated[
        str, typer.Option("--checkpoint", help="'last', an epoch number, or a .safetensors path.")
    ] = "last",
    weights: WeightsOpt = None,
    calibration_data: Annotated[
        Path | None,
        typer.Option(
            "--calibration-data",
            help="Dataset root whose training split calibrates the run when it has no "
            "calibration for these weights (default: the run's data.root).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Export a run as a bundle: the network with its error measures, and bundle.json."""
    from vadkit.export import export_run

    try:
        import torch  # noqa: F401  (export traces the PyTorch model)
    except ImportError:
        fail(
            "vadkit export needs the full install (torch): this one only scores bundles.",
            hint='Export on the machine that trained the run (pip install "vadkit[deploy]").',
        )

    def announce(reason: str) -> None:
        if not (json_out or quiet):
            err_console.print(f"[yellow]Calibrating[/] the run first: {plain(reason)}.")

    bar = None if quiet or json_out else LazyBar("calibrating")
    try:
        meta = export_run(
            run,
            format=format,
            out=out,
            checkpoint=checkpoint,
            weights=weights,
            calibration_data=calibration_data,
            on_calibrating=announce,
            on_progress=bar.update if bar else None,
        )
    finally:
        if bar is not None:
            bar.stop()
    target = out if out is not None else Path(run) / "bundle"
    if json_out:
        print_json(meta | {"calibration": "(omitted)", "config": "(omitted)", "path": str(target)})
        return
    size = sum((target / name).stat().st_size for name in meta["files"])
    console.print(
        f"Exported [bold]{plain(run)}[/] ({meta['run']['checkpoint']}) -> [bold]{plain(target)}[/]: "
        f"{', '.join(meta['files'])} ({size / 1e6:.1f} MB), tasks {', '.join(meta['tasks'])}, "
        f"outputs {len(meta['outputs'])}, default runtime {meta['runtime']}."
    )
    console.print(f"Next: vadkit watch {target} VIDEO_OR_URL", markup=False)
