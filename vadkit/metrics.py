"""Frame-level detection metrics: micro and macro AUROC, equal error rate, average precision.

Every function takes the ground truth first, like scikit-learn: ``labels`` then ``scores``, either
as one array each or as one array per video. Frame-level AUROC in vadkit means *micro* AUROC: all
scored frames of all videos pooled, one set of thresholds common to every video. The mean of
per-video AUROCs (*macro* AUROC) adapts the thresholds to each video and is optimistic; it is only
ever reported beside micro AUROC, under its own name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from vadkit.errors import DataError

ArrayLike = np.ndarray | Sequence[float] | Sequence[int]
PerVideo = ArrayLike | Sequence[ArrayLike]


def _as_videos(
    labels: PerVideo, scores: PerVideo, names: Sequence[str] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split the inputs into per-video 1-D arrays (a single 1-D array is one video); messages
    name video ``i`` by ``names[i]`` when given."""

    def split(x: PerVideo) -> list[np.ndarray]:
        if isinstance(x, np.ndarray):
            return [x] if x.ndim == 1 else [np.asarray(row) for row in x]
        items = list(x)
        if items and all(np.ndim(v) == 0 for v in items):
            return [np.asarray(items)]
        return [np.asarray(v) for v in items]

    ls, ss = split(labels), split(scores)
    if len(ls) != len(ss):
        raise DataError(
            f"{len(ls)} label arrays but {len(ss)} score arrays.",
            hint="Pass one label array per score array (one per video).",
        )
    out_l, out_s = [], []
    for i, (lab, sco) in enumerate(zip(ls, ss, strict=True)):
        video = f"Video '{names[i]}'" if names is not None and i < len(names) else f"Video {i}"
        lab = np.asarray(lab).reshape(-1)
        sco = np.asarray(sco, dtype=np.float64).reshape(-1)
        if lab.shape != sco.shape:
            raise DataError(
                f"{video}: {lab.size} labels but {sco.size} scores.",
                hint="Labels and scores must cover the same frames.",
            )
        if not np.all(np.isfinite(sco)):
            raise DataError(
                f"{video}: {int(np.sum(~np.isfinite(sco)))} scores are NaN or infinite.",
                hint="Re-score the run; a diverged model or a bad normalizer produces them.",
            )
        if lab.size and not np.all(np.isin(lab, (0, 1))):
            raise DataError(
                f"{video}: labels must be 0 (normal) or 1 (anomalous).",
                hint="Check the ground-truth file.",
            )
        out_l.append(lab.astype(np.int8))
        out_s.append(sco)
    return out_l, out_s


def _pooled(
    labels: PerVideo, scores: PerVideo, names: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    ls, ss = _as_videos(labels, scores, names)
    y = np.concatenate(ls) if ls else np.zeros(0, np.int8)
    s = np.concatenate(ss) if ss else np.zeros(0)
    if y.size == 0 or y.min() == y.max():
        what = "no frames" if y.size == 0 else f"only {'anomalous' if y[0] else 'normal'} frames"
        raise DataError(
            f"The scored frames contain {what}; AUROC, EER and AP need both classes.",
            hint="Evaluate on test videos that contain both normal and anomalous frames.",
        )
    return y, s


def micro_auroc(labels: PerVideo, scores: PerVideo, *, names: Sequence[str] | None = None) -> float:
    """Area under the ROC curve of all frames pooled, thresholds common to all videos.

    ``names`` (one per video) name the videos in error messages."""
    y, s = _pooled(labels, scores, names)
    return float(roc_auc_score(y, s))


def macro_auroc(
    labels: PerVideo, scores: PerVideo, *, names: Sequence[str] | None = None
) -> tuple[float | None, int]:
    """Mean of the per-video AUROCs over the videos that have both classes, and their count.

    Returns ``(None, 0)`` when no video has both classes. Optimistic: report it beside micro AUROC.
    """
    ls, ss = _as_videos(labels, scores, names)
    values = [
        float(roc_auc_score(y, s))
        for y, s in zip(ls, ss, strict=True)
        if y.size and y.min() != y.max()
    ]
    if not values:
        return None, 0
    return float(np.mean(values)), len(values)


def equal_error_rate(labels: PerVideo, scores: PerVideo) -> float:
    """Error rate where the false-positive and false-negative rates are equal (pooled frames).

    Found on the ROC curve by linear interpolation between the two operating points where
    ``FNR - FPR`` changes sign.
    """
    y, s = _pooled(labels, scores)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    diff = (1.0 - tpr) - fpr  # decreases from 1 to -1 along the curve
    i = int(np.argmax(diff <= 0))
    if i == 0:
        return float(fpr[0])
    d0, d1 = diff[i - 1], diff[i]
    t = d0 / (d0 - d1) if d0 != d1 else 0.0
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def average_precision(labels: PerVideo, scores: PerVideo) -> float:
    """Average precision of the anomalous class over the pooled frames."""
    y, s = _pooled(labels, scores)
    return float(average_precision_score(y, s))


@dataclass(frozen=True)
class FrameMetrics:
    """All frame-level metrics of one score stream over a set of videos."""

    micro_auroc: float
    macro_auroc: float | None
    macro_videos: int
    eer: float
    average_precision: float
    frames: int
    anomalous_frames: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def frame_metrics(
    labels: PerVideo, scores: PerVideo, *, names: Sequence[str] | None = None
) -> FrameMetrics:
    """Micro AUROC, macro AUROC (videos with both classes), EER and AP in one call.

    ``names`` (one per video) name the videos in error messages."""
    y, s = _pooled(labels, scores, names)
    macro, n_macro = macro_auroc(labels, scores, names=names)
    return FrameMetrics(
        micro_auroc=float(roc_auc_score(y, s)),
        macro_auroc=macro,
        macro_videos=n_macro,
        eer=equal_error_rate(y, s),
        average_precision=float(average_precision_score(y, s)),
        frames=int(y.size),
        anomalous_frames=int(y.sum()),
    )
