"""``vadkit demo``: the synthetic scene, training, scoring, evaluation and plots, on a CPU.

The settings are the synthetic scene's recipe (the built-in one: a narrow 3DCAE on the scene's
64x64 frames, 8-frame clips, a few epochs), so that the whole pipeline runs in a minute or two on
two CPU cores and still detects the scene's anomalies (fast walkers, an unknown shape, a walker
going the wrong way) for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vadkit.errors import ConfigError

if TYPE_CHECKING:
    from vadkit.evaluation.result import Evaluation


@dataclass(frozen=True)
class DemoResult:
    """What ``vadkit demo`` did: the ``evaluation`` of its run (written to its
    ``evaluation.json``), the ``run`` folder, the scene's ``data`` root, the ``settings``
    (``quick`` or ``full``), the seconds of each stage (``timings``) and the report's path
    (None: no report)."""

    evaluation: Evaluation
    run: str
    data: str
    settings: str
    timings: dict[str, float] = field(default_factory=dict)
    report: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The evaluation's JSON with the demo's facts (what ``vadkit demo --json`` prints)."""
        return self.evaluation.to_json() | {
            "report": self.report,
            "timings": dict(self.timings),
            "run": self.run,
            "data": self.data,
            "settings": self.settings,
        }


def demo_config(
    root: str | Path, *, quick: bool = False, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The resolved config of the demo run on the scene at ``root``.

    The settings are the recipe that claims the synthetic scene (``vadkit list recipes``);
    ``quick`` halves its epochs (the variant the tests use).
    """
    from vadkit.config import default_recipe, resolve_config

    recipe = default_recipe("synthetic")
    if recipe is None:
        raise ConfigError(
            "No recipe is made for the synthetic scene, so the demo has no settings.",
            hint="Install or unblock a plugin whose recipe claims the synthetic scene (the "
            "built-in one does), or train with vadkit train --recipe NAME.",
        )
    flags: dict[str, Any] = {"recipe": recipe, "data.root": str(root), "train.device": "cpu"}
    flags.update(extra or {})
    config = resolve_config(flags=flags)
    if quick and "train.epochs" not in flags:
        config = resolve_config(
            base=config, flags={"train.epochs": max(1, config["train"]["epochs"] // 2)}
        )
    return config


def default_demo_dir() -> Path:
    return Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"


def run_demo(
    out: str | Path | None = None,
    *,
    quick: bool = False,
    data: str | Path | None = None,
    extra: Mapping[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
    on_stage: Callable[[str], None] | None = None,
    on_score_progress: Callable[[int, int], None] | None = None,
    plots: bool = True,
    report: bool = True,
) -> DemoResult:
    """Train, score and evaluate the demo, then write its report (``RUN/report.html``, see
    :mod:`vadkit.report`); returns the evaluation with timings and paths (``report``: the
    page's path, or None with ``report=False``)."""
    from vadkit.data import default_data_root
    from vadkit.evaluation.evaluate import evaluate_run
    from vadkit.inference.score import score_run
    from vadkit.training.trainer import Trainer

    run_dir = Path(out) if out is not None else default_demo_dir()
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(
            f"'{run_dir}' already exists and is not empty.",
            hint="Pass a new folder with --out (the demo never overwrites a folder).",
        )

    def stage(text: str) -> None:
        if on_stage is not None:
            on_stage(text)

    timings: dict[str, float] = {}
    start = time.perf_counter()
    stage("scene")
    root = Path(data) if data is not None else default_data_root()
    timings["scene_s"] = time.perf_counter() - start
    config = demo_config(root, quick=quick, extra=extra)
    stage("train")
    t0 = time.perf_counter()
    Trainer(config, run_dir, callbacks=callbacks, handle_signals=False).fit()
    timings["train_s"] = time.perf_counter() - t0
    stage("score")
    t0 = time.perf_counter()
    score_run(run_dir, device="cpu", on_progress=on_score_progress, maps=True)
    timings["score_s"] = time.perf_counter() - t0
    stage("evaluate")
    t0 = time.perf_counter()
    evaluation = evaluate_run(run_dir, plots=plots)
    timings["evaluate_s"] = time.perf_counter() - t0
    page = None
    if report:
        from vadkit.report import write_report

        stage("report")
        t0 = time.perf_counter()
        page = str(write_report([run_dir]).path)
        timings["report_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - start
    return DemoResult(
        evaluation=evaluation,
        run=str(run_dir),
        data=str(root),
        settings="quick" if quick else "full",
        timings={k: round(v, 2) for k, v in timings.items()},
        report=page,
    )
