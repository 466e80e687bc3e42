"""Write a bundle: the graph, then ``bundle.json`` with checksums, swapped into place at once."""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.util
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.errors import ConfigError
from vadkit.export.target import check_target
from vadkit.runtime.bundle import BUNDLE_FILE, DEFAULT_RUNTIME, is_bundle
from vadkit.runtime.bundlemeta import (
    BundleMeta,
    Defaults,
    EngineCheck,
    ErrorInfo,
    ExportInfo,
    InputSpec,
    ModelFile,
    PluginNeed,
    RunSource,
)
from vadkit.storage.lock import run_lock

FORMATS = ("onnx", "openvino")
#: ``--precision`` of ``vadkit export``: the exact graph, or also an int8 one (vadkit.export.quantize).
EXPORT_PRECISIONS = ("fp32", "int8")
#: Largest relative difference between the bundle's and PyTorch's fp32 scores accepted at export.
PARITY_RTOL = 1e-4


#: The packages export needs per format: the ONNX writer, and the engine that checks parity.
NEEDS = {"onnx": ("onnx", "onnxruntime"), "openvino": ("onnx", "openvino")}


def require_packages(fmt: str, precision: str = "fp32") -> None:
    """Raise one clear :class:`ConfigError` when a package export ``fmt`` needs is missing
    (int8: ONNX Runtime's quantizer too)."""
    needs = list(NEEDS[fmt]) + (["onnxruntime"] if precision == "int8" else [])
    missing = [m for m in dict.fromkeys(needs) if importlib.util.find_spec(m) is None]
    if missing:
        flags = f"--format {fmt}" + (" --precision int8" if precision == "int8" else "")
        raise ConfigError(
            f"vadkit export {flags} needs the package(s) {', '.join(missing)}, "
            "which are not installed.",
            hint='pip install "vadkit[deploy]" (onnx, onnxruntime, openvino)',
        )


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest ``|a - b| / max(|a|, |b|)`` over the elements (scale floored at 1e-6)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-6)
    return float(np.max(np.abs(a - b) / scale)) if a.size else 0.0


def check_parity(graph: Any, engine: Any, windows: np.ndarray) -> dict[str, float]:
    """The largest relative difference per output between ``engine`` and the PyTorch ``graph``
    on uint8 ``windows``."""
    import torch

    with torch.inference_mode():
        ref = graph(torch.from_numpy(windows))
    got = engine.run(windows)
    return {
        name: relative_difference(r.numpy(), got[name])
        for name, r in zip(graph.outputs, ref, strict=True)
    }


def export_run(
    run_dir: str | Path,
    *,
    format: str = "onnx",
    out: str | Path | None = None,
    checkpoint: str = "last",
    precision: str = "fp32",
    weights: str | None = None,
    calibration_data: str | Path | None = None,
    on_calibrating: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    on_quantizing: Callable[[], None] | None = None,
) -> BundleMeta:
    """Export ``run_dir`` as a bundle in ``out`` (default ``RUN/bundle``), with the weights the run
    scores (``weights``, default ``score.weights``, and ``checkpoint``: resolved by
    :func:`~vadkit.inference.weights.load_scored_model`, as ``vadkit score`` resolves them).

    ``format``: ``onnx`` (``model.onnx``, read by ONNX Runtime and OpenVINO) or ``openvino``
    (OpenVINO IR ``model.xml``/``.bin``). The calibration is the run's ``calibration.json`` when
    it was made with these weights, else the run is calibrated first (as ``vadkit watch`` does, on
    ``calibration_data`` or the run's training data). ``precision="int8"`` adds an int8 model,
    kept for the engines whose scores rank windows like fp32's (:mod:`vadkit.export.quantize`;
    ``on_quantizing`` is called before that pass). Returns the ``bundle.json`` written.

    ``out`` is replaced as a whole, so it must be new, empty, or a bundle holding only what its
    export wrote (:func:`~vadkit.export.target.check_target`). The run's lock is held when the
    bundle goes inside the run folder, and the old bundle's (the lock ``vadkit score BUNDLE``
    takes) while it is replaced.
    """
    fmt = str(format).strip().lower()
    if fmt not in FORMATS:
        raise ConfigError(
            f"Export format {format!r} is not one of {', '.join(FORMATS)}.", hint="--format onnx"
        )
    prec = str(precision).strip().lower()
    if prec not in EXPORT_PRECISIONS:
        raise ConfigError(
            f"Export precision {precision!r} is not one of {', '.join(EXPORT_PRECISIONS)}.",
            hint="--precision int8 (adds an int8 model), or leave it out (fp32)",
        )
    require_packages(fmt, prec)
    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir / "bundle"
    check_target(target, run_dir)  # before anything is computed
    with contextlib.ExitStack() as locks:
        if run_dir.is_dir() and _inside(target, run_dir):
            locks.enter_context(run_lock(run_dir, "vadkit export"))
        if is_bundle(target):  # no `vadkit score` writes into it while it is replaced
            locks.enter_context(run_lock(target, "vadkit export"))
        check_target(target, run_dir)  # what it holds now, under the locks
        return _export(
            run_dir,
            target,
            fmt,
            prec,
            checkpoint=checkpoint,
            weights=weights,
            calibration_data=calibration_data,
            on_calibrating=on_calibrating,
            on_progress=on_progress,
            on_quantizing=on_quantizing,
        )


