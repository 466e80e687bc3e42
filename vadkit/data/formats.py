"""Dataset formats: where a dataset's videos and ground truth live under its root folder.

A format finds the videos of a split (``"training"`` or ``"testing"``) as :class:`FrameSource`
objects and says where ground truth may be found next to them. vadkit's formats are registered in
the ``datasets`` registry by :mod:`vadkit.data.plugin`; a plugin adds its own by subclassing
:class:`DatasetFormat` and registering it with the ``register_datasets`` hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
    several formats detect the same root: the highest wins; a format whose preference depends on
    the root overrides :meth:`priority_for`, and :meth:`explain` says why it reads a root
    (``vadkit data check`` shows it). The constructor takes keyword-only parameters with
    defaults, like every component.
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

    def priority_for(self, root: Path, split: str) -> int:
        """This format's priority for ``root``'s ``split``, which it detects: ``priority``,
        unless the format ranks some roots above or below others."""
        return self.priority

    def explain(self, root: Path, split: str) -> str:
        """Why this format reads ``root``'s ``split``, in one sentence (``vadkit data check``)."""
        return f"the folder matches its layout {self.layout}" if self.layout else "it detects it"

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


#: The folder names the ``video-folder`` layout reads for each split, the short name first.
VIDEO_FOLDER_SPLITS: dict[str, tuple[str, str]] = {
    "training": ("train", "training"),
    "testing": ("test", "testing"),
}


