"""One writer per run folder: an exclusive lock that ``train``, ``score`` and ``search`` take.

The lock is ``RUN/.vadkit.lock`` held with ``filelock`` (an OS file lock: the kernel releases it
when the holder exits or is killed). Beside it, ``RUN/.vadkit.lock.json`` says who holds it (pid,
host, command, since when), so a second writer is refused with one message naming the holder. A
holder that died leaves only that note behind: the next writer takes the lock and warns.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import os
import socket
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

from filelock import FileLock, Timeout

from vadkit.errors import ConfigError

P = ParamSpec("P")
R = TypeVar("R")

LOCK_FILE = ".vadkit.lock"
HOLDER_FILE = ".vadkit.lock.json"
#: The files of the lock in a locked folder (a folder's other content is its own).
LOCK_FILES = (LOCK_FILE, HOLDER_FILE)
_HELD: set[tuple[str, int]] = set()  # (folder, thread) of the locks this process holds


class RunLockedError(ConfigError):
    """Another process is writing the run folder."""


def _holder(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict[str, object]) -> str:
    if not holder:
        return "another process"
    return (
        f"pid {holder.get('pid')} on {holder.get('host')} "
        f"({holder.get('command')}, since {holder.get('since')})"
    )


def _remove_temporaries(folder: Path) -> None:
    """Temporary files of an atomic write (``.NAME.XXXX.tmp``) in the run folder and its
    checkpoints: with the lock held, no other writer exists, so they belong to a dead process."""
    for sub in (folder, folder / "checkpoints"):
        for path in sub.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                path.unlink()


@contextlib.contextmanager
def run_lock(run_dir: str | Path, command: str) -> Iterator[None]:
    """Hold the run folder's lock for ``command`` (e.g. ``"vadkit score"``) while the block runs.

    Raises :class:`RunLockedError` (exit 2 from the CLI) naming the holder when another live
    process holds it. A folder that does not exist is created for the lock, and removed again
    if the block leaves nothing else in it (a refused run leaves no folder behind). A thread
    that holds a folder's lock may take it again (``vadkit export`` holds the run's lock and
    calibrates it): the inner block runs under the outer lock.
    """
    folder = Path(run_dir)
    key = (os.path.realpath(folder), threading.get_ident())
    if key in _HELD:
        yield
        return
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    note = folder / HOLDER_FILE
    lock = FileLock(str(folder / LOCK_FILE), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunLockedError(
            f"'{folder}' is being written by {_describe(_holder(note))}.",
            hint="Wait for it to finish, or use another run folder; a run folder has one writer "
            "at a time.",
        ) from None
    try:
        stale = _holder(note)
        if stale:
            warnings.warn(
                f"the last writer of '{folder}', {_describe(stale)}, did not finish; "
                "taking over its lock",
                stacklevel=3,
            )
        _remove_temporaries(folder)
        note.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "command": command or " ".join(sys.argv),
                    "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                }
            ),
            encoding="utf-8",
        )
        _HELD.add(key)
        yield
    finally:
        _HELD.discard(key)
        with contextlib.suppress(OSError):
            note.unlink()
        lock.release()
        if created:
            with contextlib.suppress(OSError):
                (folder / LOCK_FILE).unlink(missing_ok=True)
                folder.rmdir()  # only when empty


def locked(command: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an engine function whose first argument is a run folder: it runs under the lock.

    In a torchrun launch only rank 0 (``RANK``) takes it: the ranks are one writer, and rank 0
    alone writes (the others would be refused by their own rank 0).
    """

    def wrap(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            run_dir = Path(args[0] if args else kwargs["run_dir"])  # type: ignore[arg-type]
            other_rank = os.environ.get("RANK", "0").strip() not in ("", "0")  # torchrun's
            if not run_dir.is_dir() or other_rank:  # not a run: the function says so
                return function(*args, **kwargs)
            with run_lock(run_dir, command):
                return function(*args, **kwargs)

        return run

    return wrap
