"""Live scoring of a video stream: one window per new frame, calibrated scores and alerts.

Offline scoring (:mod:`vadkit.engine.score`) sees a whole video before it rescales it: the
per-video normalizers (min-max, robust) take the minimum, maximum or percentiles of every score of
the video, including frames that have not happened yet from a live camera's point of view. A
stream has no "whole video", so its scores are rescaled with statistics fixed in advance instead:

* **Calibration** (:func:`calibrate`, stored in ``RUN/calibration.json``): the run scores a sample
  of its training windows (normal by assumption) and records, per task and error measure, the
  median and the 1st and 99th percentiles of the raw scores. A live score ``a`` of a task becomes
  ``(a - median) / (q99 - q1)``, the robust rescaling of the paper (eq. 16) with the statistics of
  normal data in place of those of the video. The fused score is ``sum_k alpha_k * a~_k``, and the
  alert threshold defaults to the 99.5th percentile of the fused calibration scores.
* **Streaming** (:class:`StreamScorer`): frames arrive one at a time; the scorer keeps the last T
  preprocessed frames, and each new frame completes one window of T+1 frames that scores it (the
  window's last frame, as offline). The raw scores equal those of ``vadkit score`` on the same
  frames; only the rescaling differs.

:func:`watch` runs a whole session on a source PyAV can open (a file, ``rtsp://``, ``http://``, a
capture device with its input format): decoding in a background thread, batching the windows that
queued up when the model falls behind, alerts (runs of frames above the threshold), JSON lines.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from vadkit.components import SCORE_KEY
from vadkit.engine.scoreset import default_alphas, resolve_alphas
from vadkit.errors import CheckpointError, ConfigError, DataError

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
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------
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


def _score_key(task: Any, error: str) -> str:
    return error if task.uses_error else SCORE_KEY


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


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------
@dataclass
class FrameScore:
    """The scores of one frame: the window that ends on it.

    ``raw[task]`` is the task's raw score (the chosen error measure, or its score stream),
    ``normalized[task]`` the calibrated one, ``fused`` their weighted sum and ``alert`` whether it
    exceeds the threshold (``normalized`` is empty and ``fused`` None without a calibration).
    ``time`` is the frame's time in the stream (seconds) when known.
    """

    frame: int
    raw: dict[str, float]
    normalized: dict[str, float] = field(default_factory=dict)
    fused: float | None = None
    alert: bool = False
    time: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "time": self.time,
            "raw": self.raw,
            "normalized": self.normalized,
            "fused": self.fused,
            "alert": self.alert,
        }


class StreamScorer:
    """Scores a stream frame by frame with a trained model, as offline scoring would.

    Each pushed frame is preprocessed like the run's training data (colour and size, with
    :func:`vadkit.data.sources.preprocess`); the scorer keeps the last T of them, and every new
    frame completes a window of T+1 frames that scores it. Windows that arrive together
    (:meth:`push_many`, e.g. when the model fell behind a live source) run as one batch of up to
    ``max_batch``. The network runs without autograd.

    Args:
        model: the run's :class:`~vadkit.model.VADModel` (moved to ``device``).
        config: the run's resolved config (clip length, frame size and colour, score defaults).
        error: the error measure of the tasks that compare frames (default ``score.error``).
        alphas: fusion weights, as ``vadkit evaluate --alphas`` (default ``score.alphas``).
        calibration: a :class:`Calibration` of the run; None gives raw scores only.
        threshold: the fused alert threshold (default: the calibration's percentile).
        quantile: the percentile of the fused calibration scores used as threshold (default the
            calibration's own).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        precision: ``auto`` (fp32), ``fp32``, ``bf16``, ``fp16``.
        max_batch: the most windows run in one batch.

    Example::

        config, model = load_model("runs/ped2")
        scorer = StreamScorer(model, config, calibration=read_calibration("runs/ped2"))
        for frame in frames:  # uint8 (H, W, 3) or (H, W)
            for score in scorer.push(frame):
                print(score.frame, score.fused, score.alert)
    """

    def __init__(
        self,
        model: Any,
        config: Mapping[str, Any],
        *,
        error: str | None = None,
        alphas: Any = None,
        calibration: Calibration | None = None,
        threshold: float | None = None,
        quantile: float | None = None,
        device: str = "auto",
        precision: str = "auto",
        max_batch: int = 8,
    ) -> None:
        from vadkit.engine.score import applicable_errors, make_runtime

        if int(max_batch) < 1:
            raise ConfigError(f"max_batch = {max_batch} must be at least 1.", hint="E.g. 8")
        dcfg, scfg = config.get("data", {}), config.get("score", {})
        self.clip_length = int(dcfg.get("clip_length", 16))
        height, width = (int(v) for v in dcfg.get("size", (256, 256)))
        self.size = (height, width)
        self.color = str(dcfg.get("color", "gray"))
        self.max_batch = int(max_batch)
        self.runtime = make_runtime(
            device,
            precision if precision != "auto" else scfg.get("precision", "auto"),
            bool(config.get("train", {}).get("channels_last", True)),
        )
        self.model = model
        self.runtime.prepare(model)
        model.eval()
        self.tasks = list(model.tasks)
        self.channels = int(model.backbone.in_channels)
        self.error = str(error or scfg.get("error", "bpe"))
        uses_error = any(t.uses_error for t in model.tasks.values())
        frame_shape = (self.channels, height, width)
        self.errors = (
            applicable_errors([self.error], frame_shape, self.runtime.device) if uses_error else {}
        )
        self.keys = {t: _score_key(model.tasks[t], self.error) for t in self.tasks}
        self.alphas = resolve_alphas(
            alphas, self.tasks, default=default_alphas(scfg.get("alphas"), self.tasks)
        )
        self.calibration = calibration
        self.stats: dict[str, ScoreStats] = {}
        self.threshold: float | None = None
        if calibration is not None:
            self.stats = {t: calibration.stream_stats(t, k) for t, k in self.keys.items()}
            self.threshold = calibration.threshold_for(self.error, self.alphas, quantile)
        if threshold is not None:
            if not math.isfinite(float(threshold)):
                raise ConfigError(f"Threshold {threshold!r} is not a finite number.", hint="1.5")
            self.threshold = float(threshold)
        self._context: deque[np.ndarray] = deque(maxlen=self.clip_length)
        self._times: deque[float | None] = deque(maxlen=self.clip_length)
        self.frames_seen = 0
        self.windows_scored = 0

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of a preprocessed frame."""
        return (self.size[0], self.size[1], self.channels)

    def preprocess(self, frame: Any) -> np.ndarray:
        """A native frame (uint8 ``(H, W)``, ``(H, W, 1|3|4)`` or a PIL image) as the run's data."""
        from PIL import Image

        from vadkit.data.sources import preprocess

        if not isinstance(frame, Image.Image):
            array = np.asarray(frame)
            if array.dtype != np.uint8 or array.ndim not in (2, 3):
                raise DataError(
                    f"A frame must be uint8 (H, W) or (H, W, C), not {array.dtype} {array.shape}.",
                    hint="Convert it with .astype(np.uint8).",
                )
            if array.ndim == 3 and array.shape[2] == 1:
                array = array[:, :, 0]
            if array.ndim == 3 and array.shape[2] not in (3, 4):
                raise DataError(
                    f"A frame has {array.shape[2]} channels; 1, 3 (RGB) or 4 (RGBA) expected.",
                    hint="Pass RGB frames.",
                )
            frame = Image.fromarray(np.ascontiguousarray(array))
        return preprocess(frame, self.size, self.color)

    def reset(self) -> None:
        """Forget the buffered frames (e.g. after a gap in the stream): the next T frames only
        fill the window again."""
        self._context.clear()
        self._times.clear()

    def push(self, frame: Any, time: float | None = None) -> list[FrameScore]:
        """Add one frame; returns the score of the window it completes (none for the first T)."""
        return self.push_many([frame], [time])

    def push_many(
        self,
        frames: Sequence[Any],
        times: Sequence[float | None] | None = None,
        *,
        preprocessed: bool = False,
    ) -> list[FrameScore]:
        """Add frames in order; their windows run in batches of up to ``max_batch``."""
        import torch

        from vadkit.data.windows import sliding_windows

        if not len(frames):
            return []
        new = [np.asarray(f) if preprocessed else self.preprocess(f) for f in frames]
        for f in new:
            if f.shape != self.frame_shape or f.dtype != np.uint8:
                raise DataError(
                    f"A preprocessed frame is {f.dtype} {f.shape}, the run needs uint8 "
                    f"{self.frame_shape}.",
                    hint="Push native frames (preprocessed=False) to have them converted.",
                )
        stamps = list(times) if times is not None else [None] * len(new)
        if len(stamps) != len(new):
            raise ValueError(f"{len(new)} frames but {len(stamps)} times")
        first = self.frames_seen - len(self._context)  # stream index of chunk[0]
        chunk = [*self._context, *new]
        chunk_times = [*self._times, *stamps]
        self.frames_seen += len(new)
        self._context.extend(new)
        self._times.extend(stamps)
        t = self.clip_length
        if len(chunk) <= t:
            return []
        out: list[FrameScore] = []
        with torch.inference_mode():
            for positions, batch in sliding_windows(
                np.stack(chunk),
                t,
                self.max_batch,
                device=self.runtime.device,
                memory_format=self.runtime.memory_format,
            ):
                scores = self.model.window_scores(
                    batch, self.errors, autocast=self.runtime.autocast()
                )
                columns = {
                    task: scores[task][key].double().cpu().numpy()
                    for task, key in self.keys.items()
                }
                for j, pos in enumerate(positions):
                    raw = {task: float(columns[task][j]) for task in self.tasks}
                    out.append(self._finish(first + int(pos), raw, chunk_times[int(pos)]))
        self.windows_scored += len(out)
        return out

    def _finish(self, frame: int, raw: dict[str, float], stamp: float | None) -> FrameScore:
        score = FrameScore(frame=frame, raw=raw, time=stamp)
        if self.stats:
            score.normalized = {t: float(self.stats[t].normalize(v)) for t, v in raw.items()}
            score.fused = float(sum(w * score.normalized[t] for t, w in self.alphas.items()))
            score.alert = self.threshold is not None and score.fused > self.threshold
        return score


# --------------------------------------------------------------------------------------------
# Alerts
# --------------------------------------------------------------------------------------------
@dataclass
class Alert:
    """A run of frames whose fused score exceeds the threshold (gaps up to ``gap`` frames)."""

    start_frame: int
    end_frame: int
    peak_frame: int
    peak_score: float
    start_time: float | None = None
    end_time: float | None = None
    opened_at: str = ""

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_frame": self.start_frame,
            "end_frame": self.end_frame,
            "peak_frame": self.peak_frame,
            "peak_score": self.peak_score,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "opened_at": self.opened_at,
        }


class AlertTracker:
    """Turns per-frame alert flags into alerts: one opens on the first frame above the threshold
    and closes after ``gap + 1`` frames in a row below it (its end is its last frame above)."""

    def __init__(self, gap: int = 0) -> None:
        if gap < 0:
            raise ConfigError(f"Alert gap {gap} must not be negative.", hint="E.g. --gap 5")
        self.gap = int(gap)
        self.current: Alert | None = None
        self.closed: list[Alert] = []
        self._below = 0

    def update(self, score: FrameScore) -> Alert | None:
        """Feed one frame's score; returns the alert it closes, if any."""
        if score.alert:
            fused = float(score.fused if score.fused is not None else math.nan)
            if self.current is None:
                now = _dt.datetime.now(_dt.UTC).astimezone()
                self.current = Alert(
                    score.frame,
                    score.frame,
                    score.frame,
                    fused,
                    start_time=score.time,
                    end_time=score.time,
                    opened_at=now.isoformat(timespec="milliseconds"),
                )
            else:
                self.current.end_frame, self.current.end_time = score.frame, score.time
                if fused > self.current.peak_score:
                    self.current.peak_score, self.current.peak_frame = fused, score.frame
            self._below = 0
            return None
        if self.current is None:
            return None
        self._below += 1
        return self.close() if self._below > self.gap else None

    def close(self) -> Alert | None:
        """Close the open alert (at the end of the stream); returns it, if any."""
        alert, self.current, self._below = self.current, None, 0
        if alert is not None:
            self.closed.append(alert)
        return alert


# --------------------------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------------------------
_END = object()


def check_source(source: str | Path, input_format: str | None = None) -> str:
    """What to open for ``source``: a URL or device as given, a file path checked and expanded.

    Raises :class:`DataError` for a file that does not exist or a folder (before anything slow
    happens); URLs and devices are only checked when opened.
    """
    target = str(source)
    if _URL.match(target) or input_format:
        return target
    path = Path(target).expanduser()
    if not path.exists():
        raise DataError(
            f"Video source '{target}' does not exist.",
            hint="Give a video file, a URL (rtsp://, http://, ...) or a capture device "
            "with --input-format (e.g. /dev/video0 --input-format v4l2).",
        )
    if path.is_dir():
        raise DataError(f"Video source '{target}' is a folder.", hint="Give a video file or a URL.")
    return str(path)


class FrameReader:
    """Decodes a source with PyAV in a background thread, preprocessing each frame.

    ``source`` is a video file, a URL FFmpeg reads (``rtsp://``, ``http://``, ``file:``, ...) or,
    with ``input_format`` (e.g. ``v4l2``), a capture device. It is opened by the constructor
    (a :class:`DataError` when that fails). ``realtime`` paces the frames at the stream's own
    timing (for files); ``max_frames`` stops after that many. Frames queue up to ``queue_size``.
    """

    def __init__(
        self,
        source: str | Path,
        *,
        preprocess: Callable[[Any], np.ndarray],
        realtime: bool = False,
        max_frames: int | None = None,
        input_format: str | None = None,
        options: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        queue_size: int = 64,
    ) -> None:
        import av

        self.source = str(source)
        self.preprocess = preprocess
        self.realtime = bool(realtime)
        self.max_frames = None if max_frames is None else int(max_frames)
        target = check_source(self.source, input_format)
        is_url = bool(_URL.match(target))
        hint = (
            "Check that the source is a video FFmpeg can read"
            + (", that the stream is up and reachable" if is_url or input_format else "")
            + "."
        )
        try:
            self.container = av.open(
                target,
                format=input_format or None,
                options=dict(options or {}),
                timeout=(timeout, timeout) if timeout else None,
            )
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise DataError(
                f"Cannot open video source '{self.source}': {exc}.", hint=hint
            ) from None
        if not self.container.streams.video:
            self.container.close()
            raise DataError(f"Video source '{self.source}' has no video stream.", hint=hint)
        self.stream = self.container.streams.video[0]
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.rate: float | None = float(rate) if rate else None
        self.width, self.height = int(self.stream.width), int(self.stream.height)
        self.frames_read = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(2, int(queue_size)))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "codec": self.stream.codec_context.name,
            "width": self.width,
            "height": self.height,
            "rate": self.rate,
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vadkit-frame-reader", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        import av

        start_wall: float | None = None
        first_time: float | None = None
        try:
            for frame in self.container.decode(self.stream):
                if self._stop.is_set():
                    return
                stamp = float(frame.time) if frame.time is not None else None
                if self.realtime:
                    now = time.perf_counter()
                    if start_wall is None:
                        start_wall, first_time = now, stamp
                    if stamp is not None and first_time is not None:
                        offset = stamp - first_time
                    else:
                        offset = self.frames_read / self.rate if self.rate else 0.0
                    delay = start_wall + offset - now
                    if delay > 0 and self._stop.wait(delay):
                        return
                image = self.preprocess(frame.to_image())
                self.frames_read += 1
                if not self._put((image, stamp)):
                    return
                if self.max_frames is not None and self.frames_read >= self.max_frames:
                    break
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._put(
                DataError(
                    f"Video source '{self.source}' stops decoding after {self.frames_read} "
                    f"frames: {exc}.",
                    hint="The stream dropped or the file is damaged; the frames before were "
                    "scored.",
                )
            )
            return
        except BaseException as exc:  # never lose an error in the thread
            self._put(exc)
            return
        self._put(_END)

    def get(self, max_items: int, timeout: float = 0.1) -> list[tuple[np.ndarray, float | None]]:
        """Wait for at least one frame, then take any others already queued (up to
        ``max_items``). Returns ``[]`` at the end of the stream; raises a decoding error."""
        items: list[tuple[np.ndarray, float | None]] = []
        while not items:
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                thread = self._thread
                if thread is not None and not thread.is_alive() and self._queue.empty():
                    return []
                continue
            if item is _END:
                self._queue.put(_END)  # later calls see the end too
                return items
            if isinstance(item, BaseException):
                raise item
            items.append(item)
        while len(items) < max_items:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _END or isinstance(item, BaseException):
                self._queue.put(item)
                break
            items.append(item)
        return items

    @property
    def backlog(self) -> int:
        """Frames decoded and waiting to be scored."""
        return self._queue.qsize()

    def stop(self) -> None:
        """Stop decoding and close the source."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._thread is None or not self._thread.is_alive():
            self.container.close()


# --------------------------------------------------------------------------------------------
# A watch session
# --------------------------------------------------------------------------------------------
@dataclass
class WatchStats:
    """Where a watch session stands (passed to ``on_tick`` about once a second)."""

    frames: int = 0
    windows: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    last: FrameScore | None = None
    alerts: int = 0
    alert_open: bool = False
    backlog: int = 0

    @property
    def mean_fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class JsonlWriter:
    """Appends one JSON object per line and flushes after every batch (fsync once a second),
    so a crash loses nothing already written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise DataError(
                f"Cannot write the JSON lines file '{self.path}': {exc}.",
                hint="Give a path in a writable folder with --jsonl.",
            ) from None

    def write(self, records: Iterable[Mapping[str, Any]]) -> None:
        if self.fh is None:
            return
        self.fh.write("".join(json.dumps(r, allow_nan=True) + "\n" for r in records))
        self.fh.flush()

    def sync(self) -> None:
        if self.fh is not None:
            os.fsync(self.fh.fileno())

    def close(self) -> None:
        if self.fh is not None:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            self.fh = None


