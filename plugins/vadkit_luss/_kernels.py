"""Small numeric helpers shared by the LUSS-AE error measures: the Gaussian kernel of eq. (10) and a
per-channel 2-D convolution computed in float32 whatever the input's dtype or autocast state."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from vadkit.errors import ConfigError


def check_gaussian_params(owner: str, sigma: float, kernel_size: int) -> None:
    """Raise :class:`ConfigError` unless ``sigma > 0`` and ``kernel_size`` is a positive odd int."""
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not math.isfinite(sigma):
        raise ConfigError(
            f"{owner}: sigma must be a finite number, not {sigma!r}.",
            hint="Set sigma to a positive number such as 1.0.",
        )
    if sigma <= 0:
        raise ConfigError(
            f"{owner}: sigma must be > 0, not {sigma!r}.",
            hint="Set sigma to a positive number such as 1.0.",
        )
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int):
        raise ConfigError(
            f"{owner}: kernel_size must be an int, not {kernel_size!r}.",
            hint="Set kernel_size to a positive odd integer such as 5.",
        )
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ConfigError(
            f"{owner}: kernel_size must be a positive odd integer, not {kernel_size}.",
            hint="Use an odd size so the kernel has a centre pixel, e.g. 5 (paper: k = 6*sigma - 1).",
        )


def gaussian_kernel_2d(sigma: float, kernel_size: int, *, normalize: bool = True) -> Tensor:
    """The ``(k, k)`` float32 Gaussian of eq. (10): ``exp(-(i^2 + j^2) / (2 sigma^2)) / (2 pi sigma^2)``.

    ``i, j`` run over ``-(k // 2) .. k // 2``. With ``normalize`` the truncated kernel is divided by
    its sum (a low-pass filter with unit DC gain); without it the values of eq. (10) are kept as
    they are (they sum to about 0.98 at sigma 1, k 5).
    """
    half = kernel_size // 2
    coords = torch.arange(-half, half + 1, dtype=torch.float64)
    sq = coords[:, None] ** 2 + coords[None, :] ** 2
    kernel = torch.exp(-sq / (2.0 * sigma**2)) / (2.0 * math.pi * sigma**2)
    if normalize:
        kernel = kernel / kernel.sum()
    return kernel.to(torch.float32)


@contextlib.contextmanager
def no_autocast(device: torch.device) -> Iterator[None]:
    """Switch autocast off for ``device`` (when the device type supports autocast at all)."""
    if torch.amp.is_autocast_available(device.type):
        with torch.autocast(device_type=device.type, enabled=False):
            yield
    else:
        yield


def float32_difference(pred: Tensor, real: Tensor, owner: str) -> Tensor:
    """``pred - real`` in float32, after checking that both are ``(N, C, H, W)`` of one shape."""
    if pred.dim() != 4 or pred.shape != real.shape:
        raise ConfigError(
            f"{owner} compares two (N, C, H, W) tensors of one shape; got {tuple(pred.shape)} "
            f"and {tuple(real.shape)}.",
            hint="Pass predicted and real frames with the same shape, one frame per row.",
        )
    return pred.to(torch.float32) - real.to(torch.float32)


def blur_per_channel(image: Tensor, kernel: Tensor, *, stride: int = 1) -> Tensor:
    """Convolve every channel of ``image`` ``(N, C, H, W)`` with ``kernel`` ``(k, k)``.

    Zero padding ``k // 2``; with ``stride`` b the output is the full-size blur sampled at rows and
    columns ``0, b, 2b, ...``, computed by one strided convolution. Runs in float32 with autocast
    off; returns ``(N, C, H', W')``.
    """
    n = image.shape[0]
    k = kernel.shape[-1]
    weight = kernel.to(device=image.device, dtype=torch.float32).view(1, 1, k, k)
    flat = rearrange(image.to(torch.float32), "n c h w -> (n c) 1 h w")
    with no_autocast(image.device):
        out = F.conv2d(flat, weight, stride=stride, padding=k // 2)
    return rearrange(out, "(n c) 1 h w -> n c h w", n=n)


def mean_per_frame(values: Tensor) -> Tensor:
    """Mean over every axis but the first: ``(N, ...)`` -> ``(N,)``."""
    return rearrange(values, "n ... -> n (...)").mean(dim=1)
