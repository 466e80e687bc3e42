"""The tracker contract: a trainer callback that logs a run to an experiment tracker.

A :class:`Tracker` implements a few primitives (``open``, ``log_params``, ``log_metrics``,
``log_artifact``, ``flush``, ``close``); this base class turns the trainer's callbacks, an
evaluation and a report into calls of them, so that every tracker, built-in or a plugin's, logs
the same things under the same names:

* when training starts, the resolved settings (the run's config, flattened to dotted keys);
* each ``step`` record of ``metrics.jsonl`` (every ``train.log_steps`` steps): ``train/loss``,
  ``train/loss_<task>``, ``train/lr``, ``train/clips_per_s`` at its step;
* each ``epoch`` record: ``epoch/seconds``, ``epoch/loss``, ``epoch/loss_<task>``,
  ``epoch/clips_per_s`` at the epoch's last step;
* after ``vadkit evaluate``: every number of ``evaluation.json``'s results as
  ``eval/<task or fused>/<metric>`` (pixel metrics as ``eval/pixel/...``) and the file itself;
* after ``vadkit report``: the page, as an artifact.

Records reach the tracker with each checkpoint, when ``metrics.jsonl`` gets them: a tracker
never holds a step that a resumed run trains again, so its curves equal ``metrics.jsonl``. Only
the process of rank 0 logs. A tracker that fails to start stops training before its first step
(:class:`~vadkit.errors.ConfigError`); one that fails later is left out for the rest of the run
with one :class:`TrackingWarning` (``metrics.jsonl`` keeps everything).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from vadkit.config.overrides import Scalar, flatten
from vadkit.errors import ConfigError, VadkitError
from vadkit.runs.layout import Progress
from vadkit.training.callbacks import TOTAL, Callback, TrainerState

#: How a tracked run ended: ``close(None)`` leaves its state as it was (after an evaluation).
Outcome = Literal["finished", "failed", "killed"]


class TrackingWarning(UserWarning):
    """A tracker could not log something; the run and its files are not affected."""


def _finite(values: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of ``values`` (booleans, None and text left out)."""
    return {
        key: float(value)
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    }


def _numbers(tree: Mapping[str, Any], prefix: str) -> dict[str, float]:
    """Every finite number under ``tree``, under its keys joined by ``/`` after ``prefix``."""
    out = _finite({f"{prefix}{key}": value for key, value in tree.items()})
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(_numbers(value, f"{prefix}{key}/"))
    return out


def _record_metrics(
    record: Mapping[str, Any], prefix: str, keys: tuple[str, ...]
) -> dict[str, float]:
    """``prefix/loss``, ``prefix/loss_<task>`` and ``prefix/<key>`` of a ``metrics.jsonl`` record
    (no name is a folder of another: MLflow's file store keeps each in a file of that path)."""
    losses = record.get("losses") or {}
    return _finite(
        {
            f"{prefix}/loss": record.get(TOTAL),
            **{f"{prefix}/loss_{task}": value for task, value in losses.items()},
            **{f"{prefix}/{key}": record.get(key) for key in keys},
        }
    )


def step_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of a ``step`` record of ``metrics.jsonl`` (means over its steps)."""
    return _record_metrics(record, "train", ("lr", "clips_per_s"))


def epoch_metrics(record: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of an ``epoch`` record: its duration, mean losses and throughput."""
    return _record_metrics(record, "epoch", ("seconds", "clips_per_s"))


def evaluation_metrics(evaluation: Mapping[str, Any]) -> dict[str, float]:
    """The numbers of an ``evaluation.json``: ``eval/<task or fused>/<metric>``, and the pixel
    metrics (when the run was scored with maps) as ``eval/pixel/<task or fused>/<metric>``."""
    out = _numbers(evaluation.get("results") or {}, "eval/")
    pixel = evaluation.get("pixel") or {}
    out.update(_numbers({"fused": pixel.get("fused") or {}}, "eval/pixel/"))
    out.update(_numbers(pixel.get("tasks") or {}, "eval/pixel/"))
    return out


