"""Tiny fixtures of the conformance kit: a small backbone and a random batch of windows."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vadkit.components import Backbone, Batch, ClipShape
from vadkit.errors import ConfigError


class TinyBackbone(Backbone):
    """A two-layer 3-D convolutional autoencoder, small enough for unit tests."""

    def __init__(self, *, in_channels: int = 1, width: int = 4) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.enc = nn.Sequential(
            nn.Conv3d(in_channels, width, 3, stride=(1, 2, 2), padding=1), nn.ReLU(),
            nn.Conv3d(width, width, 3, stride=2, padding=1), nn.ReLU(),
        )  # fmt: skip
        self.dec = nn.Sequential(
            nn.ConvTranspose3d(width, width, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose3d(width, in_channels, 3, stride=(1, 2, 2), padding=1,
                               output_padding=(0, 1, 1)),
        )  # fmt: skip

    def check_clip_shape(self, clip_shape: ClipShape) -> None:
        super().check_clip_shape(clip_shape)
        _, t, h, w = clip_shape
        if t % 2 or h % 4 or w % 4:
            raise ConfigError(
                f"TinyBackbone needs T even and H, W divisible by 4, got {clip_shape}."
            )

    def encode(self, clip: Tensor) -> Tensor:
        return self.enc(clip)

    def decode(self, latent: Tensor) -> Tensor:
        return self.dec(latent)


def tiny_batch(clip_shape: ClipShape = (1, 8, 32, 32), batch: int = 2, seed: int = 0) -> Batch:
    """A random batch of windows in [-1, 1]: clip ``(B, C, T, H, W)`` and target ``(B, C, H, W)``."""
    g = torch.Generator().manual_seed(seed)
    c, t, h, w = clip_shape
    frames = torch.rand((batch, c, t + 1, h, w), generator=g) * 2 - 1
    return Batch(clip=frames[:, :, :t].contiguous(), target=frames[:, :, t].contiguous())
