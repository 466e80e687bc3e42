"""Get a registered dataset into ``DIR/NAME``: archives verified, extracted safely, laid out.

The steps, each safe to interrupt:

1. every archive is found (``--archive FILE``, or ``DIR/vadkit-archives/FILE`` from an earlier
   run) or fetched (:mod:`~vadkit.data.download.transfer`), and its SHA-256 checked: each time
   it is used, not only after a transfer. A file that fails the check is never used; one vadkit
   wrote is renamed ``FILE.bad-sha256``, one the user gave is left as it is;
2. the archives are extracted (:mod:`~vadkit.data.download.extract`) into a staging folder beside
   ``DIR/NAME`` (``DIR/.NAME.staging-PID``, removed on failure, or by the next run when the
   process was killed), their content moved into the download's layout, and the layout checked
   against the registered formats;
3. the staging folder is renamed ``DIR/NAME`` (one rename), with a record of what it was made
   from (``.vadkit-download.json``).

vadkit never writes into a ``DIR/NAME`` it did not make, and one process at a time downloads a
dataset into a ``DIR``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vadkit._version import __version__
from vadkit.data.download.extract import extract
from vadkit.data.download.manifest import Archive, DatasetDownload
from vadkit.data.download.registered import RegisteredDownload, find_download
from vadkit.data.download.reporter import Reporter, SilentReporter
from vadkit.data.download.transfer import TIMEOUT_S, fetch
from vadkit.errors import DataError
from vadkit.storage.folders import staged_folder
from vadkit.storage.io import file_digest, replace_file, write_text

#: The folder of ``DIR`` that keeps the archives vadkit downloaded (and their partial files).
ARCHIVES_DIR = "vadkit-archives"
#: The record a finished download leaves in its folder.
MARKER = ".vadkit-download.json"
#: Suffix of an archive kept aside because its SHA-256 is not the manifest's.
BAD_SUFFIX = ".bad-sha256"
#: The scratch folder, inside the staging folder, that the archives are extracted into.
SCRATCH = ".vadkit-extract"

GIVEN = "given with --archive"
KEPT = "kept from an earlier download"


@dataclass
class ArchiveUse:
    """One archive as it was used: where it was read and where it came from."""

    file: str
    sha256: str
    path: Path
    source: str

    def as_dict(self) -> dict[str, str]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "path": str(self.path),
            "source": self.source,
        }


@dataclass
class DownloadResult:
    """A dataset in place: its folder, the roots to check or train on, the archives used.

    ``existed`` is True when an earlier download had already finished the folder (nothing was
    fetched, verified or extracted this time).
    """

    name: str
    title: str
    folder: Path
    roots: list[Path]
    archives: list[ArchiveUse] = field(default_factory=list)
    existed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "folder": str(self.folder),
            "roots": [str(r) for r in self.roots],
            "archives": [a.as_dict() for a in self.archives],
            "existed": self.existed,
        }


def download_dataset(
    name: str,
    to: str | Path = ".",
    *,
    archives: Sequence[str | Path] = (),
    keep_archives: bool = True,
    reporter: Reporter | None = None,
    timeout: float = TIMEOUT_S,
) -> DownloadResult:
    """Download the registered dataset ``name`` into ``to/name`` and return where it is.

    ``archives`` are copies the user got by hand (matched to the manifest's archives by file
    name, else by checksum); they are read where they are, never moved. ``keep_archives=False``
    deletes the archives vadkit downloaded once the dataset is in place. Raises
    :class:`~vadkit.errors.DataError` (a wrong checksum, a refused archive, a folder in the way,
    a dataset that must be fetched by hand) or :class:`~vadkit.errors.DownloadError` (no mirror
    worked; the next call resumes).
    """
    registered = find_download(name)
    download = registered.download
    report = reporter or SilentReporter()
    to = Path(to).expanduser()
    folder = to / download.name
    given = _given_archives(download, archives)
    done = _finished(folder, download)
    if done is not None:
        return done
    store = to / ARCHIVES_DIR
    _refuse_manual(download, given, store)
    store.mkdir(parents=True, exist_ok=True)
    with _lock(store, download.name):
        done = _finished(folder, download)  # another process may have finished it meanwhile
        if done is not None:
            return done
        advice = _manual_advice(download)
        uses = [
            _obtain(a, given.get(a.file), store, report, advice, timeout) for a in download.archives
        ]
        _install(registered, uses, folder, report)
    if not keep_archives:
        _drop_downloaded(uses, store, download.name)
    return DownloadResult(download.name, download.title, folder, _roots(folder, download), uses)


def _roots(folder: Path, download: DatasetDownload) -> list[Path]:
    return [folder / r if r != "." else folder for r in download.roots]


# -- the archives --------------------------------------------------------------------------------
def _given_archives(download: DatasetDownload, paths: Sequence[str | Path]) -> dict[str, Path]:
    """``--archive`` files by the manifest's file name: by their own name, the only archive, or
    their checksum."""
    found: dict[str, Path] = {}
    for value in paths:
        path = Path(value).expanduser()
        if not path.is_file():
            raise DataError(
                f"Archive '{path}' does not exist or is not a file.",
                hint="Pass the path of the downloaded archive to --archive.",
            )
        match = next((a for a in download.archives if a.file == path.name), None)
        if match is None and len(download.archives) == 1:
            match = download.archives[0]
        if match is None:
            digest = file_digest(path)
            match = next((a for a in download.archives if a.sha256 == digest), None)
            if match is None:
                expected = ", ".join(f"{a.file} (sha256 {a.sha256})" for a in download.archives)
                raise DataError(
                    f"'{path}' is none of the archives of '{download.name}': its sha256 is "
                    f"{digest}.",
                    hint=f"Its archives are {expected}.",
                )
        if match.file in found:
            raise DataError(
                f"Two --archive files are '{match.file}': '{found[match.file]}' and '{path}'.",
                hint="Pass each archive once.",
            )
        found[match.file] = path
    return found


def _manual_advice(download: DatasetDownload) -> str:
    where = f" from {download.homepage}" if download.homepage else ""
    text = f"{download.manual} " if download.manual else ""
    return (
        f"{text}Or get the archive{where} yourself and pass it with "
        f"`vadkit data download {download.name} --archive FILE`."
    )


def _refuse_manual(download: DatasetDownload, given: dict[str, Path], store: Path) -> None:
    """A dataset with archives that have no mirror needs them given (or kept from before)."""
    missing = [
        a
        for a in download.archives
        if not a.urls and a.file not in given and not (store / a.file).is_file()
    ]
    if not missing:
        return
    files = ", ".join(f"{a.file} (sha256 {a.sha256})" for a in missing)
    why = download.manual or f"no mirror is known for {', '.join(a.file for a in missing)}"
    where = f" from {download.homepage}" if download.homepage else ""
    raise DataError(
        f"'{download.name}' cannot be downloaded automatically: {why}",
        hint=f"Get {files}{where}, then run `vadkit data download {download.name} --archive "
        "FILE` (one --archive per file); each is checked against its sha256.",
    )


def _verify(path: Path, archive: Archive, reporter: Reporter) -> str:
    task = f"verify {archive.file}"
    total = path.stat().st_size
    try:
        return file_digest(path, lambda done: reporter.progress(task, done, total))
    finally:
        reporter.finish(task)


def _set_aside(path: Path, dest: Path) -> Path:
    aside = dest.with_name(dest.name + BAD_SUFFIX)
    replace_file(path, aside)
    return aside


def _mismatch(what: str, digest: str, archive: Archive) -> str:
    return f"{what} does not match its checksum: sha256 {digest}, expected {archive.sha256}."


def _obtain(
    archive: Archive,
    given: Path | None,
    store: Path,
    reporter: Reporter,
    advice: str,
    timeout: float,
) -> ArchiveUse:
    """The archive, verified: given by the user, kept from an earlier run, or fetched now."""
    if given is not None:
        digest = _verify(given, archive, reporter)
        if digest != archive.sha256:
            raise DataError(
                _mismatch(f"'{given}', given for '{archive.file}',", digest, archive),
                hint="It is damaged, incomplete or another version of the file; it was not used "
                "and is left as it is. Get it again, or leave out --archive to download it.",
            )
        return ArchiveUse(archive.file, digest, given, GIVEN)
    dest = store / archive.file
    if dest.is_file():
        digest = _verify(dest, archive, reporter)
        if digest == archive.sha256:
            reporter.note(f"using {dest} from an earlier download (sha256 verified)")
            return ArchiveUse(archive.file, digest, dest, KEPT)
        aside = _set_aside(dest, dest)
        raise DataError(
            _mismatch(f"'{dest}'", digest, archive),
            hint=f"It was moved to '{aside}' and will not be used. Run the same command again to "
            "download it anew; delete the moved file when you no longer need it.",
        )
    part, url = fetch(archive, dest, reporter, advice=advice, timeout=timeout)
    digest = _verify(part, archive, reporter)
    if digest != archive.sha256:
        aside = _set_aside(part, dest)
        raise DataError(
            _mismatch(f"The file downloaded for '{archive.file}' from {url}", digest, archive),
            hint=f"It was moved to '{aside}' and will not be used. Run the same command again to "
            "download it anew; if the checksum differs again, the server's file changed or "
            f"something between altered it. {advice}",
        )
    replace_file(part, dest)
    return ArchiveUse(archive.file, digest, dest, f"downloaded from {url}")


def _drop_downloaded(uses: list[ArchiveUse], store: Path, name: str) -> None:
    """Delete the archives vadkit downloaded (never one given with ``--archive``)."""
    for use in uses:
        if use.source != GIVEN:
            use.path.unlink(missing_ok=True)
    (store / f".{name}.lock").unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        store.rmdir()  # only when empty


@contextlib.contextmanager
def _lock(store: Path, name: str) -> Iterator[None]:
    from filelock import FileLock, Timeout

    lock = FileLock(str(store / f".{name}.lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise DataError(
            f"Another `vadkit data download {name}` is running into '{store.parent}'.",
            hint="Wait for it to finish: one process at a time downloads a dataset into a folder.",
        ) from None
    try:
        yield
    finally:
        lock.release()


# -- the dataset folder --------------------------------------------------------------------------
def _finished(folder: Path, download: DatasetDownload) -> DownloadResult | None:
    """The result of an earlier download that finished ``folder``; None when there is none. A
    folder in the way that vadkit did not finish is an error: vadkit never writes into it."""
    if not folder.exists() and not folder.is_symlink():
        return None
    try:
        record = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or record.get("name") != download.name:
        raise DataError(
            f"'{folder}' already exists and is not a dataset that `vadkit data download` finished.",
            hint="vadkit never writes into a folder it did not make: move that one away, or "
            "choose another --to.",
        )
    uses = [
        ArchiveUse(str(a.get("file")), str(a.get("sha256")), Path(str(a.get("path"))), "")
        for a in record.get("archives", [])
        if isinstance(a, dict)
    ]
    return DownloadResult(
        download.name, download.title, folder, _roots(folder, download), uses, existed=True
    )


def _install(
    registered: RegisteredDownload, uses: list[ArchiveUse], folder: Path, reporter: Reporter
) -> None:
    download = registered.download
    with staged_folder(folder) as staging:
        scratch = staging / SCRATCH
        for use in uses:
            extract(use.path, scratch, reporter)
        _place(download, scratch, staging)
        shutil.rmtree(scratch)
        _check_layout(registered, staging, reporter)
        record = {
            "name": download.name,
            "title": download.title,
            "plugin": registered.plugin,
            "archives": [u.as_dict() for u in uses],
            "roots": list(download.roots),
            "vadkit": __version__,
            "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        write_text(staging / MARKER, json.dumps(record, indent=2) + "\n")
        if folder.exists() or folder.is_symlink():
            raise DataError(
                f"'{folder}' appeared while vadkit was extracting into a folder beside it; it is "
                "left as it is and the extracted files are removed.",
                hint="Move it away and run the same command again (the archives are kept).",
            )


def _place(download: DatasetDownload, scratch: Path, staging: Path) -> None:
    """Move the extracted tree into the download's layout, inside the staging folder."""
    for place in download.places:
        source = scratch / place.source if place.source != "." else scratch
        if not source.exists():
            raise DataError(
                f"The archives of '{download.name}' hold no '{place.source}'.",
                hint="The download description does not match its archives (or the publisher "
                "changed them); nothing was kept. Report it to the plugin that registers it.",
            )
        if place.dest == ".":
            if not source.is_dir():
                raise DataError(
                    f"'{place.source}' in the archives of '{download.name}' is not a folder, so "
                    "its content cannot be the dataset folder's."
                )
            for child in sorted(source.iterdir()):
                _move(child, staging / child.name, download)
        else:
            dest = staging / place.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            _move(source, dest, download)


