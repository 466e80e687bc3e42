"""Frame sources: one video's frames, read from a folder of images or decoded from a file.

A :class:`FrameSource` yields a video's native frames in order; :func:`preprocessed_frames` turns
them into ``uint8`` arrays ``(H, W, C)`` of the requested size and colour, checking that every
frame decodes and that all frames of the video have the same size.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vadkit.errors import DataError

if TYPE_CHECKING:
    from PIL import Image

#: File extensions read as frames (lower case, with the dot).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
#: File extensions read as video files.
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")
#: Colour modes: channels per mode.
COLORS = {"gray": 1, "rgb": 3}
#: Resampling filters accepted by ``resample=``.
RESAMPLE = ("bilinear", "area", "bicubic", "nearest")

# Files that tools leave in folders and that are never frames.
_IGNORED = {"thumbs.db", "desktop.ini"}
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders the numbers inside names by value: ``2 < 10``, ``a2 < a10``."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p.lower()) for p in parts if p)


def is_ignored(path: Path) -> bool:
    """Hidden files and the clutter of file browsers, skipped everywhere."""
    return path.name.startswith(".") or path.name.lower() in _IGNORED


class FrameSource:
    """One video's frames, in order. Subclasses implement :meth:`native_frames`.

    ``name`` is the video's name (its folder or file stem), ``path`` where it lives.
    """

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = Path(path)

    @property
    def source(self) -> str:
        """Absolute path of the video, as a string (recorded in caches and runs)."""
        return str(self.path.resolve())

    def fingerprint(self) -> str:
        """Changes whenever the source's files change (names, sizes, modification times)."""
        raise NotImplementedError

    def expected_frames(self) -> int | None:
        """The number of frames if it is known without decoding, else None."""
        return None

    def native_frames(self) -> Iterator[tuple[str, Image.Image]]:
        """``(where, image)`` for every frame, in order; ``where`` names the file or frame."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {str(self.path)!r})"


def _stat_digest(items: list[tuple[str, os.stat_result]]) -> str:
    h = hashlib.sha1()
    for name, st in items:
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def frame_number(path: Path) -> int:
    """The frame number in a frame file's name (its last run of digits)."""
    match = _LAST_NUMBER.search(path.stem)
    if match is None:
        raise DataError(
            f"Frame file '{path}' has no frame number in its name.",
            hint="Frame files are numbered, e.g. 000.jpg, 001.jpg; rename or remove this file.",
        )
    return int(match.group(1))


class FrameFolder(FrameSource):
    """A video stored as one image file per frame, ordered by the number in each file name."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name, path)
        self._files: list[Path] | None = None

    @property
    def files(self) -> list[Path]:
        """The frame files in frame order; raises :class:`DataError` on a malformed folder."""
        if self._files is None:
            self._files = list_frame_files(self.path)
        return self._files

    def expected_frames(self) -> int:
        return len(self.files)

    def fingerprint(self) -> str:
        return _stat_digest([(f.name, f.stat()) for f in self.files])

    def native_frames(self) -> Iterator[tuple[str, Image.Image]]:
        for file in self.files:
            yield str(file), read_image(file)


def list_frame_files(folder: Path) -> list[Path]:
    """Frame files of a video folder, ordered by frame number (``2.jpg`` before ``10.jpg``)."""
    if not folder.is_dir():
        raise DataError(
            f"Video folder '{folder}' does not exist.", hint="Check the dataset root and layout."
        )
    frames: list[tuple[int, Path]] = []
    for entry in sorted(folder.iterdir()):
        if is_ignored(entry) or entry.is_dir():
            continue
        if entry.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DataError(
                f"'{entry}' is not a frame image ({entry.suffix or 'no extension'}), "
                f"but it is in the video folder '{folder}'.",
                hint=f"Move it out of the folder; frames are {', '.join(IMAGE_EXTENSIONS)} files.",
            )
        frames.append((frame_number(entry), entry))
    if not frames:
        raise DataError(
            f"Video folder '{folder}' has no frames.",
            hint="Extract the video's frames into it, or delete the empty folder.",
        )
    frames.sort(key=lambda t: t[0])
    for (n1, f1), (n2, f2) in itertools.pairwise(frames):
        if n1 == n2:
            raise DataError(
                f"'{f1.name}' and '{f2.name}' in '{folder}' have the same frame number {n1}.",
                hint="Keep one file per frame number.",
            )
    return [f for _, f in frames]


def read_image(path: Path) -> Image.Image:
    """Open and fully decode one image; a corrupt or non-image file raises :class:`DataError`."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return img.copy() if img.mode != "P" else img.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(
            f"Cannot decode frame '{path}': {exc}.",
            hint="The file is corrupt or not an image: re-extract it from the dataset archive.",
        ) from None


