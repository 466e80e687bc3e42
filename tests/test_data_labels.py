"""Ground-truth readers: every supported kind, detection next to the data, length checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io
from test_data_helpers import write_frames

from vadkit.data import find_label_candidates, open_videos, read_labels
from vadkit.errors import DataError

LABELS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "labels"
VIDEOS = [("01", 6), ("02", 4)]


def gt_cells(*ranges_per_video) -> np.ndarray:
    cells = np.empty((1, len(ranges_per_video)), dtype=object)
    for i, ranges in enumerate(ranges_per_video):
        cells[0, i] = np.array(ranges, dtype=np.uint8).T.reshape(2, -1)  # rows: start, end
    return cells


def test_mat_intervals_are_one_based_and_inclusive(tmp_path):
    path = tmp_path / "gt.mat"
    scipy.io.savemat(path, {"gt": gt_cells([(2, 3), (6, 6)], [(1, 4)])})
    labels = read_labels(path, VIDEOS)
    np.testing.assert_array_equal(labels["01"], [0, 1, 1, 0, 0, 1])
    np.testing.assert_array_equal(labels["02"], [1, 1, 1, 1])
    assert labels["01"].dtype == np.uint8


def test_mat_interval_past_the_end_names_video_and_counts(tmp_path):
    path = tmp_path / "gt.mat"
    scipy.io.savemat(path, {"gt": gt_cells([(2, 3)], [(1, 5)])})
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    text = str(exc.value)
    assert "gt.mat" in text and "'02'" in text and "frame 5" in text and "4 frames" in text


def test_mat_with_a_cell_per_video_too_few(tmp_path):
    path = tmp_path / "gt.mat"
    scipy.io.savemat(path, {"gt": gt_cells([(2, 3)])})
    with pytest.raises(DataError, match="ground truth for 1 videos, but the split has 2"):
        read_labels(path, VIDEOS)


def test_ucsd_m_file(tmp_path):
    path = tmp_path / "UCSDped1.m"
    path.write_text(
        "TestVideoFile = {};\n"
        "TestVideoFile{end+1}.gt_frame = [2:3, 5:6];\n"
        "TestVideoFile{end+1}.gt_frame = [4];\n"
    )
    labels = read_labels(path, VIDEOS)
    np.testing.assert_array_equal(labels["01"], [0, 1, 1, 0, 1, 1])
    np.testing.assert_array_equal(labels["02"], [0, 0, 0, 1])


def test_concatenated_labels_are_split_by_frame_counts(tmp_path):
    path = tmp_path / "frame_labels_x.npy"
    np.save(path, np.array([[0, 0, 1, 1, 0, 0, 1, 0, 0, 1]]))  # (1, N) as Ped2's file
    labels = read_labels(path, VIDEOS)
    np.testing.assert_array_equal(labels["01"], [0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(labels["02"], [1, 0, 0, 1])


def test_concatenated_labels_of_the_wrong_length(tmp_path):
    path = tmp_path / "frame_labels_x.npy"
    np.save(path, np.zeros(9, np.uint8))
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    text = str(exc.value)
    assert "frame_labels_x.npy" in text and "9 frame labels" in text and "10 frames" in text
    assert "01: 6" in text and "--labels" in exc.value.hint


def test_per_video_masks_match_names_and_check_lengths(tmp_path):
    folder = tmp_path / "test_frame_mask"
    folder.mkdir()
    np.save(folder / "01.npy", np.array([0, 1, 0, 0, 0, 1], np.uint8))
    np.save(folder / "02.npy", np.array([1, 1, 0], np.uint8))
    with pytest.raises(DataError) as exc:
        read_labels(folder, VIDEOS)
    text = str(exc.value)
    assert "02.npy" in text and "3 frame labels" in text and "'02'" in text and "4 frames" in text
    np.save(folder / "02.npy", np.array([1, 1, 0, 0], np.uint8))
    labels = read_labels(folder, VIDEOS)
    np.testing.assert_array_equal(labels["01"], [0, 1, 0, 0, 0, 1])
    (folder / "02.npy").unlink()
    with pytest.raises(DataError, match="no ground truth for video '02'"):
        read_labels(folder, VIDEOS)


def test_pixel_masks_any_set_pixel_marks_the_frame(tmp_path):
    folder = tmp_path / "testing_label_mask"
    folder.mkdir()
    for number, count in ((1, 6), (2, 4)):
        vol = np.empty((1, count), dtype=object)
        for t in range(count):
            vol[0, t] = np.zeros((3, 5), np.uint8)
        vol[0, count - 1][2, 4] = 1  # one pixel in the last frame
        scipy.io.savemat(folder / f"{number}_label.mat", {"volLabel": vol})
    labels = read_labels(folder, VIDEOS)  # "1_label.mat" belongs to video "01"
    np.testing.assert_array_equal(labels["01"], [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(labels["02"], [0, 0, 0, 1])
    with pytest.raises(DataError, match="'02', which has 5 frames"):
        read_labels(folder, [("01", 6), ("02", 5)])


def test_unreadable_label_file(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("0 1 0")
    with pytest.raises(DataError, match="not a ground-truth file"):
        read_labels(path, VIDEOS)


def test_detection_prefers_per_video_masks_and_lists_the_others(tmp_path):
    (tmp_path / "test_frame_mask").mkdir()
    np.save(tmp_path / "test_frame_mask" / "01.npy", np.zeros(3))
    np.save(tmp_path / "frame_labels_a.npy", np.zeros(3))
    scipy.io.savemat(tmp_path / "a.mat", {"gt": gt_cells([(1, 1)])})
    scipy.io.savemat(tmp_path / "other.mat", {"x": np.zeros(2)})  # not ground truth
    found = find_label_candidates([tmp_path, tmp_path / "testing"])
    assert [p.name for p in found] == ["test_frame_mask", "a.mat", "frame_labels_a.npy"]


def test_open_videos_reads_detected_labels_and_records_the_file(tmp_path):
    write_frames(tmp_path / "testing" / "frames" / "01", [1] * 6)
    write_frames(tmp_path / "testing" / "frames" / "02", [1] * 4)
    np.save(tmp_path / "frame_labels_t.npy", np.array([0, 0, 1, 1, 0, 0, 1, 0, 0, 0]))
    scipy.io.savemat(tmp_path / "t.mat", {"gt": gt_cells([(3, 4)], [(2, 2)])})
    test = open_videos(tmp_path, "testing", size=4, cache_dir=tmp_path / "c", progress=False)
    assert test.ground_truth == str((tmp_path / "t.mat").resolve())
    assert test.label_alternatives == [str((tmp_path / "frame_labels_t.npy").resolve())]
    np.testing.assert_array_equal(test.get("02").labels, [0, 1, 0, 0])
    explicit = open_videos(
        tmp_path,
        "testing",
        size=4,
        labels=tmp_path / "frame_labels_t.npy",
        cache_dir=tmp_path / "c",
        progress=False,
    )
    assert explicit.ground_truth.endswith("frame_labels_t.npy")
    np.testing.assert_array_equal(explicit.get("02").labels, [1, 0, 0, 0])
    assert explicit.anomalous_frames == 3
    train_like = open_videos(
        tmp_path, "testing", size=4, labels=None, cache_dir=tmp_path / "c", progress=False
    )
    assert train_like.anomalous_frames == 3  # detected again: t.mat


def test_wrong_length_labels_fail_before_decoding(tmp_path, monkeypatch):
    write_frames(tmp_path / "testing" / "frames" / "01", [1] * 6)
    np.save(tmp_path / "frame_labels_t.npy", np.zeros(5))
    import vadkit.data.cache as cache

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded before checking the labels")

    monkeypatch.setattr(cache, "build", no_decoding)
    with pytest.raises(DataError, match="5 frame labels, but the 1 videos have 6 frames"):
        open_videos(tmp_path, "testing", size=4, cache_dir=tmp_path / "c", progress=False)


# -- the real label files in ../shared/datasets --------------------------------------------------


def test_ped2_mat_and_npy_agree(ped2_root):
    counts = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]  # DATA.md
    videos = [(f"{i:02d}", c) for i, c in enumerate(counts, 1)]
    a = read_labels(ped2_root / "ped2.mat", videos)
    b = read_labels(ped2_root / "frame_labels_ped2.npy", videos)
    assert sum(int(v.sum()) for v in a.values()) == 1648
    for name, _ in videos:
        np.testing.assert_array_equal(a[name], b[name])


def test_shanghaitech_per_video_masks_match_the_concatenation():
    folder = LABELS / "shanghaitech" / "test_frame_mask"
    if not folder.is_dir():
        pytest.skip(f"ShanghaiTech labels are not available at {folder}")
    files = sorted(folder.glob("*.npy"))
    videos = [(f.stem, int(np.load(f).shape[0])) for f in files]
    masks = read_labels(folder, videos)
    concat = read_labels(LABELS / "shanghaitech" / "frame_labels_shanghai.npy", videos)
    assert len(videos) == 107 and sum(c for _, c in videos) == 40791
    assert sum(int(v.sum()) for v in masks.values()) == 17326
    assert all(np.array_equal(masks[n], concat[n]) for n, _ in videos)


def test_avenue_pixel_masks_of_two_videos():
    folder = LABELS / "avenue" / "testing_label_mask"
    if not folder.is_dir():
        pytest.skip(f"Avenue labels are not available at {folder}")
    # videos 08 and 18 are the two short ones, both entirely anomalous (DATA.md)
    labels = read_labels(folder, [("08", 36), ("18", 294)])
    assert labels["08"].all() and labels["18"].all()


def test_pixel_mask_labels_are_cached_until_the_file_changes(tmp_path, monkeypatch):
    import os

    import vadkit.data.labels as labels_module

    folder = tmp_path / "testing_label_mask"
    folder.mkdir()

    def write(hot: int) -> None:
        vol = np.empty((1, 3), dtype=object)
        for t in range(3):
            vol[0, t] = np.zeros((2, 2), np.uint8)
        vol[0, hot][0, 0] = 1
        scipy.io.savemat(folder / "1_label.mat", {"volLabel": vol})

    write(0)
    cache = tmp_path / "cache"
    assert read_labels(folder, [("1", 3)], cache_dir=cache)["1"].tolist() == [1, 0, 0]
    real = labels_module._vol_label_from_mat
    monkeypatch.setattr(labels_module, "_vol_label_from_mat", None)  # cached: not called
    assert read_labels(folder, [("1", 3)], cache_dir=cache)["1"].tolist() == [1, 0, 0]
    monkeypatch.setattr(labels_module, "_vol_label_from_mat", real)
    write(2)
    st = (folder / "1_label.mat").stat()
    os.utime(folder / "1_label.mat", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert read_labels(folder, [("1", 3)], cache_dir=cache)["1"].tolist() == [0, 0, 1]


# -- values that are not labels ----------------------------------------------------------------
@pytest.mark.parametrize(("value", "shown"), [(np.nan, "nan"), (3.0, "3.0"), (-1.0, "-1.0")])
def test_concatenated_label_that_is_not_0_or_1_names_file_index_and_value(tmp_path, value, shown):
    path = tmp_path / "frame_labels_x.npy"
    values = np.zeros(10)
    values[7] = value  # video '02' (6 + 4 frames), its frame 1
    np.save(path, values)
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    text = str(exc.value)
    assert "frame_labels_x.npy" in text and f"value {shown} at index 7" in text
    assert "video '02', frame 1" in text


@pytest.mark.parametrize("value", [3, -1])
def test_per_video_mask_that_is_not_0_or_1_names_file_index_and_value(tmp_path, value):
    folder = tmp_path / "test_frame_mask"
    folder.mkdir()
    np.save(folder / "01.npy", np.array([0, 1, 0, 0, 0, 1], np.int16))
    np.save(folder / "02.npy", np.array([1, 1, value, 0], np.int16))
    with pytest.raises(DataError) as exc:
        read_labels(folder, VIDEOS)
    assert "02.npy" in str(exc.value) and f"value {value} at index 2" in str(exc.value)


def test_per_video_mask_with_nan_and_booleans(tmp_path):
    folder = tmp_path / "test_frame_mask"
    folder.mkdir()
    np.save(folder / "01.npy", np.array([0, 1, 0, 0, 0, 1], bool))  # booleans are labels
    np.save(folder / "02.npy", np.array([np.nan, 1, 1, 1]))
    with pytest.raises(DataError, match=r"02\.npy' holds the label value nan at index 0"):
        read_labels(folder, VIDEOS)
    np.save(folder / "02.npy", np.array([0.0, 1.0, 1.0, 0.0]))  # 0.0 and 1.0 are labels
    labels = read_labels(folder, VIDEOS)
    np.testing.assert_array_equal(labels["01"], [0, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(labels["02"], [0, 1, 1, 0])


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([[2.0, np.nan]], "holds nan at index 1"),  # start row 2, end row NaN
        ([[2.5, 3.0]], "holds 2.5 at index 0"),
        ([[-1.0, 3.0]], "range -1-3 at index 0"),
    ],
)
def test_mat_range_that_is_not_whole_1_based_frames_names_file_index_and_value(
    tmp_path, ranges, message
):
    path = tmp_path / "gt.mat"
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0] = np.array([[2.0], [3.0]])
    cells[0, 1] = np.array(ranges, dtype=np.float64).T  # rows: start, end
    scipy.io.savemat(path, {"gt": cells})
    with pytest.raises(DataError) as exc:
        read_labels(path, VIDEOS)
    text = str(exc.value)
    assert "gt.mat" in text and "'02'" in text and message in text


def test_ucsd_m_range_with_a_sign_is_refused(tmp_path):
    path = tmp_path / "UCSDped1.m"
    path.write_text(
        "TestVideoFile{end+1}.gt_frame = [2 : 3];\nTestVideoFile{end+1}.gt_frame = [-1:4];\n"
    )
    with pytest.raises(DataError, match=r"video '02' holds '-1:4' at index 0"):
        read_labels(path, VIDEOS)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_pixel_mask_with_a_non_finite_pixel_names_file_frame_and_value(tmp_path, value):
    vol = np.empty((1, 4), dtype=object)
    for t in range(4):
        vol[0, t] = np.zeros((3, 5))
    vol[0, 2][1, 1] = value
    path = tmp_path / "2_label.mat"
    scipy.io.savemat(path, {"volLabel": vol})
    with pytest.raises(DataError) as exc:
        read_labels(path, [("02", 4)])
    assert "2_label.mat" in str(exc.value) and f"frame 2 holds {value!r}" in str(exc.value)


def test_pixel_mask_values_other_than_1_mark_the_frame(tmp_path):
    vol = np.empty((1, 4), dtype=object)
    for t, value in enumerate([0, 255, -1, 3]):  # 0 / nonzero: every nonzero pixel is anomalous
        vol[0, t] = np.full((3, 5), value, np.int16)
    path = tmp_path / "2_label.mat"
    scipy.io.savemat(path, {"volLabel": vol})
    np.testing.assert_array_equal(read_labels(path, [("02", 4)])["02"], [0, 1, 1, 1])
