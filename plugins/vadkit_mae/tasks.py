"""Masked frame prediction: the current frame, all of its patches masked, from the previous ones.

The loss is computed in float32, so it stays accurate under autocast.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vadkit.components import Batch, Features, ProxyTask
from vadkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from vadkit.components import Backbone, ClipShape


class MaskedFramePrediction(ProxyTask):
    """Masked frame prediction (MFP): rebuild the current frame, every patch of it masked, from
    the previous frames' tokens.

    A window holds T previous frames (the clip) and the current frame ``I`` (the frame it
    scores, ``batch.target``). The backbone encodes the clip into a latent feature map
    ``(D, h, w)`` (a 4-D latent ``(D, t, h, w)`` is read at its last time step); a linear head
    maps each location's feature to the ``s x s`` patch of the current frame it covers, where
    ``s = H / h``. With ``residual`` (default) the head predicts the change from the last
    previous frame, ``I^ = I_T + head(z)``, and starts at zero (a model that has learnt nothing
    repeats the last frame); without it ``I^ = tanh(head(z))``.

    Training loss: the squared error per patch, ``e_i = mean over the patch of (I^ - I)^2``,
    weighted by ``w_i = (1 - lambda) / N + lambda * m_i / sum_j m_j``, where ``m_i`` is the
    largest absolute frame difference ``|I - I_T|`` in patch i (AED-MAE's motion weighting,
    which shifts the loss from the static background to what moves) and ``lambda`` is
    ``motion_weight``; a window with no motion weighs its patches equally. With
    ``motion_weight = 0`` the loss is the frame's MSE. Test score: the chosen error measure
    between ``I^`` and ``I``; :meth:`compare` returns ``(B, 1, C, H, W)`` frames.

    Parameters:
        motion_weight: lambda, the share of the loss weighted by motion, in [0, 1] (1:
            AED-MAE's weighting; the ``mae`` recipe uses 0, see its page).
        residual: predict the change from the last previous frame (True) or the frame itself.

    Reference: Ristea et al., CVPR 2024 (AED-MAE), motion-gradient weighting of the
    reconstruction loss; Liu et al., CVPR 2018, future frame prediction for anomaly detection.
    """

    uses_decoder: ClassVar[bool] = False
    uses_error: ClassVar[bool] = True
    default_weight: ClassVar[float] = 1.0

    def __init__(self, *, motion_weight: float = 1.0, residual: bool = True) -> None:
        super().__init__()
        if (
            isinstance(motion_weight, bool)
            or not isinstance(motion_weight, int | float)
            or not math.isfinite(motion_weight)
            or not 0.0 <= motion_weight <= 1.0
        ):
            raise ConfigError(
                f"mfp: motion_weight must be a number in [0, 1], not {motion_weight!r}.",
                hint="0 is the plain MSE, 1 weighs patches by motion only (AED-MAE).",
            )
        if not isinstance(residual, bool):
            raise ConfigError(
                f"mfp: residual must be true or false, not {residual!r}.",
                hint="Use --set tasks.params.mfp.residual=true (or false).",
            )
        self.motion_weight = float(motion_weight)
        self.residual = residual
        self.head: nn.Linear | None = None
        self.stride = 0

    def build(self, backbone: Backbone, clip_shape: ClipShape) -> None:
        """Create the head for clips of ``clip_shape`` ``(C, T, H, W)`` from the latent's grid."""
        c, _, height, width = (int(v) for v in clip_shape)
        latent = tuple(backbone.latent_shape(clip_shape))
        if len(latent) not in (3, 4):
            raise ConfigError(
                f"mfp needs a latent feature map (D, h, w) or (D, t, h, w); the backbone's is "
                f"{latent}.",
                hint="Use a backbone whose latent keeps the frame's layout, such as mae_vit.",
            )
        dim, h, w = latent[0], latent[-2], latent[-1]
        s = height // h if h else 0
        if s < 1 or s * h != height or s * w != width:
            raise ConfigError(
                f"mfp cannot map the latent grid {h} x {w} onto frames of {height} x {width}: "
                "the frame must be a whole number of latent cells in both directions.",
                hint="Use a frame size divisible by the backbone's stride (its patch size).",
            )
        self.stride = s
        self.head = nn.Linear(dim, c * s * s)
        if self.residual:  # start by repeating the last frame
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def predict(self, features: Features, batch: Batch) -> Tensor:
        """The predicted current frame ``(B, C, H, W)``."""
        if self.head is None:
            raise ConfigError(
                "The mfp task's head does not exist yet: build() was not called.",
                hint="Wrap the backbone and tasks in vadkit.model.VADModel, which builds them.",
            )
        latent = features.latent
        if latent.dim() == 5:  # (B, D, t, h, w): the latest time step
            latent = latent[:, :, -1]
        patches = self.head(rearrange(latent, "b d h w -> b h w d"))
        change = rearrange(
            patches, "b h w (c p q) -> b c (h p) (w q)", p=self.stride, q=self.stride
        )
        if self.residual:
            return batch.clip[:, :, -1].to(change.dtype) + change
        return torch.tanh(change)

    def loss(self, features: Features, batch: Batch) -> Tensor:
        target = _target(batch).float()
        pred = self.predict(features, batch).float()
        error = F.avg_pool2d((pred - target).square().mean(dim=1, keepdim=True), self.stride)
        per_patch = error.flatten(1)  # (B, N)
        if self.motion_weight == 0.0:
            return per_patch.mean()
        weights = self.patch_weights(batch.clip[:, :, -1].float(), target)
        return (per_patch * weights).sum(dim=1).mean()

    def patch_weights(self, last: Tensor, target: Tensor) -> Tensor:
        """Loss weight of each patch ``(B, N)``, summing to 1 per window (see the class)."""
        motion = F.max_pool2d((target - last).abs().mean(dim=1, keepdim=True), self.stride)
        motion = motion.flatten(1)  # (B, N)
        total = motion.sum(dim=1, keepdim=True)
        n = motion.shape[1]
        share = torch.where(total > 0, motion / total.clamp_min(1e-12), 1.0 / n)
        return (1.0 - self.motion_weight) / n + self.motion_weight * share

    def compare(self, features: Features, batch: Batch) -> tuple[Tensor, Tensor]:
        pred = self.predict(features, batch)
        return (
            rearrange(pred, "b c h w -> b 1 c h w"),
            rearrange(_target(batch), "b c h w -> b 1 c h w"),
        )

    def extra_repr(self) -> str:
        return f"motion_weight={self.motion_weight}, residual={self.residual}"


def _target(batch: Batch) -> Tensor:
    if batch.target is None:
        raise DataError(
            "The mfp task needs the current frame of each window (batch.target), but the batch "
            "has none.",
            hint="Build windows of clip_length + 1 frames: the last one is the frame predicted.",
        )
    return batch.target
