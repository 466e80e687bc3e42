"""A classifier task with its own training view: is the clip played forwards or backwards?"""

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import vadkit


class ArrowOfTime(vadkit.ProxyTask):
    """Arrow of time: classify a clip as played forwards (label 0) or backwards (label 1).

    Training view: with probability ``p_reversed`` the window's T frames in reverse order
    (label 1), else in order (label 0). Head on the encoder's latent ``(C', T', H', W')``: the
    mean over space, then ``Linear(C' * T' -> hidden) -> ReLU -> Linear(hidden -> 2)``.
    Training loss: the cross-entropy of the two logits against the label. Test score: the
    probability that the unmodified clip plays backwards, ``softmax(logits)[1]``; normal motion
    is easy to tell from its reverse, unusual motion less so.

    Parameters:
        p_reversed: probability that a training clip is reversed.
        hidden: units of the head's hidden layer.
    """

    uses_decoder = False  # the head reads the latent: no decoder pass is needed for this task
    uses_error = False  # it scores by itself, under SCORE_KEY, not through the error measures
    default_weight = 0.5  # its loss weight unless the config sets tasks.weights.arrow

    def __init__(self, *, p_reversed: float = 0.5, hidden: int = 32):
        super().__init__()
        if not 0.0 <= p_reversed <= 1.0:
            raise vadkit.ConfigError(
                f"arrow: p_reversed must be a probability in [0, 1], not {p_reversed!r}.",
                hint="Use 0.5: forward and reversed clips with equal chance.",
            )
        self.p_reversed = p_reversed
        self.hidden = hidden

    def build(self, backbone: vadkit.Backbone, clip_shape: tuple[int, int, int, int]) -> None:
        """Size the head from the backbone's latent for clips of ``clip_shape``."""
        latent = backbone.latent_shape(clip_shape)  # without the batch dimension
        if len(latent) != 4:
            raise vadkit.ConfigError(
                f"arrow needs a latent (C, T, H, W); {type(backbone).__name__} gives {latent}.",
                hint="Use a 3-D convolutional backbone such as tiny_ae or cae3d.",
            )
        channels, frames, _, _ = latent
        self.head = nn.Sequential(
            nn.Linear(channels * frames, self.hidden),
            nn.ReLU(),
            nn.Linear(self.hidden, 2),
        )

    def sample_view(
        self, start: int, clip_length: int, rng: np.random.Generator, batch_rng: np.random.Generator
    ) -> tuple[np.ndarray, int]:
        """The frame indices of this task's training clip for the window at ``start``, and its
        label: the data loader reads those frames into ``batch.views[self.name]`` and the label
        into ``batch.labels[self.name]``."""
        indices = start + np.arange(clip_length, dtype=np.int64)
        if rng.random() < self.p_reversed:
            return indices[::-1].copy(), 1
        return indices, 0

    def logits(self, features: vadkit.Features) -> Tensor:
        """``(B, 2)``: index 0 forwards, 1 backwards."""
        latent = features.latent  # (B, C', T', H', W')
        return self.head(latent.mean(dim=(3, 4)).flatten(start_dim=1))

    def loss(self, features: vadkit.Features, batch: vadkit.Batch) -> Tensor:
        # features are those of batch.views[self.name]: the clips sample_view chose
        labels = batch.labels[self.name]
        return F.cross_entropy(self.logits(features).float(), labels.long())

    def scores(
        self,
        features: vadkit.Features,
        batch: vadkit.Batch,
        errors: Mapping[str, vadkit.ErrorMeasure],
    ) -> dict[str, Tensor]:
        """``{SCORE_KEY: P(backwards)}`` per test window (the clip as recorded)."""
        probability = torch.softmax(self.logits(features).float(), dim=1)
        return {vadkit.SCORE_KEY: probability[:, 1]}
