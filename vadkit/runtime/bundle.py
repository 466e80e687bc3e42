"""A bundle folder: its ``bundle.json`` (:class:`~vadkit.runtime.bundlemeta.BundleMeta`), sealed.

The format is described in ``docs/reference/bundle.md``. :func:`read_bundle` refuses a folder
whose ``bundle.json`` is missing, of another format, or has a field that is wrong
(:meth:`BundleMeta.from_json <vadkit.runtime.bundlemeta.BundleMeta.from_json>` names it); a
bundle whose files are not all inside it (a name with ``..``, an absolute path, a link out of the
folder), missing, or different from the SHA-256 recorded at export (a copy that went wrong, or an
edit); and a bundle whose normalizer comes from a plugin that is not loaded here, naming the
plugin and the ``pip install`` that brings it. :attr:`Bundle.digest` covers ``bundle.json``
itself: the score sets a bundle writes record it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vadkit.errors import ConfigError, DataError, RegistryError
from vadkit.runtime.bundlemeta import (
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    BUNDLE_KIND,
    REEXPORT,
    RUNTIMES,
    BundleMeta,
    canonical_digest,
    member_problem,
)
from vadkit.storage.io import file_digest

__all__ = [
    "BUNDLE_FILE",
    "BUNDLE_FORMAT",
    "DEFAULT_RUNTIME",
    "RUNTIMES",
    "RUN_ONLY_OPTIONS",
    "Bundle",
    "BundleMeta",
    "is_bundle",
    "read_bundle",
    "refuse_run_options",
]

#: The runtime `vadkit export` records as a bundle's default: the fastest with fp32 parity
#: (OpenVINO only where it is installed and compiles the graph with parity, else ONNX Runtime).
DEFAULT_RUNTIME = RUNTIMES[0]
_FROZEN = "a bundle holds the weights and calibration it was exported with"
#: The options of ``vadkit score`` and ``vadkit watch`` that apply to runs only, and why.
RUN_ONLY_OPTIONS = {
    "--checkpoint": _FROZEN,
    "--average-last": _FROZEN,
    "--weights": _FROZEN,
    "--calibrate": _FROZEN,
    "--calibration-data": _FROZEN,
    "--calibration-windows": _FROZEN,
    "--maps": "a bundle's graph outputs per-window scores, not anomaly maps",
    "--nproc": "a bundle is scored by one process without torch",
}
_COPY_HINT = "Copy the whole bundle folder again (or export the run again)."


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a folder with a ``bundle.json`` (a bundle, not a run)."""
    return (Path(path) / BUNDLE_FILE).is_file()


@dataclass(frozen=True)
class Bundle:
    """A bundle folder and its checked ``bundle.json`` (:attr:`meta`).

    :attr:`digest` is the SHA-256 of ``bundle.json``'s canonical content
    (:func:`~vadkit.runtime.bundlemeta.canonical_digest`, as read), recorded by the score sets
    the bundle writes (``bundle_sha256``).
    """

    path: Path
    meta: BundleMeta
    digest: str = field(default="")

    def __post_init__(self) -> None:
        if not self.digest:
            object.__setattr__(self, "digest", self.meta.digest)

    @property
    def clip_length(self) -> int:
        return self.meta.clip_length

    @property
    def size(self) -> tuple[int, int]:
        return self.meta.size

    @property
    def color(self) -> str:
        return self.meta.color

    @property
    def channels(self) -> int:
        return self.meta.channels

    @property
    def tasks(self) -> list[str]:
        return list(self.meta.tasks)

    @property
    def config(self) -> dict[str, Any]:
        """The producing run's resolved config (frame size, clip length, score defaults)."""
        return dict(self.meta.config)

    @property
    def outputs(self) -> list[str]:
        """The graph's outputs, ``"task/key"``, in the graph's order."""
        return list(self.meta.outputs)

    def file(self, name: str) -> Path:
        return self.path / name

    def model_file(self, runtime: str) -> Path | None:
        """The file ``runtime`` reads (None when the bundle has none for it)."""
        entry = self.meta.models.get(runtime)
        return None if entry is None else self.path / entry.file


