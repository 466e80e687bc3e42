"""Which weights a run scores: the last checkpoint, an epoch, an average of epochs, the weights'
moving average, or the candidate chosen on validation videos.

:func:`load_scored_model` is the one place that decides it: ``vadkit score``, ``vadkit watch``,
``vadkit export`` and :func:`vadkit.load` all load a run through it, so by default they all use
the weights the run's recipe scores (``score.weights``: the moving average when the run kept one,
else the last checkpoint). The weights are loaded through :class:`~vadkit.runs.folder.RunFolder`
(each file checked against the digest recorded when it was saved), and what was loaded is
recorded as a :class:`ScoredWeights`, kept in every score set, calibration and bundle made with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vadkit.config import Config
from vadkit.errors import ConfigError

if TYPE_CHECKING:  # torch is imported when weights are loaded, not with this module
    from vadkit.model import VADModel
    from vadkit.runs.checkpoints import LoadedWeights
    from vadkit.runs.folder import RunFolder

MODES = ("last", "ema", "auto")


@dataclass(frozen=True)
class ScoredWeights:
    """Which weights a model holds and their identity: the record a score set keeps as
    ``weights`` (:meth:`to_json`).

    ``mode`` is how they were chosen (``last``, ``ema`` or ``auto``); ``checkpoint`` what was
    loaded (a checkpoint name, or ``"average of the last K epoch checkpoints"``); ``sha256`` their
    identity: the digest of the file (checked against the one recorded when it was saved), or of
    the state dict for weights made in memory (an average); ``file`` the weights file when they
    are one; ``averaged`` the epoch checkpoints averaged and ``batchnorm`` how their BatchNorm
    statistics were re-estimated; ``choice`` the record of the ``auto`` choice (criterion,
    held-out videos, each candidate's losses, the one chosen).
    """

    mode: str
    checkpoint: str
    sha256: str
    file: str | None = None
    averaged: tuple[str, ...] | None = None
    batchnorm: Mapping[str, Any] | None = None
    choice: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as score sets store it (keys in the order they always had)."""
        out: dict[str, Any] = {"checkpoint": self.checkpoint, "mode": self.mode}
        if self.choice is not None:
            out["choice"] = dict(self.choice)
        if self.averaged is not None:
            out["averaged"] = list(self.averaged)
        if self.batchnorm is not None:
            out["batchnorm"] = dict(self.batchnorm)
        if self.file is not None:
            out["file"] = self.file
        out["sha256"] = self.sha256
        return out

    @classmethod
    def of_file(cls, mode: str, checkpoint: str, loaded: LoadedWeights) -> ScoredWeights:
        """The record of one weights file loaded as it is."""
        return cls(mode=mode, checkpoint=checkpoint, sha256=loaded.sha256, file=str(loaded.path))

    @classmethod
    def of_average(
        cls,
        mode: str,
        checkpoint: str,
        made: Mapping[str, Any],
        choice: Mapping[str, Any] | None = None,
    ) -> ScoredWeights:
        """The record of an average of epoch checkpoints (``made``: what
        :func:`~vadkit.inference.average.averaged_model` returns)."""
        return cls(
            mode=mode,
            checkpoint=checkpoint,
            sha256=str(made["sha256"]),
            averaged=tuple(made["averaged"]),
            batchnorm=made["batchnorm"],
            choice=choice,
        )


def weights_mode(
    run: RunFolder, weights: str | None, checkpoint: str, average_last: int | None
) -> str:
    """``last``, ``ema`` or ``auto`` for ``--weights`` (default ``score.weights``; ``default``
    is ``ema`` when the run kept a moving average and no checkpoint is named, else ``last``)."""
    from vadkit.runs.checkpoints import EMA, LAST

    mode = weights or run.settings.score.weights
    named = checkpoint != LAST or average_last is not None
    if mode == "default":
        mode = "ema" if not named and run.has_checkpoint(EMA) else "last"
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
    if mode == "ema" and not run.has_checkpoint(EMA):
        raise ConfigError(
            f"Run '{run.path}' has no moving average of its weights ({EMA}.safetensors): it was "
            "trained without train.ema.",
            hint="Score its last checkpoint with --weights last.",
        )
    if mode == "auto":
        from vadkit.inference.validation import require_validation_videos

        require_validation_videos(run.settings)  # before any weights are loaded
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
) -> tuple[Config, VADModel, ScoredWeights]:
    """The run's config, its model holding the weights it scores, and their record.

    ``weights`` (default: the run's ``score.weights``) is resolved by :func:`weights_mode`:
    ``"default"`` is the moving average when the run kept one (``train.ema``) and no
    ``checkpoint`` or ``average_last`` is named, else ``"last"``; ``"last"`` is ``checkpoint`` (or
    the average of the last ``average_last`` epoch checkpoints); ``"ema"`` the moving average;
    ``"auto"`` the candidate chosen on the held-out validation videos, by ``criterion``
    (default ``score.weights_criterion``: ``"loss"`` or ``"pseudo"``; only with ``"auto"``).
    ``prepare(model)`` (e.g.
    :meth:`vadkit.compute.device.Runtime.prepare`) runs before weights are averaged or chosen, so
    that this runs on its device, and again after. The record is a :class:`ScoredWeights`
    (``to_json()`` is what score sets store). Raises :class:`~vadkit.errors.ConfigError` for a
    ``weights`` the run cannot give and :class:`~vadkit.errors.CheckpointError` for a checkpoint
    that is missing, damaged (its bytes differ from the digest recorded when it was saved) or
    made for another model.
    """
    from vadkit.runs.checkpoints import EMA
    from vadkit.runs.folder import RunFolder

    run = RunFolder.open(run_dir)
    mode = weights_mode(run, weights, checkpoint, average_last)
    if criterion is not None and mode != "auto":  # what --weights auto chooses by
        raise ConfigError(
            f"--criterion {criterion} chooses among the candidates of --weights auto, not of "
            f"--weights {mode}.",
            hint="Add --weights auto, or leave out --criterion.",
        )
    model, loaded = run.load_model(EMA if mode == "ema" else checkpoint, device="cpu")
    if prepare is not None:
        prepare(model)
    bs = int(batch_size or run.settings.score.batch_size)
    used = load_scored_weights(
        run,
        model,
        mode,
        checkpoint=checkpoint,
        average_last=average_last,
        batch_size=bs,
        loaded=loaded,
        criterion=criterion,
    )
    if prepare is not None:
        prepare(model)
    return run.config, model, used