def run_stream(
    scorer: StreamScorer,
    reader: FrameReader,
    *,
    jsonl: str | Path | None = None,
    gap: int = 0,
    on_scores: Callable[[list[FrameScore]], None] | None = None,
    on_alert: Callable[[Alert], None] | None = None,
    on_tick: Callable[[WatchStats], None] | None = None,
    tick_seconds: float = 1.0,
) -> dict[str, Any]:
    """Score ``reader``'s frames with ``scorer`` until the stream ends or Ctrl-C.

    Returns a summary (frames, windows, alerts, mean fps, whether it was interrupted). A
    stream that ends before it completes one window is a :class:`DataError`; a decoding error
    mid-stream is raised once everything scored before it is written.
    """
    tracker = AlertTracker(gap)
    writer = JsonlWriter(jsonl) if jsonl else None
    stats = WatchStats()
    interrupted = False
    start = last_tick = time.perf_counter()
    frames_at_tick = 0

    def emit(alert: Alert | None) -> None:
        if alert is not None and on_alert is not None:
            on_alert(alert)

    try:
        reader.start()
        while True:
            items = reader.get(scorer.max_batch)
            if not items:
                break
            scores = scorer.push_many(
                [f for f, _ in items], [t for _, t in items], preprocessed=True
            )
            if writer is not None:
                writer.write(s.to_dict() for s in scores)
            if on_scores is not None:
                on_scores(scores)
            for s in scores:
                emit(tracker.update(s))
            stats.frames = scorer.frames_seen
            stats.windows = scorer.windows_scored
            stats.last = scores[-1] if scores else stats.last
            now = time.perf_counter()
            if now - last_tick >= tick_seconds:
                stats.fps = (stats.frames - frames_at_tick) / (now - last_tick)
                frames_at_tick, last_tick = stats.frames, now
                stats.seconds = now - start
                stats.alerts = len(tracker.closed) + (tracker.current is not None)
                stats.alert_open = tracker.current is not None
                stats.backlog = reader.backlog
                if writer is not None:
                    writer.sync()
                if on_tick is not None:
                    on_tick(stats)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        reader.stop()
        if writer is not None:
            writer.close()
    emit(tracker.close())
    seconds = time.perf_counter() - start
    t = scorer.clip_length
    if not interrupted and scorer.frames_seen < t + 1:
        raise DataError(
            f"The stream '{reader.source}' ended after {scorer.frames_seen} frame(s), before the "
            f"first window of clip_length + 1 = {t + 1} frames.",
            hint="Watch a longer stream (or raise --max-frames).",
        )
    return {
        "source": reader.source,
        "frames": scorer.frames_seen,
        "windows": scorer.windows_scored,
        "alerts": [a.to_dict() for a in tracker.closed],
        "seconds": round(seconds, 3),
        "mean_fps": round(scorer.frames_seen / seconds, 2) if seconds > 0 else None,
        "threshold": scorer.threshold,
        "interrupted": interrupted,
        "jsonl": None if writer is None else str(writer.path),
    }