def refuse_run_options(bundle_dir: str | Path, given: Mapping[str, bool]) -> None:
    """One :class:`ConfigError` naming every option in ``given`` (name -> whether it was given;
    names from :data:`RUN_ONLY_OPTIONS`) that was given for a bundle, why, and the fix."""
    names = [name for name, used in given.items() if used]
    if not names:
        return
    why = "; ".join(dict.fromkeys(RUN_ONLY_OPTIONS[n] for n in names))
    fixes = []
    if "--maps" in names:
        fixes.append("Score the run itself for anomaly maps: vadkit score RUN --maps")
    if "--nproc" in names:
        fixes.append("Leave out --nproc, or score the run the bundle came from: vadkit score RUN")
    if any(RUN_ONLY_OPTIONS[n] == _FROZEN for n in names):
        fixes.append(
            "Recalibrate or pick the weights on the run, then export it again: "
            "vadkit export RUN --out DIR"
        )
    raise ConfigError(
        f"{', '.join(names)} appl{'ies' if len(names) == 1 else 'y'} to runs, not to bundle "
        f"'{bundle_dir}': {why}.",
        hint=". ".join(fixes) + ".",
    )


def read_meta(path: str | Path) -> tuple[BundleMeta, dict[str, Any]]:
    """The checked ``bundle.json`` of the folder ``path`` and its JSON content as read."""
    folder = Path(path)
    meta_file = folder / BUNDLE_FILE
    try:
        raw = json.loads(meta_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"'{folder}' is not a bundle: it has no {BUNDLE_FILE}.", hint=REEXPORT
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"Cannot read '{meta_file}': {exc}.", hint=REEXPORT) from None
    if not isinstance(raw, dict) or raw.get("kind") != BUNDLE_KIND:
        raise DataError(f"'{meta_file}' is not a vadkit bundle description.", hint=REEXPORT)
    found = raw.get("format")
    if found != BUNDLE_FORMAT:
        older = isinstance(found, int) and found < BUNDLE_FORMAT
        why = "its files are not all sealed nor its plugins recorded" if older else "it is newer"
        raise DataError(
            f"'{meta_file}' is bundle format {found!r}; this vadkit reads format "
            f"{BUNDLE_FORMAT} ({why}).",
            hint="Export the run again with this vadkit: vadkit export RUN --out DIR"
            if older
            else f"Use the vadkit version that exported it. {REEXPORT}",
        )
    return BundleMeta.from_json(raw, str(meta_file)), raw


def read_bundle(path: str | Path, *, verify: bool = True) -> Bundle:
    """The bundle at ``path``; ``verify`` checks that every file it records is inside it and
    matches its SHA-256. Its normalizers must be registered here (else a :class:`ConfigError`
    naming the plugin that brings them and its ``pip install``)."""
    folder = Path(path)
    meta, raw = read_meta(folder)
    if verify:
        for name, digest in meta.files.items():
            target = sealed_file(folder, name)
            if file_digest(target) != digest:
                raise DataError(
                    f"Bundle file '{target}' does not match its checksum in {BUNDLE_FILE} "
                    "(damaged or changed after export).",
                    hint=_COPY_HINT,
                )
    check_plugins(meta)
    return Bundle(folder, meta, canonical_digest(raw))


def sealed_file(folder: Path, name: str) -> Path:
    """``folder/name``, a file inside the bundle folder: a name that reaches out (``..``, an
    absolute path) or a link that points out of the folder is a :class:`DataError`."""
    why = member_problem(name)
    if why is not None:
        raise DataError(f"Bundle '{folder}' names the file {name!r}: {why}.", hint=REEXPORT)
    target = folder / name
    if not target.is_file():
        raise DataError(f"Bundle file '{target}' is missing.", hint=_COPY_HINT)
    inside = folder.resolve()
    if not target.resolve().is_relative_to(inside):
        raise DataError(
            f"Bundle file '{target}' is a link to '{target.resolve()}', outside the bundle.",
            hint="A bundle's files must be inside its folder: copy the whole bundle folder "
            "(with the files themselves, not links to them).",
        )
    return target


def check_plugins(meta: BundleMeta) -> None:
    """Refuse a bundle whose normalizer (the plugin code it runs: numpy and scikit-learn) is not
    registered here, naming the plugins it was made with that are not loaded and the fix, as
    loading a run does (:func:`vadkit.plugins.missing_plugin_error`). The other components are
    inside the graph."""
    from vadkit.api import get_entry
    from vadkit.plugins import missing_plugin_error, missing_plugins

    names = [meta.defaults.normalizer, meta.calibration.get("normalizer")]
    if meta.int8 is not None:
        names += [c.get("normalizer") for c in meta.int8.calibrations.values()]
    for name in dict.fromkeys(n for n in names if isinstance(n, str) and n):
        try:
            get_entry("normalizers", name)
        except RegistryError as exc:
            missing = missing_plugins(meta.plugin_record())
            if not missing:
                raise
            raise missing_plugin_error(exc, missing, "bundle") from None
