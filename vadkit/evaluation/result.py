"""What ``vadkit evaluate`` measures, as typed records: :class:`Evaluation` and its parts.

:class:`Evaluation` holds the protocol that produced the numbers (:class:`EvalProtocol`), the
frame-level metrics of each task alone and of the fused score
(:class:`~vadkit.metrics.FrameMetrics`, with each task's un-normalised micro AUROC beside them),
the fused AUROC of each video (:class:`VideoResult`) and the pixel-level metrics
(:class:`PixelMetrics`, or a note saying why there are none). :meth:`Evaluation.to_json` is
``RUN/evaluation.json``, key for key as it was written when the result was a dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vadkit._compat import LegacyDictAccess
from vadkit.jsonfields import JsonObject
from vadkit.metrics import FrameMetrics

#: The key of the fused score among the results (and of the fused stream of a video).
FUSED = "fused"
#: How the frame-level numbers are measured (the protocol's ``metric``).
FRAME_METRIC = (
    "frame-level micro AUROC over all scored frames, thresholds common to all videos; macro "
    "AUROC = mean over the videos with both classes"
)


@dataclass(frozen=True)
class EvalProtocol:
    """How the numbers were produced: the score set, the frames scored (of ``total_frames``,
    ``frames_mode``) and the anomalous ones, the error measure, normalizer, fusion weights and
    temporal smoothing, the ground truth read and where the scores came from (data root,
    checkpoint and its SHA-256, the runtime).

    ``vadkit report`` describes the curves of a set without ground truth with the same record:
    there ``anomalous_frames``, ``ground_truth`` and the provenance fields are None.
    """

    score_set: str
    frames_mode: str | None
    frames_scored: int
    total_frames: int | None
    videos: int
    clip_length: int | None
    error: str
    normalizer: str
    normalizer_repr: str
    alphas: dict[str, float]
    smoothing_sigma: float
    metric: str = FRAME_METRIC
    anomalous_frames: int | None = None
    error_tasks: tuple[str, ...] = ()
    ground_truth: str | None = None
    data_root: str | None = None
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    runtime: JsonObject | None = None
    #: ``{normalizer name: its parameters}`` (None where the caller gave a normalizer object).
    normalizer_params: JsonObject | None = None

    def to_json(self) -> JsonObject:
        params: JsonObject = (
            {} if self.normalizer_params is None else {"normalizer_params": self.normalizer_params}
        )
        return {
            "score_set": self.score_set,
            "metric": self.metric,
            "frames_mode": self.frames_mode,
            "frames_scored": self.frames_scored,
            "total_frames": self.total_frames,
            "anomalous_frames": self.anomalous_frames,
            "videos": self.videos,
            "clip_length": self.clip_length,
            "error": self.error,
            "error_tasks": list(self.error_tasks),
            "normalizer": self.normalizer,
            **params,  # after the normalizer's name, where evaluation.json has it
            "normalizer_repr": self.normalizer_repr,
            "alphas": dict(self.alphas),
            "smoothing_sigma": self.smoothing_sigma,
            "ground_truth": self.ground_truth,
            "data_root": self.data_root,
            "checkpoint": self.checkpoint,
            "checkpoint_sha256": self.checkpoint_sha256,
            "runtime": self.runtime,
        }


@dataclass(frozen=True)
class VideoResult:
    """One video: the frames scored, the anomalous ones, and the AUROC of its fused score
    (None: the video has one class only)."""

    name: str
    frames_scored: int
    anomalous_frames: int
    fused_auroc: float | None

    def to_json(self) -> JsonObject:
        return {
            "name": self.name,
            "frames_scored": self.frames_scored,
            "anomalous_frames": self.anomalous_frames,
            "fused_auroc": self.fused_auroc,
        }


@dataclass(frozen=True)
class FusedPixelMetrics:
    """The fused map's pixel AUROC, RBDC and TBDC."""

    pixel_auroc: float
    rbdc: float
    tbdc: float


@dataclass(frozen=True)
class PixelMetrics:
    """Pixel-level metrics of a set scored with ``--maps``: of the maps of ``error``, at the
    stored ``size`` ``(h, w)``, against the pixel masks at ``ground_truth``; the fused map's
    (:class:`FusedPixelMetrics`) and each task's pixel AUROC (``tasks``)."""

    error: str | None
    size: tuple[int, int]
    ground_truth: str | None
    metric: str
    fused: FusedPixelMetrics
    tasks: dict[str, float]

    def to_json(self) -> JsonObject:
        return {
            "error": self.error,
            "size": list(self.size),
            "ground_truth": self.ground_truth,
            "metric": self.metric,
            "fused": {
                "pixel_auroc": self.fused.pixel_auroc,
                "rbdc": self.fused.rbdc,
                "tbdc": self.fused.tbdc,
            },
            "tasks": {t: {"pixel_auroc": v} for t, v in self.tasks.items()},
        }


@dataclass(frozen=True)
class Evaluation(LegacyDictAccess):
    """The result of ``vadkit evaluate`` (:func:`vadkit.evaluation.evaluate.evaluate_scores`,
    ``evaluate_run``, :meth:`vadkit.Run.evaluate`).

    ``results`` maps each task and :data:`FUSED` to its :class:`~vadkit.metrics.FrameMetrics`
    (``micro_auroc``, ``macro_auroc``, ``macro_videos``, ``eer``, ``average_precision``,
    ``frames``, ``anomalous_frames``), in the order tasks then fused; ``raw_micro_auroc`` each
    task's micro AUROC before normalisation; ``per_video`` a :class:`VideoResult` per video;
    ``pixel`` the pixel-level metrics, or None with ``pixel_note`` saying why. ``evaluate_run``
    also records when (``created``), the ``run`` and the ``plots`` folder (or why plots were
    skipped, ``plots_skipped``). :meth:`to_json` is ``RUN/evaluation.json``.
    """

    protocol: EvalProtocol
    results: dict[str, FrameMetrics]
    raw_micro_auroc: dict[str, float] = field(default_factory=dict)
    per_video: tuple[VideoResult, ...] = ()
    pixel: PixelMetrics | None = None
    pixel_note: str | None = None
    created: str | None = None
    run: str | None = None
    plots: str | None = None
    plots_skipped: str | None = None

    @property
    def fused(self) -> FrameMetrics:
        """The metrics of the fused score."""
        return self.results[FUSED]

    def to_json(self) -> JsonObject:
        results: JsonObject = {}
        for key, metrics in self.results.items():
            row = metrics.as_dict()
            if key in self.raw_micro_auroc:
                row["raw_micro_auroc"] = self.raw_micro_auroc[key]
            results[key] = row
        out: JsonObject = {
            "protocol": self.protocol.to_json(),
            "results": results,
            "per_video": [v.to_json() for v in self.per_video],
            "pixel": self.pixel.to_json() if self.pixel is not None else {"note": self.pixel_note},
        }
        for key in ("created", "run", "plots_skipped", "plots"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out
