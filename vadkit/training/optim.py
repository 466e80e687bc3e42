"""Optimizer, learning-rate schedule and weight averaging of a training run, built with timm.

:class:`Optimization` holds what a :class:`~vadkit.training.trainer.Trainer` updates beside the
weights:

* the optimizer, from ``timm.optim.create_optimizer_v2`` (``train.optimizer``, ``train.lr``,
  ``train.weight_decay``; ``"adam"`` with weight decay 0 is ``torch.optim.Adam`` over all
  parameters, the LUSS-AE paper's optimizer);
* the learning-rate schedule, from ``timm.scheduler.create_scheduler_v2`` stepped per optimizer
  update (``train.schedule = "cosine"``: linear warm-up from ``train.warmup_lr`` over
  ``train.warmup_epochs`` epochs, then cosine decay to ``train.min_lr`` at the last step);
  ``"constant"`` keeps ``train.lr`` throughout;
* an exponential moving average of the weights, ``timm.utils.ModelEmaV3`` (``train.ema``,
  ``train.ema_decay``, ``train.ema_warmup``), updated after every optimizer step. As timm does by
  default, BatchNorm running statistics are averaged with the same decay as the parameters
  (integer buffers are copied), so the averaged network has statistics of its own.

Everything is resumable exactly: :meth:`Optimization.extra_state` holds the scheduler and EMA
tensors (the optimizer's own state is saved beside them); the schedule is a pure function of the step, and the EMA's warm-up decay too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from vadkit.config import TrainSettings
from vadkit.errors import CheckpointError


def optimizer_names() -> list[str]:
    """The optimizer names ``train.optimizer`` accepts (timm's registry)."""
    from timm.optim import list_optimizers

    return sorted(str(n) for n in list_optimizers())


class Optimization:
    """Optimizer, optional schedule and optional weight EMA of one training run.

    Args:
        model: the model being trained (already on its device).
        train: the run's training settings.
        updates_per_epoch: optimizer steps in one epoch (sizes the schedule).
    """

    def __init__(self, model: nn.Module, train: TrainSettings, updates_per_epoch: int) -> None:
        from timm.optim import create_optimizer_v2

        self.settings = train
        self.optimizer: torch.optim.Optimizer = create_optimizer_v2(
            model, opt=train.optimizer, lr=train.lr, weight_decay=train.weight_decay
        )
        self.scheduler: Any = None
        if train.schedule == "cosine":
            from timm.scheduler import create_scheduler_v2

            self.scheduler, _ = create_scheduler_v2(
                self.optimizer,
                sched="cosine",
                num_epochs=train.epochs,
                warmup_epochs=train.warmup_epochs,
                warmup_lr=train.warmup_lr,
                min_lr=train.min_lr,
                step_on_epochs=False,
                updates_per_epoch=max(1, int(updates_per_epoch)),
            )
        self.ema: Any = None
        if train.ema:
            from timm.utils import ModelEmaV3

            self.ema = ModelEmaV3(model, decay=train.ema_decay, use_warmup=train.ema_warmup)

    @property
    def ema_model(self) -> nn.Module | None:
        """The averaged copy of the model (None without ``train.ema``)."""
        return None if self.ema is None else self.ema.module

    def after_step(self, model: nn.Module, step: int) -> None:
        """Call after optimizer step number ``step`` (1-based): update the EMA and the lr."""
        if self.ema is not None:
            self.ema.update(model, step=step)
        if self.scheduler is not None:
            self.scheduler.step_update(num_updates=step)

    def extra_state(self) -> dict[str, Any]:
        """What a checkpoint's training state keeps beside the optimizer's own state."""
        return {
            "scheduler": {} if self.scheduler is None else self.scheduler.state_dict(),
            "ema": {}
            if self.ema is None
            else {k: v.detach().cpu().clone() for k, v in self.ema.module.state_dict().items()},
        }

    def load_state_dict(self, state: Mapping[str, Any], step: int) -> None:
        """Restore a saved training state (``optimizer``, ``scheduler``, ``ema``) at optimizer
        step ``step``; a state that does not fit this
        run's settings (an EMA that was not kept, other tensors) is a CheckpointError."""
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            if state.get("scheduler"):
                self.scheduler.load_state_dict(dict(state["scheduler"]))
            self.scheduler.step_update(num_updates=step)
        if self.ema is not None:
            saved = state.get("ema") or {}
            if not saved and step > 0:
                raise CheckpointError(
                    "The run was trained without train.ema, so it has no averaged weights to "
                    "resume.",
                    hint="Resume with the run's own config.toml (train.ema = false).",
                )
            own = self.ema.module.state_dict()
            if saved:
                if set(saved) != set(own):
                    raise CheckpointError(
                        "The averaged weights in the training state do not fit this model.",
                        hint="Resume with the run's own config.toml.",
                    )
                with torch.no_grad():
                    for key, value in own.items():
                        value.copy_(saved[key])
