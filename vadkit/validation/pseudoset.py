"""The windows label-free validation scores: held-out normal windows, each as it is and with a
pseudo-anomaly (no torch).

Windows are picked evenly over the held-out videos (:func:`vadkit.scoring.core.select_windows`).
Each picked window is scored twice: as it is (label 0) and after one pseudo-anomaly (labelled by
its last frame, the frame a window scores), the kinds taking turns in an order drawn from the
seed. A pseudo-anomaly that pastes another video's content takes it from a window of another
training video, also drawn from the seed. Each modified window is made from its own generator
(``seed`` and its position), so the set is the same whatever order it is read in, and it is
made lazily, a batch at a time, as the scoring core reads it: nothing but the labels is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from vadkit.components.pseudo import PseudoAnomaly, PseudoWindow
from vadkit.errors import ConfigError, DataError
from vadkit.scoring.core import VideoLike, Window, select_windows

#: The kind of a window scored as it is.
CLEAN = ""


@dataclass(frozen=True)
class PseudoItem:
    """One scored window: from held-out video ``video`` at frame ``start``, with the
    pseudo-anomaly ``kind`` (:data:`CLEAN`: none), and for a pasting kind the donor window
    ``(index in the donor videos, start)``."""

    video: int
    start: int
    kind: str = CLEAN
    donor: tuple[int, int] | None = None


class PseudoSet:
    """The validation windows of held-out videos, readable by the scoring core as one video.

    ``videos`` are the held-out normal videos; ``donors`` the videos a pasted patch may come
    from (a window is never given a patch of its own video); ``anomalies`` the pseudo-anomalies
    by name (in the order they take turns); ``pairs`` the number of windows picked, each scored
    as it is and modified, so ``2 * pairs`` windows in all (fewer when the videos have fewer
    windows). Window ``j`` is frames ``j (T+1) .. j (T+1) + T`` of this "video":
    :meth:`picks` are the windows to give :func:`~vadkit.scoring.core.picked_scores` with
    ``[pseudo_set]`` as the videos.
    """

    name = "pseudo-validation"
    labels = None  # a VideoLike's labels: the windows' own are :meth:`window_labels`

    def __init__(
        self,
        videos: Sequence[VideoLike],
        donors: Sequence[VideoLike],
        clip_length: int,
        anomalies: Mapping[str, PseudoAnomaly],
        *,
        pairs: int,
        seed: int,
    ) -> None:
        if not anomalies:
            raise ConfigError(
                "No pseudo-anomaly to validate with.",
                hint="See `vadkit list pseudo_anomalies`; is the plugin that provides them "
                "blocked?",
            )
        self.videos = list(videos)
        self.donors = list(donors)
        self.clip_length = int(clip_length)
        self.anomalies = dict(anomalies)
        self.seed = int(seed)
        self.span = self.clip_length + 1
        extra = max(int(a.extra_frames(self.clip_length)) for a in self.anomalies.values())
        picks = select_windows(
            [int(v.num_frames) for v in self.videos], self.span - 1 + extra, max(int(pairs), 1)
        )
        if not picks:
            longest = max((int(v.num_frames) for v in self.videos), default=0)
            raise DataError(
                f"The held-out videos are too short to validate on: a window and what the "
                f"pseudo-anomalies read after it take {self.span + extra} frames, and the "
                f"longest held-out video has {longest}.",
                hint="Hold out longer videos (data.val_videos draws them from train.seed), or "
                "leave out the pseudo-anomalies that read ahead (score.pseudo_kinds).",
            )
        self.extra = extra
        self.items = self._plan(picks)
        self._labels: dict[int, int] = {}

    def _plan(self, picks: Sequence[Window]) -> list[PseudoItem]:
        rng = np.random.default_rng(self.seed)
        names = list(self.anomalies)
        order = rng.permutation(len(picks))
        items: list[PseudoItem] = []
        for j, (video, start) in enumerate(picks):
            kind = names[int(order[j]) % len(names)]
            donor = self._donor(video, rng) if self.anomalies[kind].needs_donor else None
            items += [PseudoItem(video, start), PseudoItem(video, start, kind, donor)]
        return items

    def _donor(self, video: int, rng: np.random.Generator) -> tuple[int, int]:
        own = self.videos[video].name
        usable = [
            i for i, d in enumerate(self.donors) if d.name != own and int(d.num_frames) >= self.span
        ]
        if not usable:
            raise DataError(
                f"No other video of at least {self.span} frames to paste patches from into "
                f"'{own}'.",
                hint="Leave out the pasting pseudo-anomalies (score.pseudo_kinds), or train "
                "on more videos.",
            )
        index = usable[int(rng.integers(len(usable)))]
        start = int(rng.integers(int(self.donors[index].num_frames) - self.span + 1))
        return index, start

    # -- the VideoLike the scoring core reads ---------------------------------------------------
    @property
    def num_frames(self) -> int:
        return len(self.items) * self.span

    def picks(self) -> list[Window]:
        """Every window of the set, as ``(0, first frame)`` picks of this one "video"."""
        return [(0, j * self.span) for j in range(len(self.items))]

    def frames(self, indices: np.ndarray) -> np.ndarray:
        """Frames of the set's windows laid end to end (the scoring core reads one window at a
        time)."""
        index = np.asarray(indices, dtype=np.int64)
        out = []
        for j in np.unique(index // self.span):
            inside = index[index // self.span == j] - j * self.span
            out.append(self.window(int(j)).frames[inside])
        return np.concatenate(out)

    # -- the windows ------------------------------------------------------------------------------
    def window(self, j: int) -> PseudoWindow:
        """Window ``j``: its T+1 frames and their labels (all 0 for a window as it is)."""
        item = self.items[j]
        video = self.videos[item.video]
        read = video.frames(np.arange(item.start, item.start + self.span + self.extra))
        window, after = read[: self.span], read[self.span :]
        if item.kind == CLEAN:
            made = PseudoWindow(frames=window, labels=np.zeros(self.span, np.uint8))
        else:
            anomaly = self.anomalies[item.kind]
            donor = None
            if item.donor is not None:
                d, s = item.donor
                donor = self.donors[d].frames(np.arange(s, s + self.span))
            ahead = after[: int(anomaly.extra_frames(self.clip_length))]
            rng = np.random.default_rng([self.seed, j])
            made = anomaly(window, rng, donor, ahead)
        self._labels[j] = int(made.labels[-1])
        return made

    def window_labels(self) -> np.ndarray:
        """Each window's label: that of its last frame, the frame it scores."""
        for j in range(len(self.items)):
            if j not in self._labels:
                self.window(j)
        return np.array([self._labels[j] for j in range(len(self.items))], np.uint8)

    @property
    def kinds(self) -> np.ndarray:
        """Each window's pseudo-anomaly (:data:`CLEAN` for a window as it is)."""
        return np.array([item.kind for item in self.items], dtype=object)

    @property
    def sources(self) -> np.ndarray:
        """The index of each window's held-out video."""
        return np.array([item.video for item in self.items], np.int64)
