"""One writer per run folder: an exclusive lock that every command writing into a run takes.

``train``, ``score`` and ``search`` always write into the run; ``maps``, ``report`` and the
calibration of ``watch`` take the lock when what they write lies inside the run folder
(:func:`lock_runs_written`: a report written elsewhere leaves the run alone, and needs no lock).

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
from collections.abc import Callable, Iterable, Iterator
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


def _writer_here(run_dir: Path) -> bool:
    """Whether this process locks ``run_dir``: a folder (not a run: the caller says so), and
    in a torchrun launch only on rank 0 (``RANK``): the ranks are one writer, and rank 0 alone
    writes (the others would be refused by their own rank 0)."""
    other_rank = os.environ.get("RANK", "0").strip() not in ("", "0")  # torchrun's
    return run_dir.is_dir() and not other_rank


def locked(command: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an engine function whose first argument is a run folder: it runs under the lock
    (on rank 0 of a torchrun launch; see :func:`_writer_here`)."""

    def wrap(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            run_dir = Path(args[0] if args else kwargs["run_dir"])  # type: ignore[arg-type]
            if not _writer_here(run_dir):
                return function(*args, **kwargs)
            with run_lock(run_dir, command):
                return function(*args, **kwargs)

        return run

    return wrap


def is_inside(path: str | Path, folder: str | Path) -> bool:
    """True when ``path`` (which need not exist yet) is ``folder`` or lies inside it, links
    resolved."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


@contextlib.contextmanager
def lock_runs_written(
    target: str | Path, run_dirs: Iterable[str | Path], command: str
) -> Iterator[None]:
    """Hold the lock of every run folder of ``run_dirs`` that ``target`` (the file or folder
    the block writes) lies inside, for ``command``; none when it is written elsewhere.

    A command that reads runs and writes one file (``report``, ``maps``) is a writer of a run
    only when it writes into it. Raises :class:`RunLockedError` as :func:`run_lock` does.
    """
    chosen: dict[Path, Path] = {}  # one lock per folder, however it was named
    for run_dir in map(Path, run_dirs):
        if _writer_here(run_dir) and is_inside(target, run_dir):
            chosen.setdefault(run_dir.resolve(), run_dir)
    with contextlib.ExitStack() as stack:
        for run_dir in chosen.values():
            stack.enter_context(run_lock(run_dir, command))
        yield
