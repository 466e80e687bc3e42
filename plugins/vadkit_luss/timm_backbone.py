"""A backbone family from timm: any 2-D image model applied per frame, a temporal layer, a decoder."""

from __future__ import annotations

import math
from typing import Any

from einops import rearrange
from torch import Tensor, nn

from vadkit.components import Backbone, ClipShape
from vadkit.errors import ConfigError

#: The temporal layer halves the clip length.
_T_FACTOR = 2


class TimmBackbone(Backbone):
    """A timm 2-D model per frame, a 3-D convolution over time, and a transposed-conv decoder.

    Encoder: every frame of a clip ``(B, C, T, H, W)`` goes through the timm model ``model``
    built with ``features_only=True``; its feature map at level ``level`` (stride r, e.g. 32 for
    the last level of a ResNet) is ``(F, H/r, W/r)`` per frame. The T maps are stacked into
    ``(B, F, T, H/r, W/r)``, projected to ``width`` channels by a 1x1x1 convolution, then mixed
    over time by ``Conv3d(width -> width, kernel (3, 1, 1), stride (2, 1, 1), padding (1, 0, 0))
    + BatchNorm3d + ReLU``: the latent is ``(width, T/2, H/r, W/r)`` (what PRP's head reads).

    Decoder: ``ConvTranspose3d(kernel (2, 1, 1), stride (2, 1, 1))`` restores T, then log2(r)
    blocks of ``ConvTranspose3d(kernel (1, 4, 4), stride (1, 2, 2), padding (0, 1, 1)) +
    BatchNorm3d + ReLU`` (halving the width down to ``max(width / 2**k, 8)``) restore H and W,
    and a last ``Conv3d(kernel 3, padding 1)`` without norm maps to C channels. :meth:`decode`
    returns that output before the tanh, shaped like the clip (what VCR and FFP's head read).

    Clips need T even and H, W divisible by r. ``vadkit list backbones 'timm/*resnet*'`` lists
    timm's models by pattern.

    Parameters:
        model: the timm model name (``timm.list_models()``), e.g. ``resnet10t``,
            ``mobilenetv3_small_050``, ``efficientnet_b0``.
        pretrained: load timm's pretrained weights for the 2-D model (downloaded from the
            Hugging Face Hub the first time, then read from its cache; needs the machine online
            once). With 1-channel frames timm sums the first convolution's weights over RGB.
        level: which feature level of the 2-D model to read (index into its feature levels,
            -1 = the deepest).
        width: channels of the latent and of the first decoder block.
        in_channels: channels C of the input frames (1 = grayscale, 3 = colour).

    Reference: timm (Wightman, https://github.com/huggingface/pytorch-image-models),
    ``features_only`` feature extraction.
    """

    def __init__(
        self,
        *,
        model: str = "resnet10t",
        pretrained: bool = False,
        level: int = -1,
        width: int = 64,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        import timm

        if not isinstance(model, str) or not timm.is_model(model):
            raise ConfigError(
                f"timm backbone: {model!r} is not a timm model.",
                hint="List them with: vadkit list backbones 'timm/*resnet*' (any fnmatch pattern).",
            )
        for name, value in (("width", width), ("in_channels", in_channels)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"timm backbone: {name} must be a positive integer, not {value!r}.",
                    hint="For example: width = 64, in_channels = 1 (grayscale).",
                )
        probe = timm.create_model(model, pretrained=False, features_only=True)
        probe_info: Any = probe.feature_info
        levels = len(probe_info)
        if isinstance(level, bool) or not isinstance(level, int) or not -levels <= level < levels:
            raise ConfigError(
                f"timm backbone: {model} has {levels} feature levels; level {level!r} is not one.",
                hint=f"Use an index from {-levels} to {levels - 1} (-1 = the deepest).",
            )
        index = level % levels
        del probe
        self.model_name, self.pretrained, self.level = model, bool(pretrained), level
        self.width, self.in_channels = width, in_channels
        self.frames = timm.create_model(
            model,
            pretrained=self.pretrained,
            features_only=True,
            out_indices=(index,),
            in_chans=in_channels,
        )
        info: Any = self.frames.feature_info
        features, self.reduction = int(info.channels()[-1]), int(info.reduction()[-1])
        self.project = nn.Conv3d(features, width, kernel_size=1)
        self.temporal = nn.Sequential(
            nn.Conv3d(
                width, width, kernel_size=(3, 1, 1), stride=(_T_FACTOR, 1, 1), padding=(1, 0, 0)
            ),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = [
            nn.ConvTranspose3d(
                width, width, kernel_size=(_T_FACTOR, 1, 1), stride=(_T_FACTOR, 1, 1)
            )
        ]
        c = width
        for _ in range(int(math.log2(self.reduction))):
            out = max(c // 2, 8)
            layers += [
                nn.ConvTranspose3d(c, out, kernel_size=(1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1)),
                nn.BatchNorm3d(out),
                nn.ReLU(inplace=True),
            ]  # fmt: skip
            c = out
        layers.append(nn.Conv3d(c, in_channels, kernel_size=3, padding=1))
        self.decoder = nn.Sequential(*layers)

    def encode(self, clip: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` -> latent ``(B, width, T/2, H/r, W/r)``."""
        b = clip.shape[0]
        frames = rearrange(clip, "b c t h w -> (b t) c h w")
        maps = self.frames(frames.contiguous())[-1]
        stacked = rearrange(maps, "(b t) f h w -> b f t h w", b=b)
        return self.temporal(self.project(stacked))

    def decode(self, latent: Tensor) -> Tensor:
        """Latent -> ``(B, C, T, H, W)``, before the output activation (tanh)."""
        return self.decoder(latent)

    def check_clip_shape(self, clip_shape: ClipShape) -> None:
        """Refuse clips whose C differs from ``in_channels``, T is odd, or H, W are not
        divisible by the feature map's stride r."""
        super().check_clip_shape(clip_shape)
        _, t, h, w = tuple(clip_shape)
        r = self.reduction
        if t <= 0 or h <= 0 or w <= 0 or t % _T_FACTOR or h % r or w % r:
            raise ConfigError(
                f"The timm backbone ({self.model_name}, level {self.level}) cannot take clips of "
                f"shape (C, T, H, W) = {tuple(clip_shape)}: it needs T even and H, W divisible "
                f"by {r} (the stride of its feature map).",
                hint=f"Use frame sizes that are multiples of {r}, or a shallower level "
                "(model.params.level).",
            )

    def latent_shape(self, clip_shape: ClipShape) -> tuple[int, ...]:
        """``(width, T/2, H/r, W/r)`` for clips of ``clip_shape`` ``(C, T, H, W)``."""
        self.check_clip_shape(clip_shape)
        _, t, h, w = clip_shape
        r = self.reduction
        return (self.width, t // _T_FACTOR, h // r, w // r)

    def extra_repr(self) -> str:
        return (
            f"model={self.model_name!r}, pretrained={self.pretrained}, level={self.level}, "
            f"width={self.width}, in_channels={self.in_channels}, reduction={self.reduction}"
        )
