"""Pixel-level metrics (pixel AUROC, RBDC, TBDC) on cases computed by hand, and pixel masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from vadkit.data.masks import find_pixel_masks
from vadkit.errors import DataError
from vadkit.pixel_metrics import detection_criteria, pixel_auroc, shrink_masks


def test_pixel_auroc_by_hand() -> None:
    maps = [np.array([[[0.3, 0.5], [0.4, 0.1]]])]
    masks = [np.array([[[1, 0], [0, 0]]])]
    # One anomalous pixel (0.3) above one of three normal ones (0.1): 1/3.
    assert pixel_auroc(maps, masks) == pytest.approx(1 / 3)
    masks = [np.array([[[0, 1], [1, 0]]])]
    assert pixel_auroc(maps, masks) == pytest.approx(1.0)
    with pytest.raises(DataError, match="only one kind"):
        pixel_auroc(maps, [np.zeros((1, 2, 2))])
    with pytest.raises(DataError, match="one shape"):
        pixel_auroc(maps, [np.zeros((1, 3, 2))])


def _two_frames() -> tuple[np.ndarray, np.ndarray]:
    """Two 5x5 frames: a 2x2 object at the top left of frame 0, another at the bottom right of
    frame 1 (not touching: two tracks). Frame 0's map is hot (1.0) on its object and warm (0.5)
    at (4, 4); frame 1's map is warm at (0, 0) only."""
    mask = np.zeros((2, 5, 5), np.uint8)
    mask[0, 0:2, 0:2] = 1
    mask[1, 3:5, 3:5] = 1
    heat = np.zeros((2, 5, 5))
    heat[0, 0:2, 0:2] = 1.0
    heat[0, 4, 4] = 0.5
    heat[1, 0, 0] = 0.5
    return heat, mask


def test_rbdc_and_tbdc_by_hand() -> None:
    heat, mask = _two_frames()
    curve = detection_criteria([heat], [mask], thresholds=np.array([2.0, 0.75, 0.25, -1.0]))
    # tau 2: nothing detected.                        FP/frame 0,  regions 0/2, tracks 0/2
    # tau 0.75: frame 0's object (IoU 1).             FP/frame 0,  regions 1/2, tracks 1/2
    # tau 0.25: + a warm pixel in each frame, both false positives (IoU 0 with every object):
    #                                                 FP/frame 1,  regions 1/2, tracks 1/2
    # tau -1: each frame is one region, IoU 4/25 = 0.16 >= 0.1 with its object:
    #                                                 FP/frame 0,  regions 2/2, tracks 2/2
    np.testing.assert_allclose(curve.false_positives_per_frame, [0, 0, 1, 0])
    np.testing.assert_allclose(curve.region_rate, [0, 0.5, 0.5, 1])
    np.testing.assert_allclose(curve.track_rate, [0, 0.5, 0.5, 1])
    # Sorted by FP rate: (0, 0), (0, 0.5), (0, 1), (1, 0.5): the area is a trapezoid from 1 to 0.5.
    assert curve.rbdc == pytest.approx(0.75)
    assert curve.tbdc == pytest.approx(0.75)


def test_beta_is_the_iou_a_detection_needs() -> None:
    heat, mask = _two_frames()
    curve = detection_criteria([heat], [mask], thresholds=np.array([2.0, 0.75, -1.0]), beta=0.2)
    # At tau -1 the whole-frame regions overlap their objects by IoU 0.16 < 0.2: two false
    # positives in two frames, frame 0's object not detected.
    np.testing.assert_allclose(curve.false_positives_per_frame, [0, 0, 1])
    np.testing.assert_allclose(curve.region_rate, [0, 0.5, 0])
    # Points (0, 0), (0, 0.5), (1, 0): the area from 0.5 down to 0.
    assert curve.rbdc == pytest.approx(0.25)


def test_alpha_is_the_share_of_a_tracks_regions_to_detect() -> None:
    # One object in 3 consecutive frames (one track of 3 regions), detected in frame 0 only.
    mask = np.zeros((3, 4, 4), np.uint8)
    mask[:, 1:3, 1:3] = 1
    heat = np.zeros((3, 4, 4))
    heat[0, 1:3, 1:3] = 1.0
    taus = np.array([2.0, 0.5])
    assert detection_criteria([heat], [mask], thresholds=taus, alpha=0.3).track_rate[1] == 1.0
    assert detection_criteria([heat], [mask], thresholds=taus, alpha=0.5).track_rate[1] == 0.0
    curve = detection_criteria([heat], [mask], thresholds=taus)
    assert curve.region_rate[1] == pytest.approx(1 / 3)
    assert curve.rbdc == pytest.approx(1 / 3)  # no false positive: held flat to 1 FP/frame


