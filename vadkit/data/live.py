"""Live video sources: a PyAV decoder in a background thread, for ``vadkit watch``.

:class:`FrameReader` opens a source PyAV can read (a file, ``rtsp://``, ``http://``, a capture
device with its input format), decodes and preprocesses its frames in a background thread and
hands them over in batches of whatever queued up. A source that breaks once opened (a decoding
error, a file that ends before its header says it does) raises :class:`SourceError` after the
frames read before it.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.data.sources import _missing_frames
from vadkit.errors import DataError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_END = object()
# What `vadkit score` says of a damaged file (vadkit.data.sources.VideoFile), said here too.
_FILE_HINT = "The file is truncated or corrupt: copy or download it again, or re-encode it."


class SourceError(DataError):
    """A source that breaks after it was opened: a decoding error, a truncated file, a stream
    that drops with an error.

    ``frames`` frames were read before it broke; ``reason`` says what happened, without the
    source's name. :func:`~vadkit.stream.session.run_stream` sets ``summary`` to the session's
    summary before it raises the error.
    """

    def __init__(
        self, message: str, *, hint: str | None = None, frames: int = 0, reason: str = ""
    ) -> None:
        super().__init__(message, hint=hint)
        self.frames = frames
        self.reason = reason or message
        self.summary: dict[str, Any] | None = None


def check_source(source: str | Path, input_format: str | None = None) -> str:
    """What to open for ``source``: a URL or device as given, a file path checked and expanded.

    Raises :class:`DataError` for a file that does not exist or a folder (before anything slow
    happens); URLs and devices are only checked when opened.
    """
    target = str(source)
    if _URL.match(target) or input_format:
        return target
    path = Path(target).expanduser()
    if not path.exists():
        raise DataError(
            f"Video source '{target}' does not exist.",
            hint="Give a video file, a URL (rtsp://, http://, ...) or a capture device "
            "with --input-format (e.g. /dev/video0 --input-format v4l2).",
        )
    if path.is_dir():
        raise DataError(f"Video source '{target}' is a folder.", hint="Give a video file or a URL.")
    return str(path)


class FrameReader:
    """Decodes a source with PyAV in a background thread, preprocessing each frame.

    ``source`` is a video file, a URL FFmpeg reads (``rtsp://``, ``http://``, ``file:``, ...) or,
    with ``input_format`` (e.g. ``v4l2``), a capture device. It is opened by the constructor
    (a :class:`DataError` when that fails). ``realtime`` paces the frames at the stream's own
    timing (for files); ``max_frames`` stops after that many. Frames queue up to ``queue_size``.

    A decoding error, or a file that ends before the length its header declares (checked as
    ``vadkit score`` checks it), is raised by :meth:`get` as a :class:`SourceError` once the
    frames decoded before it have been handed over.
    """

    def __init__(
        self,
        source: str | Path,
        *,
        preprocess: Callable[[Any], np.ndarray],
        realtime: bool = False,
        max_frames: int | None = None,
        input_format: str | None = None,
        options: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        queue_size: int = 64,
    ) -> None:
        import av

        self.source = str(source)
        self.preprocess = preprocess
        self.realtime = bool(realtime)
        self.max_frames = None if max_frames is None else int(max_frames)
        target = check_source(self.source, input_format)
        is_url = bool(_URL.match(target))
        #: A local file (not a URL or device): named and checked for truncation as by `score`.
        self.is_file = not (is_url or input_format)
        self._target = target
        hint = (
            "Check that the source is a video FFmpeg can read"
            + (", that the stream is up and reachable" if is_url or input_format else "")
            + "."
        )
        try:
            self.container = av.open(
                target,
                format=input_format or None,
                options=dict(options or {}),
                timeout=(timeout, timeout) if timeout else None,
            )
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise DataError(
                f"Cannot open video source '{self.source}': {exc}.", hint=hint
            ) from None
        if not self.container.streams.video:
            self.container.close()
            raise DataError(f"Video source '{self.source}' has no video stream.", hint=hint)
        self.stream = self.container.streams.video[0]
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.rate: float | None = float(rate) if rate else None
        self.width, self.height = int(self.stream.width), int(self.stream.height)
        self.frames_read = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(2, int(queue_size)))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "codec": self.stream.codec_context.name,
            "width": self.width,
            "height": self.height,
            "rate": self.rate,
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vadkit-frame-reader", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        import av

        start_wall: float | None = None
        first_time: float | None = None
        last_time: float | None = None
        capped = False
        try:
            for frame in self.container.decode(self.stream):
                if self._stop.is_set():
                    return
                stamp = float(frame.time) if frame.time is not None else None
                last_time = stamp if stamp is not None else last_time
                if self.realtime:
                    now = time.perf_counter()
                    if start_wall is None:
                        start_wall, first_time = now, stamp
                    if stamp is not None and first_time is not None:
                        offset = stamp - first_time
                    else:
                        offset = self.frames_read / self.rate if self.rate else 0.0
                    delay = start_wall + offset - now
                    if delay > 0 and self._stop.wait(delay):
                        return
                image = self.preprocess(frame.to_image())
                self.frames_read += 1
                if not self._put((image, stamp)):
                    return
                if self.max_frames is not None and self.frames_read >= self.max_frames:
                    capped = True
                    break
        except (av.FFmpegError, OSError, ValueError) as exc:
            self._put(self._broken(f"stops decoding after {self.frames_read} frames: {exc}"))
            return
        except BaseException as exc:  # never lose an error in the thread
            self._put(exc)
            return
        if self.is_file and not capped and self.frames_read:
            container = self.container
            duration = container.duration / 1e6 if container.duration else None
            declared = int(self.stream.frames or 0)
            missing = _missing_frames(self.frames_read, declared, last_time, self.rate, duration)
            if missing:
                self._put(self._broken(f"ends early: {self.frames_read} frames decoded, {missing}"))
                return
        self._put(_END)

    def _broken(self, reason: str) -> SourceError:
        """The error of a source that broke after :attr:`frames_read` frames, worded for a file
        as `vadkit score` words it."""
        if self.is_file:
            message = f"Video file '{self._target}' {reason}."
            hint = f"{_FILE_HINT} The frames before it were scored."
        else:
            message = f"Video source '{self.source}' {reason}."
            hint = "The stream dropped or sent damaged data; the frames before it were scored."
        return SourceError(message, hint=hint, frames=self.frames_read, reason=reason)

    def get(self, max_items: int, timeout: float = 0.1) -> list[tuple[np.ndarray, float | None]]:
        """Wait for at least one frame, then take any others already queued (up to
        ``max_items``). Returns ``[]`` at the end of the stream; raises a :class:`SourceError`
        when the source broke (after every frame read before it)."""
        items: list[tuple[np.ndarray, float | None]] = []
        while not items:
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                thread = self._thread
                if thread is not None and not thread.is_alive() and self._queue.empty():
                    return []
                continue
            if item is _END:
                self._queue.put(_END)  # later calls see the end too
                return items
            if isinstance(item, BaseException):
                raise item
            items.append(item)
        while len(items) < max_items:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _END or isinstance(item, BaseException):
                self._queue.put(item)
                break
            items.append(item)
        return items

    @property
    def backlog(self) -> int:
        """Frames decoded and waiting to be scored."""
        return self._queue.qsize()

    def stop(self) -> None:
        """Stop decoding and close the source."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._thread is None or not self._thread.is_alive():
            self.container.close()