def _inside(path: Path, folder: Path) -> bool:
    return os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep)


def _export(
    run_dir: Path,
    target: Path,
    fmt: str,
    prec: str,
    *,
    checkpoint: str,
    weights: str | None,
    calibration_data: str | Path | None,
    on_calibrating: Callable[[str], None] | None,
    on_progress: Callable[[int, int], None] | None,
    on_quantizing: Callable[[], None] | None,
) -> BundleMeta:
    from vadkit._version import __version__
    from vadkit.config import Settings
    from vadkit.config.params import configured_params
    from vadkit.export.graph import INPUT_NAME, ScoringGraph
    from vadkit.export.onnx import OPSET, ExportError, declared_limits, export_onnx, export_openvino
    from vadkit.inference.scorer import applicable_errors
    from vadkit.runs.versions import versions
    from vadkit.storage.folders import MARKER, staged_folder
    from vadkit.storage.io import file_digest
    from vadkit.stream.session import open_for_stream

    opened = open_for_stream(
        run_dir,
        checkpoint=checkpoint,
        weights=weights,
        calibration_data=calibration_data,
        device="cpu",
        precision="fp32",
        on_calibrating=on_calibrating,
        on_progress=on_progress,
    )
    config, model, calibration = opened.config, opened.model, opened.calibration
    settings = Settings.from_config(dict(config))
    dset, sset = settings.data, settings.score
    height, width = dset.hw
    channels = int(model.backbone.in_channels)
    error_tasks = [t for t, task in model.task_map.items() if task.uses_error]
    shape = (channels, height, width)
    errors = applicable_errors(None, shape, params=sset.error_params) if error_tasks else {}
    limits = declared_limits(model, errors)
    if limits:
        raise ExportError(
            f"Cannot export {'; '.join(limits)}.",
            hint="Train the run without it to deploy it (docs/reference/bundle.md, 'Limits').",
        )
    graph = ScoringGraph(model, errors).eval()
    used = versions(config)
    with staged_folder(target) as staging:
        onnx_path = staging / "model.onnx"
        export_onnx(graph, onnx_path)
        models = {"onnxruntime": ModelFile("model.onnx")}
        probe = np.random.default_rng(0).integers(0, 256, (3, *graph.window_shape), dtype=np.uint8)
        parity = _parity_at_export(graph, onnx_path, probe)
        runtime, openvino = _default_runtime(graph, onnx_path, probe)
        int8 = None
        if prec == "int8":
            from vadkit.export.quantize import export_int8

            if on_quantizing is not None:
                on_quantizing()
            int8 = export_int8(staging, onnx_path, config, calibration, root=calibration_data)
        if fmt == "openvino":
            export_openvino(onnx_path, staging / "model.xml")
            onnx_path.unlink()
            models = {"openvino": ModelFile("model.xml", "model.bin")}
        files = sorted(p.name for p in staging.iterdir() if p.name != MARKER)
        meta = BundleMeta(
            created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            vadkit=__version__,
            run=RunSource(
                path=str(run_dir),
                checkpoint=opened.weights.checkpoint,
                weights=opened.weights.mode,
                weights_sha256=opened.weights.sha256,
            ),
            input=InputSpec(
                name=INPUT_NAME,
                shape=("batch", *graph.window_shape),
                dtype="uint8",
                layout="(batch, T+1, H, W, C): T+1 consecutive frames per window",
            ),
            clip_length=graph.clip_length,
            size=(height, width),
            color=dset.color,
            channels=channels,
            tasks=tuple(model.tasks),
            error_tasks=tuple(error_tasks),
            errors={
                k: ErrorInfo(
                    bool(e.higher_is_anomalous),
                    configured_params("errors", k, sset.error_params.get(k)),
                )
                for k, e in errors.items()
            },
            outputs=tuple(graph.outputs),
            defaults=Defaults(sset.error, sset.normalizer, dict(calibration.alphas)),
            calibration=calibration.to_json(),
            config=dict(config),
            models=models,
            precisions=("fp32", "int8") if int8 and int8["kept"] else ("fp32",),
            runtime=runtime,
            export=ExportInfo(
                exporter=f"torch.onnx.export (TorchScript), opset {OPSET}",
                parity_at_export=parity,
                openvino=openvino,
            ),
            plugins={
                name: PluginNeed(version, used["distributions"].get(name))
                for name, version in used["plugins"].items()
            },
            files={name: file_digest(staging / name) for name in files},
        )
        record = meta.to_json()
        if int8 is not None:
            record["int8"] = json.loads(json.dumps(int8, default=_json_default))
        # checked as the runtime will read it back (a bug here is caught before it is written)
        meta = BundleMeta.from_json(record, str(target / BUNDLE_FILE))
        with open(staging / BUNDLE_FILE, "w", encoding="utf-8") as fh:
            json.dump(meta.to_json(), fh, indent=1)
            fh.write("\n")
    return meta


