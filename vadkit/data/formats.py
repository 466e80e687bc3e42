"""Dataset formats: where a dataset's videos and ground truth live under its root folder.

A format finds the videos of a split (``"training"`` or ``"testing"``) as :class:`FrameSource`
objects and says where ground truth may be found next to them. vadkit's formats are registered in
the ``datasets`` registry by :mod:`vadkit.data.plugin`; a plugin adds its own by subclassing
:class:`DatasetFormat` and registering it with the ``register_datasets`` hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from vadkit.data.sources import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    FrameFolder,
    FrameSource,
    VideoFile,
    is_ignored,
    natural_key,
)
from vadkit.errors import DataError, VadkitError

SPLITS = ("training", "testing")


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise DataError(f"Unknown split {split!r}.", hint=f"Use one of: {', '.join(SPLITS)}.")
    return split


class DatasetFormat:
    """Base class of dataset formats: find a split's videos and its ground truth under a root.

    Subclasses implement :meth:`detect` and :meth:`list_videos`, and may extend
    :meth:`label_dirs` (folders searched for ground truth). ``priority`` breaks ties when
    several formats detect the same root: the highest wins. The constructor takes keyword-only
    parameters with defaults, like every component.
    """

    priority: ClassVar[int] = 0
    #: One line describing the layout, shown when no format matches a root.
    layout: ClassVar[str] = ""

    def detect(self, root: Path, split: str) -> bool:
        """True when ``root`` holds the ``split`` of a dataset in this format."""
        raise NotImplementedError

    def list_videos(self, root: Path, split: str) -> list[FrameSource]:
        """The split's videos, in their canonical order (the order of concatenated labels)."""
        raise NotImplementedError

    def label_dirs(self, root: Path, split: str) -> list[Path]:
        """Folders searched, in order, for the split's ground truth."""
        return [root, root / split]

    @property
    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _sorted_children(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if not is_ignored(p)), key=lambda p: natural_key(p.name)
    )


def _has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_EXTENSIONS for p in folder.iterdir() if not is_ignored(p))


def _video_files(folder: Path, extensions: Sequence[str]) -> list[Path]:
    if not folder.is_dir():
        return []
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    return [p for p in _sorted_children(folder) if p.is_file() and p.suffix.lower() in exts]


class FrameFolders(DatasetFormat):
    """Frame folders: <root>/<split>/frames/<video>/<frame>.jpg (Ped2, Avenue, ShanghaiTech).

    Frames are image files (.jpg, .png, .tif, .bmp) ordered by the number in their name,
    numbered from 0 or from 1. ``frames_dir`` is the folder level between the split and the videos.
    """

    priority = 5
    layout = "<root>/{training,testing}/frames/<video>/<frame>.{jpg,png,tif,bmp}"

    def __init__(self, *, frames_dir: str = "frames") -> None:
        self.frames_dir = frames_dir

    def _videos_dir(self, root: Path, split: str) -> Path:
        return root / split / self.frames_dir if self.frames_dir else root / split

    def detect(self, root: Path, split: str) -> bool:
        folder = self._videos_dir(root, split)
        return folder.is_dir() and any(p.is_dir() for p in folder.iterdir() if not is_ignored(p))

    def list_videos(self, root: Path, split: str) -> list[FrameSource]:
        folder = self._videos_dir(root, split)
        return [FrameFolder(p.name, p) for p in _sorted_children(folder) if p.is_dir()]


class VideoFiles(DatasetFormat):
    """Video files: <root>/<split>/<video>.avi (or .mp4, .mkv, ...; also in <split>/videos/).

    Decoded with PyAV (FFmpeg).
    """

    layout = "<root>/{training,testing}/(videos/)<video>.{avi,mp4,mkv,...}"

    def __init__(self, *, extensions: tuple[str, ...] = VIDEO_EXTENSIONS) -> None:
        self.extensions = tuple(extensions)

    def _files(self, root: Path, split: str) -> list[Path]:
        return _video_files(root / split, self.extensions) or _video_files(
            root / split / "videos", self.extensions
        )

    def detect(self, root: Path, split: str) -> bool:
        return bool(self._files(root, split))

    def list_videos(self, root: Path, split: str) -> list[FrameSource]:
        return [VideoFile(p.stem, p) for p in self._files(root, split)]


