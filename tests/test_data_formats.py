"""Dataset layouts, frame ordering, video files, and the bad inputs each must reject clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_data_helpers import write_frames, write_video

import vadkit
from vadkit.data import DatasetFormat, FrameFolder, open_video_file, open_videos, resolve_format
from vadkit.errors import DataError

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def message(exc: pytest.ExceptionInfo[DataError]) -> str:
    return " ".join(str(exc.value).split())


# -- frame folders ------------------------------------------------------------------------------


def test_frames_are_ordered_by_number_not_as_strings(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    for n in (1, 2, 10, 9):  # numbered from 1, no zero padding: "10" < "2" as strings
        Image.fromarray(np.full((4, 4), n * 10, np.uint8)).save(folder / f"img_{n}.png")
    files = FrameFolder("v", folder).files
    assert [f.name for f in files] == ["img_1.png", "img_2.png", "img_9.png", "img_10.png"]


def test_frame_folder_layout_is_detected_and_read(tmp_path):
    write_frames(tmp_path / "training" / "frames" / "01", [10, 20, 30], start=1)
    write_frames(tmp_path / "training" / "frames" / "2", [40, 50], ext="jpg")
    videos = open_videos(
        tmp_path, "training", size=(6, 8), cache_dir=tmp_path / "c", progress=False
    )
    assert videos.format == "frames"
    assert [v.name for v in videos] == ["01", "2"]
    assert [v.num_frames for v in videos] == [3, 2]
    frames = videos[0].frames([0, 1, 2])
    assert frames.shape == (3, 6, 8, 1) and frames.dtype == np.uint8
    np.testing.assert_array_equal(frames[:, 0, 0, 0], [10, 20, 30])
    assert videos.total_frames == 5 and videos.ground_truth is None


def test_rgb_frames_keep_three_channels(tmp_path):
    folder = tmp_path / "training" / "frames" / "a"
    folder.mkdir(parents=True)
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0] = 200
    Image.fromarray(img).save(folder / "0.png")
    v = open_videos(
        tmp_path, "training", size=8, color="rgb", cache_dir=tmp_path / "c", progress=False
    )
    px = v[0].frames([0])[0, 0, 0]
    np.testing.assert_array_equal(px, [200, 0, 0])
    g = open_videos(tmp_path, "training", size=8, cache_dir=tmp_path / "c", progress=False)
    # ITU-R 601-2 luma: L = R * 299/1000
    assert g[0].frames([0])[0, 0, 0, 0] == round(200 * 299 / 1000)


def test_ucsd_original_layout(tmp_path):
    write_frames(tmp_path / "Train" / "Train001", [1, 2, 3], ext="tif", start=1)
    write_frames(tmp_path / "Test" / "Test001", [4, 5], ext="tif", start=1)
    write_frames(tmp_path / "Test" / "Test001_gt", [255, 255], ext="bmp", start=1)  # pixel gt
    (tmp_path / "Test" / "UCSDped2.m").write_text(
        "TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [2:2];\n"
    )
    name, _ = resolve_format(tmp_path, "training")
    assert name == "ucsd"
    test = open_videos(tmp_path, "testing", size=4, cache_dir=tmp_path / "c", progress=False)
    assert [v.name for v in test] == ["Test001"]  # the _gt folder is not a video
    np.testing.assert_array_equal(test[0].labels, [0, 1])
    assert test.ground_truth.endswith("UCSDped2.m")


def test_video_files_layout_decodes_with_pyav(tmp_path):
    write_video(tmp_path / "training" / "b.avi", [0, 60, 120, 180, 240])
    write_video(tmp_path / "training" / "a.mkv", [100] * 3, codec="ffv1")
    videos = open_videos(tmp_path, "training", size=8, cache_dir=tmp_path / "c", progress=False)
    assert videos.format == "videos"
    assert [v.name for v in videos] == ["a", "b"]
    assert [v.num_frames for v in videos] == [3, 5]
    grey = videos[1].frames(range(5))[:, 4, 4, 0].astype(int)
    np.testing.assert_allclose(grey, [0, 60, 120, 180, 240], atol=6)  # lossy codec


def test_avenue_layout_is_preferred_and_finds_its_pixel_masks(tmp_path):
    import scipy.io

    write_video(tmp_path / "training_videos" / "01.avi", [50] * 4)
    write_video(tmp_path / "testing_videos" / "01.avi", [50] * 3)
    masks = np.empty((1, 3), dtype=object)
    for t in range(3):
        masks[0, t] = np.zeros((6, 8), np.uint8)
    masks[0, 1][2, 3] = 1
    (tmp_path / "ground_truth_demo" / "testing_label_mask").mkdir(parents=True)
    scipy.io.savemat(
        tmp_path / "ground_truth_demo" / "testing_label_mask" / "1_label.mat", {"volLabel": masks}
    )
    test = open_videos(tmp_path, "testing", size=8, cache_dir=tmp_path / "c", progress=False)
    assert test.format == "avenue"
    np.testing.assert_array_equal(test[0].labels, [0, 1, 0])


def test_open_video_file(tmp_path):
    path = write_video(tmp_path / "clip.mp4", [30, 90, 150, 210])
    video = open_video_file(path, size=(12, 16), color="rgb", cache_dir=tmp_path / "c")
    assert video.shape == (4, 12, 16, 3) and video.labels is None
    assert video.source == str(path.resolve())


def test_vtest_avi_real_video_file(tmp_path):
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} is absent (apt-get install opencv-doc provides it)")
    video = open_video_file(VTEST, size=(36, 48), cache_dir=tmp_path)
    assert video.num_frames == 795
    assert video.frames([0, 794]).shape == (2, 36, 48, 1)


def test_a_plugin_can_add_a_dataset_format(tmp_path):
    class Flat(DatasetFormat):
        """Flat layout: <root>/<split>-<video>/<frames>."""

        priority = 50

        def detect(self, root, split):
            return any(root.glob(f"{split}-*"))

        def list_videos(self, root, split):
            return [
                FrameFolder(p.name.split("-", 1)[1], p) for p in sorted(root.glob(f"{split}-*"))
            ]

    class Plugin:
        @vadkit.hookimpl
        def register_datasets(self, register):
            register("flat", Flat)

    write_frames(tmp_path / "training-cam1", [7, 8])
    vadkit.configure(plugins=[Plugin()])
    try:
        assert "flat" in vadkit.list_datasets()
        videos = open_videos(tmp_path, "training", size=4, cache_dir=tmp_path / "c", progress=False)
        assert videos.format == "flat" and videos[0].name == "cam1"
    finally:
        vadkit.configure()


# -- bad input -----------------------------------------------------------------------------------


def test_unknown_layout(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(DataError) as exc:
        open_videos(tmp_path, "training", cache_dir=tmp_path / "c", progress=False)
    assert str(tmp_path) in message(exc) and "no training videos in any known layout" in message(
        exc
    )
    assert "frames/<video>/<frame>" in exc.value.hint  # the hint lists the layouts


def test_named_format_that_does_not_match(tmp_path):
    write_frames(tmp_path / "training" / "frames" / "01", [1, 2])
    with pytest.raises(DataError, match="'videos' layout"):
        open_videos(tmp_path, "training", format="videos", cache_dir=tmp_path / "c")


def test_corrupt_jpeg(tmp_path):
    folder = tmp_path / "training" / "frames" / "01"
    write_frames(folder, [1, 2, 3], ext="jpg")
    data = (folder / "001.jpg").read_bytes()
    (folder / "001.jpg").write_bytes(data[: len(data) // 3])  # truncated JPEG
    with pytest.raises(DataError) as exc:
        open_videos(tmp_path, "training", size=8, cache_dir=tmp_path / "c", progress=False)
    assert "001.jpg" in message(exc) and "Cannot decode frame" in message(exc)
    assert "re-extract" in exc.value.hint
    assert not list((tmp_path / "c" / "frames").glob("*.u8"))  # nothing half-written is kept


def test_non_image_file_among_frames(tmp_path):
    folder = tmp_path / "training" / "frames" / "01"
    write_frames(folder, [1, 2])
    (folder / "notes.txt").write_text("hello")
    (folder / ".DS_Store").write_text("ignored")  # hidden clutter is skipped silently
    with pytest.raises(DataError) as exc:
        open_videos(tmp_path, "training", cache_dir=tmp_path / "c", progress=False)
    assert "notes.txt" in message(exc) and "not a frame image" in message(exc)
    assert "Move it out" in exc.value.hint


def test_empty_video_folder(tmp_path):
    write_frames(tmp_path / "training" / "frames" / "01", [1, 2])
    (tmp_path / "training" / "frames" / "02").mkdir()
    with pytest.raises(DataError) as exc:
        open_videos(tmp_path, "training", cache_dir=tmp_path / "c", progress=False)
    assert "02" in message(exc) and "has no frames" in message(exc)


def test_mixed_frame_sizes_in_one_video(tmp_path):
    folder = tmp_path / "training" / "frames" / "01"
    write_frames(folder, [1, 2], size=(16, 12))
    write_frames(folder, [3], size=(12, 16), start=2)
    with pytest.raises(DataError) as exc:
        open_videos(tmp_path, "training", size=8, cache_dir=tmp_path / "c", progress=False)
    text = message(exc)
    assert "002.png" in text and "12x16" in text and "16x12" in text


def test_frame_without_number_and_duplicate_numbers(tmp_path):
    folder = tmp_path / "v"
    write_frames(folder, [1])
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / "cover.png")
    with pytest.raises(DataError, match=r"cover\.png' has no frame number"):
        _ = FrameFolder("v", folder).files
    (folder / "cover.png").unlink()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(folder / "0.png")
    with pytest.raises(DataError, match="same frame number 0"):
        _ = FrameFolder("v", folder).files


def test_truncated_avi(tmp_path):
    path = write_video(tmp_path / "training" / "01.avi", list(range(0, 200, 10)))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as exc:
        open_videos(tmp_path, "training", size=8, cache_dir=tmp_path / "c", progress=False)
    assert "01.avi" in message(exc) and "truncated or corrupt" in exc.value.hint


def test_truncated_mkv_that_decodes_silently(tmp_path):
    path = write_video(tmp_path / "clip.mkv", list(range(0, 200, 10)), codec="ffv1")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # FFmpeg decodes the first frames without error
    with pytest.raises(DataError) as exc:
        open_video_file(path, size=8, cache_dir=tmp_path / "c")
    assert "clip.mkv" in message(exc) and "ends early" in message(exc)


def test_bad_size_and_colour(tmp_path):
    write_frames(tmp_path / "training" / "frames" / "01", [1])
    with pytest.raises(DataError, match="colour mode 'hsv'"):
        open_videos(tmp_path, "training", color="hsv", cache_dir=tmp_path / "c")
    with pytest.raises(DataError, match="must be positive"):
        open_videos(tmp_path, "training", size=(0, 8), cache_dir=tmp_path / "c")
    with pytest.raises(DataError, match="Unknown split"):
        open_videos(tmp_path, "train", cache_dir=tmp_path / "c")
