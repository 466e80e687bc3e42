"""The proxy-task contract: heads on a backbone, a training loss, and a test-time score."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from torch import Tensor, nn

from vadkit.components.base import Batch, Features
from vadkit.components.keys import SCORE_KEY as SCORE_KEY

if TYPE_CHECKING:
    from vadkit.components.backbone import Backbone, ClipShape
    from vadkit.components.error import ErrorMeasure


class ProxyTask(nn.Module):
    """Base class of proxy tasks.

    A task owns its heads (created in :meth:`build`, once the backbone and clip shape are known),
    computes its training loss from the backbone's :class:`Features`, and at test time turns the
    features of each window into anomaly scores (higher = more anomalous).

    Class attributes describe what the task needs, so the engine runs the encoder and the decoder
    once per window for all tasks:

    * ``uses_decoder`` (default ``True``): the task reads ``features.decoded`` /
      ``features.recon``; ``False`` lets the engine skip the decoder when no task needs it.
    * ``uses_error`` (default ``True``): the task's scores come from an error measure applied to
      frame pairs returned by :meth:`compare`; otherwise it overrides :meth:`scores` and returns
      one stream under :data:`SCORE_KEY`.
    * ``default_weight`` (default ``1.0``): its weight in the training loss unless the config
      says otherwise (``tasks.weights``).

    ``name`` is the task's name in its model, set before :meth:`build`; its own training inputs
    and labels are ``batch.views[self.name]`` and ``batch.labels[self.name]``.

    The latent ``features.latent`` has the batch as its first dimension and a shape the backbone
    decides: size a head on it from ``backbone.latent_shape(clip_shape)`` in :meth:`build`.

    Precision: training may run under ``torch.autocast`` (``train.precision`` ``bf16`` or
    ``fp16``), so :meth:`loss` may receive bf16 or fp16 features and its heads run in that
    precision; vadkit adds the losses up in float32. At scoring time the backbone runs under
    autocast (bf16 on the CPU by default) and its features are cast to float32 before
    :meth:`scores` (and :meth:`compare`) see them, so heads and error measures score in float32.
    """

    uses_decoder: ClassVar[bool] = True
    uses_error: ClassVar[bool] = True
    default_weight: ClassVar[float] = 1.0
    #: The name the task has in its model (set by :class:`vadkit.model.VADModel`): the key of its
    #: entries in ``Batch.views`` and ``Batch.labels``.
    name: str = ""

    def build(self, backbone: Backbone, clip_shape: ClipShape) -> None:
        """Create the task's heads for ``backbone`` and clips of ``clip_shape`` ``(C, T, H, W)``."""

    def sample_view(
        self, start: int, clip_length: int, rng: np.random.Generator, batch_rng: np.random.Generator
    ) -> tuple[np.ndarray, int] | None:
        """Frame indices and label of this task's own training input for a window at ``start``.

        ``None`` (the default) means the task trains on the shared window. Indices may run past
        the end of the video: the data layer clamps them to its last frame. ``rng`` is seeded per
        sample, ``batch_rng`` per batch (every sample of a batch gets a fresh copy of the same);
        with several training processes (torchrun), per process's share of the batch.
        """
        return None

    def loss(self, features: Features, batch: Batch) -> Tensor:
        """Training loss for one batch; ``features`` are those of ``batch.views[name]`` when the
        task has its own view, else those of ``batch.clip``."""
        raise NotImplementedError

    def compare(self, features: Features, batch: Batch) -> tuple[Tensor, Tensor]:
        """``(predicted, real)`` frames ``(B, K, C, H, W)`` that an error measure compares."""
        raise NotImplementedError

    def scores(
        self, features: Features, batch: Batch, errors: Mapping[str, ErrorMeasure]
    ) -> dict[str, Tensor]:
        """Window scores ``(B,)`` per error measure: the mean over the K compared frames."""
        pred, real = self.compare(features, batch)
        b, k = pred.shape[:2]
        pred, real = pred.flatten(0, 1), real.flatten(0, 1)
        return {name: err(pred, real).view(b, k).mean(dim=1) for name, err in errors.items()}

    def maps(
        self, features: Features, batch: Batch, errors: Mapping[str, ErrorMeasure]
    ) -> dict[str, Tensor]:
        """Per-pixel error maps ``(B, K, H', W')`` of the K compared frames, per error measure
        that gives one (:meth:`ErrorMeasure.error_map`); measures without maps are left out.

        Pooling them gives :meth:`scores`: ``mean_k err.pool_map(maps[name][:, k])``. A task that
        overrides :meth:`scores` but not this method gets the maps of :meth:`compare`'s frames.
        Only called for tasks with ``uses_error``.
        """
        pred, real = self.compare(features, batch)
        b, k = pred.shape[:2]
        pred, real = pred.flatten(0, 1), real.flatten(0, 1)
        out: dict[str, Tensor] = {}
        for name, err in errors.items():
            values = err.error_map(pred, real)
            if values is not None:
                out[name] = values.reshape(b, k, *values.shape[1:])
        return out
