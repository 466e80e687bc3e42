"""Evaluation of saved scores: metrics per task and fused, the protocol, per-video plots.

Nothing here runs the network: every error measure was scored by ``vadkit score``, so any error,
normalizer and fusion weights are evaluated from the saved raw scores in a fraction of a second.
The test labels are read here (:mod:`vadkit.evaluation.groundtruth`), not when scoring.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.components import ScoreNormalizer
from vadkit.errors import ConfigError
from vadkit.evaluation.groundtruth import require_labels, with_ground_truth
from vadkit.evaluation.result import FUSED, EvalProtocol, Evaluation, VideoResult
from vadkit.metrics import frame_metrics, macro_auroc, micro_auroc
from vadkit.scoring.core import VideoScores
from vadkit.scoring.fusion import (
    check_smooth,
    fuse,
    get_normalizer,
    normalized_streams,
    normalizer_record,
    resolve_alphas,
)
from vadkit.scoring.scoreset import ScoreSet, load_scores, write_json

EVALUATION_FILE = "evaluation.json"
PLOTS_DIR = "plots"


def check_error_name(scores: ScoreSet, error: str) -> str:
    """``error`` if the set's error-based tasks were scored with it, else a ConfigError."""
    left_out = scores.left_out_errors
    if scores.meta.error_tasks and error in left_out:
        raise ConfigError(
            f"The error measure '{error}' was left out of score set '{scores.name}' at scoring: "
            f"{left_out[error]}.",
            hint=f"Evaluate with another one: --error "
            f"{' | '.join(sorted(scores.errors)) or 'NAME (none is left: re-score)'}.",
        )
    if scores.meta.error_tasks and error not in scores.errors:
        raise ConfigError(
            f"Unknown error measure '{error}' for this run's scores.",
            hint=f"Scored error measures: {', '.join(sorted(scores.errors))}.",
        )
    return error


def compute_streams(
    scores: ScoreSet,
    error: str,
    normalizer: ScoreNormalizer,
    alphas: Mapping[str, float],
    smooth: float = 0.0,
) -> list[dict[str, np.ndarray]]:
    """Per video: each task's normalised stream and the fused stream under :data:`FUSED`."""
    out = []
    for video in scores.videos:
        streams = normalized_streams(video, scores.tasks, error, normalizer, smooth)
        streams[FUSED] = fuse(streams, alphas)
        out.append(streams)
    return out


def evaluate_scores(
    scores: ScoreSet,
    *,
    error: str | None = None,
    normalizer: str | ScoreNormalizer | None = None,
    alphas: str | Mapping[str, Any] | Sequence[float] | None = None,
    smooth: float | None = None,
) -> Evaluation:
    """Metrics of each task alone and of the fused score, with the protocol that produced them.

    ``smooth`` (frames, default the run's ``score.smooth``, 0 = the paper's protocol) filters
    every normalised stream over time with a Gaussian before fusion; it is recorded.

    Defaults (error, normalizer, weights) are those the set was scored with. Each task alone is
    evaluated on its normalised stream; ``raw_micro_auroc`` gives the un-normalised one too.
    """
    defaults = scores.defaults
    err = check_error_name(scores, error or defaults.error)
    norm_name, norm = scores.normalizer(normalizer)
    weights = resolve_alphas(
        alphas, scores.tasks, default=defaults.alphas, presets=defaults.presets
    )
    sigma = check_smooth(defaults.smooth if smooth is None else smooth)
    labels = require_labels(scores)
    streams = compute_streams(scores, err, norm, weights, sigma)
    names = [v.name for v in scores.videos]
    results = {
        key: frame_metrics(labels, [s[key] for s in streams], names=names)
        for key in [*scores.tasks, FUSED]
    }
    raw = {
        task: micro_auroc(labels, [v.stream(task, err) for v in scores.videos], names=names)
        for task in scores.tasks
    }
    per_video = []
    for video, lab, s in zip(scores.videos, labels, streams, strict=True):
        auc, _ = macro_auroc([lab], [s[FUSED]], names=[video.name])
        per_video.append(VideoResult(video.name, int(lab.size), int(lab.sum()), auc))
    meta = scores.meta
    protocol = EvalProtocol(
        score_set=scores.name,
        frames_mode=meta.frames_mode,
        frames_scored=int(sum(lab.size for lab in labels)),
        total_frames=meta.total_frames,
        anomalous_frames=int(sum(int(lab.sum()) for lab in labels)),
        videos=len(scores.videos),
        clip_length=meta.clip_length,
        error=err,
        error_tasks=meta.error_tasks,
        normalizer=norm_name,
        normalizer_params=normalizer_record(normalizer or norm_name, defaults.normalizer_params),
        normalizer_repr=repr(norm),
        alphas=weights,
        smoothing_sigma=sigma,
        ground_truth=meta.source.ground_truth,
        data_root=meta.source.root,
        checkpoint=meta.checkpoint,
        checkpoint_sha256=meta.weights_sha256,
        runtime=None if meta.runtime is None else meta.runtime.to_json(),
    )
    from vadkit.evaluation.pixeleval import pixel_evaluation

    pixel = pixel_evaluation(scores, norm, weights)
    return Evaluation(
        protocol=protocol,
        results=results,
        raw_micro_auroc=raw,
        per_video=tuple(per_video),
        pixel=None if isinstance(pixel, str) else pixel,
        pixel_note=pixel if isinstance(pixel, str) else None,
    )


