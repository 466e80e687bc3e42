"""Calibration of a run for streaming: scores of normal training windows and what they fix.

A stream has no "whole video" to rescale by, so its scores are rescaled with statistics fixed in
advance: the run scores a sample of its training windows (normal by assumption, see
:func:`vadkit.stream.reference.calibrate`) and a :class:`Calibration` keeps, per task and error measure, the raw scores,
the registered normalizer fitted on them (``fit``; live scores are then ``transform``-ed), and
the fused alert threshold (by default the 99.5th percentile of the fused, rescaled calibration
scores). It is stored in ``RUN/calibration.json`` and is valid for one set of weights only
(:func:`stale_reason`).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vadkit.components import SCORE_KEY, ScoreNormalizer, supports_fit
from vadkit.config.settings import DEFAULT_QUANTILE
from vadkit.errors import ConfigError, DataError
from vadkit.storage.io import file_digest as weights_digest  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from vadkit.model import VADModel

CALIBRATION_FILE = "calibration.json"
#: Format 2 names the normalizer; format 1 (vadkit 0.1) did not, and is recalibrated.
CALIBRATION_FORMAT = 2
_READABLE = (2,)
_RECALIBRATE = "Recalibrate: vadkit watch RUN --calibrate"


def stream_normalizer(
    name: str, params: Mapping[str, Mapping[str, Any]] | None = None
) -> ScoreNormalizer:
    """A new, unfitted instance of the registered normalizer ``name``, built with its parameters
    in ``params`` (a ``score.normalizer_params`` table; :func:`~vadkit.scoring.fusion.get_normalizer`),
    checked to implement ``fit`` and ``transform`` (a :class:`ConfigError` naming the fix when it
    does not)."""
    from vadkit.api import get_entry, list_normalizers
    from vadkit.scoring.fusion import get_normalizer

    _, norm = get_normalizer(name, params)
    if supports_fit(norm):
        return norm
    able = []
    for other in list_normalizers():
        with contextlib.suppress(Exception):  # a plugin that fails to load is not a candidate
            factory = get_entry("normalizers", other).load()
            if isinstance(factory, type) and issubclass(factory, ScoreNormalizer):
                able += [other] if supports_fit(factory) else []
    raise ConfigError(
        f"Normalizer '{name}' ({type(norm).__name__}) cannot rescale a stream: it rescales whole "
        "videos only (it overrides __call__, not fit(reference) and transform(scores)).",
        hint="Give it fit() and transform() (the ScoreNormalizer contract), or choose another "
        f"with --normalizer: {', '.join(able) or 'none is registered'}.",
    )


@dataclass
class Calibration:
    """A run's raw scores on normal data, the normalizer fitted on them, and the alert threshold.

    ``scores[task][key]`` are the raw calibration scores (key: an error measure's name, or
    :data:`~vadkit.components.SCORE_KEY`), oriented like offline scores (similarities negated).
    ``normalizer`` names the registered normalizer that rescales a stream: fitted on each task's
    calibration scores (:meth:`fitted`), it transforms that task's live scores.
    ``normalizer_params`` are the parameters of the normalizers by name (the run's
    ``score.normalizer_params``), used for this calibration's normalizer and any other it fits. ``threshold`` is
    the ``quantile``-th percentile of the fused, rescaled calibration scores for ``error`` and
    ``alphas``; :meth:`threshold_for` recomputes it for other settings (another normalizer too)
    without the network.
    """

    scores: dict[str, dict[str, np.ndarray]]
    error: str
    alphas: dict[str, float]
    quantile: float = DEFAULT_QUANTILE
    meta: dict[str, Any] = field(default_factory=dict)
    normalizer: str = ""
    normalizer_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    threshold: float = field(init=False)
    _fitted: dict[tuple[str, str, str], ScoreNormalizer] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not self.normalizer:
            raise ConfigError(
                "A calibration needs the name of the normalizer fitted on its scores.",
                hint="Pass normalizer=NAME (`vadkit list normalizers`).",
            )
        self.scores = {
            t: {k: np.asarray(v, np.float64) for k, v in keys.items()}
            for t, keys in self.scores.items()
        }
        for task, keys in self.scores.items():
            for key, values in keys.items():
                if values.size == 0 or not np.isfinite(values).all():
                    raise DataError(
                        f"Calibration scores of task '{task}' ({key}) are empty or not finite.",
                        hint=_RECALIBRATE,
                    )
        self.threshold = self.threshold_for(self.error, self.alphas, self.quantile)

    @property
    def tasks(self) -> list[str]:
        return list(self.scores)

    @property
    def windows(self) -> int:
        first = next(iter(self.scores.values()), {})
        return int(next(iter(first.values())).size) if first else 0

    def fitted(self, task: str, key: str, normalizer: str | None = None) -> ScoreNormalizer:
        """``normalizer`` (default: this calibration's) fitted on ``task``'s calibration scores
        ``key``; a ConfigError when they were not calibrated or it cannot fit."""
        keys = self.scores.get(task)
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
        name = normalizer or self.normalizer
        if (task, key, name) not in self._fitted:
            norm = stream_normalizer(name, self.normalizer_params)
            self._fitted[task, key, name] = norm.fit(keys[key])
        return self._fitted[task, key, name]

    def keys_for(self, error: str) -> dict[str, str]:
        """The stream key of every task for ``error`` (:data:`SCORE_KEY` for a task without)."""
        return {
            t: (SCORE_KEY if error not in keys and SCORE_KEY in keys else error)
            for t, keys in self.scores.items()
        }

    def normalized(self, error: str, normalizer: str | None = None) -> dict[str, np.ndarray]:
        """Each task's calibration scores for ``error``, transformed by ``normalizer`` (default:
        this calibration's) fitted on them."""
        out = {}
        for task, key in self.keys_for(error).items():
            norm = self.fitted(task, key, normalizer)
            out[task] = np.asarray(norm.transform(self.scores[task][key]), np.float64)
        return out

    def fused(
        self, error: str, alphas: Mapping[str, float], normalizer: str | None = None
    ) -> np.ndarray:
        """The fused calibration scores for ``error``, ``alphas`` and ``normalizer``."""
        streams = self.normalized(error, normalizer)
        missing = [t for t in alphas if t not in streams]
        if missing:
            raise ConfigError(
                f"The calibration has no scores of task(s) {', '.join(missing)}.",
                hint="It was made for another model: recalibrate with --calibrate.",
            )
        return np.sum([w * streams[t] for t, w in alphas.items()], axis=0)

    def threshold_for(
        self,
        error: str,
        alphas: Mapping[str, float],
        quantile: float | None = None,
        normalizer: str | None = None,
    ) -> float:
        """The ``quantile``-th percentile (default: this calibration's) of the fused scores."""
        q = self.quantile if quantile is None else check_quantile(quantile)
        return float(np.percentile(self.fused(error, alphas, normalizer), q))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CALIBRATION_FORMAT,
            **self.meta,
            "normalizer": self.normalizer,
            "normalizer_params": self.normalizer_params,
            "normalization": f"'{self.normalizer}' fitted on each task's calibration scores "
            "(fit), applied to its live scores (transform)",
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
        """A calibration from its JSON. A format-1 file (vadkit 0.1, before normalizers could be
        chosen) is a DataError: ``watch`` then recalibrates, as for any unusable file."""
        if isinstance(data, Mapping) and data.get("format") == 1:
            raise DataError(
                f"'{path}' was written by vadkit 0.1 (format 1), before a calibration named its "
                "normalizer.",
                hint=_RECALIBRATE,
            )
        if not isinstance(data, Mapping) or data.get("format") not in _READABLE:
            raise DataError(
                f"'{path}' is not a vadkit calibration (format 2).",
                hint=_RECALIBRATE,
            )
        skip = {"format", "normalizer", "normalizer_params", "normalization", "stats"}
        skip |= {"threshold", "scores"}
        try:
            thr = data["threshold"]
            name = data["normalizer"]
            if not isinstance(name, str):
                raise TypeError(f"normalizer {name!r} is not a name")
            return cls(
                scores={t: dict(keys) for t, keys in data["scores"].items()},
                error=str(thr["error"]),
                alphas={str(k): float(v) for k, v in thr["alphas"].items()},
                quantile=float(thr["quantile"]),
                meta={k: v for k, v in data.items() if k not in skip},
                normalizer=name,
                normalizer_params=_param_table(data.get("normalizer_params", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError(
                f"Calibration '{path}' is malformed ({type(exc).__name__}: {exc}).",
                hint=_RECALIBRATE,
            ) from None


def _param_table(value: Any) -> dict[str, dict[str, Any]]:
    """A calibration's ``normalizer_params`` (absent in files of vadkit before it: defaults)."""
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise TypeError(f"normalizer_params {value!r} is not a table of tables")
    return {str(k): dict(v) for k, v in value.items()}


def check_quantile(value: float) -> float:
    q = float(value)
    if not (math.isfinite(q) and 0.0 < q < 100.0):
        raise ConfigError(
            f"Threshold percentile {value!r} is not in (0, 100).", hint="E.g. --quantile 99.5"
        )
    return q


def calibration_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CALIBRATION_FILE


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
            hint=_RECALIBRATE,
        ) from None
    return Calibration.from_json(data, path)


def write_calibration(run_dir: str | Path, calibration: Calibration) -> Path:
    """Write ``RUN/calibration.json`` atomically."""
    from vadkit.scoring.scoreset import json_default
    from vadkit.storage.io import atomic_write

    path = calibration_path(run_dir)
    with atomic_write(path) as fh:
        json.dump(calibration.to_json(), fh, indent=1, default=json_default)
        fh.write("\n")
    return path


def stale_reason(
    calibration: Calibration, model: VADModel, weights_sha256: str | None
) -> str | None:
    """Why ``calibration`` does not fit ``model`` (or these weights), or None when it does."""
    tasks = list(model.tasks)
    if sorted(calibration.tasks) != sorted(tasks):
        return f"it has tasks {', '.join(calibration.tasks)}, the model {', '.join(tasks)}"
    found = calibration.meta.get("weights", {}).get("sha256")
    if weights_sha256 is not None and found != weights_sha256:
        return "it was made with other weights (the run was trained on, or another checkpoint)"
    return None
