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

Only folders vadkit can prove it made are touched: a staging folder gets the marker file
:data:`MARKER` when it is created, and a live folder gets one just before it is renamed aside
(removed again once the folder is back in place or swapped in). A folder of the same name shape
without a marker that names it (a user's ``.myset.staging-1``) is never removed or renamed.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from vadkit.storage.io import _fsync_dir as fsync_dir

STAGING = "staging"
OLD = "old"
#: The file inside a staging or moved-aside folder that proves vadkit made it (JSON: the live
#: folder's name, the kind and the writer's pid, as in the leftover's own name).
MARKER = ".vadkit-staged.json"
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


def mark(folder: Path, name: str, kind: str, pid: int | None = None) -> None:
    """Write :data:`MARKER` into ``folder``: it is (or is about to be renamed to) the ``kind``
    leftover of the live folder ``name`` written by process ``pid`` (this one by default)."""
    record = {"name": name, "kind": kind, "pid": os.getpid() if pid is None else pid}
    with open(folder / MARKER, "w", encoding="utf-8") as fh:
        json.dump(record, fh)
        fh.flush()
        os.fsync(fh.fileno())


def unmark(folder: Path) -> None:
    """Remove :data:`MARKER` from ``folder`` (a folder back in place, or swapped in)."""
    with contextlib.suppress(FileNotFoundError):
        (folder / MARKER).unlink()


def _marked(entry: Path, name: str, kind: str, pid: int) -> bool:
    """Whether ``entry`` holds the marker vadkit wrote for exactly this leftover."""
    if entry.is_symlink():
        return False
    try:
        record = json.loads((entry / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record == {"name": name, "kind": kind, "pid": pid}


def _remove_own(path: Path, name: str, kind: str) -> None:
    """Remove the leftover ``path`` that bears this process's id; refuse (an OSError naming it)
    when vadkit did not make it."""
    if not _marked(path, name, kind, os.getpid()):
        raise FileExistsError(errno.EEXIST, "a folder vadkit did not make is in the way", str(path))
    shutil.rmtree(path)


def leftovers(parent: Path) -> list[tuple[Path, str, str, int]]:
    """``(path, name, kind, pid)`` of every staging and old folder in ``parent`` that vadkit
    made (it holds the :data:`MARKER` naming it); other folders of that name shape are not
    vadkit's and are left out."""
    if not parent.is_dir():
        return []
    found = []
    for entry in sorted(parent.iterdir()):
        match = _LEFTOVER.match(entry.name)
        if not match or not entry.is_dir():
            continue
        name, kind, pid = match["name"], match["kind"], int(match["pid"])
        if _marked(entry, name, kind, pid):
            found.append((entry, name, kind, pid))
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
            unmark(live)
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
    if old.exists():  # this process's own id: an earlier process's, or an earlier swap
        _remove_own(old, target.name, OLD)
    moved = False
    if target.exists():
        mark(target, target.name, OLD)
        try:
            os.replace(target, old)
        except BaseException:
            unmark(target)
            raise
        moved = True
    try:
        os.replace(staging, target)
    except BaseException:
        if moved:
            os.replace(old, target)
            unmark(target)
        raise
    fsync_dir(target.parent)
    unmark(target)
    if moved:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def staged_folder(target: str | os.PathLike[str]) -> Iterator[Path]:
    """An empty folder next to ``target`` to write into; on success it replaces ``target``.

    If the block raises, the staging folder is removed and ``target`` is left as it was.
    Leftovers of dead processes beside ``target`` are cleaned first. The staging folder holds
    :data:`MARKER` until it is swapped in: a writer that lists what it wrote leaves it out.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    recover(target.parent)
    staging = leftover_path(target, STAGING)
    if staging.exists():  # this process's own id: an earlier process's, or an earlier try
        _remove_own(staging, target.name, STAGING)
    staging.mkdir()
    key = os.path.abspath(target)
    _WRITING.add(key)
    try:
        mark(staging, target.name, STAGING)
        yield staging
        swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _WRITING.discard(key)