def recorded_weights(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments of :func:`load_scored_model` (``weights``, ``checkpoint``, ``average_last``)
    that load again the weights a score set was scored with, from its record ``meta`` (a set
    that records no weights was scored from its ``checkpoint``)."""
    from vadkit.runs.checkpoints import EMA, LAST

    used = meta.get("weights") or {}
    if "averaged" in used:
        return {"weights": "last", "average_last": len(used["averaged"])}
    checkpoint = str(used.get("checkpoint") or meta.get("checkpoint") or LAST)
    if checkpoint == EMA:
        return {"weights": "ema"}
    return {"weights": "last", "checkpoint": checkpoint}


def load_scored_weights(
    run: RunFolder,
    model: VADModel,
    mode: str,
    *,
    checkpoint: str,
    average_last: int | None,
    batch_size: int,
    loaded: LoadedWeights,
    criterion: str | None = None,
) -> ScoredWeights:
    """Load the weights of ``mode`` into ``model``, which holds ``loaded`` already (``last`` and
    ``ema`` are loaded by :meth:`~vadkit.runs.folder.RunFolder.load_model`); returns their
    record for the score set. ``criterion`` is what ``auto`` chooses by
    (:func:`~vadkit.inference.validation.choose_weights`)."""
    from vadkit.runs.checkpoints import EMA

    if mode == "auto":
        from vadkit.inference.validation import choose_weights

        choice = dict(
            choose_weights(run.path, run.config, model, batch_size=batch_size, criterion=criterion)
        )
        chosen = str(choice.pop("checkpoint"))
        if "sha256" in choice:  # an average, made in memory: its record moves out of the choice
            made = {key: choice.pop(key) for key in ("averaged", "batchnorm", "sha256")}
            return ScoredWeights.of_average(mode, chosen, made, choice=choice)
        path = run.checkpoint(chosen)
        return ScoredWeights(mode, chosen, run.digest(chosen), file=str(path), choice=choice)
    if average_last is not None:
        from vadkit.inference.average import averaged_model

        made = averaged_model(run.path, run.config, model, average_last, batch_size=batch_size)
        return ScoredWeights.of_average(
            mode, f"average of the last {average_last} epoch checkpoints", made
        )
    return ScoredWeights.of_file(mode, EMA if mode == "ema" else checkpoint, loaded)
