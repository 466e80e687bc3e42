"""``bundle.json``: what an exported bundle holds, and the check that its files are intact.

The format is described in ``docs/reference/bundle.md``. :func:`read_bundle` refuses a folder
whose ``bundle.json`` is missing, of another format, or whose files' SHA-256 checksums differ from
the ones recorded at export (a copy that went wrong), naming the file and the fix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vadkit.errors import ConfigError, DataError
from vadkit.storage.io import file_digest

BUNDLE_FILE = "bundle.json"
#: Version of the bundle layout written by this vadkit.
BUNDLE_FORMAT = 1
#: The inference engines a bundle can name, fastest first as measured by
#: ``benchmarks/bench_runtime.py`` (``docs/benchmarks/runtime.md``, on the machine that page
#: names): the order tried when ``bundle.json`` names none that is installed.
RUNTIMES = ("openvino", "onnxruntime")
#: The runtime `vadkit export` records as a bundle's default: the fastest with fp32 parity
#: (OpenVINO only where it is installed and compiles the graph with parity, else ONNX Runtime).
DEFAULT_RUNTIME = RUNTIMES[0]
_REEXPORT = "Export the run again: vadkit export RUN --out DIR"
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


def is_bundle(path: str | Path) -> bool:
    """Whether ``path`` is a folder with a ``bundle.json`` (a bundle, not a run)."""
    return (Path(path) / BUNDLE_FILE).is_file()


@dataclass
class Bundle:
    """A bundle folder and its parsed ``bundle.json`` (:attr:`meta`)."""

    path: Path
    meta: dict[str, Any]

    @property
    def clip_length(self) -> int:
        return int(self.meta["clip_length"])

    @property
    def size(self) -> tuple[int, int]:
        height, width = self.meta["size"]
        return int(height), int(width)

    @property
    def color(self) -> str:
        return str(self.meta["color"])

    @property
    def channels(self) -> int:
        return int(self.meta["channels"])

    @property
    def tasks(self) -> list[str]:
        return list(self.meta["tasks"])

    @property
    def config(self) -> dict[str, Any]:
        """The producing run's resolved config (frame size, clip length, score defaults)."""
        return dict(self.meta["config"])

    @property
    def outputs(self) -> list[str]:
        """The graph's outputs, ``"task/key"``, in the graph's order."""
        return list(self.meta["outputs"])

    def file(self, name: str) -> Path:
        return self.path / name

    def model_file(self, runtime: str) -> Path | None:
        """The file ``runtime`` reads (None when the bundle has none for it)."""
        entry = self.meta.get("models", {}).get(runtime)
        return None if entry is None else self.path / entry["file"]


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


def read_bundle(path: str | Path, *, verify: bool = True) -> Bundle:
    """The bundle at ``path``; ``verify`` checks every recorded file's SHA-256."""
    folder = Path(path)
    meta_file = folder / BUNDLE_FILE
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"'{folder}' is not a bundle: it has no {BUNDLE_FILE}.", hint=_REEXPORT
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"Cannot read '{meta_file}': {exc}.", hint=_REEXPORT) from None
    if not isinstance(meta, dict) or meta.get("kind") != "vadkit-bundle":
        raise DataError(f"'{meta_file}' is not a vadkit bundle description.", hint=_REEXPORT)
    if meta.get("format") != BUNDLE_FORMAT:
        raise DataError(
            f"'{meta_file}' is bundle format {meta.get('format')!r}; this vadkit reads format "
            f"{BUNDLE_FORMAT}.",
            hint="Use the vadkit version that exported it, or export the run again.",
        )
    if verify:
        for name, digest in meta.get("files", {}).items():
            target = folder / name
            if not target.is_file():
                raise DataError(f"Bundle file '{target}' is missing.", hint=_COPY_HINT)
            if file_digest(target) != digest:
                raise DataError(
                    f"Bundle file '{target}' does not match its checksum in {BUNDLE_FILE} "
                    "(damaged or changed after export).",
                    hint=_COPY_HINT,
                )
    return Bundle(folder, meta)


_COPY_HINT = "Copy the whole bundle folder again (or export the run again)."