def load_for_stream(
    run_dir: str | Path,
    *,
    checkpoint: str = "last",
    recalibrate: bool = False,
    calibration_data: str | Path | None = None,
    calibration_windows: int = DEFAULT_WINDOWS,
    quantile: float | None = None,
    device: str = "auto",
    precision: str = "auto",
    on_calibrating: Callable[[str], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], Any, Calibration]:
    """The run's config, model and a calibration that fits its weights.

    ``RUN/calibration.json`` is used when it was made with these weights; otherwise (or with
    ``recalibrate``) the run is calibrated first, and ``on_calibrating`` is told why.
    """
    from vadkit.engine.runs import checkpoint_path, load_model

    run_dir = Path(run_dir)
    config, model = load_model(run_dir, checkpoint=checkpoint, device="cpu")
    try:
        digest = weights_digest(checkpoint_path(run_dir, checkpoint))
    except OSError as exc:
        raise CheckpointError(
            f"Cannot read the checkpoint of '{run_dir}': {exc}.", hint=None
        ) from None
    reason = "--calibrate was given" if recalibrate else None
    cal = None
    if not recalibrate:
        try:
            cal = read_calibration(run_dir)
        except DataError as exc:
            reason = f"{calibration_path(run_dir)} cannot be used ({exc.message})"
        if cal is None and reason is None:
            reason = f"the run has no {CALIBRATION_FILE} yet"
        elif cal is not None:
            stale = stale_reason(cal, model, digest)
            if stale:
                reason, cal = f"{calibration_path(run_dir)} does not fit: {stale}", None
    if cal is None:
        if on_calibrating is not None:
            on_calibrating(reason or "")
        cal = calibrate(
            run_dir,
            model=model,
            config=config,
            checkpoint=checkpoint,
            data=calibration_data,
            windows=calibration_windows,
            quantile=DEFAULT_QUANTILE if quantile is None else quantile,
            device=device,
            precision=precision,
            on_progress=on_progress,
        )
    return config, model, cal
