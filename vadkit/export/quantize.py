"""int8 bundles: the network's layers quantized by ONNX Runtime, kept only where they rank windows
as fp32 does.

``vadkit export RUN --precision int8`` adds ``model_int8.onnx`` to the bundle: ONNX Runtime's
static quantization (:func:`onnxruntime.quantization.quantize_static`) in QDQ format, int8
weights per output channel and int8 activations, whose ranges are calibrated (min-max) on the
run's training windows. Only the convolutions with learned weights are quantized (3-D ones
included), where the work is. The rest stays fp32: the error measures (they compare the
network's outputs as in the fp32 graph; their fixed kernels are not learned weights), the
transposed convolutions (ONNX Runtime's CPU has no int8 kernel for them, so quantizing them would
add error and no speed) and the dense layers (little work; quantizing a classifier's logits
coarsened its probability until it no longer ranked windows, on a tiny model).

The rule, fixed before any result and reading no label: the int8 model is kept for an engine
(ONNX Runtime; OpenVINO, which reads the QDQ model and runs its quantized layers in int8) only
when, on windows it was not calibrated on (the run's held-out validation videos when it has some,
else the training windows between the calibration ones), Spearman's rank correlation of its
per-window scores with the fp32 graph's is at least ``score.agreement_min`` for every task's
default score and for the fused calibrated score: the rule of ``score.precision = "auto"``,
:func:`vadkit.inference.validation.rank_agreement`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.config import Config, Settings
from vadkit.errors import DataError
from vadkit.runtime.engines import Engine, OnnxRuntimeEngine, OpenVinoEngine, installed
from vadkit.runtime.scorer import EngineScorer
from vadkit.scoring.core import (
    VideoLike,
    Window,
    picked_scores,
    picked_windows,
    select_windows,
)
from vadkit.stream.calibration import Calibration

#: The int8 model's file in a bundle.
INT8_FILE = "model_int8.onnx"
#: Operators quantized when their weights are learned (stored in the graph): convolutions.
QUANTIZED_OPS = ("Conv",)
#: What the rule compares, recorded in ``bundle.json``.
INT8_CRITERION = (
    "Spearman rank agreement of per-window scores (each task's default score and the fused "
    "calibrated score) with the fp32 graph's, on windows not used to calibrate"
)
#: The name of the fused stream in the rule's record.
FUSED = "fused"


def learned_layers(onnx_path: Path) -> list[str]:
    """The nodes of :data:`QUANTIZED_OPS` whose weights are stored in the graph (the network's
    layers; an error measure's fixed kernels are computed, not stored)."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    stored = {init.name for init in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type in QUANTIZED_OPS and len(node.input) > 1 and node.input[1] in stored
    ]


