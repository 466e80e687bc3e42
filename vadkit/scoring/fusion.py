"""Per-video normalisation, temporal smoothing and score fusion (no network, no torch).

Each task's raw score stream of a video is rescaled by a registered normalizer (``fit_transform``
per video, the paper's protocol), optionally smoothed over time, and the tasks are fused by a
weighted sum (eq. 15) with weights given by name (a preset of the run's recipe), position or
task.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from vadkit.components import ScoreNormalizer
from vadkit.errors import ConfigError
from vadkit.scoring.core import VideoScores
from vadkit.scoring.finite import check_finite

#: A ``score.normalizer_params``-shaped table: each normalizer's parameters, by name.
ParamTable = Mapping[str, Mapping[str, Any]]


def get_normalizer(
    spec: str | ScoreNormalizer, params: ParamTable | None = None
) -> tuple[str, ScoreNormalizer]:
    """``(name, normalizer)`` for a registered name, built with its parameters in ``params`` (the
    run's ``score.normalizer_params``, or the table a score set or calibration recorded; a name
    it lacks keeps its defaults), or for a normalizer instance (used as it is)."""
    if isinstance(spec, ScoreNormalizer):
        return type(spec).__name__.lower(), spec
    from vadkit.config.params import build_component

    return spec, build_component("normalizers", spec, (params or {}).get(spec))


def normalizer_record(spec: str | ScoreNormalizer, params: ParamTable | None = None) -> dict:
    """What an evaluation records of the normalizer it used: ``{name: its parameters}`` (checked
    and completed), empty for an instance given by the caller (its parameters are its own)."""
    if isinstance(spec, ScoreNormalizer):
        return {}
    from vadkit.config.params import configured_params

    return {spec: configured_params("normalizers", spec, (params or {}).get(spec))}


def resolve_alphas(
    spec: str | Mapping[str, Any] | Sequence[float] | None,
    tasks: Sequence[str],
    *,
    default: Mapping[str, Any] | None = None,
    presets: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, float]:
    """Fusion weights for ``tasks``, from a preset, ``"a1,a2,a3"``, ``"vcr=0.1,..."`` or a mapping.

    Positional weights follow the order of ``tasks`` (the run's task order). ``presets`` are the
    run's named weights (``score.presets``, from its recipe). A preset's weights for tasks the run
    does not have are dropped; a task without a weight is an error.
    """
    presets = {k.lower(): v for k, v in (presets or {}).items()}
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        if default is None:
            raise ConfigError("No fusion weights given.", hint="Pass --alphas ped2 or a1,a2,a3.")
        spec = default
    where = "--alphas"
    named: dict[str, Any] | None = None
    positional: list[Any] = []
    if isinstance(spec, str):
        text = spec.strip().lower()
        if text in presets:
            missing = [t for t in tasks if t not in presets[text]]
            if missing:
                raise ConfigError(
                    f"The '{text}' preset has no weight for task(s) {', '.join(missing)}.",
                    hint=f"It covers {', '.join(presets[text])}; give weights: --alphas "
                    + ",".join(f"{t}=1" for t in tasks),
                )
            return {t: float(presets[text][t]) for t in tasks}
        if re.fullmatch(r"[a-z][a-z0-9_-]*", text):
            raise ConfigError(
                f"'{text}' is not a fusion-weight preset of this run"
                + (f" (its presets: {', '.join(presets)})." if presets else ".")
                + ("" if presets else " The run's recipe names no preset."),
                hint="Give weights instead: --alphas " + ",".join(f"{t}=1" for t in tasks),
            )
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if parts and all("=" in p for p in parts):
            named = {k.strip(): v.strip() for k, v in (p.split("=", 1) for p in parts)}
        elif parts and not any("=" in p for p in parts):
            positional = parts
        else:
            known = f"a preset of the run ({', '.join(presets)}), " if presets else ""
            raise ConfigError(
                f"Cannot read the fusion weights {spec!r}"
                + ("" if presets else " (the run's recipe names no preset)")
                + ".",
                hint=f"Use {known}'a1,a2,a3' or 'TASK=WEIGHT,...'.",
            )
    elif isinstance(spec, Mapping):
        named = dict(spec)
        where = "score.alphas"
    else:
        positional = list(spec)
    if named is None:
        if len(positional) != len(tasks):
            raise ConfigError(
                f"{len(positional)} fusion weight(s) for {len(tasks)} task(s) "
                f"({', '.join(tasks)}).",
                hint=f"Give one weight per task, in the order {', '.join(tasks)}.",
            )
        named = dict(zip(tasks, positional, strict=True))
    unknown = [t for t in named if t not in tasks]
    missing = [t for t in tasks if t not in named]
    if unknown or missing:
        problem = (
            f"weights for task(s) the run does not have: {', '.join(unknown)}"
            if unknown
            else f"no weight for task(s) {', '.join(missing)}"
        )
        raise ConfigError(
            f"Fusion weights ({where}): {problem}.", hint=f"The run's tasks: {', '.join(tasks)}."
        )
    out: dict[str, float] = {}
    for t in tasks:
        try:
            out[t] = float(named[t])
        except (TypeError, ValueError):
            raise ConfigError(
                f"Fusion weight of '{t}' is {named[t]!r}, not a number.", hint="E.g. TASK=0.1"
            ) from None
        if not math.isfinite(out[t]):
            raise ConfigError(f"Fusion weight of '{t}' is {out[t]}.", hint="Use finite weights.")
    if not any(out.values()):
        raise ConfigError("All fusion weights are zero.", hint="Give at least one task a weight.")
    return out


def check_smooth(sigma: float) -> float:
    """A temporal smoothing width: a finite number of frames >= 0 (0 = no smoothing)."""
    value = float(sigma)
    if not np.isfinite(value) or value < 0:
        raise ConfigError(
            f"Temporal smoothing sigma must be a number of frames >= 0, not {sigma!r}.",
            hint="Use 0 (the paper's protocol: no smoothing) or e.g. --smooth 10.",
        )
    return value


def smooth_stream(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian filter of width ``sigma`` frames along one video's score stream (edges held)."""
    if sigma <= 0 or values.size < 2:
        return values
    from scipy.ndimage import gaussian_filter1d

    return np.asarray(gaussian_filter1d(values, sigma, mode="nearest"), np.float64)


def normalized_streams(
    video: VideoScores,
    tasks: Iterable[str],
    error: str,
    normalizer: ScoreNormalizer,
    smooth: float = 0.0,
) -> dict[str, np.ndarray]:
    """Each task's score stream of ``video`` for ``error``, rescaled by ``normalizer`` (its
    ``fit_transform``: each stream by its own statistics), then,
    when ``smooth`` > 0, filtered over time by a Gaussian of ``smooth`` frames.

    Only the streams of ``error`` are read: another error measure's scores may be non-finite.
    A non-finite score in them is a :class:`DataError` naming the task, the error measure, the
    video and the frames.

    Smoothing after the rescaling and before the (linear) fusion equals smoothing the fused
    score itself, so a task's stream and the fused one are smoothed alike.
    """
    out = {}
    for t in tasks:
        values = check_finite(
            video.stream(t, error),
            video=video.name,
            frames=video.frames,
            task=t,
            key=video.stream_key(t, error),
        )
        out[t] = smooth_stream(np.asarray(normalizer.fit_transform(values), np.float64), smooth)
    return out


def fuse(streams: Mapping[str, np.ndarray], alphas: Mapping[str, float]) -> np.ndarray:
    """The weighted sum ``sum_k alphas[k] * streams[k]`` (eq. 15)."""
    total: np.ndarray | None = None
    for task, weight in alphas.items():
        part = weight * np.asarray(streams[task], np.float64)
        total = part if total is None else total + part
    if total is None:
        raise ConfigError("No task to fuse.", hint="Give at least one fusion weight.")
    return total


def default_alphas(config_alphas: Mapping[str, Any] | None, tasks: Sequence[str]) -> dict:
    """The run's default fusion weights: ``score.alphas`` for the run's tasks, 1.0 if absent."""
    given = dict(config_alphas or {})
    return resolve_alphas({t: given.get(t, 1.0) for t in tasks}, tasks)
