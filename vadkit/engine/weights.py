"""Which weights ``vadkit score`` scores: the last checkpoint, an epoch, an average of epochs,
the weights' moving average, or the candidate chosen on validation videos."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from vadkit.config import Config, Settings
from vadkit.errors import ConfigError

if TYPE_CHECKING:
    from vadkit.model import VADModel

MODES = ("last", "ema", "auto")


def weights_mode(
    run_dir: Path, weights: str | None, checkpoint: str, average_last: int | None
) -> str:
    """``last``, ``ema`` or ``auto`` for ``--weights`` (default ``score.weights``; ``default``
    is ``ema`` when the run kept a moving average and no checkpoint is named, else ``last``)."""
    from vadkit.engine.checkpoints import EMA, checkpoint_path
    from vadkit.engine.runs import read_config

    mode = weights or Settings.from_config(read_config(run_dir)).score.weights
    named = checkpoint != "last" or average_last is not None
    if mode == "default":
        mode = "ema" if not named and checkpoint_path(run_dir, EMA).is_file() else "last"
    if mode not in MODES:
        raise ConfigError(
            f"--weights {mode!r} is not one of 'default', 'last', 'ema', 'auto'.",
            hint="'ema': the moving average (train.ema); 'auto': chosen on validation videos.",
        )
    if mode != "last" and named:
        raise ConfigError(
            f"--weights {mode} chooses the weights itself; --checkpoint and --average-last "
            "apply to --weights last.",
            hint="Leave out --checkpoint/--average-last, or pass --weights last.",
        )
    if mode == "ema" and not checkpoint_path(run_dir, EMA).is_file():
        raise ConfigError(
            f"Run '{run_dir}' has no moving average of its weights ({EMA}.safetensors): it was "
            "trained without train.ema.",
            hint="Score its last checkpoint with --weights last.",
        )
    return mode


def load_scored_weights(
    run_dir: Path,
    config: Config,
    model: VADModel,
    mode: str,
    *,
    checkpoint: str,
    average_last: int | None,
    batch_size: int,
) -> dict[str, Any]:
    """Load the weights of ``mode`` into ``model`` (``last``/``ema`` are already loaded by
    :func:`~vadkit.engine.runs.load_model`); returns their record for the score set."""
    from vadkit.engine.checkpoints import EMA, checkpoint_path, weights_digest

    bs = batch_size
    used: dict[str, Any] = {"checkpoint": checkpoint, "mode": mode}
    if mode == "auto":
        from vadkit.engine.validation import choose_weights

        choice = choose_weights(run_dir, config, model, batch_size=bs)
        used = {"checkpoint": choice.pop("checkpoint"), "mode": mode, "choice": choice}
        for key in ("averaged", "batchnorm", "sha256"):
            if key in choice:
                used[key] = choice.pop(key)
        if "sha256" not in used:
            used["sha256"] = weights_digest(checkpoint_path(run_dir, used["checkpoint"]))
    elif average_last is not None:
        from vadkit.engine.average import averaged_model

        used.update(averaged_model(run_dir, config, model, average_last, batch_size=bs))
        used["checkpoint"] = f"average of the last {average_last} epoch checkpoints"
    else:
        used["checkpoint"] = EMA if mode == "ema" else checkpoint
        used["sha256"] = weights_digest(checkpoint_path(run_dir, used["checkpoint"]))
    return used
