"""What a dataset download is: archives (mirrors, size, sha256) and where their content goes.

A :class:`DatasetDownload` is a plain, typed description; nothing here touches the network or the
disk. A plugin attaches it to a format it registers (``register(NAME, FACTORY,
download=DatasetDownload(...))`` in ``register_datasets``); ``vadkit data download NAME`` reads it.
Every field is checked when the object is made, so a wrong manifest fails in the plugin that
wrote it, naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from vadkit.errors import ConfigError

#: Download names follow component names: lower case letters, digits and ``_``.
NAME_RULE = re.compile(r"^[a-z][a-z0-9_]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _relative(value: str, what: str) -> str:
    """``value`` as a normalised relative POSIX path that stays inside its folder."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty relative path, not {value!r}.")
    if "\\" in value:
        raise ConfigError(f"{what} {value!r} uses '\\': write paths with '/'.")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise ConfigError(
            f"{what} {value!r} leaves its folder.",
            hint="Paths in a download description are relative and never contain '..'.",
        )
    return str(path)


@dataclass(frozen=True)
class Archive:
    """One file to fetch: its name, its mirrors (tried in order) and its SHA-256.

    ``urls`` may be empty: the archive is then never fetched, and ``vadkit data download NAME
    --archive FILE`` takes a copy the user got by hand. ``size`` (bytes) is None when it is not
    known; it only sizes the progress bar, the checksum decides.
    """

    file: str
    sha256: str
    urls: tuple[str, ...] = ()
    size: int | None = None

    def __post_init__(self) -> None:
        name = self.file
        if not isinstance(name, str) or not name or "/" in name or "\\" in name:
            raise ConfigError(f"Archive file {name!r} must be a plain file name (no folder).")
        if name.startswith(".") or name.endswith((".part", ".bad-sha256")):
            raise ConfigError(
                f"Archive file {name!r} is a name vadkit keeps for its own files.",
                hint="Name the archive as its publisher does (e.g. 'dataset.tar.gz').",
            )
        digest = str(self.sha256).strip().lower()
        if not _SHA256.match(digest):
            raise ConfigError(
                f"The sha256 of archive '{name}' is {self.sha256!r}, not 64 hexadecimal digits.",
                hint="Compute it with `sha256sum FILE` (or Python's hashlib.sha256).",
            )
        object.__setattr__(self, "sha256", digest)
        urls = (self.urls,) if isinstance(self.urls, str) else tuple(self.urls)
        for url in urls:
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ConfigError(f"Mirror {url!r} of archive '{name}' is not an http(s) URL.")
        object.__setattr__(self, "urls", urls)
        if self.size is not None and (
            isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0
        ):
            raise ConfigError(
                f"The size of archive '{name}' is {self.size!r}; give bytes, or None if unknown."
            )


@dataclass(frozen=True)
class Place:
    """Move ``source`` (a path in the extracted archives) to ``dest`` in the dataset folder.

    ``dest = "."`` moves the content of the folder ``source`` into the dataset folder itself;
    ``source = "."`` is the whole extracted tree.
    """

    source: str
    dest: str = "."

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", _relative(self.source, "Place source"))
        object.__setattr__(self, "dest", _relative(self.dest, "Place dest"))


@dataclass(frozen=True)
class DatasetDownload:
    """How to get one dataset: its archives and how their content maps to a layout.

    * ``archives``: fetched (or taken from ``--archive FILE``) and checked against their sha256
      each time they are used; then all of them are extracted into one scratch folder.
    * ``places``: what of the extracted tree goes where in the dataset folder (``DIR/NAME``);
      whatever no place names is left out. The tree must end in a layout a registered format
      reads (``vadkit data check``): vadkit checks that before the folder appears.
    * ``roots``: the dataset roots inside the folder, for ``vadkit data check ROOT`` and
      ``--data ROOT`` (``"."`` when the folder is the root; UCSD holds two, Ped1 and Ped2).
    * ``manual``: when set, where and how to get the archives by hand (a licence to accept, a
      host that often fails); shown when no mirror works, or at once when no archive has a URL.
    """

    name: str
    title: str
    archives: tuple[Archive, ...]
    places: tuple[Place, ...] = (Place(".", "."),)
    roots: tuple[str, ...] = (".",)
    homepage: str | None = None
    manual: str | None = None
    citation: str | None = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_RULE.match(self.name):
            raise ConfigError(
                f"Download name {self.name!r} is not a valid name.",
                hint="Names are lower case letters, digits and underscores, starting with a "
                "letter.",
            )
        archives = tuple(self.archives)
        if not archives or not all(isinstance(a, Archive) for a in archives):
            raise ConfigError(f"Download '{self.name}' needs one or more Archive objects.")
        files = [a.file for a in archives]
        if len(set(files)) != len(files):
            raise ConfigError(f"Download '{self.name}' names one archive file twice: {files}.")
        places = tuple(self.places)
        if not places or not all(isinstance(p, Place) for p in places):
            raise ConfigError(f"Download '{self.name}' needs one or more Place objects.")
        roots = tuple(_relative(r, f"Root of '{self.name}'") for r in self.roots)
        if not roots:
            raise ConfigError(f"Download '{self.name}' names no dataset root.")
        object.__setattr__(self, "archives", archives)
        object.__setattr__(self, "places", places)
        object.__setattr__(self, "roots", roots)
        object.__setattr__(self, "notes", tuple(self.notes))

    @property
    def automatic(self) -> bool:
        """Whether every archive has a mirror (else the user brings some with ``--archive``)."""
        return all(a.urls for a in self.archives)

    @property
    def size(self) -> int | None:
        """Bytes of all archives, or None when any size is unknown."""
        sizes = [a.size for a in self.archives]
        return None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