def test_default_thresholds_come_from_the_maps_and_start_with_nothing_detected() -> None:
    heat, mask = _two_frames()
    curve = detection_criteria([heat], [mask])
    assert curve.thresholds[-1] > heat.max()
    assert curve.region_rate[-1] == 0 and curve.false_positives_per_frame[-1] == 0
    assert 0.0 <= curve.rbdc <= 1.0 and 0.0 <= curve.tbdc <= 1.0


def test_shrink_masks_marks_pixels_at_least_half_covered() -> None:
    mask = np.zeros((1, 4, 4), np.uint8)
    mask[0, 0:2, 0:1] = 1  # half of the top-left 2x2 block
    mask[0, 2, 2] = 1  # a quarter of the bottom-right block
    assert shrink_masks(mask, (2, 2)).tolist() == [[[True, False], [False, False]]]


def test_pixel_masks_of_the_three_layouts(tmp_path: Path) -> None:
    # ShanghaiTech (and the synthetic scene): <root>/testing/test_pixel_mask/<video>.npy
    sh = tmp_path / "sh"
    (sh / "testing" / "test_pixel_mask").mkdir(parents=True)
    np.save(sh / "testing" / "test_pixel_mask" / "01_0014.npy", np.ones((3, 4, 5), np.uint8))
    found = find_pixel_masks(sh, "testing", [("01_0014", "x")])
    assert found is not None and found.kind == "npy"
    assert found.read("01_0014", 3).shape == (3, 4, 5)
    # Avenue: <N>_label.mat with a volLabel cell of per-frame masks
    av = tmp_path / "av" / "ground_truth_demo" / "testing_label_mask"
    av.mkdir(parents=True)
    vol = np.empty((1, 2), dtype=object)
    vol[0, 0], vol[0, 1] = np.zeros((4, 5), np.uint8), np.eye(4, 5, dtype=np.uint8)
    scipy.io.savemat(av / "1_label.mat", {"volLabel": vol})
    found = find_pixel_masks(tmp_path / "av", "testing", [("01", "x")], [av.parent])
    assert found is not None and found.kind == "avenue"
    masks = found.read("01", 2)
    assert masks.shape == (2, 4, 5) and masks[1].sum() == 4 and not masks[0].any()
    # UCSD original: Test001_gt/ beside Test001/, one .bmp per frame
    test = tmp_path / "ucsd" / "Test"
    (test / "Test001").mkdir(parents=True)
    (test / "Test001_gt").mkdir()
    for i in range(2):
        Image.fromarray(np.full((4, 5), 255 * i, np.uint8)).save(
            test / "Test001_gt" / f"{i:03d}.bmp"
        )
    found = find_pixel_masks(tmp_path / "ucsd", "testing", [("Test001", str(test / "Test001"))])
    assert found is not None and found.kind == "ucsd"
    masks = found.read("Test001", 2)
    assert not masks[0].any() and masks[1].all()
    assert find_pixel_masks(tmp_path / "none", "testing", [("01", str(tmp_path))]) is None


def test_pixel_masks_of_the_wrong_length_name_the_file_and_both_counts(tmp_path: Path) -> None:
    folder = tmp_path / "testing" / "test_pixel_mask"
    folder.mkdir(parents=True)
    np.save(folder / "01.npy", np.ones((3, 4, 5), np.uint8))
    np.save(folder / "02.npy", np.full((2, 4, 5), np.nan))
    found = find_pixel_masks(tmp_path, "testing", [("01", "x"), ("02", "y")])
    assert found is not None
    with pytest.raises(DataError, match=r"01.npy' have 3 frames; video '01' has 4"):
        found.read("01", 4)
    with pytest.raises(DataError, match=r"02.npy' hold NaN or inf"):
        found.read("02", 2)
    with pytest.raises(DataError, match="has no ground truth for video '03'"):
        find_pixel_masks(tmp_path, "testing", [("03", "z")])
