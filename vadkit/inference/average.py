"""Weight averaging of a run's last epoch checkpoints, with BatchNorm statistics re-estimated.

A short training run (Ped2 at 64 x 64 for 15 epochs) is far from converged: from one epoch's
checkpoint to the next, the fused AUROC of the same run moves by several points. Averaging the
weights of the last epochs (stochastic weight averaging, Izmailov et al., UAI 2018) smooths that
out without any further training. The BatchNorm running statistics of an average of weights are
not the statistics of the averaged network, so they are re-estimated afterwards by one pass over
the run's normal training windows (the clips that scoring sees: original playback rate, no task
views), in training mode for BatchNorm only, without gradients.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from vadkit.config import ScoreSettings
from vadkit.errors import CheckpointError

if TYPE_CHECKING:
    from vadkit.components import Batch
    from vadkit.model import VADModel


def epoch_checkpoints(run_dir: str | Path, last: int) -> list[Path]:
    """The ``last`` latest ``epoch_NNNN`` weight files of a run, oldest first."""
    from vadkit.runs.folder import RunFolder

    found = RunFolder(run_dir).epoch_checkpoints()
    if last < 1:
        raise CheckpointError(
            f"Cannot average the last {last} checkpoints.", hint="Use --average-last 2 or more."
        )
    if len(found) < last:
        raise CheckpointError(
            f"Run {run_dir} has {len(found)} epoch checkpoint(s); {last} are needed to average.",
            hint="Train with train.save_every = 1 (the default), or average fewer epochs.",
        )
    return found[-last:]


def average_weights(
    model: nn.Module, paths: Sequence[Path], *, spec: Mapping[str, Any] | None = None
) -> None:
    """Load into ``model`` the mean of the floating-point tensors of ``paths`` (in float64).

    Integer buffers (BatchNorm's batch counters) are taken from the last file. Each file is
    checked against its recorded digest (:func:`vadkit.runs.checkpoints.read_weights`), and
    against the model ``spec`` of its run when given.
    """
    from vadkit.runs.checkpoints import load_weights, read_weights

    load_weights(paths[-1], model, spec)  # checks the files fit the model; sets integer buffers
    state = model.state_dict()
    sums = {
        k: torch.zeros_like(v, dtype=torch.float64)
        for k, v in state.items()
        if v.is_floating_point()
    }
    for path in paths:
        tensors, _ = read_weights(path)
        for key, total in sums.items():
            if key not in tensors or tensors[key].shape != total.shape:
                raise CheckpointError(
                    f"Checkpoint '{path}' does not fit this model (tensor {key}).",
                    hint="Average only checkpoints of the same run.",
                )
            total += tensors[key].double()
    with torch.no_grad():
        for key, total in sums.items():
            state[key].copy_((total / len(paths)).to(state[key].dtype))


def batchnorm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def recalibrate_batchnorm(
    model: VADModel, batches: Iterable[Batch], device: torch.device | str = "cpu"
) -> int:
    """Re-estimate every BatchNorm's running statistics from ``batches``; returns windows seen.

    The statistics are the exact averages over all the windows (cumulative, not a moving
    average), computed in float32 with every other layer in eval mode. Each task's heads run too,
    so that BatchNorm layers inside heads are re-estimated as well.
    """
    layers = batchnorm_layers(model)
    if not layers:
        return 0
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average
    model.eval()
    for layer in layers:
        layer.train()
    seen = 0
    try:
        with torch.no_grad():
            for batch in batches:
                batch = batch.to(device)
                feats = model.features(batch.clip)
                for task in model.task_map.values():
                    if task.uses_error:
                        task.compare(feats, batch)
                    else:
                        task.scores(feats, batch, {})
                seen += batch.size
    finally:
        model.eval()
    if seen == 0:
        warnings.warn("no training window to re-estimate BatchNorm statistics", stacklevel=2)
    return seen


def averaged_model(
    run_dir: str | Path,
    config: dict[str, Any],
    model: VADModel,
    last: int,
    *,
    batch_size: int = ScoreSettings.batch_size,
) -> dict[str, Any]:
    """Average the last ``last`` epoch checkpoints into ``model`` and re-estimate BatchNorm.

    BatchNorm statistics come from the run's training split (``data.root``, the synthetic scene
    when empty) less its held-out validation videos (``data.val_videos``), windows every
    ``data.stride`` frames. Returns what was done, for the record, with ``sha256``: the digest of the averaged weights (:func:`~vadkit.runs.checkpoints.state_digest`).
    """
    from vadkit.data import TrainWindows, make_train_loader
    from vadkit.data.split import training_videos
    from vadkit.runs.checkpoints import state_digest
    from vadkit.runs.folder import RunFolder

    run = RunFolder(run_dir, config)
    paths = epoch_checkpoints(run.path, last)
    average_weights(model, paths, spec=run.spec)
    settings = run.settings
    data = settings.data
    videos, _ = training_videos(config)  # never the held-out validation videos
    windows = TrainWindows(
        videos, clip_length=data.clip_length, stride=data.stride, tasks={}, seed=settings.train.seed
    )
    seen = recalibrate_batchnorm(model, make_train_loader(windows, batch_size=batch_size))
    return {
        "averaged": [p.stem for p in paths],
        "batchnorm": {"re_estimated_on": "training", "windows": seen},
        "sha256": state_digest(model),  # the averaged weights, BatchNorm statistics included
    }