def _anomaly_spans(frames: np.ndarray, labels: np.ndarray) -> list[tuple[float, float]]:
    """``(start, end)`` x-ranges of runs of anomalous frames (half a frame either side)."""
    spans: list[tuple[float, float]] = []
    start = None
    for i, lab in enumerate(labels):
        if lab and start is None:
            start = i
        if start is not None and (not lab or i == len(labels) - 1):
            end = i if lab else i - 1
            spans.append((frames[start] - 0.5, frames[end] + 0.5))
            start = None
    return spans


def plot_video(
    path: Path,
    video: VideoScores,
    streams: Mapping[str, np.ndarray],
    *,
    title: str,
    normalizer: str,
) -> Path:
    """A PNG of each task's score and the fused score over time, ground-truth anomalies shaded."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    x = video.frames
    spans = [] if video.labels is None else _anomaly_spans(x, video.labels)
    for ax in (top, bottom):
        for i, (a, b) in enumerate(spans):
            ax.axvspan(a, b, color="tab:red", alpha=0.18, lw=0, label="anomaly" if not i else None)
        ax.grid(alpha=0.3)
    for task, values in streams.items():
        if task != FUSED:
            top.plot(x, values, lw=1.2, label=f"A_{task.upper()}")
    top.set_ylabel(f"task score ({normalizer})")
    top.legend(loc="upper left", fontsize=8, ncol=5)
    bottom.plot(x, streams[FUSED], color="black", lw=1.4, label="A (fused)")
    bottom.set_ylabel("fused score")
    bottom.set_xlabel("frame")
    bottom.legend(loc="upper left", fontsize=8)
    top.set_title(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    from vadkit.storage.io import atomic_write

    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=90)
    return path


def plots_unavailable() -> str | None:
    """Why no plot can be drawn here (matplotlib is not installed, as in the light install), or
    None when it can."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib draws them)"
    return None


def write_plots(out_dir: Path, scores: ScoreSet, evaluation: Evaluation) -> list[Path]:
    """One PNG per video under ``out_dir``, of the streams the evaluation measured (normalised,
    smoothed if it was, fused); returns their paths."""
    from vadkit.scoring.scoreset import safe_file_stem

    p = evaluation.protocol
    _, norm = get_normalizer(p.normalizer, p.normalizer_params)
    sigma = float(p.smoothing_sigma or 0.0)
    streams = compute_streams(scores, p.error, norm, p.alphas, sigma)
    alphas = ", ".join(f"{k}={v:g}" for k, v in p.alphas.items())
    smoothed = f", smoothed (sigma {sigma:g} frames)" if sigma > 0 else ""
    paths = []
    for video, s, pv in zip(scores.videos, streams, evaluation.per_video, strict=True):
        auc = pv.fused_auroc
        title = f"{video.name}: error {p.error}, weights {alphas}{smoothed}" + (
            f", video AUROC {auc:.3f}" if auc is not None else ""
        )
        paths.append(
            plot_video(
                out_dir / f"{safe_file_stem(video.name)}.png",
                video,
                s,
                title=title,
                normalizer=p.normalizer,
            )
        )
    return paths


def evaluate_run(
    run_dir: str | Path,
    *,
    name: str = "testing",
    error: str | None = None,
    normalizer: str | None = None,
    alphas: str | Mapping[str, Any] | Sequence[float] | None = None,
    data: str | Path | None = None,
    labels: str | Path | None = None,
    plots: bool = True,
    smooth: float | None = None,
) -> Evaluation:
    """Evaluate a scored run, write ``RUN/evaluation.json`` (the result's
    :meth:`~vadkit.evaluation.result.Evaluation.to_json`) and (optionally) ``RUN/plots/``;
    without matplotlib the plots are skipped with a warning (``plots_skipped`` says why).

    A run trained with experiment trackers (``train.track``) has the evaluation logged to them
    (:func:`vadkit.tracking.log_evaluation`).

    The test labels are read here, from where the score set records its ground truth
    (:func:`~vadkit.evaluation.groundtruth.with_ground_truth`); ``data``/``labels`` read them from
    another dataset root or ground-truth file. Returns the :class:`~vadkit.evaluation.result.Evaluation`.
    """
    run_dir = Path(run_dir)
    scores = with_ground_truth(load_scores(run_dir, name), data=data, labels=labels)
    result = evaluate_scores(
        scores, error=error, normalizer=normalizer, alphas=alphas, smooth=smooth
    )
    result = replace(
        result,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        run=str(run_dir),
    )
    why_not = plots_unavailable() if plots else None
    if why_not:  # the light install: the numbers without the pictures
        warnings.warn(f"plots skipped: {why_not}", stacklevel=2)
        result = replace(result, plots_skipped=why_not)
    elif plots:
        out = run_dir / PLOTS_DIR if name == "testing" else run_dir / PLOTS_DIR / name
        write_plots(out, scores, result)
        result = replace(result, plots=str(out))
    write_json(run_dir / EVALUATION_FILE, result.to_json())
    from vadkit.tracking.build import log_evaluation

    log_evaluation(run_dir, result.to_json(), run_dir / EVALUATION_FILE)  # the run's train.track
    return result
