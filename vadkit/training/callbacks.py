"""What a Trainer tells its callbacks, and how it stops on a signal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from vadkit.runs.layout import Progress

#: Loss key of the weighted total, beside one key per task.
TOTAL = "loss"

if TYPE_CHECKING:
    from vadkit.compute.device import Runtime
    from vadkit.compute.distributed import World
    from vadkit.config import Config


class TrainerState(Protocol):
    """What a callback reads of the :class:`~vadkit.training.trainer.Trainer` that calls it.

    ``config`` the run's resolved config, ``run_dir`` its folder, ``progress`` where training
    stands, ``runtime`` the device and precision, ``world`` this process among the training
    processes (rank 0 writes the run folder), ``model`` the model being trained (None before
    :meth:`~vadkit.training.trainer.Trainer.setup`).
    """

    config: Config
    run_dir: Path
    progress: Progress
    runtime: Runtime
    world: World
    model: Any


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal after saving a checkpoint at ``progress``."""

    def __init__(self, progress: Progress, signum: int, run_dir: Path) -> None:
        super().__init__(f"training interrupted at step {progress.step}")
        self.progress = progress
        self.signum = signum
        self.run_dir = run_dir

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Callback:
    """Hooks a :class:`~vadkit.training.trainer.Trainer` calls, each given the trainer (read it
    through :class:`TrainerState`); subclass and override what you need (all no-ops)."""

    def on_train_start(self, trainer: TrainerState) -> None: ...

    def on_epoch_start(
        self, trainer: TrainerState, epoch: int, batches: int, start: int
    ) -> None: ...

    def on_step_end(self, trainer: TrainerState, progress: Progress) -> None: ...

    def on_log(self, trainer: TrainerState, record: dict[str, Any]) -> None: ...

    def on_projection(self, trainer: TrainerState, record: dict[str, Any]) -> None:
        """Called once per start or resume, after the first few steps (up to
        :data:`vadkit.training.budget.PROJECTION_STEPS`), with the ``projection`` record also
        written to ``metrics.jsonl``: measured seconds per step, time per epoch, projected total
        and remaining time, peak memory and available memory (bytes); see
        :func:`vadkit.training.budget.describe_projection` for one line of it."""

    def on_checkpoint(self, trainer: TrainerState, path: Path, progress: Progress) -> None: ...

    def on_epoch_end(self, trainer: TrainerState, record: dict[str, Any]) -> None: ...

    def on_stop_requested(self, trainer: TrainerState, signum: int) -> None: ...

    def on_train_end(self, trainer: TrainerState) -> None: ...

    def on_train_error(self, trainer: TrainerState, error: BaseException) -> None:
        """Called when training stops on an exception (a signal's
        :class:`TrainingInterrupted` included), which is raised again afterwards."""
