"""Domain errors. Each carries the fix; only the CLI turns them into a message and an exit code."""

from __future__ import annotations

import errno
from pathlib import Path


class VadkitError(Exception):
    """Base class of every error vadkit raises on purpose.

    ``hint`` says what to do about it; the CLI prints message and hint and exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class RegistryError(VadkitError, KeyError):
    """An unknown, duplicate or malformed component name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return VadkitError.__str__(self)


class PluginError(VadkitError):
    """A plugin that cannot be loaded or that implements a hook wrongly."""


class ConfigError(VadkitError, ValueError):
    """A configuration value that does not fit the component it is meant for."""


class DataError(VadkitError, ValueError):
    """Data that cannot be read: a corrupt frame, a label file of the wrong length, ..."""


class DownloadError(VadkitError):
    """A dataset that could not be fetched: every mirror failed or the connection dropped.

    Exit code 1, not 2: nothing is wrong with the command or the data on disk, and the same
    command run again resumes where this one stopped."""

    exit_code = 1


class CheckpointError(VadkitError):
    """A checkpoint that is missing, corrupt or made for another model."""


class StorageError(VadkitError):
    """A file or folder the operating system refused: permission, a file in the path, a read-only
    file system, a full disk. :meth:`from_os_error` turns an :class:`OSError` into one line naming
    the path."""

    @classmethod
    def from_os_error(cls, exc: OSError) -> StorageError:
        code = exc.errno or 0
        reason = exc.strerror or str(exc) or type(exc).__name__
        if exc.filename is None:
            return cls(f"{reason} (the system did not say which file).", hint=_OS_HINTS.get(code))
        return cls(_os_message(code, str(exc.filename), reason), hint=_OS_HINTS.get(code))


def _file_in_path(path: str) -> str | None:
    """The first part of ``path`` that exists and is not a folder (what makes ENOTDIR)."""
    p = Path(path)
    for part in reversed([p, *p.parents]):
        try:
            if part.exists() and not part.is_dir():
                return str(part)
        except OSError:
            return None
    return None


def _os_message(code: int, path: str, reason: str) -> str:
    if code == errno.EACCES:
        return f"Permission denied: '{path}'."
    if code == errno.EPERM:
        return f"Operation not permitted on '{path}'."
    if code == errno.ENOTDIR:
        culprit = _file_in_path(path)
        if culprit is not None and culprit != path:
            return f"Cannot use '{path}': '{culprit}' is a file, not a folder."
        return f"Cannot use '{path}': a part of that path is a file, not a folder."
    if code == errno.EROFS:
        return f"Cannot write '{path}': it is on a read-only file system."
    if code == errno.ENOSPC:
        return f"No space left on the device to write '{path}'."
    if code == errno.EDQUOT:
        return f"Disk quota exceeded while writing '{path}'."
    if code == errno.ENOENT:
        return f"'{path}' does not exist."
    if code == errno.EISDIR:
        return f"'{path}' is a folder where a file was expected."
    if code == errno.ENAMETOOLONG:
        return f"The path '{path}' is too long."
    return f"Cannot use '{path}': {reason}."


_ELSEWHERE = "Choose another folder (for example another --out)"
_FULL = (
    "Free some space or write elsewhere; the files vadkit had finished writing are intact "
    "(it replaces a file only with a complete one)."
)
_OS_HINTS: dict[int, str] = {
    errno.EPERM: f"{_ELSEWHERE}, or change the permissions of that path.",
    errno.EACCES: f"{_ELSEWHERE}, or change the permissions of that path.",
    errno.ENOTDIR: f"{_ELSEWHERE}, or move that file out of the way.",
    errno.EROFS: f"{_ELSEWHERE} on a writable disk.",
    errno.ENOSPC: _FULL,
    errno.EDQUOT: _FULL,
    errno.ENOENT: "Check the path (a folder to write into must be one that can be created).",
    errno.EISDIR: "Pass the path of a file.",
    errno.ENAMETOOLONG: "Choose a shorter path.",
}
