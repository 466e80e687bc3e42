"""Training windows and the training loader (test windows: :mod:`vadkit.data.windows`).

Sampling is a pure function of ``(seed, epoch, window index, batch index)``: the shuffle order, each
sample's task views and each batch's shared draws are seeded from those numbers, so a run gives the
same batches with or without workers and resumes mid-epoch (``skip_batches``) exactly.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from vadkit.components import Batch
from vadkit.config.settings import DataSettings, TrainSettings
from vadkit.data.shards import shard_order
from vadkit.data.video import Video, frames_to_tensor
from vadkit.errors import ConfigError, DataError

if TYPE_CHECKING:
    from vadkit.components import ProxyTask

# Domain tags that keep the random streams apart.
_SHUFFLE, _SAMPLE, _BATCH = 0x5348, 0x5341, 0x4241


class DataWarning(UserWarning):
    """Data that vadkit can use only in part (e.g. videos too short to train on)."""


def _seed(value: int) -> int:
    return int(value) % (1 << 64)


def _check_positive(name: str, value: int) -> int:
    if not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(
            f"{name} must be a positive integer, not {value!r}.", hint=f"E.g. {name}=16."
        )
    return int(value)


@dataclass(frozen=True)
class _Key:
    """What a loader asks a worker for: one window, in one epoch, as part of one batch."""

    index: int
    epoch: int
    batch_index: int
    rank: int = 0


class TrainWindows(Dataset):
    """Training windows of ``clip_length + 1`` frames, one starting every ``stride`` frames.

    The first ``clip_length`` frames of a window are the clip, the last one the target. For every
    task whose ``sample_view`` returns indices, a sample also holds that task's view (indices
    clamped to the video) and label. Videos shorter than ``clip_length + 1`` frames are skipped
    with a :class:`DataWarning` (their names are in ``skipped``).
    """

    def __init__(
        self,
        videos: Sequence[Video],
        *,
        clip_length: int = DataSettings.clip_length,
        stride: int = 1,
        tasks: Mapping[str, ProxyTask] | None = None,
        seed: int = 0,
    ) -> None:
        self.clip_length = _check_positive("clip_length", clip_length)
        self.stride = _check_positive("stride", stride)
        self.videos = list(videos)
        self.tasks = dict(tasks or {})
        self.seed = int(seed)
        self._task_tags = {name: zlib.crc32(name.encode()) for name in self.tasks}
        span = self.clip_length + 1
        self.skipped = [v.name for v in self.videos if v.num_frames < span]
        if self.skipped:
            short = ", ".join(
                f"{v.name} ({v.num_frames})" for v in self.videos if v.num_frames < span
            )
            warnings.warn(
                f"Skipped {len(self.skipped)} video(s) with fewer than clip_length+1 = {span} "
                f"frames: {short}.",
                DataWarning,
                stacklevel=2,
            )
        video_ids, starts = [], []
        for i, video in enumerate(self.videos):
            if video.num_frames >= span:
                s = np.arange(0, video.num_frames - span + 1, self.stride, dtype=np.int64)
                starts.append(s)
                video_ids.append(np.full(len(s), i, dtype=np.int32))
        if not starts:
            raise DataError(
                f"No video has the clip_length+1 = {span} frames a training window needs.",
                hint="Use a shorter clip_length, or longer videos.",
            )
        self._video = np.concatenate(video_ids)
        self._start = np.concatenate(starts)

    def __len__(self) -> int:
        return int(self._start.shape[0])

    def window(self, index: int) -> tuple[Video, int]:
        """The video and start frame of window ``index``."""
        return self.videos[int(self._video[index])], int(self._start[index])

    def sample(
        self, index: int, *, epoch: int = 0, batch_index: int = 0, rank: int = 0
    ) -> dict[str, Any]:
        """Window ``index``: ``frames`` uint8 ``(T+1, H, W, C)``, task ``views`` and ``labels``.

        ``rank``: the training process whose batch this is; with several processes each one's
        per-batch draws (e.g. PRP's playback rate per batch) come from a generator of its own,
        derived from the seed, epoch, batch index and rank (rank 0's is one process's).
        """
        if not 0 <= index < len(self):
            raise IndexError(f"window index {index} out of range [0, {len(self)})")
        video, start = self.window(index)
        t = self.clip_length
        sample: dict[str, Any] = {
            "frames": video.frames(range(start, start + t + 1)),
            "views": {},
            "labels": {},
        }
        base = (_seed(self.seed), _seed(epoch))
        for name, task in self.tasks.items():
            tag = self._task_tags[name]
            rng = np.random.default_rng([*base, int(index), _SAMPLE, tag])
            per_rank = [int(rank)] if rank else []
            batch_rng = np.random.default_rng([*base, int(batch_index), _BATCH, tag, *per_rank])
            view = task.sample_view(start, t, rng, batch_rng)
            if view is None:
                continue
            indices, label = view
            sample["views"][name] = video.frames(np.asarray(indices, dtype=np.int64))
            sample["labels"][name] = int(label)
        return sample

    def __getitem__(self, key: int | _Key) -> dict[str, Any]:
        if isinstance(key, _Key):
            return self.sample(
                key.index, epoch=key.epoch, batch_index=key.batch_index, rank=key.rank
            )
        return self.sample(int(key))


class _PinnableBatch(Batch):
    """A :class:`Batch` that the DataLoader's pinning thread knows how to pin."""

    def pin_memory(self) -> Batch:
        return _PinnableBatch(
            clip=self.clip.pin_memory(),
            target=None if self.target is None else self.target.pin_memory(),
            views={k: v.pin_memory() for k, v in self.views.items()},
            labels={k: v.pin_memory() for k, v in self.labels.items()},
        )


def collate(samples: Sequence[Mapping[str, Any]]) -> Batch:
    """Stack samples of :class:`TrainWindows` into a :class:`~vadkit.components.Batch`.

    ``clip`` ``(B, C, T, H, W)`` and ``target`` ``(B, C, H, W)`` in [-1, 1]; ``views[name]``
    ``(B, C, T', H, W)`` and ``labels[name]`` (long ``(B,)``) for tasks with their own view.
    """
    shared = get_worker_info() is not None  # in a worker: build the batch in shared memory
    frames = np.stack([s["frames"] for s in samples])  # (B, T+1, H, W, C)
    t = frames.shape[1] - 1
    views: dict[str, torch.Tensor] = {}
    labels: dict[str, torch.Tensor] = {}
    for name in samples[0]["views"]:
        stacked = np.stack([s["views"][name] for s in samples])
        views[name] = frames_to_tensor(stacked, shared=shared)
        labels[name] = torch.tensor([s["labels"][name] for s in samples], dtype=torch.long)
    return _PinnableBatch(
        clip=frames_to_tensor(frames[:, :t], shared=shared),
        target=frames_to_tensor(frames[:, t:], shared=shared)[:, :, 0],
        views=views,
        labels=labels,
    )


class TrainLoader:
    """One epoch of training batches, shuffled by a generator seeded from ``(seed, epoch)``.

    Each sample's task views are drawn with an rng seeded from ``(seed, epoch, index)`` and a
    per-batch rng seeded from ``(seed, epoch, batch index)``; ``skip_batches`` skips the first
    batches without loading them (resuming mid-epoch gives the same later batches). ``workers``
    worker processes decode in parallel; ``pin_memory`` pins batches when CUDA is available.
    ``rank`` of ``world_size`` training processes loads its shard of the epoch
    (:func:`vadkit.data.shards.shard_order`).

    ``len()`` is the number of batches it yields (``total_batches - skip_batches``).
    """

    def __init__(
        self,
        windows: TrainWindows,
        *,
        batch_size: int = TrainSettings.batch_size,
        epoch: int = 0,
        skip_batches: int = 0,
        workers: int = 0,
        pin_memory: bool = False,
        drop_last: bool = False,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.windows = windows
        self.rank = int(rank)
        self.batch_size = _check_positive("batch_size", batch_size)
        self.epoch = int(epoch)
        if skip_batches < 0 or workers < 0:
            raise ConfigError(
                f"skip_batches ({skip_batches}) and workers ({workers}) must not be negative.",
                hint="Use 0 for none.",
            )
        self.skip_batches = int(skip_batches)
        self.workers = int(workers)
        self.pin_memory = bool(pin_memory) and torch.cuda.is_available()
        order = np.random.default_rng(
            [_seed(windows.seed), _seed(self.epoch), _SHUFFLE]
        ).permutation(len(windows))
        order = shard_order(order, self.rank, int(world_size))
        n = len(order)
        stop = n - n % self.batch_size if drop_last else n
        self._batches = [
            order[i : min(i + self.batch_size, stop)] for i in range(0, stop, self.batch_size)
        ]
        self.total_batches = len(self._batches)

    def __len__(self) -> int:
        return max(0, self.total_batches - self.skip_batches)

    def batch_keys(self) -> list[list[_Key]]:
        """The keys of the batches still to load (after ``skip_batches``)."""
        return [
            [_Key(int(i), self.epoch, b, self.rank) for i in batch]
            for b, batch in enumerate(self._batches)
            if b >= self.skip_batches
        ]

    def __iter__(self) -> Iterator[Batch]:
        keys = self.batch_keys()
        if not keys:
            return iter(())
        loader = DataLoader(
            self.windows,
            batch_sampler=keys,
            collate_fn=collate,
            num_workers=self.workers,
            pin_memory=self.pin_memory,
        )
        return iter(loader)


#: The training loader of one epoch (the name the docs and callers use): :class:`TrainLoader`.
make_train_loader = TrainLoader
