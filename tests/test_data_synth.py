"""The synthetic scene: deterministic, labelled anomalies of three kinds, generated on demand."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vadkit.data.synth as synth
from vadkit.data import default_data_root, generate_scene, open_videos
from vadkit.errors import DataError


def read_scene(root):
    train = open_videos(root, "training", size=32, cache_dir=root.parent / "c", progress=False)
    test = open_videos(root, "testing", size=32, cache_dir=root.parent / "c", progress=False)
    return train, test


def test_scene_layout_labels_and_metadata(tiny_scene):
    meta = json.loads((tiny_scene / "scene.json").read_text())
    train, test = read_scene(tiny_scene)
    assert len(train) == 2 and len(test) == 3 and train.format == "frames"
    assert all(24 <= v.num_frames <= 30 for v in [*train, *test])
    assert test.ground_truth == str((tiny_scene / "frame_labels_synth.npy").resolve())
    assert [v["anomaly"] for v in meta["test_videos"]] == ["fast", "shape", "reverse"]
    for video, info in zip(test, meta["test_videos"], strict=True):
        assert info["frames"] == video.num_frames
        assert 0 < int(video.labels.sum()) == info["anomalous_frames"] < video.num_frames
        run = np.flatnonzero(video.labels)
        assert np.all(np.diff(run) == 1)  # one anomalous object: one run of frames
    assert train.ground_truth is None and all(v.labels is None for v in train)
    assert (tiny_scene / "training" / "frames" / "01" / "000.png").is_file()


def test_same_seed_same_scene_other_seed_other_scene(tmp_path, tiny_scene):
    again = generate_scene(tmp_path / "a", size=32, train_videos=2, test_videos=3, frames=(24, 30))
    other = generate_scene(
        tmp_path / "b", size=32, train_videos=2, test_videos=3, frames=(24, 30), seed=1
    )
    (t0, s0), (t1, s1), (t2, _) = read_scene(tiny_scene), read_scene(again), read_scene(other)
    for a, b in zip([*t0, *s0], [*t1, *s1], strict=True):
        np.testing.assert_array_equal(a.frames(range(a.num_frames)), b.frames(range(b.num_frames)))
    assert not np.array_equal(t0[0].frames([0]), t2[0].frames([0]))


def test_normal_motion_and_each_anomaly_kind():
    scene = synth._Scene(0, 64, 64)
    rng = np.random.default_rng(0)
    walkers = scene.normal_walkers(rng, 150)
    speeds = [w.vx for w in walkers]
    areas = [w.w * w.h for w in walkers]
    assert min(speeds) > 0 and max(speeds) <= 1.6  # everyone walks left to right
    assert max(areas) <= 4 * 7
    fast = scene.anomaly(rng, "fast", 150)
    shape = scene.anomaly(rng, "shape", 150)
    reverse = scene.anomaly(rng, "reverse", 150)
    assert fast.vx >= 2.7 * max(speeds)  # well beyond any walker
    assert shape.disk and shape.w * shape.h >= 3 * max(areas)
    assert reverse.vx < 0 and abs(reverse.vx) <= max(speeds) + 0.01
    for walker in (walkers[0], reverse):  # walkers face the way they walk: bright front
        t = next(t for t in range(-300, 300) if 10 <= walker.left(t) <= 50)
        colour = synth._colour(walker, t, 64)
        x = int(walker.left(t))
        front, back = (x + 3, x) if walker.vx > 0 else (x, x + 3)
        assert abs(colour[front] - walker.value) < abs(colour[back] - walker.value)
    group = scene.anomalies(rng, "reverse", 150)
    assert len(group) == 2 and len({t.lane for t in group}) == 2 and all(t.vx < 0 for t in group)
    for thing in (fast, shape, reverse):
        _, labels, _ = scene.render([thing], 150, rng, noise=0.0)
        left = np.array([thing.left(t) for t in range(150)])
        inside = (left >= 0) & (left + thing.w <= 64)
        outside = (left + thing.w <= 0) | (left >= 64)
        assert inside.any() and labels[inside].all() and not labels[outside].any()
        assert np.all(np.diff(np.flatnonzero(labels)) == 1)
        assert 0 < labels.sum() < 150


def test_anomalies_show_in_the_frames(tmp_path):
    root = generate_scene(
        tmp_path / "s", size=32, train_videos=1, test_videos=3, frames=(40, 40), noise=0.0
    )
    labels = np.load(root / synth.LABEL_FILE)
    assert labels.shape == (120,) and labels.dtype == np.uint8 and labels.sum() > 0


def test_refuses_a_non_empty_folder_unless_overwriting(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        generate_scene(tmp_path / "x", size=16, train_videos=1, test_videos=0, frames=(3, 3))
    generate_scene(
        tmp_path / "x", size=16, train_videos=1, test_videos=0, frames=(3, 3), overwrite=True
    )
    assert not (tmp_path / "x" / "keep.txt").exists()
    with pytest.raises(DataError, match="at least 16x16"):
        generate_scene(tmp_path / "y", size=8)


def test_default_data_root_is_generated_once_into_the_cache(tmp_path, monkeypatch):
    calls = []
    real = synth.generate_scene

    def small(out, **kw):
        calls.append(out)
        return real(out, size=16, train_videos=1, test_videos=1, frames=(5, 5))

    monkeypatch.setattr(synth, "generate_scene", small)
    monkeypatch.setenv("VADKIT_CACHE", str(tmp_path))
    stale = tmp_path / "synth" / f".scene-v{synth.SCENE_VERSION}-seed0-64.1.abc.tmp"  # crashed
    stale.mkdir(parents=True)
    root = default_data_root()
    assert root.parent == tmp_path / "synth" and (root / "scene.json").is_file()
    assert calls[0].name.endswith(".tmp")  # written elsewhere, then renamed into place
    assert default_data_root() == root and len(calls) == 1
    assert [p.name for p in (tmp_path / "synth").iterdir() if p.name.endswith(".tmp")] == [
        stale.name
    ]
