"""Anomaly maps: where in a frame each error-based task (and the fused score) sees the anomaly.

A task that compares frames (``uses_error``) scores a window by pooling an error image: the
error measure's per-pixel map (:meth:`vadkit.components.ErrorMeasure.error_map`, e.g. BPE's
blurred and subsampled squared error), averaged over the K frames the task compares. That map,
before pooling, is the task's anomaly map of the window; it comes from the same network pass and
the same code as the score (:meth:`vadkit.model.VADModel.window_maps`), so pooling it gives the
score exactly.

Attribution to frames follows the score sets (:func:`vadkit.scoring.core.expand_window_scores`):
window ``i`` scores frame ``i + T``; with ``frames = "all"`` the first T frames get the first
window's map, with ``"protocol"`` they have none.

The fused map weights the tasks' maps as the fused score weights their scores (eq. 15). Each
task's map is rescaled by the run's normalizer fitted, per video, on the per-frame *means* of that
task's map (for a measure whose value is its map's mean, as MSE, PSE and BPE, these are exactly
the task's raw scores, so the statistics are the fused score's), then applied to every pixel. A
task without maps (e.g. a classifier's probability) adds its normalized score as a flat plane.
With an affine normalizer (min-max, robust) and such a measure, the fused map's mean over the
pixels of a frame is the frame's fused score. Temporal smoothing (``score.smooth``) is not
applied to maps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from vadkit.components import ErrorMeasure, ScoreNormalizer, supports_fit
from vadkit.errors import ConfigError, DataError
from vadkit.scoring.core import WindowScorer, WindowScores, expand_window_scores, score_video


@dataclass(frozen=True)
class FrameMaps:
    """Anomaly maps of frames of one video, at the frames' original size.

    ``frames`` int64 ``[T]`` frame indices (0-based); ``images`` uint8 ``[T, H, W, 3]`` the frames
    (grey repeated on 3 channels); ``tasks[name]`` float32 ``[T, H, W]`` each error-based task's
    raw map (upsampled bilinearly); ``fused`` float32 ``[T, H, W]`` the fused map.
    """

    video: str
    frames: np.ndarray
    images: np.ndarray
    tasks: dict[str, np.ndarray]
    fused: np.ndarray


@dataclass
class WindowMaps:
    """The raw scores and maps of one video, per scored frame (native map size)."""

    frames: np.ndarray  # int64 [F]
    scores: dict[str, dict[str, np.ndarray]]  # task -> key -> float64 [F] (as in score sets)
    maps: dict[str, np.ndarray]  # error-based task -> float32 [F, h, w]


def check_map_error(errors: Mapping[str, ErrorMeasure], error: str) -> None:
    """Raise :class:`ConfigError` unless ``error`` is in ``errors`` and gives per-pixel maps."""
    if error not in errors:
        raise ConfigError(
            f"The error measure '{error}' is not available for this run's maps.",
            hint=f"Available: {', '.join(sorted(errors)) or 'none'}.",
        )
    probe = torch.zeros((1, 1, 8, 8))
    with torch.inference_mode():
        has_map = errors[error].error_map(probe, probe) is not None
    if not has_map:
        raise ConfigError(
            f"The error measure '{error}' gives no per-pixel map (its error_map() returns None), "
            "so it has no anomaly maps.",
            hint="Use a measure that gives one (vadkit's built-in ones all do) with --error NAME.",
        )


def resize_maps(
    maps: torch.Tensor, size: tuple[int, int], *, mode: str = "bilinear"
) -> torch.Tensor:
    """``(N, h, w)`` maps resized to ``size``: ``"bilinear"`` to enlarge, ``"area"`` to shrink."""
    import torch.nn.functional as F

    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    x = maps[:, None].float()
    if mode == "area":
        out = F.interpolate(x, size=size, mode="area")
    else:
        out = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return out[:, 0]


def stored_size(native: tuple[int, int], limit: int) -> tuple[int, int]:
    """The size maps are stored at: ``native`` scaled down so its longer side is at most
    ``limit`` (never enlarged)."""
    h, w = native
    scale = min(1.0, limit / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


class MapCollector:
    """Gathers the maps of one error measure batch by batch (each the mean over the K compared
    frames), shrunk on the fly so the longer side is at most ``limit`` pixels (None: native).
    A :class:`~vadkit.scoring.core.MapSink` of the scoring loop."""

    def __init__(self, error: str, limit: int | None = None) -> None:
        self.error = error
        self.limit = limit
        self.size: tuple[int, int] | None = None
        self.parts: dict[str, list[torch.Tensor]] = {}

    def add(self, scores: WindowScores) -> None:
        for key, values in scores.maps.items():
            if key.key != self.error:
                continue
            m = torch.from_numpy(values)
            native = (int(m.shape[-2]), int(m.shape[-1]))
            if self.size is None:
                self.size = native if self.limit is None else stored_size(native, self.limit)
            self.parts.setdefault(key.task, []).append(
                resize_maps(m, self.size, mode="area").float()
            )

    def result(self, num_frames: int, clip_length: int, mode: str) -> dict[str, np.ndarray]:
        """Each task's maps ``[F, h, w]`` float32, attributed to frames as the scores are."""
        return {
            task: expand_window_scores(torch.cat(chunks).numpy(), num_frames, clip_length, mode)[1]
            for task, chunks in self.parts.items()
        }