class Tracker(Callback):
    """An experiment tracker: logs a run's settings, losses, epoch times, evaluation and report.

    Subclass it, implement :meth:`open`, :meth:`log_params`, :meth:`log_metrics`,
    :meth:`log_artifact` and :meth:`close` (and :meth:`flush` when it buffers), and register
    the class with the ``register_trackers`` hook. Its constructor takes keyword-only, typed
    parameters with defaults: ``[train.track_params.NAME]`` sets them. The callbacks below call
    the primitives on the process of rank 0 only; override one to log more (call ``super()``).
    """

    #: Modules the tracker imports, each with the command that installs it. A run that names
    #: the tracker stops before training when one is missing, with that command.
    requires: ClassVar[Mapping[str, str]] = {}

    #: The name the tracker is registered under (set when it is built for a run).
    name: str = ""

    # -- the primitives a tracker implements --------------------------------------------------
    def open(self, run_dir: Path, *, training: bool) -> bool:
        """Start logging the run in ``run_dir``, or continue the record made of it before.

        ``training``: True when training starts or resumes (the record is marked running),
        False when an evaluation or a report is added afterwards (its state is left as it is).
        Returns True when this made a new record of the run (its settings are logged then).
        """
        raise NotImplementedError

    def log_params(self, params: Mapping[str, Scalar]) -> None:
        """Log the run's settings: dotted keys (``train.lr``) to values."""
        raise NotImplementedError

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Log numbers (``train/loss``) at a training step."""
        raise NotImplementedError

    def log_artifact(self, path: Path) -> None:
        """Keep a copy of a file of the run (``evaluation.json``, ``report.html``)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Write what is buffered (called with every checkpoint); optional."""

    def close(self, outcome: Outcome | None) -> None:
        """Stop logging; ``outcome`` says how training ended, None after an evaluation or a
        report (the run's state is left as it was)."""
        raise NotImplementedError

    # -- what is logged, in terms of the primitives -------------------------------------------
    def log_evaluation(self, evaluation: Mapping[str, Any], path: Path, step: int) -> None:
        """Log an evaluation (the content of ``path``, ``evaluation.json``) at ``step``, the
        last step the run trained."""
        self.log_metrics(evaluation_metrics(evaluation), step)
        self.log_artifact(path)

    def log_report(self, path: Path) -> None:
        """Log a report page written for the run."""
        self.log_artifact(path)

    # -- the trainer's callbacks --------------------------------------------------------------
    def on_train_start(self, trainer: TrainerState) -> None:
        if trainer.world.is_main:
            self.start(trainer.run_dir, trainer.config, training=True)

    def on_log(self, trainer: TrainerState, record: dict[str, Any]) -> None:
        if trainer.world.is_main and self._state == "open":
            self._pending.append((step_metrics(record), int(record["step"])))

    def on_checkpoint(self, trainer: TrainerState, path: Path, progress: Progress) -> None:
        if trainer.world.is_main and self._state == "open":  # metrics.jsonl has them now
            pending, self._pending = self._pending, []
            for metrics, step in pending:
                self.guard("log the losses", self.log_metrics, metrics, step)
            self.guard("write its log", self.flush)

    def on_epoch_end(self, trainer: TrainerState, record: dict[str, Any]) -> None:
        if trainer.world.is_main:  # saved with the epoch's checkpoint, just before
            self.guard("log the epoch", self.log_metrics, epoch_metrics(record), record["step"])
            self.guard("write its log", self.flush)

    def on_train_end(self, trainer: TrainerState) -> None:
        if trainer.world.is_main:
            self.stop("finished")

    def on_train_error(self, trainer: TrainerState, error: BaseException) -> None:
        if trainer.world.is_main:
            self.stop("killed" if isinstance(error, KeyboardInterrupt) else "failed")

    # -- opening and closing, with failures contained -----------------------------------------
    #: "closed", "open", or "failed" (open, but left out after a failure).
    _state: str = "closed"
    #: Step records logged since the last checkpoint, with their steps.
    _pending: list[tuple[dict[str, float], int]]

    @property
    def label(self) -> str:
        return self.name or type(self).__name__

    def start(self, run_dir: Path, config: Mapping[str, Any], *, training: bool) -> None:
        """:meth:`open` the run's record and log its settings when the record is new. A failure
        is a :class:`~vadkit.errors.ConfigError` naming the tracker (before training starts)."""
        self._pending = []
        try:
            fresh = self.open(Path(run_dir), training=training)
            self._state = "open"
            if fresh:
                self.log_params(flatten(config))
        except Exception as exc:
            if self._state == "open":
                self.stop(None)
            if isinstance(exc, VadkitError):
                raise
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise ConfigError(
                f"The tracker '{self.label}' could not start: {type(exc).__name__}: {detail}",
                hint=f"Nothing more was done. Check [train.track_params.{self.label}], or leave "
                f"'{self.label}' out of --track and train.track; then run the command again.",
            ) from None

    def guard(self, what: str, action: Callable[..., None], *args: Any) -> None:
        """``action(*args)`` while the tracker is open; a failure leaves the tracker out for the
        rest of the run with one :class:`TrackingWarning` (the run goes on: ``metrics.jsonl``
        has every record)."""
        if self._state != "open":
            return
        try:
            action(*args)
        except Exception as exc:
            self._state = "failed"
            self._warn(what, exc)

    def stop(self, outcome: Outcome | None) -> None:
        """:meth:`close` the record if it is open (after a failure, quietly)."""
        state, self._state = self._state, "closed"
        self._pending = []
        if state == "closed":
            return
        try:
            self.close(outcome)
        except Exception as exc:
            if state == "open":
                self._warn("close", exc)

    def _warn(self, what: str, exc: Exception) -> None:
        warnings.warn(
            TrackingWarning(
                f"The tracker '{self.label}' could not {what} ({type(exc).__name__}: {exc}); "
                "it logs nothing more of this run (metrics.jsonl has every record)."
            ),
            stacklevel=3,
        )
