"""The model of a training step across processes: SyncBatchNorm (with a CPU path for gloo),
DistributedDataParallel and ``torch.compile`` around ``model.training_losses``.

:func:`wrap_for_training` is what :class:`vadkit.training.trainer.Trainer` calls: one plain process
gets the model itself (training stays bit-identical to a run without this module).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from vadkit.components import Batch
from vadkit.compute.distributed import World


class _AllSum(torch.autograd.Function):
    """Sum over the ranks, differentiable: the gradient of every rank's input is the sum of the
    gradients of every rank's output (each rank's loss depends on every rank's input)."""

    @staticmethod
    def forward(ctx: Any, tensor: Tensor, group: Any) -> Tensor:
        ctx.group = group
        out = tensor.clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        out = grad.contiguous().clone()
        dist.all_reduce(out, group=ctx.group)
        return out, None


class CPUSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """SyncBatchNorm for CPU processes (gloo): torch's :class:`~torch.nn.SyncBatchNorm` kernel
    is CUDA-only, and DDP refuses it on CPU modules.

    The statistics over every rank's batch are computed with differentiable all-reduces
    (:mod:`torch.distributed.nn`): the mean, then the biased variance around it. The output and
    the running statistics (updated with the unbiased variance, as BatchNorm does) are those of
    one BatchNorm over the global batch. Made by :func:`convert_sync_batchnorm` from the modules
    that :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm` makes (same attributes).
    """

    process_group: Any = None

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input: Tensor) -> Tensor:
        group = self.process_group or dist.group.WORLD
        if not (self.training and dist.is_initialized() and dist.get_world_size(group) > 1):
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        count = torch.tensor([input.numel() / input.size(1)], dtype=input.dtype)
        sums = _AllSum.apply(torch.cat([input.sum(dims), count]), group)
        n = sums[-1]
        mean = sums[:-1] / n
        centred = input - mean.view(shape)
        var = _AllSum.apply((centred * centred).sum(dims), group) / n
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            assert self.running_var is not None and self.num_batches_tracked is not None
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                if self.momentum is None:
                    factor = 1.0 / float(self.num_batches_tracked)
                else:
                    factor = float(self.momentum)
                unbiased = var.detach() * (n / (n - 1))
                self.running_mean.mul_(1 - factor).add_(mean.detach(), alpha=factor)
                self.running_var.mul_(1 - factor).add_(unbiased, alpha=factor)
        return out


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of ``model`` as a SyncBatchNorm over the process group, with
    :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm` (the parameters and buffers stay the
    same tensors, so an optimizer built on them keeps working); on the CPU as
    :class:`CPUSyncBatchNorm`."""
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if device.type == "cpu":
        for module in converted.modules():
            if type(module) is nn.SyncBatchNorm:
                module.__class__ = CPUSyncBatchNorm  # type: ignore[assignment]  # the CPU forward
    return converted


class TrainingLosses(nn.Module):
    """``forward(batch)`` = ``model.training_losses(batch)``: what DDP and ``torch.compile``
    wrap (both act on ``forward``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return self.model.training_losses(batch)  # type: ignore[operator]


class _Forwarding(nn.Module):
    """Mixin: ``training_losses(batch)`` runs the wrapper's forward (what TrainStep calls)."""

    def training_losses(self, batch: Batch) -> dict[str, Tensor]:
        return self(batch)


class DistributedLosses(_Forwarding, nn.parallel.DistributedDataParallel):
    """DDP over :class:`TrainingLosses`."""


class CompiledLosses(_Forwarding):
    """``torch.compile`` of :class:`TrainingLosses` (``train.compile``)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.compiled = torch.compile(inner)

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return self.compiled(batch)


def wrap_for_training(
    model: nn.Module, device: torch.device, *, world: World, sync_bn: bool, compile: bool
) -> nn.Module:
    """What :class:`vadkit.training.step.TrainStep` should run: ``model`` itself for one
    uncompiled process, else a wrapper whose ``training_losses`` goes through ``forward``
    (SyncBatchNorm and DDP for several processes, ``torch.compile`` when asked)."""
    if not world.distributed and not compile:
        return model
    if world.distributed and sync_bn:
        convert_sync_batchnorm(model, device)
    inner: nn.Module = TrainingLosses(model)
    if world.distributed:
        ids = [device.index if device.index is not None else 0] if device.type == "cuda" else None
        inner = DistributedLosses(inner, device_ids=ids)
    return CompiledLosses(inner) if compile else inner
