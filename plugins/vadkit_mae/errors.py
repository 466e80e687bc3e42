"""The absolute error, the score AED-MAE uses on some datasets besides the squared error.

Maps two ``(N, C, H, W)`` tensors (predicted and real frames) to ``(N,)``, one value per frame,
computed in float32 whatever the inputs' dtype.
"""

from __future__ import annotations

from torch import Tensor

from vadkit.components import ErrorMeasure
from vadkit.errors import DataError


class L1(ErrorMeasure):
    """Mean absolute error per frame: ``L1(J, J^) = ||J^ - J||_1 / (C * H * W)``.

    Less dominated than the MSE by a few large pixel errors, so a wide but faint anomaly weighs
    more against a small sharp one. AED-MAE scores ShanghaiTech with it (its code's ``L1``) and
    Avenue with the squared error.

    Anomaly map: the absolute error averaged over channels, ``(N, H, W)``; its mean is the L1.

    No parameters. Reference: Ristea et al., CVPR 2024 (AED-MAE), anomaly score.
    """

    def forward(self, pred: Tensor, real: Tensor) -> Tensor:
        return self.pool_map(self.error_map(pred, real))

    def error_map(self, pred: Tensor, real: Tensor) -> Tensor:
        if pred.shape != real.shape or pred.dim() != 4:
            raise DataError(
                f"L1 compares two (N, C, H, W) tensors of one shape; got {tuple(pred.shape)} "
                f"and {tuple(real.shape)}.",
                hint="Pass predicted and real frames of the same shape.",
            )
        return (pred.float() - real.float()).abs().mean(dim=1)
