"""Anomaly maps: where in a frame each error-based task (and the fused score) sees the anomaly.

A task that compares frames (``uses_error``) scores a window by pooling an error image: the
error measure's per-pixel map (:meth:`vadkit.components.ErrorMeasure.error_map`, e.g. BPE's
blurred and subsampled squared error), averaged over the K frames the task compares. That map,
before pooling, is the task's anomaly map of the window; it comes from the same network pass and
the same code as the score (:meth:`vadkit.model.VADModel.window_maps`), so pooling it gives the
score exactly.

Attribution to frames follows the score sets (:func:`vadkit.inference.score.expand_window_scores`):
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
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vadkit.components import ScoreNormalizer, supports_fit
from vadkit.errors import ConfigError, DataError
from vadkit.inference.mapviews import _rgb, native_images, overlay

__all__ = [
    "FrameMaps",
    "MapCollector",
    "WindowMaps",
    "check_map_error",
    "frame_maps",
    "fuse_maps",
    "maps_of_frames",
    "overlay",
    "resize_maps",
    "stored_size",
    "window_maps",
]

if TYPE_CHECKING:
    import torch

    from vadkit.components import ErrorMeasure
    from vadkit.compute.device import Runtime
    from vadkit.config import Settings
    from vadkit.data import Video
    from vadkit.model import VADModel


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
    import torch

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
    frames), shrunk on the fly so the longer side is at most ``limit`` pixels (None: native)."""

    def __init__(self, error: str, limit: int | None = None) -> None:
        self.error = error
        self.limit = limit
        self.size: tuple[int, int] | None = None
        self.parts: dict[str, list[torch.Tensor]] = {}

    def add(self, maps: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        for task, by_error in maps.items():
            if self.error not in by_error:
                continue
            m = by_error[self.error].mean(dim=1)
            native = (int(m.shape[-2]), int(m.shape[-1]))
            if self.size is None:
                self.size = native if self.limit is None else stored_size(native, self.limit)
            self.parts.setdefault(task, []).append(
                resize_maps(m, self.size, mode="area").float().cpu()
            )

    def result(self, num_frames: int, clip_length: int, mode: str) -> dict[str, np.ndarray]:
        """Each task's maps ``[F, h, w]`` float32, attributed to frames as the scores are."""
        import torch

        from vadkit.inference.score import expand_window_scores

        return {
            task: expand_window_scores(torch.cat(chunks).numpy(), num_frames, clip_length, mode)[1]
            for task, chunks in self.parts.items()
        }


def window_maps(
    model: VADModel,
    frames: np.ndarray,
    *,
    clip_length: int,
    errors: Mapping[str, ErrorMeasure],
    error: str,
    runtime: Runtime,
    batch_size: int,
    frames_mode: str,
    size: tuple[int, int] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> WindowMaps:
    """Raw scores (every measure in ``errors``) and the maps of ``error`` for one video's frames
    ``(N, H, W, C)`` uint8 at the run's size, attributed to frames as the score sets are.

    ``size`` shrinks the maps (area averaging) as they are computed; None keeps the native size.
    """
    from vadkit.inference.score import windowed_pass

    n = int(frames.shape[0])
    collector = MapCollector(error)
    collector.size = size
    out_frames, raw = windowed_pass(
        model,
        frames,
        clip_length=clip_length,
        errors=errors,
        runtime=runtime,
        batch_size=batch_size,
        frames_mode=frames_mode,
        collector=collector,
        on_progress=on_progress,
    )
    task_maps = collector.result(n, clip_length, frames_mode)
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


def frame_maps(
    run: Path,
    video: str,
    frames: tuple[int, int] | None = None,
    *,
    checkpoint: Path | str | None = None,
    error: str | None = None,
    normalizer: str | None = None,
    device: str = "auto",
    data: Path | None = None,
    weights: str | None = None,
    average_last: int | None = None,
) -> FrameMaps:
    """The anomaly maps of frames ``[A, B)`` (default: every scored frame) of a run's test video.

    ``video`` is a video name as the score sets use it (a video of the run's test split, or of
    ``data``) or the path of a video file. The model runs over the whole video (the fused map's
    per-video statistics need every frame) and keeps the requested frames' maps. ``error`` and
    ``normalizer`` default to the run's ``score.error`` and ``score.normalizer``, the weights
    are the run's default fusion weights, frames are attributed by ``score.frames``. The
    network's weights are those ``vadkit score`` scores (``weights``, ``checkpoint`` and
    ``average_last`` as it takes them; :func:`~vadkit.inference.weights.load_scored_model`).
    """
    from vadkit.config import Settings
    from vadkit.inference.score import make_runtime
    from vadkit.inference.weights import load_scored_model
    from vadkit.runs.folder import read_config

    settings = Settings.from_config(read_config(run))
    runtime = make_runtime(device, settings.score.precision, settings.train.channels_last)
    config, model, _ = load_scored_model(
        run,
        weights=weights,
        checkpoint="last" if checkpoint is None else str(checkpoint),
        average_last=average_last,
        prepare=runtime.prepare,
    )
    settings = Settings.from_config(config)
    clip = _open_video(video, settings, data)
    pixels = clip.frames(np.arange(int(clip.num_frames)))
    return maps_of_frames(
        model,
        settings,
        runtime,
        pixels,
        name=clip.name,
        frames=frames,
        error=error,
        normalizer=normalizer,
        source=clip.source,
    )


def maps_of_frames(
    model: VADModel,
    settings: Settings,
    runtime: Runtime,
    pixels: np.ndarray,
    *,
    name: str,
    frames: tuple[int, int] | None = None,
    error: str | None = None,
    normalizer: str | None = None,
    source: str = "",
    native: np.ndarray | None = None,
) -> FrameMaps:
    """:class:`FrameMaps` of a whole video's frames ``pixels`` (uint8, at the run's size); the
    images are read from ``source`` at their original size, or taken from ``native`` (the frames
    as given), or are ``pixels`` themselves."""
    from vadkit.inference.score import applicable_errors, check_frames_mode
    from vadkit.scoring.fusion import default_alphas, get_normalizer

    dset, sset = settings.data, settings.score
    errs = applicable_errors(None, (dset.channels, *dset.hw), runtime.device)
    measure = error or sset.error
    check_map_error(errs, measure)
    _, norm = get_normalizer(normalizer or sset.normalizer)
    n = int(pixels.shape[0])
    if n < dset.clip_length + 1:
        raise DataError(
            f"Video '{name}' has {n} frames, fewer than the clip_length + 1 = "
            f"{dset.clip_length + 1} that one window needs: it has no maps.",
            hint="Pick a longer video.",
        )
    lo, hi = (0, n) if frames is None else (int(frames[0]), int(frames[1]))
    if not 0 <= lo < hi <= n:
        raise ConfigError(
            f"Frames {lo}:{hi} are not a range of video '{name}' ({n} frames).",
            hint=f"Give A:B with 0 <= A < B <= {n}.",
        )
    result = window_maps(
        model,
        pixels,
        clip_length=dset.clip_length,
        errors={measure: errs[measure]},
        error=measure,
        runtime=runtime,
        batch_size=sset.batch_size,
        frames_mode=check_frames_mode(sset.frames),
    )
    tasks = list(model.tasks)
    raw = {t: next(iter(result.scores[t].values())) for t in tasks}
    fused = fuse_maps(result.maps, raw, default_alphas(sset.alphas, tasks), norm)
    keep = (result.frames >= lo) & (result.frames < hi)
    if not keep.any():
        raise ConfigError(
            f"No frame in {lo}:{hi} of video '{name}' is scored (the first "
            f"{dset.clip_length} frames are not, with score.frames = 'protocol').",
            hint=f"Ask for frames from {int(result.frames[0])} on.",
        )
    chosen = result.frames[keep]
    if native is not None:
        images = _rgb(native[chosen] if native.ndim == 4 else native[chosen][..., None])
    else:
        images = native_images(source, chosen, pixels[chosen])
    size = (int(images.shape[1]), int(images.shape[2]))
    import torch

    def full(values: np.ndarray) -> np.ndarray:
        return resize_maps(torch.from_numpy(np.ascontiguousarray(values)), size).numpy()

    return FrameMaps(
        video=name,
        frames=chosen.astype(np.int64),
        images=images,
        tasks={t: full(m[keep]).astype(np.float32) for t, m in result.maps.items()},
        fused=full(fused[keep]).astype(np.float32),
    )


def _open_video(video: str, settings: Settings, data: Path | None) -> Video:
    from vadkit.data import default_data_root, open_video_file, open_videos

    dset = settings.data
    path = Path(video)
    if data is None and path.suffix and path.is_file():
        return open_video_file(path, size=dset.hw, color=dset.color)
    root = data or dset.root or default_data_root()
    vset = open_videos(
        root,
        "testing",
        size=dset.hw,
        color=dset.color,
        format=dset.format or None,
        with_labels=False,  # frames only
    )
    return vset.get(video)