@contextlib.contextmanager
def _quiet_logging() -> Iterator[None]:
    """ONNX Runtime's quantizer warns through the root logger (advice on pre-processing)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def quantize_int8(
    onnx_path: Path, out_path: Path, calibration: Callable[[], Iterator[np.ndarray]]
) -> dict[str, Any]:
    """Write the int8 QDQ model of ``onnx_path`` to ``out_path``, its activation ranges
    calibrated on the uint8 window batches ``calibration()`` yields; returns what was done."""
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from vadkit.export.graph import INPUT_NAME

    class _Windows(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = calibration()
            self.windows = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            if batch is None:
                return None
            self.windows += len(batch)
            return {INPUT_NAME: batch}

    nodes = learned_layers(onnx_path)
    reader = _Windows()
    # calibrate_method left at ONNX Runtime's default: each activation's min and max
    with _quiet_logging():
        quantize_static(
            str(onnx_path),
            str(out_path),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_quantize=nodes,
        )
    return {
        "tool": f"onnxruntime.quantization.quantize_static (onnxruntime {onnxruntime.__version__})",
        "format": "QDQ",
        "weights": "int8, symmetric, per output channel",
        "activations": "int8",
        "calibration_method": "min-max (ONNX Runtime's default)",
        "calibration_windows": reader.windows,
        "quantized_layers": nodes,
        "left_fp32": "the error measures, the transposed convolutions and the dense layers",
    }


def rule_streams(
    outputs: Mapping[str, np.ndarray], calibration: Calibration, error: str
) -> dict[str, np.ndarray]:
    """The streams the rule compares: each task's default score (``error`` for the tasks that
    compare frames) and the fused score, rescaled by the calibration's normalizers and weighted
    by its fusion weights (what ``vadkit watch`` alerts on)."""
    keys = calibration.keys_for(error)
    streams = {f"{task}/{key}": np.asarray(outputs[f"{task}/{key}"]) for task, key in keys.items()}
    streams[FUSED] = np.sum(
        [
            weight
            * np.asarray(
                calibration.fitted(task, keys[task]).transform(streams[f"{task}/{keys[task]}"]),
                np.float64,
            )
            for task, weight in calibration.alphas.items()
        ],
        axis=0,
    )
    return streams


def rule_windows(
    config: Config, root: str | Path | None, count: int
) -> tuple[Sequence[VideoLike], list[Window], Sequence[VideoLike], list[Window], str]:
    """``(calibration videos, their windows, rule videos, their windows, where the rule's are
    from)``: up to ``count`` windows each, spread evenly over stride-1 windows. The rule's are
    the held-out validation videos' when the run has some, else every other training window
    (the calibration takes the others)."""
    from vadkit.data.split import training_videos

    t = Settings.from_config(config).data.clip_length
    trained, held = training_videos(config, root=root)

    def picks(videos: Sequence[VideoLike], n: int) -> list[Window]:
        return select_windows([int(v.num_frames) for v in videos], t, n)

    if held:
        calib, rule = (trained, picks(trained, count)), (held, picks(held, count))
        source = "the held-out validation videos (data.val_videos)"
    else:
        both = picks(trained, 2 * count)
        calib, rule = (trained, both[0::2]), (trained, both[1::2])
        source = "training windows between the calibration windows"
    if not calib[1] or not rule[1]:
        raise DataError(
            f"The run's training videos have too few windows of clip_length + 1 = {t + 1} frames "
            "to calibrate and check an int8 model.",
            hint="Export fp32 (leave out --precision), or pass --calibration-data ROOT with "
            "longer normal videos.",
        )
    return calib[0], calib[1], rule[0], rule[1], source


def int8_engines(int8_path: Path) -> dict[str, Engine | str]:
    """Each engine that runs the int8 model, or why it cannot (OpenVINO missing or refusing)."""
    out: dict[str, Engine | str] = {
        "onnxruntime": OnnxRuntimeEngine(str(int8_path), ["CPUExecutionProvider"], precision="int8")
    }
    if not installed("openvino"):
        out["openvino"] = "openvino is not installed"
        return out
    try:
        out["openvino"] = OpenVinoEngine(str(int8_path), precision="int8")
    except Exception as exc:  # OpenVINO's frontend raises its own kinds
        out["openvino"] = " ".join(str(exc).split())[-400:]
    return out


def int8_calibration(
    outputs: Mapping[str, np.ndarray], fp32: Calibration, runtime: str, source: str
) -> Calibration:
    """The calibration ``watch`` uses with an int8 engine: its own scores of the rule's windows
    (normal windows, as the fp32 calibration's), with the fp32 calibration's normalizer, error
    measure, fusion weights and percentile; so its normalizers and alert threshold fit int8's
    scores rather than fp32's."""
    scores: dict[str, dict[str, np.ndarray]] = {}
    for name, values in outputs.items():
        task, _, key = name.partition("/")
        scores.setdefault(task, {})[key] = values
    meta = {
        "made": f"int8 scores ({runtime}) of the windows the int8 rule compares",
        "data": {"windows_used": len(next(iter(outputs.values()))), "selection": source},
        "runtime": runtime,
        "precision": "int8",
    }
    return Calibration(
        scores=scores,
        error=fp32.error,
        alphas=dict(fp32.alphas),
        quantile=fp32.quantile,
        meta=meta,
        normalizer=fp32.normalizer,
        normalizer_params=fp32.normalizer_params,
    )


def export_int8(
    staging: Path,
    onnx_path: Path,
    config: Config,
    calibration: Calibration,
    *,
    root: str | Path | None = None,
) -> dict[str, Any]:
    """Quantize ``onnx_path`` into ``staging`` (:data:`INT8_FILE`) and apply the rule; the file is
    removed again when no engine keeps it. Returns the ``int8`` record of ``bundle.json``."""
    from vadkit.inference.validation import rank_agreement

    settings = Settings.from_config(config)
    t, sset = settings.data.clip_length, settings.score
    bs = int(sset.batch_size)
    cal_videos, cal_picks, rule_videos, rule_picks, source = rule_windows(
        config, root, sset.agreement_windows
    )
    int8_path = staging / INT8_FILE
    quantization = quantize_int8(
        onnx_path, int8_path, lambda: picked_windows(cal_videos, cal_picks, t, bs)
    )
    reference = OnnxRuntimeEngine(str(onnx_path), ["CPUExecutionProvider"])
    engines = int8_engines(int8_path)
    runnable = {"fp32": reference, **{k: e for k, e in engines.items() if not isinstance(e, str)}}
    frame_shape = rule_videos[0].frames(np.arange(1)).shape[1:]
    outputs = {
        name: {
            str(k): v
            for k, v in picked_scores(
                EngineScorer(engine, t, frame_shape), rule_videos, rule_picks, bs
            ).streams.items()
        }
        for name, engine in runnable.items()
    }
    scores = {name: rule_streams(outs, calibration, sset.error) for name, outs in outputs.items()}
    runtimes: dict[str, dict[str, Any]] = {}
    for name, made in engines.items():
        if isinstance(made, str):
            runtimes[name] = {"kept": False, "why": made}
            continue
        kept, agreement = rank_agreement(scores["fp32"], scores[name], sset.agreement_min)
        found = [v for a in agreement.values() if (v := a["spearman"]) is not None]
        lowest = min(found) if found else None
        runtimes[name] = {"kept": kept, "lowest_spearman": lowest, "agreement": agreement}
    kept_by = [name for name, r in runtimes.items() if r["kept"]]
    if not kept_by:
        int8_path.unlink()
    return {
        "file": INT8_FILE if kept_by else None,
        "kept": kept_by,
        "calibrations": {
            name: int8_calibration(outputs[name], calibration, name, source).to_json()
            for name in kept_by
        },
        "quantization": quantization,
        "rule": {
            "criterion": INT8_CRITERION,
            "min_spearman": sset.agreement_min,
            "error": sset.error,
            "windows": len(rule_picks),
            "windows_from": source,
            "runtimes": runtimes,
        },
    }
