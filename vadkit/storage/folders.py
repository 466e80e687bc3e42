"""Folders replaced as a whole: written aside, swapped into place, recovered after a crash.

A folder ``PARENT/NAME`` (a score set) is never written in place. Its new content is written to
``PARENT/.NAME.staging-PID``; when it is complete the live folder is renamed to
``PARENT/.NAME.old-PID``, the staging folder is renamed to ``PARENT/NAME`` and the old one is
removed. A process killed at any point leaves either the complete old folder or the complete new
one (two renames in one folder; a rename is atomic):

* killed while writing: the live folder is untouched; the staging folder of a dead process is
  removed by the next writer (:func:`recover`);
* killed between the two renames: the live folder is missing and ``.NAME.old-PID`` of a dead
  process holds it; the next writer or reader renames it back (:func:`recover`).

A process is dead when ``os.kill(pid, 0)`` says so (POSIX). Elsewhere every process is taken to be
alive, so leftovers stay on disk rather than risk removing a folder another process is writing.
A leftover that bears this process's own id is live only while this process writes that folder:
process ids are reused (a container's first process always has the same one).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from vadkit.storage.io import _fsync_dir as fsync_dir

STAGING = "staging"
OLD = "old"
_LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>staging|old)-(?P<pid>\d+)$")
_WRITING: set[str] = set()  # the folders this process is writing now (absolute paths)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (True where that cannot be told)."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _writer_alive(pid: int, target: Path) -> bool:
    if pid == os.getpid():
        return os.path.abspath(target) in _WRITING
    return pid_alive(pid)


def leftover_path(target: Path, kind: str, pid: int | None = None) -> Path:
    """``PARENT/.NAME.<kind>-<pid>`` for ``target = PARENT/NAME`` (this process by default)."""
    return target.parent / f".{target.name}.{kind}-{os.getpid() if pid is None else pid}"


def leftovers(parent: Path) -> list[tuple[Path, str, str, int]]:
    """``(path, name, kind, pid)`` of every staging and old folder in ``parent``."""
    if not parent.is_dir():
        return []
    found = []
    for entry in sorted(parent.iterdir()):
        match = _LEFTOVER.match(entry.name)
        if match and entry.is_dir():
            found.append((entry, match["name"], match["kind"], int(match["pid"])))
    return found


def recover(parent: Path, *, clean: bool = True) -> list[Path]:
    """Put back every live folder a dead process moved aside, and (``clean``) remove its other
    leftovers. Returns the folders put back."""
    restored = []
    for path, name, kind, pid in leftovers(parent):
        live = parent / name
        if _writer_alive(pid, live):
            continue
        if kind == OLD and not live.exists():
            os.replace(path, live)
            restored.append(live)
        elif clean:
            shutil.rmtree(path, ignore_errors=True)
    if restored:
        fsync_dir(parent)
    return restored


def wait_for_swap(target: Path, timeout: float = 2.0) -> None:
    """When ``target`` is missing because a live process is swapping it, wait for the swap; when
    the swapping process is dead, put the old folder back."""
    deadline = time.monotonic() + timeout
    while not target.exists():
        moving = [
            pid
            for _, name, kind, pid in leftovers(target.parent)
            if name == target.name and kind == OLD
        ]
        if not moving:
            return
        if not any(_writer_alive(pid, target) for pid in moving):
            recover(target.parent, clean=False)
            return
        if time.monotonic() > deadline:
            return
        time.sleep(0.02)


def swap_into_place(staging: Path, target: Path) -> None:
    """Replace the folder ``target`` (if any) by ``staging``: two renames, then the old one goes."""
    old = leftover_path(target, OLD)
    if old.exists():
        shutil.rmtree(old)
    moved = False
    if target.exists():
        os.replace(target, old)
        moved = True
    try:
        os.replace(staging, target)
    except BaseException:
        if moved:
            os.replace(old, target)
        raise
    fsync_dir(target.parent)
    if moved:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """An empty folder next to ``target`` to write into; on success it replaces ``target``.

    If the block raises, the staging folder is removed and ``target`` is left as it was.
    Leftovers of dead processes beside ``target`` are cleaned first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target.parent)
    staging = leftover_path(target, STAGING)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    key = os.path.abspath(target)
    _WRITING.add(key)
    try:
        yield staging
        swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _WRITING.discard(key)
