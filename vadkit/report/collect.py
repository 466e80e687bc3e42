"""What a report shows of one run: its provenance, its evaluation, its score streams and segments.

Nothing is recomputed here: the metrics are :func:`vadkit.evaluation.evaluate.evaluate_scores`'s and
the streams :func:`vadkit.evaluation.evaluate.compute_streams`'s, with the evaluation's protocol (the
same curves ``vadkit evaluate`` plots). The run folder is only read.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.config.settings import REPORT_SEGMENT_GAP, REPORT_SEGMENT_QUANTILE, REPORT_TOP_K
from vadkit.errors import ConfigError
from vadkit.evaluation.evaluate import FUSED, check_error_name, compute_streams, evaluate_scores
from vadkit.evaluation.groundtruth import with_ground_truth
from vadkit.evaluation.result import EvalProtocol, Evaluation
from vadkit.report.segments import Segment, top_segments
from vadkit.runs.layout import CONFIG_FILE, VERSIONS_FILE
from vadkit.scoring.fusion import check_smooth, get_normalizer, normalizer_record, resolve_alphas
from vadkit.scoring.scoreset import ScoreSet, load_scores

#: Decimals kept of each score in the page (the curves' resolution, not the metrics').
DIGITS = 4


@dataclass
class VideoStreams:
    """One video's scored frame numbers, ground truth (None: unknown) and normalised streams
    (each task's, and the fused one under :data:`~vadkit.evaluation.evaluate.FUSED`)."""

    name: str
    frames: np.ndarray
    labels: np.ndarray | None
    streams: dict[str, np.ndarray]


@dataclass
class RunData:
    """Everything the report shows of one run's score set."""

    run_dir: Path
    scores: ScoreSet
    protocol: EvalProtocol
    evaluation: Evaluation | None
    provenance: dict[str, Any]
    videos: list[VideoStreams]
    threshold: float
    segments: list[Segment]
    settings: dict[str, Any] = field(default_factory=dict)
    #: Where the segments' anomaly maps come from, for the page (set by the report's writer).
    maps_origin: str = ""

    @property
    def label(self) -> str:
        return self.run_dir.resolve().name or str(self.run_dir)


def read_run_files(run_dir: Path) -> dict[str, Any]:
    """The run's resolved config (TOML text) and versions, as saved by ``vadkit train``."""
    config = run_dir / CONFIG_FILE
    if not config.is_file():
        raise ConfigError(
            f"'{run_dir}' is not a vadkit run folder: {CONFIG_FILE} is missing.",
            hint="Pass the folder that `vadkit train` wrote (its --out).",
        )
    out: dict[str, Any] = {"config_toml": config.read_text(encoding="utf-8")}
    try:
        out["versions"] = json.loads((run_dir / VERSIONS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        out["versions"] = None
    return out


def _protocol_without_labels(
    scores: ScoreSet,
    error: str | None,
    normalizer: str | None,
    alphas: str | None,
    smooth: float | None,
) -> EvalProtocol:
    """The settings of the streams of a set that has no ground truth (nothing to evaluate),
    resolved the way :func:`evaluate_scores` resolves them."""
    d = scores.defaults
    err = check_error_name(scores, error or d.error)
    norm_name, norm = scores.normalizer(normalizer)
    weights = resolve_alphas(alphas, scores.tasks, default=d.alphas, presets=d.presets)
    sigma = check_smooth(d.smooth if smooth is None else smooth)
    meta = scores.meta
    return EvalProtocol(
        score_set=scores.name,
        metric="",  # nothing measured
        frames_mode=meta.frames_mode,
        frames_scored=int(sum(v.frames.size for v in scores.videos)),
        total_frames=meta.total_frames,
        videos=len(scores.videos),
        clip_length=meta.clip_length,
        error=err,
        error_tasks=meta.error_tasks,
        normalizer=norm_name,
        normalizer_params=normalizer_record(norm_name, d.normalizer_params),
        normalizer_repr=repr(norm),
        alphas=weights,
        smoothing_sigma=sigma,
        checkpoint=meta.checkpoint,
        checkpoint_sha256=meta.weights_sha256,
    )


def provenance(run_dir: Path, scores: ScoreSet) -> dict[str, Any]:
    """Where the scores come from: the run's files and the score set's record."""
    meta = scores.meta.to_json()
    record_keys = (
        "source",
        "root",
        "files",
        "split",
        "data_format",
        "ground_truth",
        "frames_mode",
        "clip_length",
        "size",
        "color",
        "checkpoint",
        "runtime",
        "batch_size",
        "seconds",
        "windows_per_second",
        "vadkit",
        "skipped",
        "left_out_errors",
    )
    record = {k: meta[k] for k in record_keys if meta.get(k) not in (None, [], {})}
    identity = scores.meta.identity
    return {
        **read_run_files(run_dir),
        "score_set": scores.name,
        "record": record,
        "weights_sha256": scores.meta.weights_sha256
        or (identity.weights_sha256 if identity else None),
        "settings_sha256": identity.settings_sha256 if identity else None,
        "errors_scored": sorted(scores.meta.errors),
        "defaults": scores.meta.defaults.to_json(),
    }


@dataclass(frozen=True)
class ReportOptions:
    """What a report shows of a run: its score set (``scores``), the evaluation settings
    (``error``, ``normalizer``, ``alphas``, ``smooth``; None: the set's own, as in
    ``vadkit evaluate``) and the segment rule (:mod:`vadkit.report.segments`)."""

    scores: str = "testing"
    error: str | None = None
    normalizer: str | None = None
    alphas: str | None = None
    smooth: float | None = None
    top_k: int = REPORT_TOP_K
    quantile: float = REPORT_SEGMENT_QUANTILE
    gap: int = REPORT_SEGMENT_GAP

    def __post_init__(self) -> None:
        if self.top_k < 0:
            raise ConfigError(f"--top {self.top_k} is negative.", hint=f"E.g. --top {REPORT_TOP_K}")


def evaluation_record(scores: ScoreSet, options: ReportOptions) -> Evaluation:
    """The evaluation of a labelled set as the report shows it: the one place the report calls
    :func:`~vadkit.evaluation.evaluate.evaluate_scores`."""
    return evaluate_scores(
        scores,
        error=options.error,
        normalizer=options.normalizer,
        alphas=options.alphas,
        smooth=options.smooth,
    )


def run_config(run: RunData) -> dict[str, Any]:
    """The run's resolved settings (its ``config.toml``); empty when the file does not parse."""
    try:
        return tomllib.loads(run.provenance["config_toml"])
    except tomllib.TOMLDecodeError:
        return {}


def metric_value(run: RunData, score: str, metric: str) -> float | None:
    """One number of the run's evaluation (``score``: a task or ``fused``; ``metric``: a key of
    :class:`vadkit.metrics.FrameMetrics`); None when the run has no such number."""
    if run.evaluation is None:
        return None
    row = run.evaluation.to_json()["results"].get(score) or {}
    value = row.get(metric)
    return None if value is None else float(value)


def collect_run(run_dir: str | Path, options: ReportOptions | None = None) -> RunData:
    """Read a scored run: evaluate its set (when it has ground truth), its streams and segments.

    The report shows the ground truth under the curves, so it reads the test labels as
    ``vadkit evaluate`` does (:func:`~vadkit.evaluation.groundtruth.with_ground_truth`)."""
    o = options or ReportOptions()
    run_dir = Path(run_dir)
    score_set = with_ground_truth(load_scores(run_dir, o.scores))
    files = provenance(run_dir, score_set)  # also checks that it is a run folder
    evaluation = None
    if score_set.has_labels:
        evaluation = evaluation_record(score_set, o)
        protocol = evaluation.protocol
    else:
        protocol = _protocol_without_labels(score_set, o.error, o.normalizer, o.alphas, o.smooth)
    _, norm = get_normalizer(protocol.normalizer, protocol.normalizer_params)
    streams = compute_streams(
        score_set, protocol.error, norm, protocol.alphas, float(protocol.smoothing_sigma or 0.0)
    )
    videos = [
        VideoStreams(v.name, np.asarray(v.frames), v.labels, s)
        for v, s in zip(score_set.videos, streams, strict=True)
    ]
    threshold, segments = top_segments(
        [v.name for v in videos],
        [v.frames for v in videos],
        [v.streams[FUSED] for v in videos],
        top_k=o.top_k,
        quantile=o.quantile,
        gap=o.gap,
        labels=[v.labels for v in videos],
    )
    return RunData(
        run_dir=run_dir,
        scores=score_set,
        protocol=protocol,
        evaluation=evaluation,
        provenance=files,
        videos=videos,
        threshold=threshold,
        segments=segments,
        settings={"top_k": o.top_k, "quantile": o.quantile, "gap": o.gap},
    )


def stream_payload(run: RunData) -> dict[str, Any]:
    """The run's curves for the page's charts (scores rounded to :data:`DIGITS` decimals)."""

    def values(a: np.ndarray) -> list[float]:
        return [round(float(x), DIGITS) for x in np.asarray(a, dtype=np.float64)]

    return {
        "label": run.label,
        "threshold": round(run.threshold, DIGITS),
        "tasks": list(run.scores.tasks),
        "videos": {
            v.name: {
                "frames": [int(f) for f in v.frames],
                "gt": None if v.labels is None else [int(x) for x in v.labels],
                "fused": values(v.streams[FUSED]),
                "tasks": {k: values(s) for k, s in v.streams.items() if k != FUSED},
            }
            for v in run.videos
        },
    }
