"""Data passed between backbones and tasks."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class Batch:
    """A batch of training or test windows.

    Attributes:
        clip: ``(B, C, T, H, W)`` the T input frames of each window, pixels in [-1, 1].
        target: ``(B, C, H, W)`` frame T+1 of each window (the frame a window scores), or None.
        views: task-specific inputs ``(B, C, T, H, W)`` keyed by task name (e.g. PRP's clips).
        labels: task-specific labels keyed by task name (e.g. PRP's playback-rate class).
    """

    clip: Tensor
    target: Tensor | None = None
    views: dict[str, Tensor] = field(default_factory=dict)
    labels: dict[str, Tensor] = field(default_factory=dict)

    def to(
        self, device: torch.device | str, *, non_blocking: bool = False, memory_format=None
    ) -> Batch:
        def move(t: Tensor) -> Tensor:
            t = t.to(device, non_blocking=non_blocking)
            if memory_format is not None and t.dim() == 5:
                t = t.contiguous(memory_format=memory_format)
            return t

        return Batch(
            clip=move(self.clip),
            target=None
            if self.target is None
            else self.target.to(device, non_blocking=non_blocking),
            views={k: move(v) for k, v in self.views.items()},
            labels={k: v.to(device, non_blocking=non_blocking) for k, v in self.labels.items()},
        )

    @property
    def size(self) -> int:
        return int(self.clip.shape[0])


@dataclass
class Features:
    """What a backbone computed for one input clip.

    Attributes:
        latent: the encoder's output.
        decoded: the decoder's output before the output activation, shaped like the input clip
            (None when no task needs the decoder).
        recon: ``backbone.activation(decoded)``: the reconstructed clip, in the input's range.
    """

    latent: Tensor
    decoded: Tensor | None = None
    recon: Tensor | None = None