def _move(source: Path, dest: Path, download: DatasetDownload) -> None:
    if dest.exists() or dest.is_symlink():
        raise DataError(
            f"Two places of the download '{download.name}' write '{dest.name}'.",
            hint="The download description's places overlap; report it to the plugin that "
            "registers it.",
        )
    source.rename(dest)


def _check_layout(registered: RegisteredDownload, staging: Path, reporter: Reporter) -> None:
    """Each root is read by a registered format (as ``vadkit data check`` will)."""
    from vadkit.data.formats import SPLITS, resolve_format

    download = registered.download
    for root in download.roots:
        path = staging / root if root != "." else staging
        found: dict[str, str] = {}
        problems: list[str] = []
        for split in SPLITS:
            try:
                found[split] = resolve_format(path, split)[0]
            except DataError as exc:
                problems.append(f"{split}: {exc.message}")
        if not found:
            raise DataError(
                f"The archives of '{download.name}' (plugin '{registered.plugin}') do not end in "
                f"a layout a dataset format reads at '{root}': " + " ".join(problems),
                hint="The download description's places or roots do not match its archives; "
                "nothing was kept. Report it to the plugin that registers it.",
            )
        where = download.name if root == "." else f"{download.name}/{root}"
        for split in SPLITS:
            if split not in found:
                reporter.note(f"{where}: no {split} videos found", warning=True)
