"""Calibrating a run: score a sample of its normal training windows, the reference that a
stream's normalizer is fitted on.

:func:`calibrate` scores windows spread evenly over every stride-1 window of the training split
(normal by assumption; :func:`vadkit.scoring.core.select_windows` picks them), with every error
measure the run can use, and writes the :class:`~vadkit.stream.calibration.Calibration` to
``RUN/calibration.json``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from vadkit.config.request import Request
from vadkit.config.settings import DEFAULT_WINDOWS
from vadkit.errors import ConfigError, DataError
from vadkit.scoring.core import VideoLike, WindowScorer, picked_scores, select_windows
from vadkit.scoring.fusion import default_alphas, resolve_alphas
from vadkit.storage.lock import locked
from vadkit.stream.calibration import (
    DEFAULT_QUANTILE,
    Calibration,
    check_quantile,
    stream_normalizer,
    weights_digest,
    write_calibration,
)

if TYPE_CHECKING:
    from vadkit.model import VADModel


def calibration_scores(
    scorer: WindowScorer,
    videos: Sequence[VideoLike],
    *,
    windows: int = DEFAULT_WINDOWS,
    batch_size: int = 32,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], int]:
    """Raw scores ``[task][key]`` of up to ``windows`` windows spread evenly over ``videos``
    (:func:`~vadkit.scoring.core.select_windows`), scored by ``scorer``.

    Returns the scores and the number of windows the videos have in all. Scores are oriented as
    offline (similarities negated), and the network runs as it does offline.
    """
    if windows < 1:
        raise ConfigError(f"Calibration windows = {windows} must be at least 1.", hint="E.g. 512")
    t = scorer.clip_length
    lengths = [int(v.num_frames) for v in videos]
    picks = select_windows(lengths, t, windows)
    total = sum(max(0, n - t) for n in lengths)
    if not picks:
        raise DataError(
            f"No calibration video has the clip_length + 1 = {t + 1} frames a window needs.",
            hint="Calibrate on longer normal videos (--calibration-data).",
        )
    scores = picked_scores(scorer, videos, picks, batch_size, on_progress=on_progress)
    return scores.by_task(), total


@dataclass(frozen=True)
class CalibrationRequest(Request):
    """How to calibrate a run (every field optional).

    ``data``: the dataset whose training split is scored (default: the run's ``data.root``, or
    the synthetic scene); ``windows`` windows spread evenly over it, ``batch_size`` at a time
    (default ``score.batch_size``). ``normalizer``: the registered normalizer stored to be fitted
    on the scores (default ``score.normalizer``); the fused threshold is the ``quantile``-th
    percentile for ``error`` and ``alphas`` (default ``score.error``, ``score.alphas``). The
    weights are those the run scores (``weights``, default ``score.weights``, and
    ``checkpoint``: see :func:`~vadkit.inference.weights.load_scored_model`); ``device`` and
    ``precision`` those of scoring (``auto``: the run's ``score.precision``).
    """

    checkpoint: str = "last"
    weights: str | None = None
    data: str | Path | None = None
    windows: int = DEFAULT_WINDOWS
    quantile: float = DEFAULT_QUANTILE
    error: str | None = None
    alphas: Any = None
    normalizer: str | None = None
    device: str = "auto"
    precision: str = "auto"
    batch_size: int | None = None

    taken_by: ClassVar[str] = "calibrate"


@locked("vadkit watch --calibrate")  # it writes RUN/calibration.json
def calibrate(
    run_dir: str | Path,
    request: CalibrationRequest | None = None,
    *,
    model: VADModel | None = None,
    config: Mapping[str, Any] | None = None,
    scored: Mapping[str, Any] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> Calibration:
    """Calibrate a run for streaming on normal data and write ``RUN/calibration.json``.

    ``request`` (a :class:`CalibrationRequest`), or its fields as keyword ``options``, says how.
    Scores windows spread evenly over the training split, with every error measure the run can
    use, and stores the raw scores, the normalizer to fit on them and the fused threshold.
    ``model`` and ``config`` may be given when already loaded, with ``scored``, the record of
    their weights (without it they must be ``checkpoint``'s). ``on_progress(done, windows)``.
    """
    req = CalibrationRequest.of(request, options)
    checkpoint, weights, data, windows = req.checkpoint, req.weights, req.data, req.windows
    quantile, error, alphas, normalizer = req.quantile, req.error, req.alphas, req.normalizer
    device, precision, batch_size = req.device, req.precision, req.batch_size
    from vadkit._version import __version__
    from vadkit.config import Settings
    from vadkit.data import default_data_root, open_videos
    from vadkit.inference.scorer import ModelScorer, applicable_errors, scoring_runtime
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
    runtime = scoring_runtime(
        device,
        precision if precision != "auto" else sset.precision,
        settings.train.channels_last,
    )
    tasks = list(model.tasks)
    err = error or sset.error
    norm_name = normalizer or sset.normalizer
    stream_normalizer(norm_name, sset.normalizer_params)  # fail before the network pass
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
    params = sset.error_params
    errs = applicable_errors(None, frame_shape, runtime.device, params=params) if uses_error else {}
    if uses_error and err not in errs:
        raise ConfigError(
            f"Error measure {err!r} is not one this run can use.",
            hint=f"Available: {', '.join(sorted(errs)) or 'none'}.",
        )
    scores, total = calibration_scores(
        ModelScorer(model, errs, runtime),
        list(vset),
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
        scores=scores,
        error=err,
        alphas=fusion,
        quantile=q,
        meta=meta,
        normalizer=norm_name,
        normalizer_params=sset.normalizer_params,
    )
    write_calibration(run_dir, cal)
    return cal
