"""Pixel-level metrics of anomaly maps against pixel masks (no torch).

* :func:`pixel_auroc`: the area under the ROC curve of every pixel of every frame, the map's value
  as the score and the mask as the label (scikit-learn's ``roc_auc_score``).
* :func:`detection_criteria`: the region-based and track-based detection criteria (RBDC, TBDC) of
  Ramachandra and Jones (WACV 2020, "Street Scene"), as defined there:

  - at a threshold ``tau``, the *detected regions* of a frame are the connected components
    (8-connected) of ``map >= tau``; the *ground-truth regions* are the connected components of the
    frame's mask;
  - a ground-truth region is detected when some detected region overlaps it with an intersection
    over union of at least ``beta`` (0.1); a detected region that overlaps no ground-truth region
    by ``beta`` is a false positive;
  - the region-based detection rate is the fraction of all ground-truth regions detected, the
    false-positive rate the number of false-positive regions per frame;
  - a *track* is one anomalous object followed over time; it is detected when at least ``alpha``
    (0.1) of its ground-truth regions are. Masks carry no track identities, so vadkit takes the
    tracks to be the connected components of a video's mask volume in space and time
    (26-connected: a region belongs to the track of the regions it touches in the previous and
    next frame);
  - RBDC (TBDC) is the area under the region- (track-) detection rate against the false-positive
    rate, for false-positive rates from 0 to 1 per frame. The curve is sampled at ``thresholds``
    (default: 100 quantiles of the maps' values, log-spaced toward the top, and one above their
    maximum, where nothing is detected; chosen from the maps alone, never from the masks; see
    :func:`default_thresholds`), sorted by false-positive rate,
    interpolated at 1 when it passes it, and held flat from the largest rate reached up to 1
    (a detector that never makes a false positive scores its detection rate, not 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vadkit.errors import DataError

#: Defaults of the detection criteria (Ramachandra and Jones, WACV 2020).
BETA = 0.1
ALPHA = 0.1
NUM_THRESHOLDS = 100
_PER_FRAME = np.zeros((3, 3, 3), dtype=bool)
_PER_FRAME[1] = True  # 8-connected within a frame, not across frames


def _check_pairs(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> None:
    if len(maps) != len(masks) or not maps:
        raise DataError(
            f"Pixel metrics need one mask per map: got {len(maps)} map(s), {len(masks)} mask(s).",
            hint="Pass the maps and masks of the same videos, in the same order.",
        )
    for i, (m, g) in enumerate(zip(maps, masks, strict=True)):
        if np.shape(m) != np.shape(g) or np.ndim(m) != 3:
            raise DataError(
                f"Video {i}: maps of shape {np.shape(m)} and masks of shape {np.shape(g)}; "
                "both must be [frames, H, W] of one shape.",
                hint="Resize the masks to the maps' size first (vadkit.pixel_metrics.shrink_masks).",
            )


def pixel_auroc(maps: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> float:
    """AUROC of all pixels of all frames: map values as scores, masks (nonzero) as labels."""
    from sklearn.metrics import roc_auc_score

    _check_pairs(maps, masks)
    scores = np.concatenate([np.asarray(m, np.float32).reshape(-1) for m in maps])
    labels = np.concatenate([(np.asarray(g) != 0).reshape(-1) for g in masks])
    if labels.all() or not labels.any():
        raise DataError(
            "Pixel AUROC needs both anomalous and normal pixels; the masks have only one kind.",
            hint="Evaluate videos whose masks mark some anomalous pixels.",
        )
    return float(roc_auc_score(labels, scores))


def shrink_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Masks ``[T, H, W]`` at ``size``: a pixel of the smaller grid is anomalous when at least half
    of the area it covers is (area averaging, then ``>= 0.5``)."""
    import torch
    import torch.nn.functional as F

    values = torch.from_numpy(np.ascontiguousarray(masks != 0, dtype=np.float32))[:, None]
    if tuple(values.shape[-2:]) == tuple(size):
        return np.asarray(masks != 0)
    return (F.interpolate(values, size=size, mode="area")[:, 0] >= 0.5).numpy()


@dataclass(frozen=True)
class DetectionCurve:
    """RBDC and TBDC with the curve they integrate (one point per threshold)."""

    rbdc: float
    tbdc: float
    thresholds: np.ndarray
    false_positives_per_frame: np.ndarray
    region_rate: np.ndarray
    track_rate: np.ndarray


