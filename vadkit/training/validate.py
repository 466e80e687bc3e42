"""The trainer callback of label-free validation: each chosen epoch's checkpoint gets its
pseudo-AUROC.

With ``train.validate_every = N`` (0, the default, is off), at the end of every N-th epoch --
after the epoch's checkpoint is saved -- the model as it is then is measured on the run's pseudo
set (:class:`vadkit.validation.validator.Validator`: windows of the held-out videos, as they are and
with pseudo-anomalies) and the result is added to ``RUN/validation.json``, under the epoch's
checkpoint (``epoch_NNNN`` when ``train.save_every`` keeps one, else ``last``) and the weights'
SHA-256. Only the process that writes the run folder (rank 0) validates. Training is left as it
was: the pass runs without gradients in eval mode with the random state of torch saved and put
back, and the model goes back to training mode, so a run trains bit-identically with and
without it.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

import torch

from vadkit.config import Config, Settings
from vadkit.runs.checkpoints import LAST, checkpoint_path, epoch_name, weights_digest
from vadkit.training.callbacks import Callback, TrainerState

if TYPE_CHECKING:
    from vadkit.validation.validator import Validator


class PseudoValidation(Callback):
    """Validate label-free at the end of every ``every``-th epoch (see the module)."""

    def __init__(self, every: int) -> None:
        self.every = int(every)
        self._validator: Validator | None = None

    def _get_validator(self, trainer: TrainerState) -> Validator:
        if self._validator is None:
            from vadkit.validation.validator import Validator

            self._validator = Validator(trainer.config)
        return self._validator

    def on_train_start(self, trainer: TrainerState) -> None:
        """Open the held-out videos and draw the pseudo set now: a problem with them (too
        short, a pseudo-anomaly that cannot be built) stops training before its first step."""
        if self.every > 0 and trainer.world.is_main:
            self._get_validator(trainer)

    def on_epoch_end(self, trainer: TrainerState, record: dict[str, Any]) -> None:
        epoch = int(trainer.progress.epoch)  # epochs done, this one included
        if self.every < 1 or epoch % self.every or not trainer.world.is_main:
            return
        from vadkit.validation.records import record_validation

        validator = self._get_validator(trainer)
        model = trainer.model
        name = epoch_name(epoch)
        if not checkpoint_path(trainer.run_dir, name).is_file():
            name = LAST
        path = checkpoint_path(trainer.run_dir, name)
        device = trainer.runtime.device
        was_training = model.training
        devices = [device.index or 0] if device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                result = validator.measure(model, device=device)
        finally:
            model.train(was_training)
        entry = {
            "checkpoint": name,
            "epoch": epoch,
            "step": int(trainer.progress.step),
            "sha256": weights_digest(path),
            "file": str(path),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "during_training": True,
            **validator.protocol(),
            **result,
        }
        record_validation(trainer.run_dir, [entry])


def validation_callbacks(config: Config) -> list[Callback]:
    """The callbacks a run's config asks for: :class:`PseudoValidation` when
    ``train.validate_every`` > 0."""
    every = Settings.from_config(config).train.validate_every
    return [PseudoValidation(every)] if every > 0 else []
