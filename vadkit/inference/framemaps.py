"""The anomaly maps of a run's video at the frames' own size, with the frames: what ``vadkit
maps``, :meth:`vadkit.workflow.Run.maps` and :meth:`vadkit.workflow.Detector.maps` give.

The maps come from one scoring pass over the whole video (the fused map's per-video statistics
need every frame, :mod:`vadkit.inference.maps`); the pictures under them are read at their
original size (:mod:`vadkit.inference.mapviews`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from vadkit.errors import ConfigError, DataError
from vadkit.inference.maps import FrameMaps, check_map_error, fuse_maps, resize_maps, window_maps
from vadkit.inference.mapviews import native_images, rgb_frames
from vadkit.inference.scorer import ModelScorer, applicable_errors, scoring_runtime
from vadkit.scoring.core import check_frames_mode

if TYPE_CHECKING:
    from vadkit.compute.device import Runtime
    from vadkit.config import Settings
    from vadkit.data import Video
    from vadkit.model import VADModel


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
    from vadkit.inference.weights import load_scored_model
    from vadkit.runs.folder import read_config

    settings = Settings.from_config(read_config(run))
    runtime = scoring_runtime(device, settings.score.precision, settings.train.channels_last)
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
    from vadkit.scoring.fusion import default_alphas, get_normalizer

    dset, sset = settings.data, settings.score
    shape = (dset.channels, *dset.hw)
    errs = applicable_errors(None, shape, runtime.device, params=sset.error_params)
    measure = error or sset.error
    check_map_error(errs, measure)
    _, norm = get_normalizer(normalizer or sset.normalizer, sset.normalizer_params)
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
        ModelScorer(model, {measure: errs[measure]}, runtime),
        pixels,
        error=measure,
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
        images = rgb_frames(native[chosen] if native.ndim == 4 else native[chosen][..., None])
    else:
        images = native_images(source, chosen, pixels[chosen])
    size = (int(images.shape[1]), int(images.shape[2]))

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
