import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

import vadkit


class MotionPrediction(vadkit.ProxyTask):
    """Predict the motion to the next frame: frame T+1 minus frame T, from the decoded clip."""

    uses_decoder = True
    uses_error = True
    default_weight = 0.5

    def __init__(self, *, hidden: int = 8):
        super().__init__()
        self.hidden = hidden

    def build(self, backbone, clip_shape):
        channels, frames, _, _ = clip_shape
        # Collapse time: every decoded frame is a channel of a 2-D head.
        self.head = nn.Sequential(
            nn.Conv2d(channels * frames, self.hidden, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(self.hidden, channels, kernel_size=3, padding=1),
        )

    def _predict(self, features):
        stacked = rearrange(features.decoded, "b c t h w -> b (c t) h w")
        return 2 * torch.tanh(self.head(stacked))  # a difference of [-1, 1] frames is in [-2, 2]

    def _motion(self, batch):
        return batch.target - batch.clip[:, :, -1]

    def loss(self, features, batch):
        return F.mse_loss(self._predict(features), self._motion(batch))

    def compare(self, features, batch):
        pred = rearrange(self._predict(features), "b c h w -> b 1 c h w")
        real = rearrange(self._motion(batch), "b c h w -> b 1 c h w")
        return pred, real
