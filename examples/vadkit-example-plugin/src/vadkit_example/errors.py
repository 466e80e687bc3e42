import torch

import vadkit


class MeanAbsoluteError(vadkit.ErrorMeasure):
    """Mean absolute difference per frame (L1), less sensitive to a few large errors than MSE."""

    def __init__(self, *, power: float = 1.0):
        super().__init__()
        self.power = power

    def forward(self, pred: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        # (N, C, H, W) -> (N,): one value per frame
        diff = (pred.float() - real.float()).abs().pow(self.power)
        return diff.flatten(start_dim=1).mean(dim=1)
