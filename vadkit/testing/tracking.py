"""The conformance check of an experiment tracker: it logs a tiny run as the trainer would."""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from vadkit.runs.layout import Progress

#: The settings of the pretend run a tracker logs in its check.
CHECK_CONFIG: dict[str, Any] = {
    "recipe": "check",
    "data": {"size": [32, 32], "color": "gray"},
    "train": {"epochs": 1, "lr": 1e-4, "deterministic": True},
}


@dataclass
class PretendTrainer:
    """What a callback reads of a trainer (:class:`~vadkit.training.callbacks.TrainerState`),
    for calling a tracker's callbacks without training (``world.is_main``: rank 0)."""

    run_dir: Path
    config: dict[str, Any] = field(default_factory=lambda: dict(CHECK_CONFIG))
    progress: Progress = field(default_factory=Progress)
    runtime: Any = None
    world: Any = field(default_factory=lambda: SimpleNamespace(is_main=True, rank=0, size=1))
    model: Any = None


def check_tracker_factory(
    label: str, factory: Callable[..., Any], params: Mapping[str, Any] | None = None
) -> None:
    """Check a tracker factory: it builds a :class:`~vadkit.tracking.Tracker` whose
    ``requires`` names an install for each module, and logs a pretend run into a temporary run
    folder as the trainer would (start, a step record, a checkpoint, an epoch, the end), then
    adds an evaluation and a report to the same record, with no error and no
    :class:`~vadkit.tracking.TrackingWarning`. Its modules must be installed for the check."""
    from vadkit.tracking import Tracker, TrackingWarning
    from vadkit.tracking.build import missing_package

    requires = getattr(factory, "requires", {})
    assert isinstance(requires, Mapping) and all(
        isinstance(m, str) and isinstance(i, str) and i.strip() for m, i in requires.items()
    ), f"{label}: requires must map each module it imports to the command that installs it"
    missing = [f"{m} ({install})" for m, install in requires.items() if missing_package(m)]
    assert not missing, f"{label}: install {', '.join(missing)} to check it"
    tracker = factory(**dict(params or {}))
    assert isinstance(tracker, Tracker), f"{label} must build a vadkit.tracking.Tracker"
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("error", TrackingWarning)  # a contained failure fails the check
        try:
            _log_a_run(tracker, factory, params, Path(tmp) / "run")
        except TrackingWarning as exc:
            raise AssertionError(f"{label}: {exc}") from None


def _log_a_run(
    tracker: Any, factory: Callable[..., Any], params: Mapping[str, Any] | None, run_dir: Path
) -> None:
    """Training's calls on ``tracker``, then an evaluation and a report on a new one."""
    step = {"event": "step", "step": 1, "loss": 0.5, "losses": {"a": 0.5}, "lr": 1e-4}
    epoch = {"event": "epoch", "step": 1, "loss": 0.5, "losses": {"a": 0.5}, "seconds": 1.5}
    evaluation = {"results": {"fused": {"micro_auroc": 0.75}}}
    trainer = PretendTrainer(run_dir)
    run_dir.mkdir()
    tracker.on_train_start(trainer)
    tracker.on_log(trainer, step)
    trainer.progress = Progress(epoch=1, batch=0, step=1)
    tracker.on_checkpoint(trainer, run_dir / "last.safetensors", trainer.progress)
    tracker.on_epoch_end(trainer, epoch)
    tracker.on_train_end(trainer)
    path = run_dir / "evaluation.json"
    path.write_text(json.dumps(evaluation), encoding="utf-8")
    later = factory(**dict(params or {}))
    later.start(run_dir, trainer.config, training=False)
    later.log_evaluation(evaluation, path, 1)
    later.log_report(path)
    later.stop(None)
