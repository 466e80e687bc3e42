"""Device, precision and memory-format selection shared by training and scoring.

``device = "auto"`` picks CUDA when it is available, else the CPU. ``precision = "auto"`` picks
the entry of :data:`AUTO_PRECISION` for the device type: that table is the one place where a
faster precision becomes a default, and only after its accuracy was checked (see
``docs/benchmarks/train-speed.md``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vadkit.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16")

#: What ``precision = "auto"`` means on each device type. fp32 everywhere until an accuracy
#: check on Ped2 shows a faster precision within 0.5 AUROC points of fp32 (the team's rule).
#: How much faster bf16 autocast trains on the CPU is measured by
#: ``benchmarks/bench_train_speed.py`` (``docs/benchmarks/train-speed.md``, which records the
#: CPU and its bf16 instructions); flip "cpu" here once that check passes.
AUTO_PRECISION: dict[str, str] = {"cpu": "fp32", "cuda": "fp32"}

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX). Without either, oneDNN
    emulates bf16 convolutions and bf16 autocast is many times *slower* than fp32 (an AVX2-only
    2-core CPU spent minutes where fp32 takes seconds), so no "auto" precision picks it there."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def select_device(name: str = "auto", *, key: str = "train.device") -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` as given."""
    name = str(name).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(
            f"{key} = {name!r} is not a device.",
            hint=f'Use "auto", "cpu" or "cuda" (or "cuda:N"): --set {key}=cpu',
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"{key} = {name!r}, but CUDA is not available in this environment.",
                hint=f'Use --set {key}=cpu, or "auto" to take CUDA only when it is present.',
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"{key} = {name!r}, but only {torch.cuda.device_count()} CUDA device(s) exist.",
                hint=f"Use --set {key}=cuda:0 .. cuda:{torch.cuda.device_count() - 1}.",
            )
    elif device.type != "cpu":
        raise ConfigError(
            f"{key} = {name!r}: vadkit runs on CPU or CUDA devices.",
            hint=f'Use "auto", "cpu" or "cuda": --set {key}=auto',
        )
    return device


def resolve_precision(precision: str, device: torch.device, *, key: str = "train.precision") -> str:
    """The concrete precision (``fp32``, ``bf16`` or ``fp16``) for ``precision`` on ``device``."""
    value = str(precision).strip().lower()
    if value == "auto":
        return AUTO_PRECISION.get(device.type, "fp32")
    if value not in PRECISIONS:
        raise ConfigError(
            f"{key} = {precision!r} is not a precision.",
            hint=f'Use one of "auto", {", ".join(repr(p) for p in PRECISIONS)}.',
        )
    if value == "fp16" and device.type != "cuda":
        raise ConfigError(
            f"{key} = 'fp16' needs a CUDA device (this run uses {device}).",
            hint=f"On the CPU use 'bf16' or 'fp32': --set {key}=bf16",
        )
    if value == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            f"{key} = 'bf16', but {torch.cuda.get_device_name(device)} has no bf16 support.",
            hint=f"Use --set {key}=fp16 (mixed precision with loss scaling) or fp32.",
        )
    return value


def channels_last_3d(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` (5-D) in ``channels_last_3d`` memory format, unambiguously.

    With one channel, ``contiguous(memory_format=channels_last_3d)`` keeps the plain strides
    (both formats lay the memory out alike), and a convolution reading them picks the slow
    contiguous path: the first encoder layer of a grayscale model (weights ``(96, 1, 3, 3, 3)``)
    then writes the largest activation of the network in the contiguous format, which the next
    layer copies back. Here a one-channel tensor gets the channels-last strides as a free view.
    """
    out = tensor.contiguous(memory_format=torch.channels_last_3d)
    if out.dim() == 5 and out.size(1) == 1 and out.stride(1) != 1:
        _, _, d, h, w = out.shape
        out = out.as_strided(out.shape, (d * h * w, 1, h * w, w, 1))
    return out


@dataclass(frozen=True)
class Runtime:
    """Where and how a model runs: device, precision and memory format."""

    device: torch.device
    precision: str = "fp32"
    channels_last: bool = False

    @classmethod
    def from_config(
        cls, device: str, precision: str, channels_last: bool = False, *, section: str = "train"
    ) -> Runtime:
        dev = select_device(device, key=f"{section}.device")
        prec = resolve_precision(precision, dev, key=f"{section}.precision")
        return cls(device=dev, precision=prec, channels_last=bool(channels_last))

    @property
    def dtype(self) -> torch.dtype:
        """The autocast compute dtype (float32 when no autocast)."""
        return _DTYPES[self.precision]

    @property
    def memory_format(self) -> torch.memory_format:
        """``channels_last_3d`` (for 5-D tensors) when asked for, else contiguous."""
        return torch.channels_last_3d if self.channels_last else torch.contiguous_format

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed-precision context for the forward pass (a no-op in fp32)."""
        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A loss scaler, active only for fp16 (bf16 has fp32's range and needs none)."""
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def prepare(self, model: nn.Module) -> nn.Module:
        """Move ``model`` to the device and memory format, in place; returns it."""
        model.to(self.device)
        if self.channels_last:
            # nn.Module.to(memory_format=channels_last_3d) fails on 4-D weights (a 2-D head):
            # convert the 5-D ones alone.
            with torch.no_grad():
                for tensor in (*model.parameters(), *model.buffers()):
                    if tensor.dim() == 5:
                        tensor.data = channels_last_3d(tensor.data)
        return model

    def describe(self) -> dict[str, Any]:
        return {
            "device": str(self.device),
            "precision": self.precision,
            "channels_last": self.channels_last,
        }
