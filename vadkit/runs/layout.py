"""The names of a run folder's files, and where training stands (no torch: readers of a run's
records, trackers and reports need nothing more)."""

from __future__ import annotations

from dataclasses import dataclass

#: The run's resolved config.
CONFIG_FILE = "config.toml"
#: The versions of vadkit, Python, torch and the plugins the run was made with.
VERSIONS_FILE = "versions.json"
#: One JSON record per logged step and epoch, written with the checkpoints.
METRICS_FILE = "metrics.jsonl"
#: The folder of the weights and the training state.
CHECKPOINT_DIR = "checkpoints"


@dataclass
class Progress:
    """Where training stands: ``epoch`` in progress (0-based), ``batch`` batches of it done,
    ``step`` optimizer steps done in total."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
