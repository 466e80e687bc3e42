"""A proxy task: a head on the backbone, a training loss, and frames to compare at test time."""

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

import vadkit


class MotionPrediction(vadkit.ProxyTask):
    """Predict the motion to the next frame: frame T+1 minus frame T, from the decoded clip.

    A 2-D head reads the T decoded frames as channels and predicts ``I_(T+1) - I_T``. Training
    loss: the MSE of that difference; test score: the chosen error measure between the
    predicted and the real difference (anomalous motion is badly predicted).

    Parameters:
        hidden: channels of the head's hidden layer.
    """

    uses_decoder = True  # the head reads features.decoded
    uses_error = True  # scores come from an error measure applied to compare()'s frames
    default_weight = 0.5  # its loss weight unless the config sets tasks.weights.motion

    def __init__(self, *, hidden: int = 8):
        super().__init__()
        self.hidden = hidden

    def build(self, backbone: vadkit.Backbone, clip_shape: tuple[int, int, int, int]) -> None:
        """Create the head once the clip shape (C, T, H, W) is known."""
        channels, frames, _, _ = clip_shape
        # Collapse time: every decoded frame is a channel of a 2-D head.
        self.head = nn.Sequential(
            nn.Conv2d(channels * frames, self.hidden, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(self.hidden, channels, kernel_size=3, padding=1),
        )

    def _predict(self, features: vadkit.Features) -> Tensor:
        stacked = rearrange(features.decoded, "b c t h w -> b (c t) h w")
        return 2 * torch.tanh(self.head(stacked))  # a difference of [-1, 1] frames is in [-2, 2]

    def _motion(self, batch: vadkit.Batch) -> Tensor:
        return batch.target - batch.clip[:, :, -1]  # frame T+1 minus frame T, (B, C, H, W)

    def loss(self, features: vadkit.Features, batch: vadkit.Batch) -> Tensor:
        return F.mse_loss(self._predict(features), self._motion(batch))

    def compare(self, features: vadkit.Features, batch: vadkit.Batch) -> tuple[Tensor, Tensor]:
        """Predicted and real motion as (B, K=1, C, H, W), for the error measures."""
        pred = rearrange(self._predict(features), "b c h w -> b 1 c h w")
        real = rearrange(self._motion(batch), "b c h w -> b 1 c h w")
        return pred, real
