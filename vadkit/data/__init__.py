"""Data: dataset formats, ground truth, the frame cache, clip sampling and the synthetic scene.

Open a split with :func:`open_videos` (the format is detected, or named from the ``datasets``
registry); its frames are decoded once into a memory-mapped ``uint8`` cache. :class:`TrainWindows`
and :func:`make_train_loader` feed training; :func:`test_windows` feeds scoring.
:func:`default_data_root` is the synthetic scene used when no data is given.

A plugin adds a dataset layout by subclassing :class:`DatasetFormat` (``detect``,
``list_videos`` returning :class:`FrameSource` objects such as :class:`FrameFolder` or
:class:`VideoFile`, and optionally ``label_dirs``) and registering it with the
``register_datasets`` hook.

Importing this package is cheap; its parts are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "DatasetFormat": "vadkit.data.formats",
    "FrameFolders": "vadkit.data.formats",
    "VideoFiles": "vadkit.data.formats",
    "VideoFolder": "vadkit.data.formats",
    "AvenueVideos": "vadkit.data.formats",
    "UCSDOriginal": "vadkit.data.formats",
    "resolve_format": "vadkit.data.formats",
    "FrameSource": "vadkit.data.sources",
    "FrameFolder": "vadkit.data.sources",
    "VideoFile": "vadkit.data.sources",
    "read_labels": "vadkit.data.labels",
    "find_label_candidates": "vadkit.data.labels",
    "default_cache_dir": "vadkit.data.cache",
    "Video": "vadkit.data.video",
    "VideoSet": "vadkit.data.video",
    "open_videos": "vadkit.data.video",
    "open_video_file": "vadkit.data.video",
    "frames_to_tensor": "vadkit.data.video",
    "TrainWindows": "vadkit.data.sampling",
    "TrainLoader": "vadkit.data.sampling",
    "DataWarning": "vadkit.data.sampling",
    "make_train_loader": "vadkit.data.sampling",
    "test_windows": "vadkit.data.windows",
    "sliding_windows": "vadkit.data.windows",
    "window_batch": "vadkit.data.windows",
    "collate": "vadkit.data.sampling",
    "generate_scene": "vadkit.data.synth",
    "default_data_root": "vadkit.data.synth",
    "check_dataset": "vadkit.data.check",
}

if TYPE_CHECKING:
    from vadkit.data.cache import default_cache_dir
    from vadkit.data.check import check_dataset
    from vadkit.data.formats import (
        AvenueVideos,
        DatasetFormat,
        FrameFolders,
        UCSDOriginal,
        VideoFiles,
        VideoFolder,
        resolve_format,
    )
    from vadkit.data.labels import find_label_candidates, read_labels
    from vadkit.data.sampling import (
        DataWarning,
        TrainLoader,
        TrainWindows,
        collate,
        make_train_loader,
    )
    from vadkit.data.sources import FrameFolder, FrameSource, VideoFile
    from vadkit.data.synth import default_data_root, generate_scene
    from vadkit.data.video import (
        Video,
        VideoSet,
        frames_to_tensor,
        open_video_file,
        open_videos,
    )
    from vadkit.data.windows import sliding_windows, test_windows, window_batch


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vadkit.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "AvenueVideos",
    "DataWarning",
    "DatasetFormat",
    "FrameFolder",
    "FrameFolders",
    "FrameSource",
    "TrainLoader",
    "TrainWindows",
    "UCSDOriginal",
    "Video",
    "VideoFile",
    "VideoFiles",
    "VideoFolder",
    "VideoSet",
    "check_dataset",
    "collate",
    "default_cache_dir",
    "default_data_root",
    "find_label_candidates",
    "frames_to_tensor",
    "generate_scene",
    "make_train_loader",
    "open_video_file",
    "open_videos",
    "read_labels",
    "resolve_format",
    "sliding_windows",
    "test_windows",
    "window_batch",
]
