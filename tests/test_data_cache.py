"""The memory-mapped frame cache: decode once, rebuild when stale, never use a half-written entry."""

from __future__ import annotations

import json
import os
import pickle
import tracemalloc
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch
from PIL import Image
from test_data_helpers import write_frames

import vadkit.data.cache as frame_cache
from vadkit.data import FrameSource, Video, frames_to_tensor, open_videos
from vadkit.data.cache import build, lookup
from vadkit.errors import DataError


def dataset(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    write_frames(root / "training" / "frames" / "01", [10, 20, 30, 40])
    write_frames(root / "training" / "frames" / "02", [50, 60, 70])
    return root


def open_train(root: Path, cache: Path, **kw):
    return open_videos(root, "training", size=(4, 6), cache_dir=cache, progress=False, **kw)


def forbid_decoding(monkeypatch) -> None:
    def fail(*args, **kwargs):
        raise AssertionError("a frame was decoded")

    monkeypatch.setattr(PIL.Image, "open", fail)


def test_second_open_and_every_epoch_decode_nothing(tmp_path, monkeypatch):
    root, cache = dataset(tmp_path), tmp_path / "cache"
    first = open_train(root, cache)
    entries = sorted(p.name for p in (cache / "frames").iterdir())
    assert len(entries) == 4 and {Path(e).suffix for e in entries} == {".u8", ".json"}
    forbid_decoding(monkeypatch)
    again = open_train(root, cache)
    from vadkit.data import TrainWindows, make_train_loader

    windows = TrainWindows(again, clip_length=2)
    for epoch in range(2):
        assert sum(b.size for b in make_train_loader(windows, batch_size=2, epoch=epoch)) == 3
    np.testing.assert_array_equal(first[1].frames([0, 1, 2]), again[1].frames([0, 1, 2]))


def test_cache_file_holds_raw_uint8_frames(tmp_path):
    root, cache = dataset(tmp_path), tmp_path / "cache"
    video = open_train(root, cache)[0]
    raw = np.fromfile(video.path, dtype=np.uint8).reshape(4, 4, 6, 1)
    np.testing.assert_array_equal(raw[:, 0, 0, 0], [10, 20, 30, 40])
    meta = json.loads(video.path.with_suffix(".json").read_text())
    assert meta["shape"] == [4, 4, 6, 1] and meta["color"] == "gray" and meta["size"] == [4, 6]


def test_size_and_colour_have_their_own_entries(tmp_path):
    root, cache = dataset(tmp_path), tmp_path / "cache"
    a = open_train(root, cache)
    b = open_videos(root, "training", size=(8, 8), color="rgb", cache_dir=cache, progress=False)
    assert a[0].path != b[0].path and b[0].shape == (4, 8, 8, 3)
    assert len(list((cache / "frames").glob("*.u8"))) == 4


def test_a_changed_source_is_rebuilt(tmp_path):
    root, cache = dataset(tmp_path), tmp_path / "cache"
    assert open_train(root, cache)[0].frames([1])[0, 0, 0, 0] == 20
    frame = root / "training" / "frames" / "01" / "001.png"
    Image.fromarray(np.full((12, 16), 99, np.uint8)).save(frame)
    st = frame.stat()
    os.utime(frame, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert open_train(root, cache)[0].frames([1])[0, 0, 0, 0] == 99
    write_frames(root / "training" / "frames" / "01", [5], start=4)  # a frame is added
    assert open_train(root, cache)[0].num_frames == 5


def test_a_truncated_or_unconfirmed_entry_is_never_used(tmp_path):
    root, cache = dataset(tmp_path), tmp_path / "cache"
    video = open_train(root, cache)[0]
    data = video.path
    data.write_bytes(data.read_bytes()[:-7])  # half-written data
    assert open_train(root, cache)[0].frames([3])[0, 0, 0, 0] == 40
    assert data.stat().st_size == 4 * 4 * 6
    data.with_suffix(".json").unlink()  # data without its manifest: not trusted
    data.write_bytes(b"\0" * data.stat().st_size)
    assert open_train(root, cache)[0].frames([0])[0, 0, 0, 0] == 10


class BrokenAfter(FrameSource):
    """A source whose third frame fails to decode."""

    def fingerprint(self) -> str:
        return "x"

    def native_frames(self):
        for i in range(5):
            if i == 2:
                raise DataError("frame 2 is corrupt")
            yield str(i), Image.fromarray(np.full((4, 4), i, np.uint8))


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    source = BrokenAfter("v", tmp_path / "v")
    with pytest.raises(DataError, match="frame 2 is corrupt"):
        build(source, (4, 4), "gray", "bilinear", tmp_path)
    assert list((tmp_path / "frames").iterdir()) == []
    assert lookup(source, (4, 4), "gray", "bilinear", tmp_path) is None


class Generated(FrameSource):
    """Many frames made on the fly, to measure the memory a build needs."""

    def __init__(self, n: int, side: int) -> None:
        super().__init__("gen", Path("/nonexistent/gen"))
        self.n, self.side = n, side

    def fingerprint(self) -> str:
        return f"{self.n}"

    def native_frames(self):
        for i in range(self.n):
            yield str(i), Image.fromarray(np.full((self.side, self.side, 3), i % 256, np.uint8))


def test_building_streams_frames_with_bounded_memory(tmp_path):
    source = Generated(300, 96)  # 300 x 96 x 96 x 3 = 8.3 MB of frames
    tracemalloc.start()
    try:
        entry = build(source, (96, 96), "rgb", "bilinear", tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert entry.shape == (300, 96, 96, 3)
    assert peak < 1_500_000, f"peak {peak} bytes: frames are being accumulated"


def test_cache_dir_defaults_to_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VADKIT_CACHE", str(tmp_path / "env"))
    assert frame_cache.default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("VADKIT_CACHE")
    assert frame_cache.default_cache_dir() == Path.home() / ".cache" / "vadkit"


def test_frames_are_clamped_and_videos_pickle_without_their_frames(tmp_path):
    root, cache = dataset(tmp_path), tmp_path / "cache"
    video = open_train(root, cache)[0]
    got = video.frames([-3, 0, 2, 9])[:, 0, 0, 0]
    np.testing.assert_array_equal(got, [10, 10, 30, 40])
    np.testing.assert_array_equal(video.frames(slice(1, 3))[:, 0, 0, 0], [20, 30])
    blob = pickle.dumps(video)
    assert len(blob) < 2000  # the path travels, not the frames
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.frames(range(4)), video.frames(range(4)))


def test_video_from_array_checks_its_input():
    frames = np.zeros((3, 2, 2, 1), np.uint8)
    assert Video.from_array("a", frames, labels=[0, 1, 0]).labels.dtype == np.uint8
    with pytest.raises(DataError, match="uint8"):
        Video.from_array("a", frames.astype(np.float32))
    with pytest.raises(DataError, match="3 frames but 2 labels"):
        Video.from_array("a", frames, labels=[0, 1])


def test_frames_to_tensor_layout_and_range():
    frames = np.zeros((2, 3, 4, 1), np.uint8)
    frames[0] = 0
    frames[1] = 255
    frames[1, 2, 3, 0] = 51
    t = frames_to_tensor(frames)
    assert t.shape == (1, 2, 3, 4) and t.dtype == torch.float32 and t.is_contiguous()
    assert t[0, 0].eq(-1).all() and t[0, 1, 0, 0] == 1
    assert t[0, 1, 2, 3].item() == pytest.approx(51 / 127.5 - 1)  # -0.6
    rgb = np.arange(2 * 1 * 1 * 3, dtype=np.uint8).reshape(2, 1, 1, 3)
    assert frames_to_tensor(rgb)[:, 1, 0, 0].tolist() == pytest.approx(
        [3 / 127.5 - 1, 4 / 127.5 - 1, 5 / 127.5 - 1]
    )
    batch = frames_to_tensor(np.stack([frames, frames]))
    assert batch.shape == (2, 1, 2, 3, 4)
    with pytest.raises(DataError, match="uint8"):
        frames_to_tensor(frames.astype(np.float32))
