"""Pixel-level evaluation of a score set scored with ``--maps`` (no network).

``vadkit score --maps`` stores each error-based task's raw anomaly map of every scored frame
(float16, reduced size) and, when the dataset has pixel ground truth, the masks at that size.
Evaluation fuses the maps with the normalizer and weights being evaluated
(:func:`vadkit.inference.maps.fuse_maps`) and measures, at the stored size, the pixel AUROC of each
task's map and of the fused map, and the fused map's RBDC and TBDC (:mod:`vadkit.pixel_metrics`).
Evaluation does not compute maps itself: it never runs the network. A set scored without
``--maps``, or from data without pixel masks, gets no pixel metrics and a note saying why.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vadkit.components import ScoreNormalizer
from vadkit.config.settings import MapSettings
from vadkit.evaluation.result import FusedPixelMetrics, PixelMetrics
from vadkit.pixel_metrics import default_thresholds, detection_criteria, pixel_auroc
from vadkit.scoring.core import VideoScores
from vadkit.scoring.scoreset import ScoreSet


def fused_video_maps(
    video: VideoScores, tasks: list[str], alphas: Mapping[str, float], normalizer: ScoreNormalizer
) -> np.ndarray:
    """The fused map ``[F, h, w]`` of one video from its stored task maps."""
    from vadkit.inference.maps import fuse_maps  # torch: only a set with maps gets here

    maps = {t: np.asarray(m, np.float32) for t, m in video.maps.items()}
    raw = {t: video.stream(t, next(iter(video.raw[t]))) for t in tasks if t not in maps}
    return fuse_maps(maps, raw, alphas, normalizer)


def pixel_evaluation(
    scores: ScoreSet, normalizer: ScoreNormalizer, alphas: Mapping[str, float]
) -> PixelMetrics | str:
    """The pixel-level metrics of the set, or why it cannot be evaluated per pixel."""
    info = scores.meta.maps
    if info is None:
        return "no anomaly maps stored: score with `vadkit score RUN --maps`"
    if not scores.videos or any(v.masks is None for v in scores.videos):
        return "the dataset has no pixel masks for every video"
    masks = [np.asarray(v.masks) for v in scores.videos]
    fused = [fused_video_maps(v, scores.tasks, alphas, normalizer) for v in scores.videos]
    h, w = masks[0].shape[1:]
    tasks = {
        t: pixel_auroc([np.asarray(v.maps[t]) for v in scores.videos], masks)
        for t in scores.videos[0].maps
    }
    curve = detection_criteria(
        fused, masks, thresholds=default_thresholds(fused, MapSettings.thresholds)
    )
    return PixelMetrics(
        error=info.error,
        size=(int(h), int(w)),
        ground_truth=info.pixel_masks,
        metric="pixel AUROC over every pixel of every scored frame at the stored map size; "
        "RBDC/TBDC (Ramachandra & Jones, WACV 2020, IoU 0.1, track share 0.1) of the fused "
        "map, area for 0-1 false positives per frame",
        fused=FusedPixelMetrics(pixel_auroc(fused, masks), curve.rbdc, curve.tbdc),
        tasks=tasks,
    )