def window_maps(
    scorer: WindowScorer,
    frames: np.ndarray,
    *,
    error: str,
    batch_size: int,
    frames_mode: str,
    size: tuple[int, int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> WindowMaps:
    """Raw scores (every measure of ``scorer``) and the maps of ``error`` for one video's frames
    ``(N, H, W, C)`` uint8 at the run's size, attributed to frames as the score sets are.

    ``size`` shrinks the maps (area averaging) as they are computed; None keeps the native size.
    """
    n = int(frames.shape[0])
    collector = MapCollector(error)
    collector.size = size
    out_frames, raw = score_video(
        scorer,
        frames,
        batch_size=batch_size,
        frames_mode=frames_mode,
        maps=collector,
        on_progress=on_progress,
    )
    task_maps = collector.result(n, scorer.clip_length, frames_mode)
    return WindowMaps(frames=out_frames, scores=raw, maps=task_maps)


def fuse_maps(
    task_maps: Mapping[str, np.ndarray],
    raw_scores: Mapping[str, np.ndarray],
    alphas: Mapping[str, float],
    normalizer: ScoreNormalizer,
) -> np.ndarray:
    """The fused map ``[F, h, w]`` of one video (see the module's docstring for the rule).

    ``task_maps[task]`` ``[F, h, w]`` for error-based tasks (all of one size), ``raw_scores[task]``
    ``[F]`` for the others; ``alphas`` the fusion weights of every task.
    """
    if not supports_fit(normalizer):
        raise ConfigError(
            f"The normalizer {type(normalizer).__name__} rescales whole score streams only (no "
            "fit/transform), so it cannot rescale the pixels of a map.",
            hint="Use a normalizer with fit() and transform() (the built-in ones have them).",
        )
    if not task_maps:
        raise DataError(
            "No task of this run gives anomaly maps.",
            hint="Maps need a task that compares frames (uses_error) and a measure with maps.",
        )
    shape = next(iter(task_maps.values())).shape
    fused = np.zeros(shape, np.float64)
    for task, weight in alphas.items():
        if task in task_maps:
            values = np.asarray(task_maps[task], np.float64)
            means = values.reshape(len(values), -1).mean(axis=1)
            fitted = normalizer.fit(means)
            fused += weight * fitted.transform(values.reshape(-1)).reshape(values.shape)
        elif task in raw_scores:
            stream = np.asarray(normalizer.fit(raw_scores[task]).transform(raw_scores[task]))
            fused += weight * stream[:, None, None]
        else:
            raise DataError(
                f"Task '{task}' has neither a map nor a score stream to fuse.",
                hint="Fuse the tasks the video was scored with.",
            )
    return fused.astype(np.float32)
