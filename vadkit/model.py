"""A backbone with its task heads: the model that is trained, saved and scored."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import cast

from torch import Tensor, nn

from vadkit.components import Backbone, Batch, ClipShape, ErrorMeasure, Features, ProxyTask


class VADModel(nn.Module):
    """One backbone shared by several proxy tasks.

    The encoder runs once per input clip and the decoder at most once; every task reads the same
    :class:`Features`. A task with its own training view (PRP) gets the features of that view.
    """

    def __init__(self, backbone: Backbone, tasks: Mapping[str, ProxyTask], clip_shape: ClipShape):
        super().__init__()
        backbone.check_clip_shape(clip_shape)
        self.clip_shape = tuple(clip_shape)
        self.backbone = backbone
        for name, task in tasks.items():
            task.name = name
            task.build(backbone, clip_shape)
        self.tasks = nn.ModuleDict(dict(tasks))

    @property
    def task_map(self) -> dict[str, ProxyTask]:
        """The tasks by name, typed."""
        return {name: cast(ProxyTask, task) for name, task in self.tasks.items()}

    @property
    def needs_decoder(self) -> bool:
        return any(t.uses_decoder for t in self.task_map.values())

    def features(self, clip: Tensor, *, decode: bool | None = None) -> Features:
        return self.backbone.features(clip, decode=self.needs_decoder if decode is None else decode)

    def training_losses(self, batch: Batch) -> dict[str, Tensor]:
        """Unweighted loss of every task for one batch."""
        tasks = self.task_map
        shared_users = [n for n in tasks if n not in batch.views]
        shared = None
        if shared_users:
            decode = any(tasks[n].uses_decoder for n in shared_users)
            shared = self.backbone.features(batch.clip, decode=decode)
        losses: dict[str, Tensor] = {}
        for name, task in tasks.items():
            if name in batch.views:
                feats = self.backbone.features(batch.views[name], decode=task.uses_decoder)
            else:
                assert shared is not None
                feats = shared
            losses[name] = task.loss(feats, batch)
        return losses

    def window_scores(
        self,
        batch: Batch,
        errors: Mapping[str, ErrorMeasure],
        *,
        autocast: AbstractContextManager[object] | None = None,
    ) -> dict[str, dict[str, Tensor]]:
        """Anomaly scores ``(B,)`` of test windows, per task and per error measure.

        The one scoring function of vadkit: offline scoring, streaming, calibration, the
        conformance checks and the Python API all call it. Every score grows with abnormality:
        an error measure that is a similarity (``higher_is_anomalous = False``, e.g. PSNR) is
        negated here. A task that compares frames gets one stream per measure in ``errors``;
        a task that scores by itself gets one stream under :data:`~vadkit.components.SCORE_KEY`.

        The backbone runs once (the encoder and, if a task needs it, the decoder), inside
        ``autocast`` when given (e.g. ``Runtime.autocast()`` for bf16); its features are cast to
        float32 before the tasks score, so a lower-precision pass never rounds the scores
        themselves. Call it under ``torch.inference_mode()``.
        """
        return self._scores(self._scoring_features(batch, autocast), batch, errors)

    def window_maps(
        self,
        batch: Batch,
        errors: Mapping[str, ErrorMeasure],
        *,
        autocast: AbstractContextManager[object] | None = None,
    ) -> tuple[dict[str, dict[str, Tensor]], dict[str, dict[str, Tensor]]]:
        """``(scores, maps)`` of test windows from one backbone pass.

        ``scores`` are exactly :meth:`window_scores`'s (the same code runs); ``maps[task][error]``
        are the per-pixel error maps ``(B, K, H', W')`` of every task with ``uses_error`` and every
        measure in ``errors`` that gives one (:meth:`ProxyTask.maps`). A map grows with
        abnormality; pooling it with the measure's ``pool_map`` and averaging over the K compared
        frames gives the task's raw score (negated for a similarity). Call it under
        ``torch.inference_mode()``.
        """
        feats = self._scoring_features(batch, autocast)
        scores = self._scores(feats, batch, errors)
        maps = {
            name: task.maps(feats, batch, errors)
            for name, task in self.task_map.items()
            if task.uses_error
        }
        return scores, maps

    def _scoring_features(
        self, batch: Batch, autocast: AbstractContextManager[object] | None
    ) -> Features:
        """The backbone's features of ``batch.clip`` (under ``autocast``), cast to float32."""
        with autocast if autocast is not None else nullcontext():
            feats = self.features(batch.clip)
        return Features(
            latent=feats.latent.float(),
            decoded=None if feats.decoded is None else feats.decoded.float(),
            recon=None if feats.recon is None else feats.recon.float(),
        )

    def _scores(
        self, feats: Features, batch: Batch, errors: Mapping[str, ErrorMeasure]
    ) -> dict[str, dict[str, Tensor]]:
        out: dict[str, dict[str, Tensor]] = {}
        for name, task in self.task_map.items():
            if not task.uses_error:
                out[name] = task.scores(feats, batch, {})
                continue
            scores = task.scores(feats, batch, errors)
            out[name] = {
                key: value if errors[key].higher_is_anomalous else -value
                for key, value in scores.items()
            }
        return out
