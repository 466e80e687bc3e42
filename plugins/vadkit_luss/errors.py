"""Per-frame image error measures of LUSS-AE (Lohani et al., VISAPP 2023, section 3.2.1).

Every measure maps two ``(N, C, H, W)`` tensors (predicted and real frames) to ``(N,)``, one value
per frame, computed in float32 on the inputs' device whatever their dtype or the autocast state.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import Tensor

from vadkit.components import ErrorMeasure
from vadkit.errors import ConfigError
from vadkit_luss._kernels import (
    blur_per_channel,
    check_gaussian_params,
    float32_difference,
    gaussian_kernel_2d,
    mean_per_frame,
)


class MSE(ErrorMeasure):
    """Mean squared error per frame (eq. 8).

    ``MSE(J, J^) = ||J^ - J||_F^2 / (C * H * W)``.

    Anomaly map: the squared error averaged over channels, ``(N, H, W)``; its mean is the MSE.

    No parameters. Reference: Lohani et al., VISAPP 2023, eq. (8).
    """

    def forward(self, pred: Tensor, real: Tensor) -> Tensor:
        return self.pool_map(self.error_map(pred, real))

    def error_map(self, pred: Tensor, real: Tensor) -> Tensor:
        return float32_difference(pred, real, "MSE").square().mean(dim=1)


class PSNR(ErrorMeasure):
    """Peak signal-to-noise ratio per frame, in dB (a similarity: lower = more anomalous).

    ``PSNR(J, J^) = 10 * log10(data_range^2 / max(MSE(J, J^), eps))`` with ``eps = 1e-10`` so that
    identical frames give a large finite value instead of infinity.

    Parameters:
        data_range: the span of pixel values, 2.0 for pixels in [-1, 1] (255 for uint8 pixels).

    ``higher_is_anomalous`` is False: the engine negates PSNR so that scores grow with abnormality.
    PSNR has no per-pixel form of its own: its anomaly map is the squared error ``(N, H, W)`` (the
    MSE's map), which grows with abnormality; :meth:`pool_map` turns it into the PSNR.
    Reference: Lohani et al., VISAPP 2023, section 3.2.1 (PSNR as used by Ye et al. 2019,
    Astrid et al. 2021, Park et al. 2022).
    """

    higher_is_anomalous: ClassVar[bool] = False
    eps: ClassVar[float] = 1e-10

    def __init__(self, *, data_range: float = 2.0) -> None:
        super().__init__()
        if (
            isinstance(data_range, bool)
            or not isinstance(data_range, int | float)
            or not math.isfinite(data_range)
            or data_range <= 0
        ):
            raise ConfigError(
                f"PSNR: data_range must be a positive number, not {data_range!r}.",
                hint="Use 2.0 for pixels in [-1, 1], 1.0 for [0, 1], 255 for uint8 pixels.",
            )
        self.data_range = float(data_range)

    def forward(self, pred: Tensor, real: Tensor) -> Tensor:
        return self.pool_map(self.error_map(pred, real))

    def error_map(self, pred: Tensor, real: Tensor) -> Tensor:
        return float32_difference(pred, real, "PSNR").square().mean(dim=1)

    def pool_map(self, error_map: Tensor) -> Tensor:
        mse = mean_per_frame(error_map).clamp_min(self.eps)
        return 10.0 * torch.log10(self.data_range**2 / mse)

    def extra_repr(self) -> str:
        return f"data_range={self.data_range}"


class _BlurredError(ErrorMeasure):
    """What PSE and BPE share: the error image blurred per channel by eq. (10)'s Gaussian,
    sampled every ``stride`` pixels (1: every pixel), squared and averaged over channels."""

    kernel: Tensor
    stride: int = 1

    def __init__(self, label: str, sigma: float, kernel_size: int, normalize: bool) -> None:
        super().__init__()
        check_gaussian_params(label, sigma, kernel_size)
        self.label = label
        self.sigma = float(sigma)
        self.kernel_size = kernel_size
        self.normalize = bool(normalize)
        kernel = gaussian_kernel_2d(self.sigma, kernel_size, normalize=self.normalize)
        self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, pred: Tensor, real: Tensor) -> Tensor:
        return self.pool_map(self.error_map(pred, real))

    def error_map(self, pred: Tensor, real: Tensor) -> Tensor:
        diff = float32_difference(pred, real, self.label)
        return blur_per_channel(diff, self.kernel, stride=self.stride).square().mean(dim=1)


class PSE(_BlurredError):
    """Proximally sensitive error: MSE of the error image blurred by a Gaussian (eq. 9-10).

    ``PSE(J, J^) = ||(J^ - J) * G_(sigma,k)||_F^2 / (C * H * W)``, where ``*`` is a per-channel 2-D
    convolution with zero padding ``k // 2`` (the blurred image keeps the frame's size) and
    ``G[i, j] = exp(-(i^2 + j^2) / (2 sigma^2)) / (2 pi sigma^2)``, ``i, j`` in ``-k//2 .. k//2``.

    Parameters:
        sigma: standard deviation of the Gaussian, in pixels (paper: 1).
        kernel_size: odd kernel size k (paper: 5, i.e. k = 6 sigma - 1).
        normalize: divide the truncated kernel by its sum (the standard low-pass filter, unit gain
            on flat errors). False keeps eq. (10)'s values literally; they sum to about 0.98 at
            sigma 1, k 5, which scales every PSE by the same constant (about 0.96).

    Anomaly map: the blurred error squared and averaged over channels, ``(N, H, W)``.

    Reference: Lohani et al., VISAPP 2023, eq. (9)-(10); Gudi et al. 2022.
    """

    def __init__(self, *, sigma: float = 1.0, kernel_size: int = 5, normalize: bool = True) -> None:
        super().__init__("PSE", sigma, kernel_size, normalize)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, kernel_size={self.kernel_size}, normalize={self.normalize}"


class BPE(_BlurredError):
    """Blur pooled error: the error image low-pass filtered, subsampled, then squared (eq. 11).

    ``BPE(J, J^) = mean(S_b((J^ - J) * B_k)^2)``: the error image is blurred per channel by the
    Gaussian ``B_k`` of eq. (10) (zero padding ``k // 2``) and subsampled with stride ``b`` (rows and
    columns ``0, b, 2b, ...``), both in one strided convolution, then the squares are averaged over
    the subsampled ``C x ceil(H/b) x ceil(W/b)`` map.

    Eq. (11) divides the same sum of squares by the full-size ``C * H * W``; the mean used here is
    therefore eq. (11) times about ``b^2`` (exactly ``H*W / (ceil(H/b) * ceil(W/b))``). A constant
    factor changes no ranking, no AUROC and no per-video normalized score.

    Parameters:
        stride: subsampling stride b (2 as in Zhang 2019's blur pooling).
        sigma: standard deviation of the Gaussian, in pixels (1).
        kernel_size: odd kernel size k (5).
        normalize: divide the truncated kernel by its sum (see PSE); False keeps eq. (10) literally.

    Anomaly map: the blurred, subsampled error squared and averaged over channels,
    ``(N, ceil(H/b), ceil(W/b))`` (the map this mean pools).

    Reference: Lohani et al., VISAPP 2023, eq. (11); Zhang 2019 (blur pooling).
    """

    def __init__(
        self,
        *,
        stride: int = 2,
        sigma: float = 1.0,
        kernel_size: int = 5,
        normalize: bool = True,
    ) -> None:
        super().__init__("BPE", sigma, kernel_size, normalize)
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise ConfigError(
                f"BPE: stride must be a positive integer, not {stride!r}.",
                hint="Use stride 2 (the paper's subsampling); 1 makes BPE equal to PSE.",
            )
        self.stride = stride

    def extra_repr(self) -> str:
        return (
            f"stride={self.stride}, sigma={self.sigma}, kernel_size={self.kernel_size}, "
            f"normalize={self.normalize}"
        )
