"""Fetch one archive over HTTP: mirrors in order, resumed with ``Range`` into ``FILE.part``.

Written on the standard library (``urllib``): neither pooch nor torchvision's download helpers
resume a transfer with a ``Range`` request or take several mirrors (see the download page of the
docs). The partial file is never used as an archive: the caller checks its SHA-256 first.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from vadkit._version import __version__
from vadkit.data.download.manifest import Archive
from vadkit.data.download.reporter import Reporter
from vadkit.errors import DownloadError

#: Suffix of the file a transfer writes into, beside the archive it becomes.
PART_SUFFIX = ".part"
#: Seconds a connection may stay silent before the mirror counts as failed.
TIMEOUT_S = 60.0
_BLOCK = 1 << 20
_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+|\*)$")
_UNSATISFIED_RANGE = re.compile(r"^bytes\s+\*/(\d+)$")


class MirrorFailed(Exception):
    """One mirror could not give (the rest of) the file; the message says why."""


def part_path(dest: Path) -> Path:
    """``DIR/FILE.part`` for the archive ``DIR/FILE``."""
    return dest.with_name(dest.name + PART_SUFFIX)


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _truncate(path: Path, size: int) -> None:
    with open(path, "ab") as fh:
        fh.truncate(size)


def _request(url: str, offset: int) -> urllib.request.Request:
    headers = {"User-Agent": f"vadkit/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers)


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    try:
        return urllib.request.urlopen(_request(url, offset), timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:  # the partial reaches (or passes) the end of the file
            match = _UNSATISFIED_RANGE.match(exc.headers.get("Content-Range", "").strip())
            raise _RangeUnsatisfied(int(match.group(1)) if match else None) from None
        raise MirrorFailed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise MirrorFailed(str(exc.reason)) from None
    except (OSError, http.client.HTTPException) as exc:
        raise MirrorFailed(f"{type(exc).__name__}: {exc}") from None


class _RangeUnsatisfied(Exception):
    def __init__(self, total: int | None) -> None:
        super().__init__(total)
        self.total = total


def _fetch_from(
    url: str,
    part: Path,
    expected: int | None,
    reporter: Reporter,
    task: str,
    timeout: float,
) -> None:
    """Complete ``part`` from ``url``, resuming at its current size."""
    offset = _size_of(part)
    if expected is not None and offset > expected:
        reporter.note(f"{part.name} is longer than the archive; starting again from byte 0")
        _truncate(part, 0)
        offset = 0
    if expected is not None and offset == expected and offset > 0:
        return  # a complete partial of an earlier run: its checksum decides
    try:
        response = _open(url, offset, timeout)
    except _RangeUnsatisfied as exc:
        if exc.total == offset:
            return
        reporter.note(f"{url} cannot resume {part.name} at byte {offset}; starting again")
        _truncate(part, 0)
        offset = 0
        try:
            response = _open(url, 0, timeout)
        except _RangeUnsatisfied:
            raise MirrorFailed("it refuses every byte range") from None
    with response:
        total = _read_total(response, offset, url, reporter)
        if total is None:
            total = expected
        if offset == 0 or response.status != 206:
            offset = 0
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith("text/html"):
            raise MirrorFailed("it answered a web page, not the archive")
        _copy(response, part, offset, total, reporter, task)


def _read_total(
    response: http.client.HTTPResponse, offset: int, url: str, reporter: Reporter
) -> int | None:
    """The file's full size from the response's headers (None when they do not say)."""
    if response.status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
        if match is None:
            raise MirrorFailed("it answered a partial response without a usable Content-Range")
        if int(match.group(1)) != offset:
            raise MirrorFailed(f"it answered from byte {match.group(1)}, not from byte {offset}")
        reporter.note(f"resuming at byte {offset:,} from {url}")
        return None if match.group(3) == "*" else int(match.group(3))
    if response.status != 200:
        raise MirrorFailed(f"HTTP {response.status} {response.reason}")
    if offset:
        reporter.note(f"{url} does not resume transfers; starting again from byte 0")
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _copy(
    response: http.client.HTTPResponse,
    part: Path,
    offset: int,
    total: int | None,
    reporter: Reporter,
    task: str,
) -> None:
    done = offset
    with open(part, "r+b" if part.exists() else "wb") as fh:
        fh.seek(offset)
        fh.truncate()
        reporter.progress(task, done, total)
        try:
            while True:
                try:
                    block = response.read(_BLOCK)
                except (OSError, http.client.HTTPException) as exc:  # reset, timeout, cut body
                    raise MirrorFailed(
                        f"the connection dropped after {_of(done, total)} ({type(exc).__name__})"
                    ) from None
                if not block:
                    break
                try:
                    fh.write(block)
                except OSError as exc:  # the disk, not the network: name the file
                    raise OSError(exc.errno, exc.strerror or str(exc), str(part)) from exc
                done += len(block)
                reporter.progress(task, done, total)
        finally:
            with contextlib.suppress(OSError):
                fh.flush()
                os.fsync(fh.fileno())
    if total is not None and done < total:
        raise MirrorFailed(f"the connection dropped after {_of(done, total)}")


def _of(done: int, total: int | None) -> str:
    return f"{done:,} of {total:,} bytes" if total is not None else f"{done:,} bytes"


def fetch(
    archive: Archive,
    dest: Path,
    reporter: Reporter,
    *,
    advice: str = "",
    timeout: float = TIMEOUT_S,
) -> tuple[Path, str]:
    """Fetch ``archive`` into ``dest``'s partial file, trying its mirrors in order.

    Returns the complete partial file and the mirror that finished it; ``dest`` itself is left
    to the caller (once the checksum holds). Raises :class:`DownloadError` when every mirror
    failed; the bytes received are kept, and the next call resumes from them (from any mirror:
    all serve the same file). ``advice`` ends the error's hint.
    """
    part = part_path(dest)
    task = f"download {archive.file}"
    failures: list[str] = []
    try:
        for i, url in enumerate(archive.urls):
            try:
                _fetch_from(url, part, archive.size, reporter, task, timeout)
            except MirrorFailed as exc:
                failures.append(f"{url}: {exc}")
                after = f"; trying {archive.urls[i + 1]}" if i + 1 < len(archive.urls) else ""
                reporter.note(f"mirror {url} failed: {exc}{after}", warning=True)
                continue
            return part, url
    finally:
        reporter.finish(task)
    kept = _size_of(part)
    hint = (
        f"The {kept:,} bytes received are kept in '{part}': run the same command again to resume."
        if kept
        else "Check the connection (or a proxy: urllib reads HTTP(S)_PROXY), then run the "
        "same command again."
    )
    raise DownloadError(
        f"'{archive.file}' could not be downloaded: " + "; ".join(failures) + ".",
        hint=f"{hint} {advice}".strip(),
    )
