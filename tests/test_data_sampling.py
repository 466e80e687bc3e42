"""Training windows, PRP views, the seeded loader (resumable, workers), and test windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vadkit.components import Batch, ProxyTask
from vadkit.data import (
    DataWarning,
    TrainWindows,
    Video,
    collate,
    frames_to_tensor,
    make_train_loader,
)
from vadkit.data import test_windows as windows_of
from vadkit.errors import ConfigError, DataError


def counting_video(name: str, n: int, offset: int = 0) -> Video:
    """Frame i is a flat 4x4 image of value offset + i: frame content identifies its index."""
    values = (offset + np.arange(n)) % 256
    frames = np.broadcast_to(values[:, None, None, None], (n, 4, 4, 1)).astype(np.uint8)
    return Video.from_array(name, frames)


def frame_ids(t: torch.Tensor) -> list[int]:
    """Frame values of a (C, T, H, W) clip, back from [-1, 1]."""
    return [round(float(v)) for v in (t[0, :, 0, 0] + 1) * 127.5]


class Rate(ProxyTask):
    """PRP-like: original rate (label 0) or every s-th frame (label 1); s per clip or per batch."""

    def __init__(self, *, per_batch: bool = False) -> None:
        super().__init__()
        self.per_batch = per_batch

    def sample_view(self, start, clip_length, rng, batch_rng):
        accelerated = rng.random() < 0.5
        step = int((batch_rng if self.per_batch else rng).integers(2, 6)) if accelerated else 1
        return start + step * np.arange(clip_length), int(accelerated)


def test_window_count_and_starts_follow_the_stride():
    videos = [counting_video("a", 20), counting_video("b", 10), counting_video("c", 17)]
    w = TrainWindows(videos, clip_length=4, stride=1)
    assert len(w) == 16 + 6 + 13  # n - T windows of T+1 frames per video
    w3 = TrainWindows(videos, clip_length=4, stride=3)
    assert len(w3) == 6 + 2 + 5
    assert [w3.window(i)[1] for i in range(6)] == [0, 3, 6, 9, 12, 15]
    video, start = w3.window(6)
    assert video.name == "b" and start == 0


def test_a_sample_is_t_plus_one_consecutive_frames():
    w = TrainWindows([counting_video("a", 12, offset=100)], clip_length=4)
    sample = w[5]
    assert sample["frames"][:, 0, 0, 0].tolist() == [105, 106, 107, 108, 109]
    batch = collate([w[5], w[7]])
    assert isinstance(batch, Batch)
    assert batch.clip.shape == (2, 1, 4, 4, 4) and batch.target.shape == (2, 1, 4, 4)
    assert frame_ids(batch.clip[1]) == [107, 108, 109, 110]
    torch.testing.assert_close(batch.target[1], frames_to_tensor(w[7]["frames"][4:])[:, 0])
    assert batch.views == {} and batch.labels == {}


def test_short_videos_are_skipped_with_a_warning():
    videos = [counting_video("long", 20), counting_video("short", 16)]
    with pytest.warns(DataWarning, match=r"short \(16\)"):
        w = TrainWindows(videos, clip_length=16)
    assert w.skipped == ["short"] and len(w) == 4
    with (
        pytest.warns(DataWarning),
        pytest.raises(DataError, match="No video has the clip_length\\+1 = 17 frames"),
    ):
        TrainWindows([counting_video("short", 16)], clip_length=16)
    with pytest.raises(ConfigError, match="clip_length must be a positive integer"):
        TrainWindows(videos, clip_length=0)


def test_the_loader_is_seeded_by_seed_and_epoch():
    videos = [counting_video("a", 30), counting_video("b", 25, offset=50)]

    def order(seed, epoch):
        w = TrainWindows(videos, clip_length=4, seed=seed)
        return [
            frame_ids(c)[0] for b in make_train_loader(w, batch_size=8, epoch=epoch) for c in b.clip
        ]

    first = order(0, 0)
    assert first == order(0, 0)
    assert sorted(first) == sorted(list(range(26)) + list(range(50, 71)))  # each window once
    assert first != order(0, 1) and first != order(1, 0)


def test_len_drop_last_and_skip_batches(monkeypatch):
    w = TrainWindows([counting_video("a", 24)], clip_length=3)  # 21 windows
    assert len(make_train_loader(w, batch_size=5)) == 5
    assert len(make_train_loader(w, batch_size=5, drop_last=True)) == 4
    full = [b.clip for b in make_train_loader(w, batch_size=5, epoch=3)]
    loaded = []
    original = TrainWindows.sample

    def spy(self, index, **kw):
        loaded.append(index)
        return original(self, index, **kw)

    monkeypatch.setattr(TrainWindows, "sample", spy)
    resumed = make_train_loader(w, batch_size=5, epoch=3, skip_batches=2)
    assert len(resumed) == 3 and resumed.total_batches == 5
    rest = [b.clip for b in resumed]
    assert len(loaded) == 5 + 5 + 1  # the skipped batches were never loaded
    for a, b in zip(full[2:], rest, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_task_views_are_clamped_at_the_end_of_the_video():
    class LastFrames(ProxyTask):
        def sample_view(self, start, clip_length, rng, batch_rng):
            return start + 5 * np.arange(clip_length), 1

    w = TrainWindows([counting_video("a", 12)], clip_length=4, tasks={"rate": LastFrames()})
    batch = collate([w[7]])  # indices 7, 12, 17, 22 -> 7, 11, 11, 11
    assert frame_ids(batch.views["rate"][0]) == [7, 11, 11, 11]
    assert batch.labels["rate"].dtype == torch.long and batch.labels["rate"].tolist() == [1]
    assert batch.views["rate"].shape == (1, 1, 4, 4, 4)


def test_prp_rate_is_drawn_per_clip_or_per_batch():
    video = counting_video("a", 200)

    def steps(per_batch: bool) -> list[set[int]]:
        w = TrainWindows([video], clip_length=8, tasks={"prp": Rate(per_batch=per_batch)}, seed=3)
        out = []
        for batch in make_train_loader(w, batch_size=16):
            ids = [
                frame_ids(v)
                for v, lab in zip(batch.views["prp"], batch.labels["prp"], strict=True)
                if lab == 1 and frame_ids(v)[-1] < 199
            ]  # not clamped
            out.append({b - a for a, b, *_ in ids})
        return out

    per_batch = steps(True)
    assert all(len(s) == 1 for s in per_batch if s)  # one rate shared by the batch
    assert len(set().union(*per_batch)) > 1  # but not the same in every batch
    assert any(len(s) > 1 for s in steps(False))  # per clip: rates differ within a batch
    w = TrainWindows([video], clip_length=8, tasks={"prp": Rate()}, seed=3)
    a = [b.labels["prp"] for b in make_train_loader(w, batch_size=16)]
    b = [b.labels["prp"] for b in make_train_loader(w, batch_size=16)]
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    labels = torch.cat(a)
    assert 0.3 < labels.float().mean() < 0.7  # original vs accelerated, about half each


def test_workers_and_pinning_give_the_same_batches():
    videos = [counting_video("a", 40), counting_video("b", 30, offset=60)]
    w = TrainWindows(videos, clip_length=4, tasks={"prp": Rate()}, seed=7)
    plain = list(make_train_loader(w, batch_size=8, epoch=1))
    parallel = list(make_train_loader(w, batch_size=8, epoch=1, workers=2, pin_memory=True))
    assert len(plain) == len(parallel) == 8
    for a, b in zip(plain, parallel, strict=True):
        torch.testing.assert_close(a.clip, b.clip, rtol=0, atol=0)
        torch.testing.assert_close(a.views["prp"], b.views["prp"], rtol=0, atol=0)
        assert torch.equal(a.labels["prp"], b.labels["prp"])


def test_workers_read_memmapped_videos(tiny_scene, tmp_path):
    from vadkit.data import open_videos

    videos = open_videos(tiny_scene, "training", size=16, cache_dir=tmp_path, progress=False)
    w = TrainWindows(videos, clip_length=4)
    plain = list(make_train_loader(w, batch_size=16))
    parallel = list(make_train_loader(w, batch_size=16, workers=2))
    assert all(torch.equal(a.clip, b.clip) for a, b in zip(plain, parallel, strict=True))


def test_test_windows_score_the_last_frame_of_each_window():
    video = counting_video("a", 11)
    got = list(windows_of(video, clip_length=4, batch_size=3))
    scored = np.concatenate([s for s, _ in got])
    assert scored.tolist() == list(range(4, 11))  # frames 0..3 are not scored
    assert [b.size for _, b in got] == [3, 3, 1]
    _, batch = got[1]  # windows scoring 7, 8, 9
    assert frame_ids(batch.clip[0]) == [3, 4, 5, 6]
    assert round(float((batch.target[0, 0, 0, 0] + 1) * 127.5)) == 7
    assert batch.clip.is_contiguous() and batch.target.shape == (3, 1, 4, 4)


def test_short_test_video_is_an_error_and_pad_start_points_to_the_one_rule():
    video = counting_video("tiny", 4)
    with pytest.raises(DataError) as exc:
        list(windows_of(video, clip_length=4))
    assert "'tiny'" in str(exc.value) and "4 frames" in str(exc.value)
    with pytest.raises(ConfigError) as cfg:
        list(windows_of(counting_video("a", 11), clip_length=4, pad_start=True))
    assert 'score.frames = "all"' in cfg.value.hint


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pinned memory needs CUDA")
def test_pinned_batches_on_cuda():
    w = TrainWindows([counting_video("a", 20)], clip_length=4, tasks={"prp": Rate()})
    batch = next(iter(make_train_loader(w, batch_size=4, pin_memory=True)))
    assert isinstance(batch, Batch)
    assert batch.clip.is_pinned() and batch.target.is_pinned() and batch.views["prp"].is_pinned()
