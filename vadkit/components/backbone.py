"""The backbone contract: an encoder-decoder over video clips."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vadkit.components.base import Features
from vadkit.errors import ConfigError

ClipShape = tuple[int, int, int, int]  # (C, T, H, W)


class Backbone(nn.Module):
    """Base class of backbones: ``encode`` a clip ``(B, C, T, H, W)``, ``decode`` it back.

    Subclasses set ``in_channels`` and implement :meth:`encode` and :meth:`decode`:

    * ``encode(clip)`` returns the latent: one tensor whose first dimension is the batch ``B``;
      the others are the backbone's own. LUSS-AE's ``cae3d`` returns ``(B, channels[3], T/8,
      H/16, W/16)``, e.g. ``(B, 256, 2, 16, 16)`` for clips of 16 frames of 256 x 256. A task
      that reads the latent (PRP's head) sizes itself from :meth:`latent_shape`, the latent's
      shape without the batch dimension; the default runs ``encode`` on the meta device, a
      backbone that knows the shape in closed form may override it.
    * ``decode(latent)`` returns the decoder's output *before* the output activation (a head
      such as FFP's reads it), shaped like the input clip ``(B, C, T, H, W)``;
      :meth:`activation` maps it to the pixel range [-1, 1].

    Channels: ``in_channels`` is the number of channels per frame. The data's colour mode
    (``data.color``: ``gray`` = 1, ``rgb`` = 3) reaches a backbone only through a constructor
    parameter named exactly ``in_channels``: when the config does not set it, vadkit passes the
    channels of ``data.color``. A backbone without that parameter never learns the colour mode;
    :meth:`check_clip_shape` then refuses clips whose channels differ from its ``in_channels``.

    Precision: vadkit may run the backbone under ``torch.autocast``. Scoring does by default on
    the CPU (``score.precision = "auto"`` is bf16 there) and training does when
    ``train.precision`` is ``bf16`` or ``fp16``. Under autocast, convolutions and matrix products
    return bf16 (or fp16) tensors, so ``decode`` may receive a bf16 latent and both methods may
    return bf16: do not assume float32, and compute anything precision-sensitive (a long sum, a
    variance) in float32 explicitly. Scoring casts the features to float32 before any task
    scores them.

    The constructor is the configuration schema: every parameter keyword-only, typed and with a
    default (:func:`vadkit.testing.check_backbone` checks it).
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