class VideoFile(FrameSource):
    """A video file decoded with PyAV (FFmpeg): .avi, .mp4, .mkv, ..."""

    def fingerprint(self) -> str:
        try:
            return _stat_digest([(self.path.name, self.path.stat())])
        except OSError as exc:
            raise DataError(
                f"Cannot read video file '{self.path}': {exc}.", hint="Check the path."
            ) from None

    def native_frames(self) -> Iterator[tuple[str, Image.Image]]:
        import av

        path = self.path
        hint = "The file is truncated or corrupt: copy or download it again, or re-encode it."
        try:
            container = av.open(str(path))
        except (av.FFmpegError, OSError) as exc:
            raise DataError(f"Cannot open video file '{path}': {exc}.", hint=hint) from None
        with container:
            if not container.streams.video:
                raise DataError(f"Video file '{path}' has no readable video stream.", hint=hint)
            stream = container.streams.video[0]
            declared = int(stream.frames or 0)
            rate = float(stream.average_rate or stream.guessed_rate or 0) or None
            duration = container.duration / 1e6 if container.duration else None
            count = 0
            last_time: float | None = None
            try:
                for frame in container.decode(stream):
                    count += 1
                    if frame.pts is not None and frame.time_base is not None:
                        last_time = float(frame.pts * frame.time_base)
                    yield f"{path} (frame {count - 1})", frame.to_image()
            except (av.FFmpegError, OSError, ValueError) as exc:
                raise DataError(
                    f"Video file '{path}' stops decoding after {count} frames: {exc}.", hint=hint
                ) from None
        if count == 0:
            raise DataError(f"Video file '{path}' has no decodable frames.", hint=hint)
        missing = _missing_frames(count, declared, last_time, rate, duration)
        if missing:
            raise DataError(
                f"Video file '{path}' ends early: {count} frames decoded, {missing}.", hint=hint
            )


def _missing_frames(
    count: int, declared: int, last_time: float | None, rate: float | None, duration: float | None
) -> str | None:
    """Describe the frames a truncated file lacks, or None when it looks complete."""
    slack = max(2, int(0.02 * max(count, declared)))
    if declared and count + slack < declared:
        return f"its header declares {declared}"
    if duration and rate and last_time is not None:
        expected = duration * rate
        decoded = (last_time + 1.0 / rate) * rate
        if decoded + slack < expected:
            return f"its header declares {duration:.2f} s (about {round(expected)} frames)"
    return None


def preprocess(
    image: Image.Image, size: tuple[int, int], color: str, resample: str = "bilinear"
) -> np.ndarray:
    """Convert to ``color`` and resize to ``size`` = (H, W): ``uint8`` array ``(H, W, C)``."""
    from PIL import Image

    image = image.convert("L" if color == "gray" else "RGB")
    h, w = size
    if image.size != (w, h):
        filters = {
            "bilinear": Image.Resampling.BILINEAR,
            "area": Image.Resampling.BOX,
            "bicubic": Image.Resampling.BICUBIC,
            "nearest": Image.Resampling.NEAREST,
        }
        image = image.resize((w, h), resample=filters[resample])
    array = np.asarray(image, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def preprocess_native(
    frame: np.ndarray | Image.Image, size: tuple[int, int], color: str
) -> np.ndarray:
    """A native frame held in memory (uint8 ``(H, W)``, ``(H, W, 1|3|4)`` or a PIL image) as
    :func:`preprocess` makes it: ``uint8 (H, W, C)`` at ``size`` and ``color``."""
    from PIL import Image

    if not isinstance(frame, Image.Image):
        array = np.asarray(frame)
        if array.dtype != np.uint8 or array.ndim not in (2, 3):
            raise DataError(
                f"A frame must be uint8 (H, W) or (H, W, C), not {array.dtype} {array.shape}.",
                hint="Convert it with .astype(np.uint8).",
            )
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        if array.ndim == 3 and array.shape[2] not in (3, 4):
            raise DataError(
                f"A frame has {array.shape[2]} channels; 1, 3 (RGB) or 4 (RGBA) expected.",
                hint="Pass grey or RGB frames.",
            )
        frame = Image.fromarray(np.ascontiguousarray(array))
    return preprocess(frame, size, color)


def same_size_frames(source: FrameSource) -> Iterator[tuple[str, Image.Image]]:
    """The source's native frames with where each comes from; a frame of another size than the
    first raises DataError naming both."""
    first: tuple[str, tuple[int, int]] | None = None
    for where, image in source.native_frames():
        if first is None:
            first = (where, image.size)
        elif image.size != first[1]:
            (w0, h0), (w1, h1) = first[1], image.size
            raise DataError(
                f"Frame '{where}' is {w1}x{h1} but the first frame of video '{source.name}' "
                f"('{first[0]}') is {w0}x{h0}.",
                hint="All frames of one video must have the same size: re-extract the video.",
            )
        yield where, image


def preprocessed_frames(
    source: FrameSource, size: tuple[int, int], color: str, resample: str = "bilinear"
) -> Iterator[np.ndarray]:
    """The source's frames, preprocessed one by one; mixed native sizes raise DataError."""
    for _, image in same_size_frames(source):
        yield preprocess(image, size, color, resample)


def check_size(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """``size`` as ``(H, W)``: an int means a square; both must be positive."""
    if isinstance(size, int):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise DataError(
            f"Frame size {size!r} is not (height, width).", hint="E.g. (256, 256)."
        ) from None
    if h <= 0 or w <= 0:
        raise DataError(f"Frame size {size!r} must be positive.", hint="E.g. (256, 256).")
    return h, w


def check_color(color: str) -> str:
    if color not in COLORS:
        raise DataError(f"Unknown colour mode {color!r}.", hint=f"Use one of: {', '.join(COLORS)}.")
    return color


def check_resample(resample: str) -> str:
    if resample not in RESAMPLE:
        raise DataError(
            f"Unknown resampling filter {resample!r}.", hint=f"Use one of: {', '.join(RESAMPLE)}."
        )
    return resample
