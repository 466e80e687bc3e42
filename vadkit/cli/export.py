"""``vadkit export``: a trained run as a bundle that scores files and streams without torch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vadkit.cli.app import app
from vadkit.cli.common import (
    CalibrationDataOpt,
    CheckpointOpt,
    JsonFlag,
    QuietOpt,
    RunArg,
    WeightsOpt,
    console,
    err_console,
    plain,
    print_json,
)
from vadkit.cli.progress import CalibrationBar

if TYPE_CHECKING:
    from vadkit.runtime.bundlemeta import Int8Record


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
    checkpoint: CheckpointOpt = "last",
    weights: WeightsOpt = None,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="fp32: the exact graph; int8: also an int8 model (ONNX Runtime static "
            "quantization, calibrated on the run's training windows), kept for the engines "
            "whose scores rank windows like fp32's (Spearman >= score.agreement_min).",
        ),
    ] = "fp32",
    calibration_data: CalibrationDataOpt = None,
    json_out: JsonFlag = False,
    quiet: QuietOpt = False,
) -> None:
    """Export a run as a bundle: the network with its error measures, and bundle.json."""
    from vadkit.export import export_run

    bar = CalibrationBar(quiet or json_out)

    def quantizing() -> None:
        err_console.print(
            "[yellow]Quantizing[/] to int8 on training windows, then checking its scores "
            "against fp32's on others."
        )

    try:
        meta = export_run(
            run,
            format=format,
            out=out,
            checkpoint=checkpoint,
            precision=precision,
            weights=weights,
            calibration_data=calibration_data,
            on_calibrating=bar.announce,
            on_progress=bar.update,
            on_quantizing=None if json_out or quiet else quantizing,
        )
    finally:
        bar.stop()
    target = out if out is not None else Path(run) / "bundle"
    if json_out:
        record = meta.to_json()
        print_json(
            record | {"calibration": "(omitted)", "config": "(omitted)", "path": str(target)}
        )
        return
    size = sum((target / name).stat().st_size for name in meta.files)
    console.print(
        f"Exported [bold]{plain(run)}[/] ({meta.run.checkpoint}) -> [bold]{plain(target)}[/]: "
        f"{', '.join(meta.files)} ({size / 1e6:.1f} MB), tasks {', '.join(meta.tasks)}, "
        f"outputs {len(meta.outputs)}, default runtime {meta.runtime}."
    )
    if meta.int8 is not None:
        console.print(_int8_line(meta.int8))
    console.print(f"Next: vadkit watch {target} VIDEO_OR_URL", markup=False)


def _int8_line(record: Int8Record) -> str:
    """What became of the int8 model: kept for which engines, each one's rank agreement."""
    rule = record.rule
    parts = []
    for name, found in rule.runtimes.items():
        lowest = found.lowest_spearman
        value = found.why if lowest is None else f"lowest Spearman {lowest:.4f}"
        parts.append(f"{name} {'kept' if found.kept else 'not kept'} ({plain(str(value))})")
    head = "[bold]int8[/]" if record.kept else "[yellow]int8 not kept[/]"
    return (
        f"{head}: {'; '.join(parts)}; rule: Spearman >= {rule.min_spearman} on "
        f"{rule.windows} windows from {plain(rule.windows_from)}."
    )
