"""``RUN/validation.json``: the pseudo-AUROC of each checkpoint a run was validated on (no torch).

One entry per checkpoint name, weights (their SHA-256) and protocol (the pseudo-anomalies,
windows, seed, held-out videos, error measure, normalizer and fusion weights): validating the
same checkpoint the same way again replaces its entry, anything else is added. The file is rewritten whole and
atomically (:func:`vadkit.storage.io.atomic_write`) by a writer that holds the run's lock, so two
writers never lose each other's entries and a crash leaves the previous file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vadkit.errors import DataError
from vadkit.scoring.scorefiles import canonical_json, json_default
from vadkit.storage.io import write_text
from vadkit.storage.lock import run_lock

VALIDATION_FILE = "validation.json"
FORMAT_VERSION = 1
#: The keys of an entry that say how it was measured (with ``checkpoint`` and ``sha256``, its
#: identity).
PROTOCOL_KEYS = ("pseudo", "held_out", "error", "normalizer", "alphas")


def validation_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / VALIDATION_FILE


def read_validation(run_dir: str | Path) -> list[dict[str, Any]]:
    """The entries of ``RUN/validation.json``, oldest epoch first (none when the run was never
    validated); a :class:`DataError` naming the file when it cannot be read."""
    path = validation_path(run_dir)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"Cannot read the validation record {path}: {exc}.",
            hint=f"Move it aside and validate again: vadkit validate {run_dir} --all",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise DataError(
            f"{path} is not a vadkit validation record.",
            hint=f"Move it aside and validate again: vadkit validate {run_dir} --all",
        )
    return list(data["entries"])


def entry_identity(entry: Mapping[str, Any]) -> str:
    """What makes two entries the same measurement: the checkpoint, its weights and the
    protocol."""
    keys = [entry.get("checkpoint"), entry.get("sha256"), *(entry.get(k) for k in PROTOCOL_KEYS)]
    return canonical_json(keys)


def _order(entry: Mapping[str, Any]) -> tuple[int, str]:
    epoch = entry.get("epoch")
    return (epoch if isinstance(epoch, int) else -1, str(entry.get("checkpoint")))


def record_validation(run_dir: str | Path, entries: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Add ``entries`` to ``RUN/validation.json`` under the run's lock (an entry of the same
    weights and protocol is replaced); returns every entry now recorded."""
    new = [json.loads(json.dumps(dict(e), default=json_default)) for e in entries]
    with run_lock(run_dir, "vadkit validate"):
        kept = {entry_identity(e): e for e in read_validation(run_dir)}
        for entry in new:
            kept.pop(entry_identity(entry), None)
            kept[entry_identity(entry)] = entry
        every = sorted(kept.values(), key=_order)
        text = json.dumps({"format": FORMAT_VERSION, "entries": every}, indent=2) + "\n"
        write_text(validation_path(run_dir), text)
    return every
