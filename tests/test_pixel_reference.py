"""RBDC and TBDC against the reference package ``py-ssvad-metrics`` (PyPI) on the same inputs.

The reference (``ssvad_metrics``, 1.0.0) reads one annotation JSON per video: per frame, a ground
truth of boxes ``[x0, y0, x1, y1]`` (painted as the pixels ``y0..y1-1``, ``x0..x1-1``) and a
track id, and a prediction of scored boxes (painted into a map, overlapping boxes averaging their
scores) or a pixel score map (a float32 ``.npy`` in ``[0, 1]``). The cases below write those files
for the reference and give vadkit the same arrays (painted here by the same rule).

What is the same, compared at every threshold: the detected regions (8-connected components of
``map >= threshold`` in each frame), the ground-truth regions (those of each frame's mask), a
region detected when some detected region overlaps it with IoU >= beta, a false positive when a
detected region overlaps none by beta, false positives counted per frame, and a track detected
when at least alpha of its regions are.

Where the two differ, and how the cases handle it:

* thresholds: the reference always uses 103 evenly spaced ones from 1.01 to -0.01 (its maps must
  lie in ``[0, 1]``); vadkit's default picks them from the maps' quantiles. vadkit is given the
  reference's thresholds.
* tracks: the reference reads one track id per frame from the annotation; vadkit, whose masks
  carry no ids, takes the space-time connected components of a video's mask. In the cases each
  anomalous frame holds one object and a track's frames touch, so both see the same tracks.
* the area: the reference keeps the curve's points with at most one false positive per frame and
  integrates between them (scikit-learn's ``auc``), its ties on the false-positive rate ordered
  by numpy's argsort; vadkit interpolates the curve at 1 false positive per frame, holds it flat
  from its last point to 1 and orders ties by detection rate. The boxes case is built so that the
  rules give one area (the curve ends at exactly 1 false positive per frame, never passes it,
  and every step moves the false-positive rate); there RBDC and TBDC must be equal too.
* pixel AUROC is not compared: the reference's ``pixel_roc_auc`` is the traditional pixel-level
  criterion (a frame counts as detected when 40% of its anomalous pixels are), over frames,
  while vadkit's ranks every pixel (scikit-learn's ``roc_auc_score``, see test_pixel_metrics).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from vadkit.pixel_metrics import ALPHA, BETA, detection_criteria

H, W = 24, 32
#: Equal within rounding: the reference sums rates in float64 as vadkit does.
TOLERANCE = 1e-12


def _reference() -> ModuleType:
    """``ssvad_metrics`` (a dev dependency), imported as plain Python.

    It is written for pydantic 1: under pydantic 2 it is imported with ``pydantic`` pointing at
    pydantic 2's bundled ``pydantic.v1``. Its three numba kernels are left uncompiled (numba's
    JIT off while it is imported): compiling them took 40 s of the 2 shared cores, and the code
    run is the same, only without ``fastmath``'s rounding.
    """
    if "ssvad_metrics.criteria" in sys.modules:
        return sys.modules["ssvad_metrics"]
    import numba
    import pydantic

    jit_off, real = numba.config.DISABLE_JIT, sys.modules["pydantic"]
    numba.config.DISABLE_JIT = True
    if not pydantic.VERSION.startswith("1."):
        import pydantic.v1

        sys.modules["pydantic"] = pydantic.v1
    try:
        import ssvad_metrics
        import ssvad_metrics.criteria  # under the same pydantic
    finally:
        sys.modules["pydantic"] = real
        numba.config.DISABLE_JIT = jit_off
    return ssvad_metrics


Box = tuple[int, int, int, int]


def _paint(boxes: list[tuple[Box, float]]) -> np.ndarray:
    """One frame's map of scored boxes: each pixel the mean score of the boxes covering it."""
    total = np.zeros((H, W), np.float64)
    count = np.zeros((H, W), np.float64)
    for (x0, y0, x1, y1), score in boxes:
        total[y0:y1, x0:x1] += np.float32(score)
        count[y0:y1, x0:x1] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0).astype(np.float32)


def _annotation(frames: list[dict[str, Any]], *, is_gt: bool) -> dict[str, Any]:
    return {
        "is_gt": is_gt,
        "frames_count": len(frames),
        "is_anomalous_regions_available": True,
        "is_anomaly_track_id_available": is_gt,
        "frame_width": W,
        "frame_height": H,
        "frames": frames,
    }


