"""Which weights a run scores: the last checkpoint, an epoch, an average of epochs, the weights'
moving average, or the candidate chosen on validation videos.

:func:`load_scored_model` is the one place that decides it: ``vadkit score``, ``vadkit watch``,
``vadkit export`` and :func:`vadkit.load` all load a run through it, so by default they all use
the weights the run's recipe scores (``score.weights``: the moving average when the run kept one,
else the last checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    from vadkit.runs.checkpoints import EMA, checkpoint_path
    from vadkit.runs.folder import read_config

    settings = Settings.from_config(read_config(run_dir))
    mode = weights or settings.score.weights
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
    if mode == "auto":
        from vadkit.inference.validation import require_validation_videos

        require_validation_videos(settings)  # before any weights are loaded
    return mode


def load_scored_model(
    run_dir: str | Path,
    *,
    weights: str | None = None,
    checkpoint: str = "last",
    average_last: int | None = None,
    batch_size: int | None = None,
    prepare: Callable[[VADModel], Any] | None = None,
    criterion: str | None = None,
) -> tuple[Config, VADModel, dict[str, Any]]:
    """The run's config, its model holding the weights it scores, and their record.

    ``weights`` (default: the run's ``score.weights``) is resolved by :func:`weights_mode`:
    ``"default"`` is the moving average when the run kept one (``train.ema``) and no
    ``checkpoint`` or ``average_last`` is named, else ``"last"``; ``"last"`` is ``checkpoint`` (or
    the average of the last ``average_last`` epoch checkpoints); ``"ema"`` the moving average;
    ``"auto"`` the candidate chosen on the held-out validation videos, by ``criterion``
    (default ``score.weights_criterion``: ``"loss"`` or ``"pseudo"``; only with ``"auto"``).
    ``prepare(model)`` (e.g.
    :meth:`vadkit.compute.device.Runtime.prepare`) runs before weights are averaged or chosen, so
    that this runs on its device, and again after. The record holds
    ``mode``, ``checkpoint`` (what was loaded), ``sha256`` (the weights' identity: the file's
    digest, or the state's for weights made in memory) and ``file`` when the weights are a file.
    Raises :class:`~vadkit.errors.ConfigError` for a ``weights`` the run cannot give and
    :class:`~vadkit.errors.CheckpointError` for a checkpoint that is missing or damaged.
    """
    from vadkit.runs.checkpoints import EMA
    from vadkit.runs.folder import load_model

    run_dir = Path(run_dir)
    mode = weights_mode(run_dir, weights, checkpoint, average_last)
    if criterion is not None and mode != "auto":  # what --weights auto chooses by
        raise ConfigError(
            f"--criterion {criterion} chooses among the candidates of --weights auto, not of "
            f"--weights {mode}.",
            hint="Add --weights auto, or leave out --criterion.",
        )
    config, model = load_model(
        run_dir, checkpoint=EMA if mode == "ema" else checkpoint, device="cpu"
    )
    if prepare is not None:
        prepare(model)
    bs = int(batch_size or Settings.from_config(config).score.batch_size)
    used = load_scored_weights(
        run_dir,
        config,
        model,
        mode,
        checkpoint=checkpoint,
        average_last=average_last,
        batch_size=bs,
        criterion=criterion,
    )
    if prepare is not None:
        prepare(model)
    return config, model, used


def recorded_weights(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of :func:`load_scored_model` (``weights``, ``checkpoint``, ``average_last``)
    that load again the weights a score set was scored with, from its record ``meta`` (a set
    that records no weights was scored from its ``checkpoint``)."""
    from vadkit.runs.checkpoints import EMA

    used = meta.get("weights") or {}
    if "averaged" in used:
        return {"weights": "last", "average_last": len(used["averaged"])}
    checkpoint = str(used.get("checkpoint") or meta.get("checkpoint") or "last")
    if checkpoint == EMA:
        return {"weights": "ema"}
    return {"weights": "last", "checkpoint": checkpoint}


def load_scored_weights(
    run_dir: Path,
    config: Config,
    model: VADModel,
    mode: str,
    *,
    checkpoint: str,
    average_last: int | None,
    batch_size: int,
    criterion: str | None = None,
) -> dict[str, Any]:
    """Load the weights of ``mode`` into ``model`` (``last``/``ema`` are already loaded by
    :func:`~vadkit.runs.folder.load_model`); returns their record for the score set.
    ``criterion`` is what ``auto`` chooses by (:func:`~vadkit.inference.validation.choose_weights`)."""
    from vadkit.runs.checkpoints import EMA, checkpoint_path, weights_digest

    bs = batch_size
    used: dict[str, Any] = {"checkpoint": checkpoint, "mode": mode}
    if mode == "auto":
        from vadkit.inference.validation import choose_weights

        choice = choose_weights(run_dir, config, model, batch_size=bs, criterion=criterion)
        used = {"checkpoint": choice.pop("checkpoint"), "mode": mode, "choice": choice}
        for key in ("averaged", "batchnorm", "sha256"):
            if key in choice:
                used[key] = choice.pop(key)
        if "sha256" not in used:
            path = checkpoint_path(run_dir, used["checkpoint"])
            used["file"] = str(path)
            used["sha256"] = weights_digest(path)
    elif average_last is not None:
        from vadkit.inference.average import averaged_model

        used.update(averaged_model(run_dir, config, model, average_last, batch_size=bs))
        used["checkpoint"] = f"average of the last {average_last} epoch checkpoints"
    else:
        used["checkpoint"] = EMA if mode == "ema" else checkpoint
        path = checkpoint_path(run_dir, used["checkpoint"])
        used["file"] = str(path)
        used["sha256"] = weights_digest(path)
    return used
