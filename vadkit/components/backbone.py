"""The backbone contract: an encoder-decoder over video clips."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vadkit.components.base import Features
from vadkit.errors import ConfigError

ClipShape = tuple[int, int, int, int]  # (C, T, H, W)


class Backbone(nn.Module):
    """Base class of backbones: ``encode`` a clip ``(B, C, T, H, W)``, ``decode`` it back.

    Subclasses set ``in_channels`` and implement :meth:`encode` and :meth:`decode`; ``decode``
    returns the decoder's output *before* the output activation (a head such as FFP's reads it),
    shaped like the input clip. The constructor takes keyword-only parameters with defaults.
    """

    in_channels: int = 1

    def encode(self, clip: Tensor) -> Tensor:
        raise NotImplementedError

    def decode(self, latent: Tensor) -> Tensor:
        raise NotImplementedError

    def activation(self, decoded: Tensor) -> Tensor:
        """Output activation mapping decoder output to pixel range [-1, 1]."""
        return torch.tanh(decoded)

    def check_clip_shape(self, clip_shape: ClipShape) -> None:
        """Raise :class:`ConfigError` when the backbone cannot take clips of ``clip_shape``."""
        if clip_shape[0] != self.in_channels:
            raise ConfigError(
                f"{type(self).__name__} takes {self.in_channels} channel(s), not {clip_shape[0]}.",
                hint="Set the data's colour mode or the backbone's in_channels to match.",
            )

    def latent_shape(self, clip_shape: ClipShape) -> tuple[int, ...]:
        """Shape of the latent (without batch) for one clip, found by a pass on the meta device."""
        self.check_clip_shape(clip_shape)
        probe = torch.empty((1, *clip_shape), device="meta")
        meta = _meta_copy(self)
        with torch.no_grad():
            return tuple(meta.encode(probe).shape[1:])

    def features(self, clip: Tensor, *, decode: bool = True) -> Features:
        """Encode ``clip`` once and, if asked, decode it once."""
        latent = self.encode(clip)
        if not decode:
            return Features(latent=latent)
        decoded = self.decode(latent)
        return Features(latent=latent, decoded=decoded, recon=self.activation(decoded))


def _meta_copy(module: Backbone) -> Backbone:
    import copy

    clone = copy.deepcopy(module).to("meta")
    assert isinstance(clone, Backbone)
    clone.eval()
    return clone
