"""The frame cache: each video decoded once into a ``uint8`` file that is memory-mapped.

A cache entry is ``<cache>/frames/<key>.u8`` (raw ``(N, H, W, C)`` bytes) and its manifest
``<key>.json``. The key hashes the source path, the frame size, colour mode and resampling filter;
the manifest records the source's fingerprint (file names, sizes, modification times). An entry is
used only when its manifest exists, matches the source and the data file has the right length;
otherwise it is rebuilt. Both files are written under temporary names and renamed into place, data
first and manifest last, so a half-written entry is never used. Frames are decoded one at a time and
streamed to disk: memory stays bounded whatever the dataset's size.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vadkit.data.sources import COLORS, FrameSource, preprocessed_frames
from vadkit.errors import DataError

#: Bump when the cached bytes of the same source would differ (preprocessing changed).
CACHE_VERSION = 1
ENV_CACHE = "VADKIT_CACHE"


def default_cache_dir() -> Path:
    """``$VADKIT_CACHE``, else ``~/.cache/vadkit``."""
    env = os.environ.get(ENV_CACHE, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vadkit"


@dataclass(frozen=True)
class CacheEntry:
    """A complete cache entry: the data file and the frames' shape ``(N, H, W, C)``."""

    path: Path
    shape: tuple[int, int, int, int]
    built: bool  # True when this call decoded the video

    @property
    def num_frames(self) -> int:
        return self.shape[0]


def cache_key(source: FrameSource, size: tuple[int, int], color: str, resample: str) -> str:
    spec = json.dumps([CACHE_VERSION, source.source, list(size), color, resample])
    return hashlib.sha1(spec.encode()).hexdigest()[:24]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the half-written entries (``NAME.<pid>.<tag>.tmp``) of processes that are dead."""
    removed = []
    for path in folder.glob("*.tmp"):
        parts = path.name.split(".")
        if len(parts) >= 4 and parts[-3].isdigit() and not _alive(int(parts[-3])):
            try:
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    return removed


def _paths(cache_dir: Path, key: str) -> tuple[Path, Path]:
    folder = cache_dir / "frames"
    return folder / f"{key}.u8", folder / f"{key}.json"


def lookup(
    source: FrameSource,
    size: tuple[int, int],
    color: str,
    resample: str,
    cache_dir: Path,
    fingerprint: str | None = None,
) -> CacheEntry | None:
    """The valid cache entry for ``source``, or None (missing, stale or incomplete)."""
    data, manifest = _paths(cache_dir, cache_key(source, size, color, resample))
    try:
        meta = json.loads(manifest.read_text())
        shape = tuple(int(s) for s in meta["shape"])
        size_on_disk = data.stat().st_size
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if fingerprint is None:
        fingerprint = source.fingerprint()
    if (
        meta.get("version") != CACHE_VERSION
        or meta.get("fingerprint") != fingerprint
        or len(shape) != 4
        or size_on_disk != shape[0] * shape[1] * shape[2] * shape[3]
    ):
        return None
    return CacheEntry(data, (shape[0], shape[1], shape[2], shape[3]), built=False)


def build(
    source: FrameSource,
    size: tuple[int, int],
    color: str,
    resample: str,
    cache_dir: Path,
    on_frame: Callable[[], None] | None = None,
    fingerprint: str | None = None,
) -> CacheEntry:
    """Decode ``source`` frame by frame into a new cache entry, replacing any old one."""
    key = cache_key(source, size, color, resample)
    data, manifest = _paths(cache_dir, key)
    try:
        data.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"Cannot create the frame cache folder '{data.parent}': {exc}.",
            hint=f"Set {ENV_CACHE} to a writable folder, or pass cache_dir.",
        ) from None
    remove_stale_temporaries(data.parent)
    if fingerprint is None:
        fingerprint = source.fingerprint()
    tag = f".{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    tmp_data = data.with_name(data.name + tag)
    tmp_manifest = manifest.with_name(manifest.name + tag)
    count = 0
    try:
        with open(tmp_data, "wb") as fh:
            for frame in preprocessed_frames(source, size, color, resample):
                fh.write(frame.tobytes())
                count += 1
                if on_frame is not None:
                    on_frame()
        shape = (count, size[0], size[1], COLORS[color])
        meta = {
            "version": CACHE_VERSION,
            "source": source.source,
            "name": source.name,
            "fingerprint": fingerprint,
            "size": list(size),
            "color": color,
            "resample": resample,
            "shape": list(shape),
        }
        tmp_manifest.write_text(json.dumps(meta, indent=1))
        manifest.unlink(missing_ok=True)  # no moment where an old manifest vouches for new data
        os.replace(tmp_data, data)
        os.replace(tmp_manifest, manifest)
    finally:
        tmp_data.unlink(missing_ok=True)
        tmp_manifest.unlink(missing_ok=True)
    return CacheEntry(data, shape, built=True)