def _write_boxes_case(
    folder: Path, videos: dict[str, list[tuple[int, list[Box], list[tuple[Box, float]]]]]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per video, per frame ``(track id or -1, ground-truth boxes, scored boxes)``: the reference's
    JSON files under ``folder/gt`` and ``folder/pred``, and vadkit's maps and masks."""
    (folder / "gt").mkdir(parents=True)
    (folder / "pred").mkdir()
    maps, masks = [], []
    for name, frames in videos.items():
        gt, pred = [], []
        for i, (track, truth, scored) in enumerate(frames, start=1):
            regions = [{"bounding_box": list(b), "score": 1.0} for b in truth]
            gt.append({"frame_id": i, "anomaly_track_id": track, "anomalous_regions": regions})
            found = [{"bounding_box": list(b), "score": s} for b, s in scored]
            pred.append({"frame_id": i, "anomalous_regions": found})
        (folder / "gt" / f"{name}.json").write_text(json.dumps(_annotation(gt, is_gt=True)))
        (folder / "pred" / f"{name}.json").write_text(json.dumps(_annotation(pred, is_gt=False)))
        maps.append(np.stack([_paint(scored) for _, _, scored in frames]))
        masks.append(np.stack([_paint([(b, 1.0) for b in truth]) > 0 for _, truth, _ in frames]))
    return maps, masks


def _reference_curve(ref: ModuleType, folder: Path) -> dict[str, np.ndarray]:
    """The reference's counts at each of its thresholds, summed over the videos (its
    ``_get_cur_calcs``, what its accumulator adds up), as rates."""
    from ssvad_metrics.criteria import _get_cur_calcs

    pairs = []
    for gt_file in sorted((folder / "gt").glob("*.json")):
        load = json.loads
        gts = ref.data_schema.data_parser(load(gt_file.read_text()), None)
        preds = ref.data_schema.data_parser(
            load((folder / "pred" / gt_file.name).read_text()), None
        )
        pairs.append((preds, gts))
    taus = ref.criteria.ANOMALY_SCORE_THRESHOLDS
    counts = np.array(
        [
            np.sum([_get_cur_calcs(p, g, tau, ALPHA, BETA, True, True) for p, g in pairs], axis=0)
            for tau in taus
        ],
        dtype=np.float64,
    )
    ntp, tar, nfp, n_fs, nat, ntpt = counts.T
    return {"thresholds": taus, "fpr": nfp / n_fs, "region": ntp / tar, "track": ntpt / nat}


def _assert_same_curve(ref_curve: dict[str, np.ndarray], maps: list, masks: list) -> Any:
    ours = detection_criteria(maps, masks, thresholds=ref_curve["thresholds"])
    np.testing.assert_allclose(ours.false_positives_per_frame, ref_curve["fpr"], atol=TOLERANCE)
    np.testing.assert_allclose(ours.region_rate, ref_curve["region"], atol=TOLERANCE)
    np.testing.assert_allclose(ours.track_rate, ref_curve["track"], atol=TOLERANCE)
    return ours


# the reference paints boxes by dividing by the count of boxes over each pixel, 0 / 0 outside them
@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")
def test_boxes_case_same_curve_and_same_rbdc_tbdc(tmp_path: Path) -> None:
    ref = _reference()
    # Ground-truth objects and scored boxes. Every score that detects an object also marks a
    # false positive of the same score in that frame (a box far from the object), so each step
    # of the threshold moves the false-positive rate (no ties). The 7 false-positive boxes in 12
    # frames keep the rate below 1 until the last threshold (under 0) makes each frame one
    # region: a false positive in every frame (IoU of an object with the whole 24x32 frame at
    # most 48 / 768 < beta), the curve's last point (1, 0). Scores lie halfway between the
    # reference's thresholds (0.01 apart): compiled, its painter divides with numba's fastmath
    # and gives 0.74999994 for a box of 0.75, which a threshold of 0.75 would not reach.
    far = (24, 16, 30, 22)  # in v1, no object near it
    videos = {
        "v1": [
            (-1, [], []),
            # track 0: a 6x6 object moving right one pixel a frame, found in 2 of its 3 frames
            (0, [(2, 2, 8, 8)], [((2, 2, 8, 8), 0.905), (far, 0.905)]),
            (0, [(3, 2, 9, 8)], [((3, 2, 9, 8), 0.555), (far, 0.555)]),
            (0, [(4, 2, 10, 8)], []),
            (-1, [], []),
            # track 1: found once by a box shifted 2 pixels (IoU 24 / 48 = 0.5 >= beta)
            (1, [(12, 10, 18, 16)], [((14, 10, 20, 16), 0.355), (far, 0.355)]),
            (1, [(12, 11, 18, 17)], []),
        ],
        "v2": [
            (-1, [], [((0, 0, 4, 4), 0.625), ((26, 0, 30, 4), 0.625)]),  # two false positives
            # track 3: never found; two overlapping boxes (averaging to 0.305 where they overlap)
            # make one false-positive region from threshold 0.40 down
            (3, [(10, 6, 16, 12)], []),
            (3, [(10, 7, 16, 13)], [((20, 7, 26, 13), 0.205), ((22, 9, 28, 15), 0.405)]),
            (-1, [], []),
            # track 4: one region, found
            (4, [(2, 14, 10, 20)], [((2, 14, 10, 20), 0.755), ((24, 2, 30, 8), 0.755)]),
        ],
    }
    maps, masks = _write_boxes_case(tmp_path, videos)
    curve = _assert_same_curve(_reference_curve(ref, tmp_path), maps, masks)
    # the case exercises the curve: false positives, detections and tracks in between
    assert curve.false_positives_per_frame.max() == pytest.approx(1.0)
    assert 0 < curve.region_rate.max() < 1 and 0 < curve.track_rate.max() < 1
    # and its areas: the reference's public API reads the JSON files
    result = ref.accumulated_evaluate(
        str(tmp_path / "gt"), str(tmp_path / "pred"), show_progress=False
    )
    assert curve.rbdc == pytest.approx(result["region_roc_auc"], abs=TOLERANCE)
    assert curve.tbdc == pytest.approx(result["track_roc_auc"], abs=TOLERANCE)
    assert 0.05 < curve.rbdc < 0.95


def _blob(cy: float, cx: float, r: float) -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W]
    return np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))


