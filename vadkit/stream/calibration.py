"""Calibration of a run for streaming: scores of normal training windows and what they fix.

A stream has no "whole video" to rescale by, so its scores are rescaled with statistics fixed in
advance: the run scores a sample of its training windows (normal by assumption, see
:func:`calibrate`) and a :class:`Calibration` keeps, per task and error measure, the raw scores
and their statistics, and the fused alert threshold (by default the 99.5th percentile of the
fused calibration scores). It is stored in ``RUN/calibration.json`` and is valid for one set of
weights only (:func:`stale_reason`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.components import SCORE_KEY
from vadkit.engine.scoreset import default_alphas, resolve_alphas
from vadkit.errors import ConfigError, DataError

CALIBRATION_FILE = "calibration.json"
CALIBRATION_FORMAT = 1
#: Percentile of the fused calibration scores used as the alert threshold.
DEFAULT_QUANTILE = 99.5
#: Training windows scored by a calibration (evenly spread over all training windows).
DEFAULT_WINDOWS = 512
#: Percentiles of the robust rescaling (the paper's eq. 16).
LOW_PERCENTILE, HIGH_PERCENTILE = 1.0, 99.0
#: A calibration range below this is treated as zero (divide by 1), as the robust normalizer does.
_TINY_RANGE = 10 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class ScoreStats:
    """Robust statistics of one raw score stream on normal data."""

    median: float
    q1: float
    q99: float

    @property
    def scale(self) -> float:
        """``q99 - q1`` (1.0 when the range is zero, so a constant stream stays finite)."""
        spread = self.q99 - self.q1
        return spread if spread > _TINY_RANGE else 1.0

    def normalize(self, values: Any) -> Any:
        """``(values - median) / (q99 - q1)``."""
        return (values - self.median) / self.scale

    @classmethod
    def of(cls, values: np.ndarray) -> ScoreStats:
        v = np.asarray(values, np.float64)
        low, med, high = np.percentile(v, [LOW_PERCENTILE, 50.0, HIGH_PERCENTILE])
        return cls(median=float(med), q1=float(low), q99=float(high))


@dataclass
class Calibration:
    """Per-task statistics of a run's scores on normal data, and the fused alert threshold.

    ``scores[task][key]`` are the raw calibration scores (key: an error measure's name, or
    :data:`~vadkit.components.SCORE_KEY`), oriented like offline scores (similarities negated);
    ``stats`` their :class:`ScoreStats`. ``threshold`` is the ``quantile``-th percentile of the
    fused calibration scores for ``error`` and ``alphas``; :meth:`threshold_for` recomputes it for
    other settings without the network.
    """

    scores: dict[str, dict[str, np.ndarray]]
    error: str
    alphas: dict[str, float]
    quantile: float = DEFAULT_QUANTILE
    meta: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, dict[str, ScoreStats]] = field(init=False)
    threshold: float = field(init=False)

    def __post_init__(self) -> None:
        self.scores = {
            t: {k: np.asarray(v, np.float64) for k, v in keys.items()}
            for t, keys in self.scores.items()
        }
        for task, keys in self.scores.items():
            for key, values in keys.items():
                if values.size == 0 or not np.isfinite(values).all():
                    raise DataError(
                        f"Calibration scores of task '{task}' ({key}) are empty or not finite.",
                        hint="Recalibrate: vadkit watch RUN --calibrate",
                    )
        self.stats = {
            t: {k: ScoreStats.of(v) for k, v in keys.items()} for t, keys in self.scores.items()
        }
        self.threshold = self.threshold_for(self.error, self.alphas, self.quantile)

    @property
    def tasks(self) -> list[str]:
        return list(self.scores)

    @property
    def windows(self) -> int:
        first = next(iter(self.scores.values()), {})
        return int(next(iter(first.values())).size) if first else 0

    def stream_stats(self, task: str, key: str) -> ScoreStats:
        """The statistics of ``task``'s stream ``key``; a ConfigError when it was not calibrated."""
        keys = self.stats.get(task)
        if keys is None:
            raise ConfigError(
                f"The calibration has no scores of task '{task}'.",
                hint="It was made for another model: recalibrate with --calibrate.",
            )
        if key not in keys:
            raise ConfigError(
                f"The calibration has no '{key}' scores of task '{task}'.",
                hint=f"Calibrated: {', '.join(sorted(keys))}. Pick one with --error, or "
                "recalibrate with --calibrate.",
            )
        return keys[key]

    def keys_for(self, error: str) -> dict[str, str]:
        """The stream key of every task for ``error`` (:data:`SCORE_KEY` for a task without)."""
        return {
            t: (SCORE_KEY if error not in keys and SCORE_KEY in keys else error)
            for t, keys in self.scores.items()
        }

    def normalized(self, error: str) -> dict[str, np.ndarray]:
        """Each task's calibration scores for ``error``, rescaled by their own statistics."""
        out = {}
        for task, key in self.keys_for(error).items():
            out[task] = self.stream_stats(task, key).normalize(self.scores[task][key])
        return out

    def fused(self, error: str, alphas: Mapping[str, float]) -> np.ndarray:
        """The fused calibration scores for ``error`` and ``alphas``."""
        streams = self.normalized(error)
        missing = [t for t in alphas if t not in streams]
        if missing:
            raise ConfigError(
                f"The calibration has no scores of task(s) {', '.join(missing)}.",
                hint="It was made for another model: recalibrate with --calibrate.",
            )
        return np.sum([w * streams[t] for t, w in alphas.items()], axis=0)

    def threshold_for(
        self, error: str, alphas: Mapping[str, float], quantile: float | None = None
    ) -> float:
        """The ``quantile``-th percentile (default: this calibration's) of the fused scores."""
        q = self.quantile if quantile is None else check_quantile(quantile)
        return float(np.percentile(self.fused(error, alphas), q))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CALIBRATION_FORMAT,
            **self.meta,
            "normalization": "(a - median) / (q99 - q1), statistics of the calibration windows",
            "stats": {
                t: {k: {"median": s.median, "q1": s.q1, "q99": s.q99} for k, s in keys.items()}
                for t, keys in self.stats.items()
            },
            "threshold": {
                "error": self.error,
                "alphas": self.alphas,
                "quantile": self.quantile,
                "value": self.threshold,
            },
            "scores": {
                t: {k: v.tolist() for k, v in keys.items()} for t, keys in self.scores.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: str | Path = CALIBRATION_FILE) -> Calibration:
        if not isinstance(data, Mapping) or data.get("format") != CALIBRATION_FORMAT:
            raise DataError(
                f"'{path}' is not a vadkit calibration (format {CALIBRATION_FORMAT}).",
                hint="Recalibrate: vadkit watch RUN --calibrate",
            )
        try:
            thr = data["threshold"]
            meta = {
                k: v
                for k, v in data.items()
                if k not in ("format", "normalization", "stats", "threshold", "scores")
            }
            return cls(
                scores={t: dict(keys) for t, keys in data["scores"].items()},
                error=str(thr["error"]),
                alphas={str(k): float(v) for k, v in thr["alphas"].items()},
                quantile=float(thr["quantile"]),
                meta=meta,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f"Calibration '{path}' is malformed ({type(exc).__name__}: {exc}).",
                hint="Recalibrate: vadkit watch RUN --calibrate",
            ) from None


