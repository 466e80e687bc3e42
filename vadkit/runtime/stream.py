"""``vadkit watch BUNDLE``: the stream scorer with a bundle's engine in place of the network.

:class:`BundleStreamScorer` is a :class:`~vadkit.stream.scorer.StreamScorer` (the same window
buffer, gap handling, calibrated rescaling, fusion and threshold) whose windows are scored by the
bundle's graph through :class:`~vadkit.runtime.scorer.EngineScorer`, so ``run_stream`` and the
``watch`` command use it unchanged. The calibration is the one stored in the bundle (fitted at
export on the run's training windows).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vadkit.config import Settings
from vadkit.runtime.bundle import Bundle, read_bundle, refuse_run_options
from vadkit.runtime.engines import Engine, open_engine
from vadkit.runtime.scorer import EngineScorer
from vadkit.stream.calibration import Calibration
from vadkit.stream.scorer import StreamScorer


def bundle_calibration(bundle: Bundle, engine: Engine | None = None) -> Calibration:
    """The calibration stored in the bundle for ``engine``: for its int8 model, the one made of
    that engine's int8 scores (``int8.calibrations``), else the fp32 one."""
    record = bundle.meta.calibration
    int8 = bundle.meta.int8
    if engine is not None and engine.precision == "int8" and int8 is not None:
        record = int8.calibrations.get(engine.name, record)
    return Calibration.from_json(record, bundle.file("bundle.json"))


class BundleStreamScorer(StreamScorer):
    """A :class:`StreamScorer` over a bundle's engine, with the bundle's own calibration.

    ``engine`` is the bundle's compiled network (:func:`vadkit.runtime.engines.open_engine`);
    ``calibration`` defaults to the bundle's (:func:`bundle_calibration`); the other options are
    :class:`StreamScorer`'s.
    """

    def __init__(
        self,
        bundle: Bundle,
        engine: Engine,
        *,
        calibration: Calibration | None = None,
        **options: Any,
    ) -> None:
        self.bundle = bundle
        self.engine = engine
        cal = bundle_calibration(bundle, engine) if calibration is None else calibration
        settings = Settings.from_config(bundle.config)
        super().__init__(
            EngineScorer.of_bundle(bundle, engine), settings, calibration=cal, **options
        )


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