def test_score_maps_case_same_curve(tmp_path: Path) -> None:
    """Pixel score maps (``.npy``) and masks (``.npy``) of irregular shapes: smooth blobs over a
    ground truth of discs, with noise blobs that break into several regions as the threshold
    falls. The curve is compared at every threshold (its area is not: here the false-positive
    rate passes 1 and ties occur, where the area rules differ, see the module's docstring)."""
    ref = _reference()
    rng = np.random.default_rng(7)
    (tmp_path / "gt").mkdir()
    (tmp_path / "pred").mkdir()
    maps, masks = [], []
    y, x = np.mgrid[0:H, 0:W]
    for v in range(2):
        frames_gt, frames_pred, video_maps, video_masks = [], [], [], []
        for i in range(6):
            anomalous = 1 <= i <= 4  # one object moving 1.5 pixels a frame: one track
            cy, cx = 8 + v * 6, 6 + 1.5 * i
            mask = ((y - cy) ** 2 + (x - cx) ** 2 <= 9).astype(np.float32) * anomalous
            heat = 0.8 * anomalous * _blob(cy + rng.normal(0, 1), cx + rng.normal(0, 1), 2.5)
            for _ in range(3):  # noise blobs
                heat += rng.uniform(0.2, 0.7) * _blob(rng.uniform(0, H), rng.uniform(0, W), 1.5)
            heat = np.clip(heat, 0, 1).astype(np.float32)
            np.save(tmp_path / f"gt_{v}_{i}.npy", mask)
            np.save(tmp_path / f"pred_{v}_{i}.npy", heat)
            track = 0 if anomalous else -1
            frames_gt.append(
                {
                    "frame_id": i + 1,
                    "anomaly_track_id": track,
                    "pixel_level_scores_map": str(tmp_path / f"gt_{v}_{i}.npy"),
                }
            )
            frames_pred.append(
                {"frame_id": i + 1, "pixel_level_scores_map": str(tmp_path / f"pred_{v}_{i}.npy")}
            )
            video_maps.append(heat)
            video_masks.append(mask > 0)
        gt = _annotation(frames_gt, is_gt=True)
        (tmp_path / "gt" / f"{v}.json").write_text(json.dumps(gt))
        pred = _annotation(frames_pred, is_gt=False)
        (tmp_path / "pred" / f"{v}.json").write_text(json.dumps(pred))
        maps.append(np.stack(video_maps))
        masks.append(np.stack(video_masks))
    curve = _assert_same_curve(_reference_curve(ref, tmp_path), maps, masks)
    assert curve.false_positives_per_frame.max() > 1  # several noise regions per frame
    assert curve.region_rate.max() > 0 and curve.track_rate.max() > 0
