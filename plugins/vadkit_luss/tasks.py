"""The three proxy tasks of LUSS-AE (Lohani et al., VISAPP 2023, sections 3.1 and 3.2.2).

* ``vcr``: video clip reconstruction, the autoencoder's own output (eq. 3, 12);
* ``ffp``: future frame prediction, a head on the decoded clip (eq. 4, 13);
* ``prp``: playback rate prediction, a classifier head on the latent (eq. 5, 6, 14).

Losses are computed in float32, so they stay accurate under autocast.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vadkit.components import SCORE_KEY, Batch, Features, ProxyTask
from vadkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from vadkit.components import Backbone, ClipShape, ErrorMeasure

#: Key of PRP's clips and labels in ``Batch.views`` / ``Batch.labels`` (its registered name).
PRP_KEY = "prp"


def _recon(features: Features, task: str) -> Tensor:
    if features.recon is None:
        raise ConfigError(
            f"The {task} task needs the decoder's output, but the features carry none.",
            hint="Compute features with decode=True (VADModel does so when a task uses the decoder).",
        )
    return features.recon


def _decoded(features: Features, task: str) -> Tensor:
    if features.decoded is None:
        raise ConfigError(
            f"The {task} task needs the decoder's output, but the features carry none.",
            hint="Compute features with decode=True (VADModel does so when a task uses the decoder).",
        )
    return features.decoded


def _target(batch: Batch) -> Tensor:
    if batch.target is None:
        raise DataError(
            "The ffp task needs the frame after each clip (batch.target), but the batch has none.",
            hint="Build windows of clip_length + 1 frames: the last one is the FFP target.",
        )
    return batch.target


def _not_built(task: str) -> ConfigError:
    return ConfigError(
        f"The {task} task's head does not exist yet: build() was not called.",
        hint="Wrap the backbone and tasks in vadkit.model.VADModel, which builds every task.",
    )


class VideoClipReconstruction(ProxyTask):
    """Video clip reconstruction (VCR): the autoencoder rebuilds its input clip.

    Training loss, eq. (3): ``L_VCR = ||tanh(Dec(Enc(X))) - X||_F^2 / (T * C * H * W)`` (MSE).
    Test score, eq. (12): ``A_VCR = (1/T) sum_t E(X^_t, X_t)`` for the chosen error measure E;
    :meth:`compare` returns the T reconstructed and real frames ``(B, T, C, H, W)``.

    No parameters; no head (the backbone's output is the prediction). Default loss weight 0.6.
    Reference: Lohani et al., VISAPP 2023, section 3.1.1, eq. (3) and (12).
    """

    uses_decoder: ClassVar[bool] = True
    uses_error: ClassVar[bool] = True
    default_weight: ClassVar[float] = 0.6

    def loss(self, features: Features, batch: Batch) -> Tensor:
        recon = _recon(features, "vcr")
        return F.mse_loss(recon.float(), batch.clip.float())

    def compare(self, features: Features, batch: Batch) -> tuple[Tensor, Tensor]:
        recon = _recon(features, "vcr")
        return (
            rearrange(recon, "b c t h w -> b t c h w"),
            rearrange(batch.clip, "b c t h w -> b t c h w"),
        )


_FFP_HEADS = ("full", "paper")


class FutureFramePrediction(ProxyTask):
    """Future frame prediction (FFP): a Conv3d head on the decoded clip predicts frame T+1.

    Prediction: ``X^_FFP = tanh(H_FFP(Dec(Enc(X))))``, with ``H_FFP`` applied to the decoder's
    output before its tanh. Training loss, eq. (4): ``L_FFP = ||X^_FFP - I_(T+1)||_F^2 / (C*H*W)``
    (MSE). Test score, eq. (13): ``A_FFP = E(X^_FFP, I_(T+1))``; :meth:`compare` returns
    ``(B, 1, C, H, W)`` predicted and real frames.

    Parameters:
        head: ``"full"`` (default): ``Conv3d(C -> C, kernel (T, 3, 3), padding (0, 1, 1))``, which
            sees all T decoded frames (T*9*C*C + C weights). ``"paper"``: the authors' code,
            ``Conv3d(C -> C, kernel 3, stride (T, 1, 1), padding 1)``; its single output slice
            covers the zero padding and decoder time slices 0 and 1 only, so the prediction of
            frame T+1 cannot see the last decoded frames. The paper's text calls it "a single 2D
            convolution followed by tanh". "full" is our improvement; "paper" reproduces the
            published model (6,124,447 parameters with PRP at 1x16x256x256).

    Default loss weight 0.4. Reference: Lohani et al., VISAPP 2023, section 3.1.2, eq. (4), (13).
    """

    uses_decoder: ClassVar[bool] = True
    uses_error: ClassVar[bool] = True
    default_weight: ClassVar[float] = 0.4

    def __init__(self, *, head: str = "full") -> None:
        super().__init__()
        if head not in _FFP_HEADS:
            raise ConfigError(
                f"FFP: unknown head {head!r}.",
                hint='Use "full" (a Conv3d that sees the whole decoded clip) or "paper" (the '
                "authors' Conv3d with temporal stride T).",
            )
        self.head_kind = head
        self.head: nn.Conv3d | None = None

    def build(self, backbone: Backbone, clip_shape: ClipShape) -> None:
        """Create the head for clips of ``clip_shape`` ``(C, T, H, W)``."""
        c, t = int(clip_shape[0]), int(clip_shape[1])
        if self.head_kind == "paper":
            self.head = nn.Conv3d(c, c, kernel_size=3, stride=(t, 1, 1), padding=1)
        else:
            self.head = nn.Conv3d(c, c, kernel_size=(t, 3, 3), padding=(0, 1, 1))

    def predict(self, features: Features) -> Tensor:
        """The predicted frame T+1, ``(B, C, H, W)`` in [-1, 1]."""
        if self.head is None:
            raise _not_built("ffp")
        out = self.head(_decoded(features, "ffp"))  # (B, C, 1, H, W)
        return torch.tanh(rearrange(out, "b c 1 h w -> b c h w"))

    def loss(self, features: Features, batch: Batch) -> Tensor:
        return F.mse_loss(self.predict(features).float(), _target(batch).float())

    def compare(self, features: Features, batch: Batch) -> tuple[Tensor, Tensor]:
        pred = self.predict(features)
        return (
            rearrange(pred, "b c h w -> b 1 c h w"),
            rearrange(_target(batch), "b c h w -> b 1 c h w"),
        )

    def extra_repr(self) -> str:
        return f"head={self.head_kind!r}"


_RATE_PER = ("batch", "clip")


def _pooled(n: int) -> int:
    """Size after a kernel-2, stride-2 max pool with ceil_mode=True."""
    return -(-n // 2)


class PlaybackRatePrediction(ProxyTask):
    """Playback rate prediction (PRP): classify a clip as original speed or accelerated.

    Training view, eq. (5): with probability ``p_accelerated`` an accelerated clip
    ``{I_(start + s*t)}_(0 <= t < T)`` (label 1, s drawn uniformly from ``rates``), else the
    original clip ``{I_(start + t)}`` (label 0). Head on the encoder's latent ``(C', T', H', W')``:
    ``MaxPool3d(2) -> time index 0 -> Conv2d(C' -> 32, 3x3, pad 1) -> MaxPool2d(2) -> flatten
    -> Linear(F -> 128) -> ReLU -> Linear(128 -> 32) -> ReLU -> Linear(32 -> 2)``, with F sized in
    :meth:`build` from the backbone's latent shape (512 at 1x16x256x256). Both pools use
    ``ceil_mode=True`` so that tiny clips still fit (same result at even sizes). The head outputs
    logits. Training loss, eq. (6): cross-entropy of the logits against the label (the softmax is
    inside the loss, applied once). Test score, eq. (14): ``A_PRP = softmax(logits)[accelerated]``
    for the unmodified test clip, under ``SCORE_KEY``.

    Parameters:
        p_accelerated: probability that a training clip is accelerated (paper: 0.5).
        rates: the temporal gaps s to draw from, integers >= 2 (paper: 2, 3, 4, 5).
        rate_per: ``"batch"``: one s per batch, shared by all its samples (the paper's text);
            ``"clip"``: one s per clip (the authors' code).

    Default loss weight 1.0. Reference: Lohani et al., VISAPP 2023, section 3.1.3, eq. (5), (6)
    and (14); section 4.3.
    """

    uses_decoder: ClassVar[bool] = False
    uses_error: ClassVar[bool] = False
    default_weight: ClassVar[float] = 1.0

    def __init__(
        self,
        *,
        p_accelerated: float = 0.5,
        rates: tuple[int, ...] = (2, 3, 4, 5),
        rate_per: str = "batch",
    ) -> None:
        super().__init__()
        if (
            isinstance(p_accelerated, bool)
            or not isinstance(p_accelerated, int | float)
            or not math.isfinite(p_accelerated)
            or not 0.0 <= p_accelerated <= 1.0
        ):
            raise ConfigError(
                f"PRP: p_accelerated must be a probability in [0, 1], not {p_accelerated!r}.",
                hint="Use 0.5 (the paper: original and accelerated clips with equal chance).",
            )
        self.p_accelerated = float(p_accelerated)
        self.rates = _check_rates(rates)
        if rate_per not in _RATE_PER:
            raise ConfigError(
                f"PRP: rate_per must be 'batch' or 'clip', not {rate_per!r}.",
                hint="'batch' draws one rate per batch (the paper), 'clip' one per clip "
                "(the authors' code).",
            )
        self.rate_per = rate_per
        self.head: nn.Sequential | None = None

    def build(self, backbone: Backbone, clip_shape: ClipShape) -> None:
        """Create the classifier head, sized from ``backbone.latent_shape(clip_shape)``."""
        latent = backbone.latent_shape(clip_shape)
        if len(latent) != 4:
            raise ConfigError(
                f"PRP needs a backbone whose latent is (C, T, H, W); {type(backbone).__name__} "
                f"gives {latent} for clips of shape {tuple(clip_shape)}.",
                hint="Use a 3-D convolutional backbone such as cae3d.",
            )
        c, _, h, w = latent
        flat = 32 * _pooled(_pooled(h)) * _pooled(_pooled(w))
        self.head = nn.Sequential(
            nn.MaxPool3d(2, ceil_mode=True),
            _KeepFirstTime(),
            nn.Conv2d(c, 32, kernel_size=3, padding=1),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Flatten(),
            nn.Linear(flat, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, 32),
            nn.ReLU(inplace=True),
            nn.Linear(32, 2),
        )

    def logits(self, features: Features) -> Tensor:
        """Class logits ``(B, 2)``: index 0 original playback rate, 1 accelerated."""
        if self.head is None:
            raise _not_built("prp")
        return self.head(features.latent)

    def sample_view(
        self, start: int, clip_length: int, rng: np.random.Generator, batch_rng: np.random.Generator
    ) -> tuple[np.ndarray, int]:
        """Indices of an original (label 0) or accelerated (label 1) clip starting at ``start``."""
        steps = np.arange(clip_length, dtype=np.int64)
        if rng.random() >= self.p_accelerated:
            return start + steps, 0
        source = batch_rng if self.rate_per == "batch" else rng
        s = self.rates[int(source.integers(len(self.rates)))]
        return start + s * steps, 1

    def labels(self, batch: Batch) -> Tensor:
        """This task's playback-rate labels ``(B,)``: ``batch.labels[self.name]``."""
        key = self.name or PRP_KEY
        labels = batch.labels.get(key)
        if labels is None:
            found = sorted(batch.labels) or "none"
            raise DataError(
                f"The prp task cannot find its playback-rate labels: batch.labels has "
                f"{found}, not {key!r}.",
                hint="Train with the data loader of vadkit.data, which samples PRP's clips and "
                "labels through sample_view() and files them under the task's name.",
            )
        return labels

    def loss(self, features: Features, batch: Batch) -> Tensor:
        return F.cross_entropy(self.logits(features).float(), self.labels(batch).long())

    def scores(
        self, features: Features, batch: Batch, errors: Mapping[str, ErrorMeasure]
    ) -> dict[str, Tensor]:
        """``{SCORE_KEY: P(accelerated)}`` per window, eq. (14)."""
        prob = torch.softmax(self.logits(features).float(), dim=1)
        return {SCORE_KEY: prob[:, 1]}

    def extra_repr(self) -> str:
        return f"p_accelerated={self.p_accelerated}, rates={self.rates}, rate_per={self.rate_per!r}"


class _KeepFirstTime(nn.Module):
    """``(B, C, T, H, W)`` -> ``(B, C, H, W)``: the first time slice."""

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, 0]


def _check_rates(value: Sequence[int]) -> tuple[int, ...]:
    hint = "Give integer temporal gaps >= 2, e.g. [2, 3, 4, 5] (the paper)."
    try:
        rates = tuple(value)
    except TypeError:
        raise ConfigError(
            f"PRP: rates must be a list of integers, not {value!r}.", hint=hint
        ) from None
    if not rates:
        raise ConfigError("PRP: rates is empty; an accelerated clip needs a gap.", hint=hint)
    for s in rates:
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or s < 2:
            raise ConfigError(
                f"PRP: every rate must be an integer >= 2 (1 is the original speed); got {s!r} "
                f"in {value!r}.",
                hint=hint,
            )
    return tuple(int(s) for s in rates)
