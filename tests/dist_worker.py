"""A training process for the torchrun tests of tests/test_distributed.py (not a test module).

``python -m torch.distributed.run ... tests/dist_worker.py SPEC.json``: trains the run that SPEC
describes (``scene``, ``run``, ``overrides``) with the Trainer's Python API, resuming when torchrun
restarted it after a failure and the run has a checkpoint. ``kill_rank``/``kill_step``: that rank
kills itself (SIGKILL) after that step, in the first attempt only.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import torch

from vadkit.config import resolve_config
from vadkit.engine import distributed, runs
from vadkit.engine.train import Callback, Trainer


class _Kill(Callback):
    def __init__(self, rank: int, step: int) -> None:
        self.rank, self.step = rank, step

    def on_step_end(self, trainer: Any, progress: Any) -> None:
        if trainer.world.rank == self.rank and progress.step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    torch.set_num_threads(1)
    spec = json.loads(Path(sys.argv[1]).read_text())
    run = Path(spec["run"])
    config = resolve_config(overrides=spec["overrides"], flags={"data.root": spec["scene"]})
    callbacks: list[Callback] = []
    if "kill_step" in spec and not distributed.restarting():
        callbacks.append(_Kill(int(spec["kill_rank"]), int(spec["kill_step"])))
    resume = distributed.restarting() and runs.checkpoint_path(run).is_file()
    Trainer(config, run, resume=resume, callbacks=callbacks, handle_signals=True).fit()


if __name__ == "__main__":
    main()
