"""One training step, its loss meter, and deterministic kernels: what a Trainer runs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from vadkit.components import Batch
from vadkit.compute.device import Runtime
from vadkit.errors import VadkitError
from vadkit.training.callbacks import TOTAL


class TrainingDiverged(VadkitError):
    """The loss became NaN or infinite."""


class StepLosses:
    """The forward pass of a training step: every task's loss on one batch and their weighted sum.

    Apart from :class:`TrainStep` so that the memory probe (:mod:`vadkit.training.budget`) can run
    it before the optimizer exists (which needs the data opened; the probe must not).
    """

    def __init__(self, model: Any, weights: Mapping[str, float], runtime: Runtime) -> None:
        self.model = model
        self.weights = dict(weights)
        self.runtime = runtime
        self._non_blocking = runtime.device.type == "cuda"
        self._memory_format = torch.channels_last_3d if runtime.channels_last else None

    def losses(self, batch: Batch, *, model: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        """The forward pass of a step: the weighted total (float32) and every task's loss.

        ``model``: another model to run instead of the step's own (the memory probe of
        :mod:`vadkit.training.budget` runs a copy).
        """
        batch = batch.to(
            self.runtime.device,
            non_blocking=self._non_blocking,
            memory_format=self._memory_format,
        )
        with self.runtime.autocast():
            losses = (self.model if model is None else model).training_losses(batch)
        total = sum(self.weights[name] * loss.float() for name, loss in losses.items())
        assert isinstance(total, Tensor)
        return total, losses


class TrainStep(StepLosses):
    """One optimisation step: every task's loss on one batch, weighted sum, backward, update.

    The encoder runs once on the shared clip (and once on each task's own view), the decoder at
    most once per input (see :meth:`vadkit.model.VADModel.training_losses`).
    """

    def __init__(
        self,
        model: Any,
        optimizer: torch.optim.Optimizer,
        weights: Mapping[str, float],
        runtime: Runtime,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        super().__init__(model, weights, runtime)
        self.optimizer = optimizer
        self.scaler = scaler if scaler is not None and scaler.is_enabled() else None

    def __call__(self, batch: Batch) -> dict[str, Tensor]:
        """Run one step; returns the detached losses (``"loss"`` = weighted total, per task)."""
        total, losses = self.losses(batch)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            total.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        out = {TOTAL: total.detach()}
        out.update((name, loss.detach().float()) for name, loss in losses.items())
        return out


class LossMeter:
    """Running sums of the losses since some point (kept on the device, no sync per step)."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.count = 0
        self.clips = 0
        self.seconds = 0.0

    def add(self, losses: Mapping[str, Tensor], clips: int, seconds: float) -> None:
        for key, value in losses.items():
            self.sums[key] = value if key not in self.sums else self.sums[key] + value
        self.count += 1
        self.clips += clips
        self.seconds += seconds

    def means(self) -> dict[str, float]:
        return {k: float(v) / max(self.count, 1) for k, v in self.sums.items()}

    def state(self) -> dict[str, Any]:
        return {
            "sums": {k: float(v) for k, v in self.sums.items()},
            "count": self.count,
            "clips": self.clips,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None, device: torch.device) -> LossMeter:
        meter = cls()
        if state:
            meter.sums = {
                k: torch.tensor(v, dtype=torch.float32, device=device)
                for k, v in state["sums"].items()
            }
            meter.count = int(state["count"])
            meter.clips = int(state["clips"])
        return meter


class Determinism:
    """Deterministic kernels where torch has them (restored on exit)."""

    def __init__(self, enabled: bool, device: torch.device) -> None:
        self.enabled = enabled
        self.device = device
        self._old: tuple[bool, bool, bool, bool] | None = None

    def __enter__(self) -> None:
        self._old = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        )
        if not self.enabled:
            return
        if self.device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)

    def __exit__(self, *exc: object) -> None:
        if self._old is None:
            return
        enabled, warn_only, cudnn_det, cudnn_bench = self._old
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_det
        torch.backends.cudnn.benchmark = cudnn_bench