class VideoFolder(DatasetFormat):
    """Your own footage: <root>/{train,test}/ holding video files and frame folders, mixed.

    A video is a file (.mp4, .avi, .mkv, ...; decoded with PyAV) or a folder of frame images
    directly in the split's folder; its name is the file's stem or the folder's name, and videos
    are ordered by name (numbers by value). The split folders are ``train/`` and ``test/``, or
    vadkit's own ``training/`` and ``testing/``. Test labels are optional: ``<root>/labels.csv``
    (anomalous frame ranges: ``video,start,end``, 0-based and inclusive) or ``<root>/labels/``
    (one ``<video>.npy`` of 0/1 per frame).

    Detection prefers this layout only where it is the one reading of a folder: always for
    ``train/`` and ``test/``; for ``training/`` and ``testing/`` when one holds a frame folder
    directly (``training/<video>/<frame>.jpg``, which no other layout reads). A ``training/`` of
    video files only is left to ``videos``, which reads it the same way (``data.format =
    "video-folder"`` reads it as this layout).
    """

    priority = 1
    layout = "<root>/{train,test}/<video>.{mp4,avi,...} or <video>/<frame>.{jpg,png,...}"

    def __init__(self, *, extensions: tuple[str, ...] = VIDEO_EXTENSIONS) -> None:
        self.extensions = tuple(
            e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions
        )

    def split_dirs(self, root: Path, split: str) -> list[Path]:
        """The split's folders that exist: ``train/`` and/or ``training/`` (likewise for test)."""
        return [
            root / name
            for name in VIDEO_FOLDER_SPLITS[check_split(split)]
            if (root / name).is_dir()
        ]

    def _is_video_file(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in self.extensions

    def _split_dir(self, root: Path, split: str) -> Path:
        dirs = self.split_dirs(root, split)
        if len(dirs) > 1:
            raise DataError(
                f"'{root}' has both {dirs[0].name}/ and {dirs[1].name}/; the video-folder layout "
                "reads one folder per split.",
                hint="Move the videos into one of them and remove the other.",
            )
        if not dirs:
            short, long = VIDEO_FOLDER_SPLITS[split]
            raise DataError(
                f"'{root}' has no {short}/ or {long}/ folder.",
                hint=f"Put the {split} videos in <root>/{short}/.",
            )
        return dirs[0]

    def _kinds(self, folder: Path) -> tuple[int, int]:
        """How many video files and frame folders ``folder`` holds directly."""
        files = folders = 0
        for p in folder.iterdir():
            if is_ignored(p):
                continue
            if self._is_video_file(p):
                files += 1
            elif p.is_dir() and _has_images(p):
                folders += 1
        return files, folders

    def _holds_video(self, folder: Path) -> bool:
        return any(
            self._is_video_file(p) or (p.is_dir() and _has_images(p))
            for p in folder.iterdir()
            if not is_ignored(p)
        )

    def detect(self, root: Path, split: str) -> bool:
        return any(self._holds_video(d) for d in self.split_dirs(root, split))

    def priority_for(self, root: Path, split: str) -> int:
        """``priority`` where no other layout reads the folder, else below ``videos``: when
        both split names exist, or for a ``training/`` (``testing/``) of video files only."""
        dirs = self.split_dirs(root, split)
        if len(dirs) != 1:
            return -1
        if dirs[0].name == VIDEO_FOLDER_SPLITS[split][0]:
            return self.priority
        return self.priority if self._kinds(dirs[0])[1] else -1

    def explain(self, root: Path, split: str) -> str:
        dirs = self.split_dirs(root, split)
        if len(dirs) != 1:
            return f"it reads {' and '.join(d.name + '/' for d in dirs)}"
        files, folders = self._kinds(dirs[0])
        name = dirs[0].name
        what = (
            f"{name}/ holds {files} video file{'s' * (files != 1)} and {folders} frame "
            f"folder{'s' * (folders != 1)}"
        )
        if folders and name != VIDEO_FOLDER_SPLITS[split][0]:
            return f"{what}, and only this layout reads frame folders directly in {name}/"
        return what

    def list_videos(self, root: Path, split: str) -> list[FrameSource]:
        folder = self._split_dir(root, split)
        videos: list[FrameSource] = []
        seen: dict[str, Path] = {}
        for path in _sorted_children(folder):
            if path.is_dir():
                if not _has_images(path) and any(p.is_dir() for p in path.iterdir()):
                    raise DataError(
                        f"'{path}' holds folders, not frame images.",
                        hint=f"A video of this layout is a video file or a folder of frames "
                        f"directly in {folder.name}/ ({folder.name}/<video>/<frame>.jpg): move "
                        "the frame folders up one level.",
                    )
                video: FrameSource = FrameFolder(path.name, path)
            elif self._is_video_file(path):
                video = VideoFile(path.stem, path)
            else:
                raise DataError(
                    f"'{path}' is neither a video file ({', '.join(self.extensions)}) nor a "
                    "folder of frames.",
                    hint=f"Move it out of {folder.name}/ (labels go in the dataset root: "
                    "labels.csv or labels/<video>.npy), or convert it to one of these formats.",
                )
            if video.name in seen:
                raise DataError(
                    f"'{seen[video.name]}' and '{path}' are both video '{video.name}'.",
                    hint="Rename one of them: a video's name is its file name without extension "
                    "or its folder's name, and labels are matched by name.",
                )
            seen[video.name] = path
            videos.append(video)
        return videos

    def label_dirs(self, root: Path, split: str) -> list[Path]:
        return [root]


@dataclass(frozen=True)
class Detection:
    """A format that detects a root's split: its registered name, the format, its priority."""

    name: str
    format: DatasetFormat
    priority: int


def _scan(root: Path, split: str) -> tuple[list[Detection], list[str]]:
    """Every registered format that detects ``root``'s ``split``, the highest priority first,
    and every format's layout line (for the hint when none does)."""
    import warnings

    from vadkit.plugins import get_host

    found: list[Detection] = []
    layouts: list[str] = []
    for entry in get_host().registry("datasets").entries():
        try:
            fmt = entry.create()
            layouts.append(f"{entry.name}: {fmt.layout or entry.summary}")
            if fmt.detect(root, split):
                found.append(Detection(entry.name, fmt, fmt.priority_for(root, split)))
        except VadkitError:
            raise
        except Exception as exc:  # a broken third-party format must not stop detection
            warnings.warn(
                f"Dataset format '{entry.name}' (plugin '{entry.plugin}') failed to detect "
                f"'{root}': {type(exc).__name__}: {exc}",
                stacklevel=3,
            )
    found.sort(key=lambda d: -d.priority)
    return found, layouts


def _check_root(root: Path, split: str) -> None:
    check_split(split)
    if not root.is_dir():
        raise DataError(
            f"Dataset root '{root}' does not exist or is not a folder.",
            hint="Pass the folder that holds the dataset's training/ and testing/ parts.",
        )


def detect_formats(root: Path, split: str) -> list[Detection]:
    """Every registered format that detects ``root``'s ``split``, the preferred one first."""
    _check_root(root, split)
    return _scan(root, split)[0]


def resolve_format(root: Path, split: str, format: str | None = None) -> tuple[str, DatasetFormat]:
    """The registered format named ``format``, or the one that detects ``root``'s ``split``."""
    from vadkit.plugins import get_host

    _check_root(root, split)
    if format:
        fmt = get_host().registry("datasets").create(format)
        if not fmt.detect(root, split):
            raise DataError(
                f"'{root}' has no {split} videos in the '{format}' layout"
                + (f" ({fmt.layout})." if fmt.layout else "."),
                hint="Check the root folder, or leave out the format to detect it.",
            )
        return format, fmt
    found, layouts = _scan(root, split)
    if not found:
        raise DataError(
            f"'{root}' has no {split} videos in any known layout.",
            hint="Known layouts: " + "; ".join(layouts) + ". Pass the dataset's root folder, "
            "or name its format (`vadkit list datasets`).",
        )
    best = [d for d in found if d.priority == found[0].priority]
    if len(best) > 1:
        names = ", ".join(d.name for d in best)
        raise DataError(
            f"'{root}' matches several dataset formats for {split}: {names}.",
            hint="Name the format to use (format=NAME or --format NAME).",
        )
    return found[0].name, found[0].format