def default_thresholds(maps: Sequence[np.ndarray], count: int = NUM_THRESHOLDS) -> np.ndarray:
    """``count`` quantiles of all map values, log-spaced toward the top, plus one value above
    their maximum.

    The share of pixels above the thresholds grows geometrically, from one pixel to all of them:
    the part of the curve RBDC and TBDC integrate (at most one false positive per frame) lies
    among the few highest values, which evenly spaced quantiles would skip.
    """
    values = np.concatenate([np.asarray(m, np.float32).reshape(-1) for m in maps])
    above = np.logspace(-np.log10(values.size), 0.0, count)  # share of pixels above
    levels = np.quantile(values, np.clip(1.0 - above, 0.0, 1.0))
    top = float(values.max())
    return np.unique(np.append(levels, np.nextafter(np.float32(top), np.float32(np.inf))))


def detection_criteria(
    maps: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    *,
    thresholds: np.ndarray | None = None,
    beta: float = BETA,
    alpha: float = ALPHA,
) -> DetectionCurve:
    """RBDC and TBDC of per-video maps ``[T, H, W]`` against masks of the same shape."""
    from scipy import ndimage

    _check_pairs(maps, masks)
    taus = default_thresholds(maps) if thresholds is None else np.asarray(thresholds, np.float64)
    n_tau = len(taus)
    detected = np.zeros(n_tau)
    false_pos = np.zeros(n_tau)
    tracks_hit = np.zeros(n_tau)
    n_regions = n_tracks = n_frames = 0
    for values, mask in zip(maps, masks, strict=True):
        mask = np.asarray(mask) != 0
        frame = np.asarray(values, np.float64)
        n_frames += mask.shape[0]
        # Regions of every frame at once: 8-connected in space, never across frames.
        gt, n_gt = ndimage.label(mask, structure=_PER_FRAME)
        tracks, count = ndimage.label(mask, structure=np.ones((3, 3, 3), bool))
        n_regions += n_gt
        n_tracks += count
        gt_flat = gt.reshape(-1)
        gt_area = np.bincount(gt_flat, minlength=n_gt + 1)
        gt_track = np.zeros(n_gt + 1, np.int64)
        gt_track[gt_flat] = tracks.reshape(-1)
        track_regions = np.bincount(gt_track[1:], minlength=count + 1)
        inside = gt_flat > 0
        for i, tau in enumerate(taus):
            pred, n_pred = ndimage.label(frame >= tau, structure=_PER_FRAME)
            if n_pred == 0:
                continue
            pred_flat = pred.reshape(-1)
            pred_area = np.bincount(pred_flat, minlength=n_pred + 1)
            both = inside & (pred_flat > 0)
            pairs, inter = np.unique(
                gt_flat[both] * np.int64(n_pred + 1) + pred_flat[both], return_counts=True
            )
            g, q = pairs // (n_pred + 1), pairs % (n_pred + 1)
            union = gt_area[g] + pred_area[q] - inter
            hit = inter >= beta * union  # IoU >= beta, without dividing by zero
            found = np.unique(g[hit])
            detected[i] += found.size
            false_pos[i] += n_pred - np.unique(q[hit]).size
            if count:
                per_track = np.bincount(gt_track[found], minlength=count + 1)
                tracks_hit[i] += int((per_track[1:] >= alpha * track_regions[1:]).sum())
    if n_regions == 0:
        raise DataError(
            "The masks mark no anomalous region: RBDC and TBDC are undefined.",
            hint="Evaluate videos whose masks mark some anomalous pixels.",
        )
    fpr = false_pos / n_frames
    region_rate = detected / n_regions
    track_rate = tracks_hit / n_tracks
    return DetectionCurve(
        rbdc=_area_to_one(fpr, region_rate),
        tbdc=_area_to_one(fpr, track_rate),
        thresholds=taus,
        false_positives_per_frame=fpr,
        region_rate=region_rate,
        track_rate=track_rate,
    )


def _area_to_one(fpr: np.ndarray, rate: np.ndarray) -> float:
    """Area under ``rate`` against ``fpr`` over ``[0, 1]`` (see the module's docstring)."""
    order = np.lexsort((rate, fpr))
    x, y = fpr[order], rate[order]
    inside = x <= 1.0
    xs, ys = list(x[inside]), list(y[inside])
    if not xs or xs[0] > 0.0:
        xs.insert(0, 0.0)
        ys.insert(0, 0.0)
    if (~inside).any():
        j = int(np.flatnonzero(~inside)[0])
        x0, y0 = xs[-1], ys[-1]
        x1, y1 = float(x[j]), float(y[j])
        ys.append(y0 + (y1 - y0) * (1.0 - x0) / (x1 - x0))
    else:
        ys.append(ys[-1])
    xs.append(1.0)
    return float(np.trapezoid(ys, xs))