class AvenueVideos(DatasetFormat):
    """CUHK Avenue as published: <root>/training_videos/01.avi, <root>/testing_videos/01.avi.

    Ground truth is looked for in ``testing_label_mask/`` and ``ground_truth_demo/`` (the
    archive's pixel masks, ``<N>_label.mat`` with ``volLabel``) and next to the videos.
    """

    priority = 10
    layout = "<root>/{training,testing}_videos/<video>.avi"

    def __init__(self, *, extensions: tuple[str, ...] = VIDEO_EXTENSIONS) -> None:
        self.extensions = tuple(extensions)

    def detect(self, root: Path, split: str) -> bool:
        return bool(_video_files(root / f"{split}_videos", self.extensions))

    def list_videos(self, root: Path, split: str) -> list[FrameSource]:
        files = _video_files(root / f"{split}_videos", self.extensions)
        return [VideoFile(p.stem, p) for p in files]

    def label_dirs(self, root: Path, split: str) -> list[Path]:
        return [root, root / "ground_truth_demo", root / f"{split}_videos"]


class UCSDOriginal(DatasetFormat):
    """UCSD Ped1/Ped2 as published: <root>/Train/Train001/001.tif, <root>/Test/Test001/001.tif.

    Pixel-level ground-truth folders (``Test004_gt``) are skipped; frame-level ground truth is
    read from the archive's ``UCSDped*.m`` file or from a ``.mat`` file with ``gt`` intervals.
    """

    priority = 10
    layout = "<root>/{Train,Test}/{Train,Test}<NNN>/<frame>.tif"

    _DIRS: ClassVar[dict[str, str]] = {"training": "Train", "testing": "Test"}

    def _videos(self, root: Path, split: str) -> list[Path]:
        folder = root / self._DIRS[split]
        if not folder.is_dir():
            return []
        prefix = self._DIRS[split].lower()
        return [
            p
            for p in _sorted_children(folder)
            if p.is_dir()
            and p.name.lower().startswith(prefix)
            and not p.name.lower().endswith("_gt")
        ]

    def detect(self, root: Path, split: str) -> bool:
        videos = self._videos(root, split)
        return bool(videos) and _has_images(videos[0])

    def list_videos(self, root: Path, split: str) -> list[FrameSource]:
        return [FrameFolder(p.name, p) for p in self._videos(root, split)]

    def label_dirs(self, root: Path, split: str) -> list[Path]:
        return [root, root / self._DIRS[split]]


def resolve_format(root: Path, split: str, format: str | None = None) -> tuple[str, DatasetFormat]:
    """The registered format named ``format``, or the one that detects ``root``'s ``split``."""
    import warnings

    from vadkit.plugins import get_host

    check_split(split)
    if not root.is_dir():
        raise DataError(
            f"Dataset root '{root}' does not exist or is not a folder.",
            hint="Pass the folder that holds the dataset's training/ and testing/ parts.",
        )
    registry = get_host().registry("datasets")
    if format:
        fmt = registry.create(format)
        if not fmt.detect(root, split):
            raise DataError(
                f"'{root}' has no {split} videos in the '{format}' layout"
                + (f" ({fmt.layout})." if fmt.layout else "."),
                hint="Check the root folder, or leave out the format to detect it.",
            )
        return format, fmt
    found: list[tuple[int, str, DatasetFormat]] = []
    layouts: list[str] = []
    for entry in registry.entries():
        try:
            fmt = entry.create()
            layouts.append(f"{entry.name}: {fmt.layout or entry.summary}")
            if fmt.detect(root, split):
                found.append((fmt.priority, entry.name, fmt))
        except VadkitError:
            raise
        except Exception as exc:  # a broken third-party format must not stop detection
            warnings.warn(
                f"Dataset format '{entry.name}' (plugin '{entry.plugin}') failed to detect "
                f"'{root}': {type(exc).__name__}: {exc}",
                stacklevel=2,
            )
    if not found:
        raise DataError(
            f"'{root}' has no {split} videos in any known layout.",
            hint="Known layouts: " + "; ".join(layouts) + ". Pass the dataset's root folder, "
            "or name its format (`vadkit list datasets`).",
        )
    found.sort(key=lambda t: -t[0])
    best = [t for t in found if t[0] == found[0][0]]
    if len(best) > 1:
        names = ", ".join(t[1] for t in best)
        raise DataError(
            f"'{root}' matches several dataset formats for {split}: {names}.",
            hint="Name the format to use (format=NAME or --format NAME).",
        )
    return found[0][1], found[0][2]
