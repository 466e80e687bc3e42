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
    """

    higher_is_anomalous: ClassVar[bool] = True

    def forward(self, pred: Tensor, real: Tensor) -> Tensor:
        raise NotImplementedError
