"""The error-measure contract."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn


class ErrorMeasure(nn.Module):
    """Base class of error measures: per-frame distance between predicted and real frames.

    ``forward(pred, real)`` takes two ``(N, C, H, W)`` tensors and returns ``(N,)``.
    ``higher_is_anomalous`` is False for similarities such as PSNR:
    :meth:`vadkit.model.VADModel.window_scores` negates them so that every anomaly score grows
    with abnormality.

    Precision: vadkit's scoring hands an error measure float32 frames (the backbone may have run
    in bf16, but its features are cast to float32 first). A task that calls an error measure in
    its training loss may hand it bf16 or fp16 tensors under autocast, so do not assume float32;
    compute precision-sensitive reductions in float32 explicitly.

    Anomaly maps (optional, added in vadkit 0.3): :meth:`error_map` returns the per-pixel error
    ``(N, H', W')`` that the measure pools into its value (channels averaged; ``H', W'`` may be
    smaller than the frame, e.g. a subsampled map), and :meth:`pool_map` turns such a map back
    into the measure's value, so that ``pool_map(error_map(pred, real))`` equals
    ``forward(pred, real)``. A map always grows with abnormality, also for a similarity (PSNR's
    map is the squared error it is a function of). The defaults say "no map": ``error_map``
    returns None and the measure scores as before but gives no anomaly map; a measure written
    before maps existed keeps working unchanged.
    """

    higher_is_anomalous: ClassVar[bool] = True

    def forward(self, pred: Tensor, real: Tensor) -> Tensor:
        raise NotImplementedError

    def error_map(self, pred: Tensor, real: Tensor) -> Tensor | None:
        """Per-pixel error ``(N, H', W')`` of each frame pair, growing with abnormality, or None
        (the default) when the measure has no per-pixel map."""
        return None

    def pool_map(self, error_map: Tensor) -> Tensor:
        """The measure's value ``(N,)`` from maps ``(N, H', W')`` of :meth:`error_map` (the
        default: their mean)."""
        return error_map.flatten(1).mean(dim=1)
