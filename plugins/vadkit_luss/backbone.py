"""The 3D convolutional autoencoder (3DCAE) that LUSS-AE trains (Gong et al. 2019, without memory)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from torch import Tensor, nn

from vadkit.components import Backbone, ClipShape
from vadkit.errors import ConfigError

#: Encoder strides (t, h, w); the decoder undoes them in reverse order.
_STRIDES: tuple[tuple[int, int, int], ...] = ((1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))
#: The encoder divides T by 8 and H, W by 16.
_T_FACTOR = 8
_HW_FACTOR = 16


class CAE3D(Backbone):
    """3D convolutional autoencoder of LUSS-AE: 4 strided Conv3d down, 4 ConvTranspose3d up.

    Encoder: four ``Conv3d(kernel 3, padding 1, bias) + BatchNorm3d + LeakyReLU(negative_slope)``
    with strides (1,2,2), (2,2,2), (2,2,2), (2,2,2) and widths ``channels``; a clip
    ``(C, T, H, W)`` becomes a latent ``(channels[3], T/8, H/16, W/16)``, e.g. 256 x 2 x 16 x 16
    for 1 x 16 x 256 x 256. Decoder: three ``ConvTranspose3d(kernel 3, stride 2, padding 1,
    output_padding 1) + BatchNorm3d + LeakyReLU`` (widths channels[3] -> channels[2] ->
    channels[1] -> channels[0]) and a last ``ConvTranspose3d(channels[0] -> C, stride (1,2,2),
    padding 1, output_padding (0,1,1))`` without norm. :meth:`decode` returns that last layer's
    output before the activation; the reconstruction is ``tanh(decode(encode(x)))``.

    Clips need T divisible by 8 and H, W divisible by 16. At the defaults the model has
    5,980,801 parameters (paper: 5.98M).

    Parameters:
        in_channels: channels C of the input frames (1 = grayscale, as in the paper; 3 = colour).
        channels: widths of the four encoder layers (paper: 96, 128, 256, 256); narrower widths
            make small experiments and the demo fast on CPU.
        negative_slope: slope of the LeakyReLU for negative inputs (0.2).

    Reference: Lohani et al., VISAPP 2023, section 4.3; Gong et al., ICCV 2019 (MemAE's 3DCAE).
    """

    def __init__(
        self,
        *,
        in_channels: int = 1,
        channels: tuple[int, int, int, int] = (96, 128, 256, 256),
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.in_channels = _check_positive_int("in_channels", in_channels)
        self.channels = _check_channels(channels)
        if (
            isinstance(negative_slope, bool)
            or not isinstance(negative_slope, int | float)
            or not math.isfinite(negative_slope)
            or negative_slope < 0
        ):
            raise ConfigError(
                f"CAE3D: negative_slope must be a finite number >= 0, not {negative_slope!r}.",
                hint="Use 0.2 (the paper's LeakyReLU) or 0 for a plain ReLU.",
            )
        self.negative_slope = float(negative_slope)

        widths = (self.in_channels, *self.channels)
        encoder: list[nn.Module] = []
        for c_in, c_out, stride in zip(widths[:-1], widths[1:], _STRIDES, strict=True):
            encoder += [
                nn.Conv3d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=True),
                nn.BatchNorm3d(c_out),
                nn.LeakyReLU(self.negative_slope, inplace=True),
            ]
        self.encoder = nn.Sequential(*encoder)

        up = widths[::-1]  # channels[3], channels[2], channels[1], channels[0], C
        decoder: list[nn.Module] = []
        for c_in, c_out in itertools.pairwise(up[:-1]):
            decoder += [
                nn.ConvTranspose3d(
                    c_in, c_out, kernel_size=3, stride=2, padding=1, output_padding=1
                ),
                nn.BatchNorm3d(c_out),
                nn.LeakyReLU(self.negative_slope, inplace=True),
            ]
        decoder.append(
            nn.ConvTranspose3d(
                up[-2],
                up[-1],
                kernel_size=3,
                stride=_STRIDES[0],
                padding=1,
                output_padding=(0, 1, 1),
            )
        )
        self.decoder = nn.Sequential(*decoder)

    def encode(self, clip: Tensor) -> Tensor:
        """``(B, C, T, H, W)`` -> latent ``(B, channels[3], T/8, H/16, W/16)``."""
        return self.encoder(clip)

    def decode(self, latent: Tensor) -> Tensor:
        """Latent -> ``(B, C, T, H, W)``, before the output activation (tanh)."""
        return self.decoder(latent)

    def check_clip_shape(self, clip_shape: ClipShape) -> None:
        """Raise :class:`ConfigError` unless ``clip_shape`` ``(C, T, H, W)`` has C ==
        ``in_channels``, T divisible by 8 and H, W divisible by 16."""
        shape = tuple(clip_shape)
        if len(shape) != 4:
            raise ConfigError(
                f"CAE3D expects a clip shape (C, T, H, W); got {shape!r}.",
                hint="Give four numbers: channels, frames, height, width, e.g. (1, 16, 256, 256).",
            )
        super().check_clip_shape(clip_shape)
        _, t, h, w = shape
        if t <= 0 or h <= 0 or w <= 0 or t % _T_FACTOR or h % _HW_FACTOR or w % _HW_FACTOR:
            raise ConfigError(
                f"CAE3D cannot take clips of shape (C, T, H, W) = {shape}: it needs the clip "
                f"length T divisible by {_T_FACTOR} and the frame height H and width W divisible "
                f"by {_HW_FACTOR} (its encoder halves T three times and H, W four times).",
                hint="Use a clip length of 8, 16, 24, ... and a frame size such as 256x256 "
                "(paper: 16 frames of 256x256).",
            )

    def latent_shape(self, clip_shape: ClipShape) -> tuple[int, ...]:
        """``(channels[3], T/8, H/16, W/16)`` for clips of ``clip_shape`` ``(C, T, H, W)``."""
        self.check_clip_shape(clip_shape)
        _, t, h, w = clip_shape
        return (self.channels[-1], t // _T_FACTOR, h // _HW_FACTOR, w // _HW_FACTOR)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, channels={self.channels}, "
            f"negative_slope={self.negative_slope}"
        )


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(
            f"CAE3D: {name} must be a positive integer, not {value!r}.",
            hint=f"Set {name} to 1 for grayscale frames or 3 for colour.",
        )
    return value


def _check_channels(value: Sequence[int]) -> tuple[int, int, int, int]:
    hint = "Give four positive widths, e.g. [96, 128, 256, 256] (paper) or [16, 16, 32, 32]."
    try:
        widths = tuple(value)
    except TypeError:
        raise ConfigError(
            f"CAE3D: channels must be four integers, not {value!r}.", hint=hint
        ) from None
    if len(widths) != 4 or any(
        isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in widths
    ):
        raise ConfigError(
            f"CAE3D: channels must be four positive integers, not {value!r}.", hint=hint
        )
    return (widths[0], widths[1], widths[2], widths[3])
