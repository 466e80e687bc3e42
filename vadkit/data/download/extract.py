"""Extract an archive so that nothing lands outside the folder it is extracted into.

Tar archives (plain, gzip, bzip2, xz) go through :mod:`tarfile`'s ``data`` filter (PEP 706),
which refuses ``..``, links that leave the folder and device files; absolute names, which the
filter would strip, are refused before it. Zip members
are each checked before anything is written: no absolute path, drive or ``..``, and a resolved
path inside the folder. Links are refused in both: no published dataset holds one, and a link
that points inside the scratch folder would point elsewhere once its folder is moved into the
dataset's layout.
"""

from __future__ import annotations

import gzip
import re
import stat
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePath

from vadkit.data.download.reporter import Reporter
from vadkit.errors import DataError

_DRIVE = re.compile(r"^[A-Za-z]:")


class _Refused(Exception):
    """A member that must not be extracted; the message says which and why."""


def _refuse(archive: Path, reason: str) -> DataError:
    return DataError(
        f"'{archive}' is refused: {reason}. Nothing of it is kept.",
        hint="An archive must only hold files and folders inside its own tree. Get it again "
        "from the dataset's publisher; if this one came from a plugin's mirror, report it.",
    )


def extract(archive: Path, into: Path, reporter: Reporter) -> None:
    """Extract ``archive`` (zip or tar) into the folder ``into``, reporting bytes read.

    Raises :class:`DataError` for a member that would land outside ``into``, a link, or an
    archive that cannot be read; what was extracted before stays in ``into`` for the caller to
    remove (vadkit extracts into a staging folder it deletes on failure).
    """
    into.mkdir(parents=True, exist_ok=True)
    task = f"extract {archive.name}"
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, into, reporter, task)
        else:
            _extract_tar(archive, into, reporter, task)
    except _Refused as exc:
        raise _refuse(archive, str(exc)) from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if isinstance(exc, tarfile.FilterError):
            member = exc.tarinfo.name if exc.tarinfo is not None else "a member"
            reason = f"'{member}' would be written outside its folder ({exc})"
            raise _refuse(archive, reason) from None
        raise DataError(
            f"'{archive}' cannot be read as a zip or tar archive: {exc}.",
            hint="The file is damaged or not an archive: delete it and download it again.",
        ) from None
    finally:
        reporter.finish(task)


def _check_data_filter() -> None:
    if not hasattr(tarfile, "data_filter"):
        raise DataError(
            f"This Python ({sys.version.split()[0]}) has no tarfile data filter, without which "
            "vadkit does not extract a tar archive.",
            hint="Use Python 3.11.4 or later (the filter came with PEP 706).",
        )


def _tar_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    """The data filter, after refusing links and absolute names (which it would strip)."""
    if member.issym() or member.islnk():
        raise _Refused(f"'{member.name}' is a link (to '{member.linkname}')")
    if member.name.startswith(("/", "\\")) or _DRIVE.match(member.name):
        raise _Refused(f"'{member.name}' is an absolute path")
    return tarfile.data_filter(member, dest)


def _extract_tar(archive: Path, into: Path, reporter: Reporter, task: str) -> None:
    _check_data_filter()
    size = archive.stat().st_size
    with open(archive, "rb") as raw, tarfile.open(fileobj=raw, mode="r:*") as tar:
        tar.errorlevel = 1  # a refused member raises (it is never skipped silently)

        def members() -> Iterator[tarfile.TarInfo]:
            for member in tar:
                reporter.progress(task, raw.tell(), size)
                yield member

        tar.extractall(into, members=members(), filter=_tar_filter)
        reporter.progress(task, size, size)


def _zip_member_problem(info: zipfile.ZipInfo, root: Path) -> str | None:
    name = info.filename
    if stat.S_ISLNK(info.external_attr >> 16):
        return f"'{name}' is a symbolic link"
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
        return f"'{name}' would be written outside its folder"
    if not (root / PurePath(*[p for p in parts if p])).resolve().is_relative_to(root):
        return f"'{name}' would be written outside its folder"
    return None


def _extract_zip(archive: Path, into: Path, reporter: Reporter, task: str) -> None:
    root = into.resolve()
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:  # every member is checked before anything is written
            problem = _zip_member_problem(info, root)
            if problem:
                raise _Refused(problem)
        total = sum(i.compress_size for i in infos)
        done = 0
        for info in infos:
            zf.extract(info, root)
            done += info.compress_size
            reporter.progress(task, done, total)
