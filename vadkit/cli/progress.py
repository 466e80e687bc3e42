"""Progress displays shared by the commands: the training bar and the scoring bar.

``vadkit train`` and ``vadkit demo`` show :class:`ProgressBar`; ``vadkit score`` and
``vadkit demo`` show :class:`LazyBar`; ``vadkit watch`` and ``vadkit export`` show
:class:`CalibrationBar` while a run is calibrated; ``vadkit data download`` shows
:class:`TransferBars`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from vadkit.cli.common import console, err_console, plain

if TYPE_CHECKING:
    from vadkit.runs.layout import Progress as TrainProgress
    from vadkit.training.callbacks import TrainerState


class ProgressBar:
    """A rich progress bar per epoch, with per-task losses and clips/s.

    A :class:`vadkit.training.callbacks.Callback` by its methods (not by inheritance, so that the CLI
    starts without importing torch).
    """

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("<"),
            TimeRemainingColumn(),
            TextColumn("[cyan]{task.fields[speed]}"),
            TextColumn("{task.fields[losses]}"),
            console=console,
            transient=False,
        )
        self.task: TaskID | None = None
        self.epochs = 0

    def on_train_start(self, trainer: TrainerState) -> None:
        self.epochs = int(trainer.config["train"]["epochs"])
        self.progress.start()

    def on_epoch_start(self, trainer: TrainerState, epoch: int, batches: int, start: int) -> None:
        if self.task is not None:
            self.progress.stop_task(self.task)
        self.task = self.progress.add_task(
            "train",
            total=batches,
            completed=start,
            epoch=f"{epoch + 1}/{self.epochs}",
            losses="",
            speed="",
        )

    def on_step_end(self, trainer: TrainerState, progress: TrainProgress) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=progress.batch)

    def on_log(self, trainer: TrainerState, record: dict[str, Any]) -> None:
        if self.task is None:
            return
        losses = " ".join(f"{k} {v:.4f}" for k, v in record["losses"].items())
        if len(record["losses"]) > 1:
            losses = f"loss {record['loss']:.4f} ({losses})"
        speed = record.get("clips_per_s")
        self.progress.update(
            self.task,
            losses=losses,
            speed=f"{speed:.1f} clips/s" if speed else "",
        )

    def on_projection(self, trainer: TrainerState, record: dict[str, Any]) -> None:
        from vadkit.training.budget import describe_projection

        self.progress.console.print(describe_projection(record), markup=False, highlight=False)

    def on_checkpoint(self, trainer: TrainerState, path: Path, progress: TrainProgress) -> None: ...

    def on_epoch_end(self, trainer: TrainerState, record: dict[str, Any]) -> None: ...

    def on_stop_requested(self, trainer: TrainerState, signum: int) -> None:
        self.progress.console.print(
            "[yellow]Stopping after this step and saving a checkpoint; "
            "press Ctrl-C again to stop at once.[/yellow]"
        )

    def on_train_end(self, trainer: TrainerState) -> None:
        self.stop()

    def stop(self) -> None:
        self.progress.stop()


class LazyBar:
    """A rich progress bar that appears on the first update (one live display at a time)."""

    def __init__(
        self, description: str, *, on: Console | None = None, transient: bool = False
    ) -> None:
        self.description = description
        self.console = on or console
        self.transient = transient
        self.progress: Progress | None = None
        self.task: Any = None

    def update(self, done: int, total: int) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn(f"[bold]{self.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=self.transient,
            )
            self.task = self.progress.add_task(self.description, total=total)
            self.progress.start()
        self.progress.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


class CalibrationBar(LazyBar):
    """The calibration pass of a run (``watch``, ``export``): a line saying why it runs, and a
    transient bar, both on stderr (stdout keeps the command's output, e.g. its JSON)."""

    def __init__(self, quiet: bool) -> None:
        super().__init__("calibrating", on=err_console, transient=True)
        self.quiet = quiet

    def announce(self, reason: str) -> None:
        err_console.print(
            f"[yellow]Calibrating[/] the run on normal training windows: {plain(reason)}."
        )

    def update(self, done: int, total: int) -> None:
        if not self.quiet:
            super().update(done, total)


class TransferBars:
    """The bars of ``vadkit data download``, on stderr: one per archive downloaded, verified and
    extracted, in bytes (a total the server did not give shows as a count without a bar).

    A :class:`vadkit.data.download.Reporter`: notes print as lines above the bars (a warning in
    yellow); ``quiet`` keeps only the warnings.
    """

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.live: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def _live(self) -> Progress:
        if self.live is None:
            self.live = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err_console,
            )
            self.live.start()
        return self.live

    def note(self, text: str, *, warning: bool = False) -> None:
        if self.quiet and not warning:
            return
        line = Text("warning: ", style="yellow") if warning else Text()
        line.append(text, style="" if warning else "dim")
        (self.live.console if self.live is not None else err_console).print(line, soft_wrap=True)

    def progress(self, task: str, done: int, total: int | None) -> None:
        if self.quiet:
            return
        live = self._live()
        if task not in self.tasks:
            self.tasks[task] = live.add_task(task, total=total)
        live.update(self.tasks[task], completed=done, total=total)

    def finish(self, task: str) -> None:
        if task in self.tasks and self.live is not None:
            self.live.stop_task(self.tasks.pop(task))

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
