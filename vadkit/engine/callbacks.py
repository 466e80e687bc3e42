"""What a Trainer tells its callbacks, and how it stops on a signal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vadkit.engine.runs import Progress

if TYPE_CHECKING:
    from vadkit.engine.train import Trainer


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
    """Hooks a :class:`Trainer` calls; subclass and override what you need (all no-ops)."""

    def on_train_start(self, trainer: Trainer) -> None: ...

    def on_epoch_start(self, trainer: Trainer, epoch: int, batches: int, start: int) -> None: ...

    def on_step_end(self, trainer: Trainer, progress: Progress) -> None: ...

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_projection(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Called once per start or resume, after the first few steps (up to
        :data:`vadkit.engine.budget.PROJECTION_STEPS`), with the ``projection`` record also
        written to ``metrics.jsonl``: measured seconds per step, time per epoch, projected total
        and remaining time, peak memory and available memory (bytes); see
        :func:`vadkit.engine.budget.describe_projection` for one line of it."""

    def on_checkpoint(self, trainer: Trainer, path: Path, progress: Progress) -> None: ...

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_stop_requested(self, trainer: Trainer, signum: int) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...