def _json_default(value: Any) -> Any:
    from vadkit.scoring.scoreset import json_default

    return json_default(value)


def _default_runtime(graph: Any, onnx_path: Path, windows: np.ndarray) -> tuple[str, EngineCheck]:
    """The bundle's default runtime: :data:`DEFAULT_RUNTIME` when it is OpenVINO, installed, and
    compiles this graph with fp32 parity; else ONNX Runtime. Also what was found about OpenVINO
    (``--device openvino`` refuses a bundle whose export found it unusable, saying why)."""
    from vadkit.runtime.engines import OpenVinoEngine, installed

    if not installed("openvino"):
        return "onnxruntime", EngineCheck(checked=False, why="openvino is not installed")
    try:
        diffs = check_parity(graph, OpenVinoEngine(str(onnx_path)), windows)
    except Exception as exc:  # OpenVINO's frontend raises its own kinds
        why = " ".join(str(exc).split())
        return "onnxruntime", EngineCheck(checked=True, usable=False, why=why[-400:])
    worst = max(diffs.values())
    usable = worst <= PARITY_RTOL  # False for NaN too
    info = EngineCheck(
        checked=True,
        usable=usable,
        max_rel_diff=worst if math.isfinite(worst) else None,
        windows=int(windows.shape[0]),
        why=None
        if usable
        else f"its scores differ from PyTorch's by {worst:.2e} (relative), more than "
        f"{PARITY_RTOL:g}",
    )
    return (DEFAULT_RUNTIME if usable else "onnxruntime"), info


def _parity_at_export(graph: Any, onnx_path: Path, windows: np.ndarray) -> EngineCheck:
    """ONNX Runtime against PyTorch on a few random windows; an error beyond
    :data:`PARITY_RTOL` stops the export (a graph that would score differently)."""
    from vadkit.export.onnx import ExportError
    from vadkit.runtime.engines import OnnxRuntimeEngine, installed

    if not installed("onnxruntime"):
        return EngineCheck(checked=False, why="onnxruntime is not installed")
    diffs = check_parity(
        graph, OnnxRuntimeEngine(str(onnx_path), ["CPUExecutionProvider"]), windows
    )
    worst = max(diffs, key=lambda k: diffs[k])
    if not diffs[worst] <= PARITY_RTOL:  # NaN too
        raise ExportError(
            f"The exported graph's '{worst}' scores differ from PyTorch's by {diffs[worst]:.2e} "
            f"(relative), more than {PARITY_RTOL:g}.",
            hint="Report it with the run's config; the component behind that output does not "
            "export faithfully.",
        )
    return EngineCheck(
        checked=True, usable=True, max_rel_diff=diffs[worst], windows=int(windows.shape[0])
    )
