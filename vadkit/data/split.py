"""The validation split: training videos held out of training, to choose things on without
test labels.

``data.val_videos`` training videos, drawn from ``train.seed``, are held out: the Trainer never
sees them. They hold only normal frames, like all training videos, so nothing about anomalies is
learned from them either. :mod:`vadkit.inference.validation` chooses a run's weights on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from vadkit.config import Config, Settings
from vadkit.errors import DataError

if TYPE_CHECKING:
    from vadkit.data.video import Video

V = TypeVar("V")


def validation_split(videos: Sequence[V], count: int, seed: int) -> tuple[list[V], list[V]]:
    """``(training, held out)``: ``count`` videos drawn without replacement from ``seed``
    (the held-out ones in their original order); ``count = 0`` holds out nothing."""
    videos = list(videos)
    if count <= 0:
        return videos, []
    if count >= len(videos):
        raise DataError(
            f"data.val_videos = {count} would hold out all {len(videos)} training videos.",
            hint=f"Hold out fewer (at most {len(videos) - 1}), e.g. --set data.val_videos=1",
        )
    held = set(np.random.default_rng(seed).choice(len(videos), size=count, replace=False).tolist())
    return (
        [v for i, v in enumerate(videos) if i not in held],
        [v for i, v in enumerate(videos) if i in held],
    )


def training_videos(
    config: Config, *, root: str | Path | None = None, progress: bool = False
) -> tuple[list[Video], list[Video]]:
    """The run's training split as ``(trained on, held out for validation)``; ``root`` replaces
    the run's ``data.root`` (a dataset that moved)."""
    from vadkit.data import default_data_root, open_videos

    settings = Settings.from_config(config)
    data = settings.data
    videos = open_videos(
        root or data.root or default_data_root(),
        "training",
        size=data.hw,
        color=data.color,
        format=data.format or None,
        progress=progress,
    )
    return validation_split(list(videos), data.val_videos, settings.train.seed)
