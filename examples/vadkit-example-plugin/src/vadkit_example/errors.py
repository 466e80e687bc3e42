"""An error measure: one number per frame from a predicted and a real frame."""

import torch

import vadkit


class MeanAbsoluteError(vadkit.ErrorMeasure):
    """Mean absolute difference per frame (L1), less sensitive to a few large errors than MSE.

    ``MAE(J, J^) = mean(|J^ - J| ** power)`` over the C x H x W pixels of each frame.

    Parameters:
        power: exponent applied to each absolute difference (1: the mean absolute error).
    """

    def __init__(self, *, power: float = 1.0):
        super().__init__()
        self.power = power

    def forward(self, pred: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        # (N, C, H, W) -> (N,): one value per frame, in float32 whatever the input dtype
        diff = (pred.float() - real.float()).abs().pow(self.power)
        return diff.flatten(start_dim=1).mean(dim=1)
