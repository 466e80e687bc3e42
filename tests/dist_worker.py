"""A training process for the torchrun tests of tests/test_distributed.py (not a test module).

``python -m torch.distributed.run ... tests/dist_worker.py SPEC.json``: trains the run that SPEC
describes (``scene``, ``run``, ``overrides``) with the Trainer's Python API, resuming when torchrun
restarted it after a failure and the run has a checkpoint. ``signals``: a list of ``[attempt,
rank, step, signal name]``: in that attempt (torchrun's restart count) that rank sends itself the
signal after that step.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch

from vadkit.compute import distributed
from vadkit.config import resolve_config
from vadkit.runs import checkpoints
from vadkit.training.callbacks import Callback
from vadkit.training.trainer import Trainer


class _Signal(Callback):
    def __init__(self, rank: int, step: int, signum: int) -> None:
        self.rank, self.step, self.signum = rank, step, signum

    def on_step_end(self, trainer: Any, progress: Any) -> None:
        if trainer.world.rank == self.rank and progress.step == self.step:
            os.kill(os.getpid(), self.signum)


def main() -> None:
    torch.set_num_threads(1)
    faulthandler.dump_traceback_later(240, exit=True)  # a hung rank shows where it waits
    spec = json.loads(Path(sys.argv[1]).read_text())
    run = Path(spec["run"])
    config = resolve_config(overrides=spec["overrides"], flags={"data.root": spec["scene"]})
    callbacks: list[Callback] = []
    attempt = int(os.environ.get(distributed.RESTART_ENV, "0"))
    for when, rank, step, name in spec.get("signals", []):
        if when == attempt:
            callbacks.append(_Signal(int(rank), int(step), int(getattr(signal, name))))
    resume = distributed.restarting() and checkpoints.checkpoint_path(run).is_file()
    Trainer(config, run, resume=resume, callbacks=callbacks, handle_signals=True).fit()


if __name__ == "__main__":
    main()