def check_quantile(value: float) -> float:
    q = float(value)
    if not (math.isfinite(q) and 0.0 < q < 100.0):
        raise ConfigError(
            f"Threshold percentile {value!r} is not in (0, 100).", hint="E.g. --quantile 99.5"
        )
    return q


def calibration_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CALIBRATION_FILE


def weights_digest(path: str | Path) -> str:
    """SHA-256 of a weights file: a calibration is valid for these exact weights only."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_calibration(run_dir: str | Path) -> Calibration | None:
    """``RUN/calibration.json``, or None when the run has none."""
    path = calibration_path(run_dir)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"Cannot read the calibration '{path}': {exc}.",
            hint="Recalibrate: vadkit watch RUN --calibrate",
        ) from None
    return Calibration.from_json(data, path)


def write_calibration(run_dir: str | Path, calibration: Calibration) -> Path:
    """Write ``RUN/calibration.json`` atomically."""
    from vadkit.engine.io import atomic_write
    from vadkit.engine.scoreset import json_default

    path = calibration_path(run_dir)
    with atomic_write(path) as fh:
        json.dump(calibration.to_json(), fh, indent=1, default=json_default)
        fh.write("\n")
    return path


def stale_reason(calibration: Calibration, model: Any, weights_sha256: str | None) -> str | None:
    """Why ``calibration`` does not fit ``model`` (or these weights), or None when it does."""
    tasks = list(model.tasks)
    if sorted(calibration.tasks) != sorted(tasks):
        return f"it has tasks {', '.join(calibration.tasks)}, the model {', '.join(tasks)}"
    found = calibration.meta.get("weights", {}).get("sha256")
    if weights_sha256 is not None and found != weights_sha256:
        return "it was made with other weights (the run was trained on, or another checkpoint)"
    return None


def select_windows(lengths: Sequence[int], clip_length: int, count: int) -> list[tuple[int, int]]:
    """``count`` windows ``(video index, start)`` evenly spread over every stride-1 window."""
    span = clip_length + 1
    per_video = [max(0, int(n) - span + 1) for n in lengths]
    total = sum(per_video)
    if total == 0:
        return []
    picks = np.unique(np.linspace(0, total - 1, num=min(count, total)).round().astype(np.int64))
    bounds = np.cumsum([0, *per_video])
    out = []
    for p in picks:
        v = int(np.searchsorted(bounds, p, side="right") - 1)
        out.append((v, int(p - bounds[v])))
    return out


def calibration_scores(
    model: Any,
    videos: Sequence[Any],
    *,
    clip_length: int,
    errors: Mapping[str, Any],
    runtime: Any,
    windows: int = DEFAULT_WINDOWS,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """Raw scores ``[task][key]`` of up to ``windows`` windows spread over ``videos``.

    Returns the scores and the number of windows the videos have in all. Scores are oriented as
    offline (similarities negated); the network runs without autograd, as in offline scoring.
    """
    import torch

    from vadkit.data.windows import window_batch

    if windows < 1:
        raise ConfigError(f"Calibration windows = {windows} must be at least 1.", hint="E.g. 512")
    lengths = [int(v.num_frames) for v in videos]
    picks = select_windows(lengths, clip_length, windows)
    total = sum(max(0, n - clip_length) for n in lengths)
    if not picks:
        raise DataError(
            f"No calibration video has the clip_length + 1 = {clip_length + 1} frames a window "
            "needs.",
            hint="Calibrate on longer normal videos (--calibration-data).",
        )
    parts: dict[str, dict[str, list[np.ndarray]]] = {}
    model.eval()
    with torch.inference_mode():
        for b0 in range(0, len(picks), batch_size):
            chunk = picks[b0 : b0 + batch_size]
            frames = np.stack(
                [videos[v].frames(np.arange(s, s + clip_length + 1)) for v, s in chunk]
            )
            batch = window_batch(
                frames, clip_length, device=runtime.device, memory_format=runtime.memory_format
            )
            out = model.window_scores(batch, errors, autocast=runtime.autocast())
            for task, keys in out.items():
                for key, value in keys.items():
                    values = value.double().cpu().numpy()
                    parts.setdefault(task, {}).setdefault(key, []).append(values)
            if on_progress is not None:
                on_progress(min(b0 + batch_size, len(picks)), len(picks))
    scores = {t: {k: np.concatenate(v) for k, v in keys.items()} for t, keys in parts.items()}
    return scores, total


def calibrate(
    run_dir: str | Path,
    *,
    model: Any = None,
    config: Mapping[str, Any] | None = None,
    checkpoint: str = "last",
    data: str | Path | None = None,
    windows: int = DEFAULT_WINDOWS,
    quantile: float = DEFAULT_QUANTILE,
    error: str | None = None,
    alphas: Any = None,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Calibrate a run for streaming on normal data and write ``RUN/calibration.json``.

    Scores ``windows`` windows spread evenly over the training split of ``data`` (default: the
    run's ``data.root``, or the synthetic scene), with every error measure the run can use, and
    stores their statistics and the fused threshold (``quantile``-th percentile, for ``error`` and
    ``alphas``, default the run's ``score.error`` and ``score.alphas``). ``model`` and ``config``
    may be given when already loaded (the weights must be ``checkpoint``'s).
    """
    from vadkit import __version__
    from vadkit.data import default_data_root, open_videos
    from vadkit.engine.runs import checkpoint_path, load_model
    from vadkit.engine.score import applicable_errors, make_runtime

    run_dir = Path(run_dir)
    q = check_quantile(quantile)
    if model is None or config is None:
        config, model = load_model(run_dir, checkpoint=checkpoint, device="cpu")
    dcfg, scfg = config.get("data", {}), config.get("score", {})
    clip_length = int(dcfg.get("clip_length", 16))
    size = tuple(int(v) for v in dcfg.get("size", (256, 256)))
    color = str(dcfg.get("color", "gray"))
    runtime = make_runtime(
        device,
        precision if precision != "auto" else scfg.get("precision", "auto"),
        bool(config.get("train", {}).get("channels_last", True)),
    )
    runtime.prepare(model)
    tasks = list(model.tasks)
    err = str(error or scfg.get("error", "bpe"))
    weights = resolve_alphas(alphas, tasks, default=default_alphas(scfg.get("alphas"), tasks))
    root = data or dcfg.get("root") or default_data_root()
    try:
        vset = open_videos(
            root,
            "training",
            size=(size[0], size[1]),
            color=color,
            format=(dcfg.get("format") or None) if data is None else None,
            progress=False,
        )
    except DataError as exc:
        raise DataError(
            f"Cannot calibrate on the training videos of '{root}': {exc.message}",
            hint="Calibration scores normal videos: pass --calibration-data ROOT (a dataset "
            "whose training split is normal footage of the scene), or copy a calibration.json "
            "made with these weights into the run folder.",
        ) from None
    frame_shape = (int(model.backbone.in_channels), size[0], size[1])
    uses_error = any(t.uses_error for t in model.tasks.values())
    errs = applicable_errors(None, frame_shape, runtime.device) if uses_error else {}
    if uses_error and err not in errs:
        raise ConfigError(
            f"Error measure {err!r} is not one this run can use.",
            hint=f"Available: {', '.join(sorted(errs)) or 'none'}.",
        )
    scores, total = calibration_scores(
        model,
        list(vset),
        clip_length=clip_length,
        errors=errs,
        runtime=runtime,
        windows=windows,
        batch_size=int(batch_size or scfg.get("batch_size", 32)),
        on_progress=on_progress,
    )
    wpath = checkpoint_path(run_dir, checkpoint)
    meta = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "vadkit": __version__,
        "checkpoint": str(checkpoint),
        "weights": {"file": str(wpath), "sha256": weights_digest(wpath)},
        "data": {
            "root": str(vset.root),
            "split": "training",
            "format": vset.format,
            "videos": len(vset),
            "windows_total": total,
            "windows_used": len(next(iter(next(iter(scores.values())).values()))),
            "selection": "evenly spread over all stride-1 windows",
        },
        "clip_length": clip_length,
        "size": list(size),
        "color": color,
        "tasks": tasks,
        "runtime": runtime.describe(),
    }
    cal = Calibration(scores=scores, error=err, alphas=weights, quantile=q, meta=meta)
    write_calibration(run_dir, cal)
    return cal
