"""``vadkit watch BUNDLE``: the stream scorer with a bundle's engine in place of the network.

:class:`BundleStreamScorer` is a :class:`~vadkit.stream.scorer.StreamScorer` (the same window
buffer, gap handling, calibrated rescaling, fusion and threshold) whose windows are scored by the
bundle's graph, so ``run_stream`` and the ``watch`` command use it unchanged. The calibration is
the one stored in the bundle (fitted at export on the run's training windows).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.components import SCORE_KEY
from vadkit.config import Settings
from vadkit.errors import ConfigError
from vadkit.runtime.bundle import Bundle, read_bundle, refuse_run_options
from vadkit.runtime.engines import Engine, open_engine
from vadkit.runtime.windows import score_frames
from vadkit.stream.calibration import Calibration
from vadkit.stream.gaps import DEFAULT_MAX_GAP
from vadkit.stream.scorer import StreamScorer


def bundle_calibration(bundle: Bundle, engine: Engine | None = None) -> Calibration:
    """The calibration stored in the bundle for ``engine``: for its int8 model, the one made of
    that engine's int8 scores (``int8.calibrations``), else the fp32 one."""
    record = bundle.meta["calibration"]
    if engine is not None and getattr(engine, "precision", "fp32") == "int8":
        record = (bundle.meta.get("int8") or {}).get("calibrations", {}).get(engine.name, record)
    return Calibration.from_json(record, bundle.file("bundle.json"))


class BundleStreamScorer(StreamScorer):
    """Scores a stream frame by frame with a bundle, as :class:`StreamScorer` does with a run.

    Args mirror :class:`StreamScorer`'s; ``engine`` is the bundle's compiled network
    (:func:`vadkit.runtime.engines.open_engine`) and ``calibration`` defaults to the bundle's.
    """

    def __init__(
        self,
        bundle: Bundle,
        engine: Engine,
        *,
        error: str | None = None,
        alphas: Any = None,
        calibration: Calibration | None = None,
        normalizer: str | None = None,
        threshold: float | None = None,
        quantile: float | None = None,
        max_batch: int = 8,
        max_gap: int | None = DEFAULT_MAX_GAP,
        frame_interval: float | None = None,
    ) -> None:
        if int(max_batch) < 1:
            raise ConfigError(f"max_batch = {max_batch} must be at least 1.", hint="E.g. 8")
        settings = Settings.from_config(bundle.config)
        self.bundle = bundle
        self.engine = engine
        self.clip_length = bundle.clip_length
        self.size = bundle.size
        self.color = bundle.color
        self.channels = bundle.channels
        self.max_batch = int(max_batch)
        self.tasks = bundle.tasks
        self.error = error or settings.score.error
        error_tasks = set(bundle.meta["error_tasks"])
        if error_tasks and self.error not in bundle.meta["errors"]:
            raise ConfigError(
                f"Error measure {self.error!r} is not in bundle '{bundle.path}'.",
                hint=f"Available: {', '.join(bundle.meta['errors'])}.",
            )
        self.keys = {t: self.error if t in error_tasks else SCORE_KEY for t in self.tasks}
        cal = bundle_calibration(bundle, engine) if calibration is None else calibration
        self._calibrate(settings.score, alphas, cal, normalizer, threshold, quantile)
        self._start(max_gap, frame_interval)

    def _columns(self, frames: np.ndarray) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        for positions, streams in score_frames(
            self.engine, frames, self.clip_length, self.max_batch
        ):
            yield positions, {t: streams[f"{t}/{k}"] for t, k in self.keys.items()}


def bundle_stream_scorer(
    bundle_dir: str | Path,
    *,
    run_options: Mapping[str, bool] | None = None,
    device: str = "auto",
    precision: str = "auto",
    **options: Any,
) -> BundleStreamScorer:
    """The stream scorer of ``vadkit watch BUNDLE``: the bundle read and checked, its engine
    opened for ``device``/``precision``; ``options`` as :class:`BundleStreamScorer` takes them.
    ``run_options``: the options that apply to runs only, with whether each was given (one
    given is an error, :func:`~vadkit.runtime.bundle.refuse_run_options`)."""
    refuse_run_options(bundle_dir, run_options or {})
    bundle = read_bundle(bundle_dir)
    return BundleStreamScorer(bundle, open_engine(bundle, device, precision), **options)
