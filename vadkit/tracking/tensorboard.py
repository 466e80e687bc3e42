"""The TensorBoard tracker: event files written by ``torch.utils.tensorboard``."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from vadkit.config.overrides import Scalar
from vadkit.storage.io import atomic_write
from vadkit.tracking.base import Outcome, Tracker

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

#: The folder of a run that holds its event files when ``logdir`` is not set.
DEFAULT_LOGDIR = "tensorboard"
#: Where artifacts are copied, inside the log folder.
ARTIFACTS = "artifacts"
#: The metrics the HPARAMS dashboard shows beside the settings.
HPARAM_METRICS = ("epoch/loss", "eval/fused/micro_auroc")


class TensorBoard(Tracker):
    """TensorBoard: event files in RUN/tensorboard (`tensorboard --logdir RUN`).

    Losses, epoch times and evaluation metrics are scalars; the settings are hyperparameters
    (the HPARAMS dashboard) and a text table. TensorBoard keeps no files, so an artifact
    (``evaluation.json``, the report) is copied into ``artifacts/`` of the log folder and named
    in a text entry. Each session (training, a resume, an evaluation) adds an event file to the
    folder; TensorBoard reads them as one run.

    Args:
        logdir: the folder of the event files; empty: ``RUN/tensorboard``; a relative path is
            taken from the run folder. Point ``tensorboard --logdir`` at a folder of runs to
            compare them.
        flush_secs: how often, in seconds, TensorBoard's writer writes what it buffers (vadkit
            also has it written with every checkpoint).
    """

    requires: ClassVar[Mapping[str, str]] = {
        "tensorboard": "pip install tensorboard  (or: pip install 'vadkit[tracking]')"
    }

    def __init__(self, *, logdir: str = "", flush_secs: int = 30) -> None:
        self.logdir = logdir
        self.flush_secs = flush_secs
        self.folder: Path | None = None
        self._writer: SummaryWriter | None = None

    def open(self, run_dir: Path, *, training: bool) -> bool:
        from torch.utils.tensorboard import SummaryWriter

        self.folder = run_dir / (self.logdir or DEFAULT_LOGDIR)
        fresh = not any(self.folder.glob("events.out.tfevents.*"))
        self._writer = SummaryWriter(str(self.folder), flush_secs=self.flush_secs)
        return fresh

    def _w(self) -> SummaryWriter:
        if self._writer is None:
            raise RuntimeError("the TensorBoard tracker is not open")
        return self._writer

    def log_params(self, params: Mapping[str, Scalar]) -> None:
        from torch.utils.tensorboard.summary import hparams

        writer = self._w()
        experiment, start, end = hparams(dict(params), dict.fromkeys(HPARAM_METRICS, 0.0))
        for summary in (experiment, start, end):  # as add_hparams does, but in this run's folder
            writer._get_file_writer().add_summary(summary)
        rows = "\n".join(f"| `{key}` | `{value}` |" for key, value in params.items())
        writer.add_text("settings", f"| key | value |\n|---|---|\n{rows}")

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        writer = self._w()
        for tag, value in metrics.items():
            writer.add_scalar(tag, value, global_step=step)

    def log_artifact(self, path: Path) -> None:
        assert self.folder is not None
        copy = self.folder / ARTIFACTS / path.name
        with open(path, "rb") as source, atomic_write(copy, "wb") as target:
            shutil.copyfileobj(source, target)
        self._w().add_text(f"{ARTIFACTS}/{path.name}", f"`{path}`, copied to `{copy}`")

    def flush(self) -> None:
        self._w().flush()

    def close(self, outcome: Outcome | None) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
