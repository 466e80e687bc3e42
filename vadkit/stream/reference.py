"""Calibrating a run: score a sample of its normal training windows, the reference that a
stream's normalizer is fitted on.

:func:`calibrate` scores windows spread evenly over every stride-1 window of the training split
(normal by assumption; :func:`select_windows` picks them), with every error measure the run can
use, and writes the :class:`~vadkit.stream.calibration.Calibration` to ``RUN/calibration.json``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vadkit.config.settings import DEFAULT_WINDOWS
from vadkit.errors import ConfigError, DataError
from vadkit.scoring.fusion import default_alphas, resolve_alphas
from vadkit.stream.calibration import (
    DEFAULT_QUANTILE,
    Calibration,
    check_quantile,
    stream_normalizer,
    weights_digest,
    write_calibration,
)

if TYPE_CHECKING:
    from vadkit.components import ErrorMeasure
    from vadkit.compute.device import Runtime
    from vadkit.data.video import Video
    from vadkit.model import VADModel


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
    model: VADModel,
    videos: Sequence[Video],
    *,
    clip_length: int,
    errors: Mapping[str, ErrorMeasure],
    runtime: Runtime,
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
    model: VADModel | None = None,
    config: Mapping[str, Any] | None = None,
    checkpoint: str = "last",
    weights: str | None = None,
    scored: Mapping[str, Any] | None = None,
    data: str | Path | None = None,
    windows: int = DEFAULT_WINDOWS,
    quantile: float = DEFAULT_QUANTILE,
    error: str | None = None,
    alphas: Any = None,
    normalizer: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Calibrate a run for streaming on normal data and write ``RUN/calibration.json``.

    Scores ``windows`` windows spread evenly over the training split of ``data`` (default: the
    run's ``data.root``, or the synthetic scene), with every error measure the run can use, and
    stores the raw scores, the registered ``normalizer`` to fit on them (default: the run's
    ``score.normalizer``) and the fused threshold (``quantile``-th percentile, for ``error`` and
    ``alphas``, default the run's ``score.error`` and ``score.alphas``). The weights are those
    the run scores (``weights``, default ``score.weights``, and ``checkpoint``: see
    :func:`~vadkit.inference.weights.load_scored_model`); ``model`` and ``config`` may be given when
    already loaded, with ``scored``, the record of their weights (without it they must be
    ``checkpoint``'s).
    """
    from vadkit._version import __version__
    from vadkit.config import Settings
    from vadkit.data import default_data_root, open_videos
    from vadkit.inference.score import applicable_errors, make_runtime
    from vadkit.inference.weights import load_scored_model
    from vadkit.runs.checkpoints import checkpoint_path

    run_dir = Path(run_dir)
    q = check_quantile(quantile)
    if model is None or config is None:
        config, model, loaded = load_scored_model(run_dir, weights=weights, checkpoint=checkpoint)
        scored = loaded.to_json()
    if scored is None:  # a model loaded by the caller from ``checkpoint``
        wpath = checkpoint_path(run_dir, checkpoint)
        scored = {
            "checkpoint": str(checkpoint),
            "file": str(wpath),
            "sha256": weights_digest(wpath),
        }
    settings = Settings.from_config(dict(config))
    dset, sset = settings.data, settings.score
    clip_length = dset.clip_length
    size = dset.hw
    color = dset.color
    runtime = make_runtime(
        device,
        precision if precision != "auto" else sset.precision,
        settings.train.channels_last,
    )
    runtime.prepare(model)
    tasks = list(model.tasks)
    err = error or sset.error
    norm_name = normalizer or sset.normalizer
    stream_normalizer(norm_name)  # fail before the network pass, not after
    fusion = resolve_alphas(
        alphas, tasks, default=default_alphas(sset.alphas, tasks), presets=sset.presets
    )
    root = data or dset.root or default_data_root()
    try:
        vset = open_videos(
            root,
            "training",
            size=(size[0], size[1]),
            color=color,
            format=(dset.format or None) if data is None else None,
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
        batch_size=int(batch_size or sset.batch_size),
        on_progress=on_progress,
    )
    meta = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "vadkit": __version__,
        "checkpoint": str(scored["checkpoint"]),
        "weights": {
            "file": scored.get("file"),
            "sha256": scored["sha256"],
            "mode": scored.get("mode"),
        },
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
    cal = Calibration(
        scores=scores, error=err, alphas=fusion, quantile=q, meta=meta, normalizer=norm_name
    )
    write_calibration(run_dir, cal)
    return cal
