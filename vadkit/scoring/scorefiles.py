"""One video's score file and the identity that ties it to its score set (no torch).

Every file of a set records the SHA-256 of the weights that scored it and of the scoring
settings (:data:`SETTINGS_KEYS` of the set's record); :func:`identity_problem` says how a file
disagrees with its set. The record itself is sealed (:func:`seal_record`): the SHA-256 of all of
it, every value ``vadkit evaluate`` and ``vadkit report`` read (videos, frame counts, defaults,
error measures, left-out measures, ground truth, ...), is kept in its identity, and
:func:`check_record` refuses a record edited by hand. The layout is described in
:mod:`vadkit.scoring.scoreset`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from vadkit.errors import DataError

#: The record keys whose values make the scores what they are (hashed into the identity).
SETTINGS_KEYS = (
    *("source", "root", "split", "format", "files", "ground_truth", "ground_truth_at"),
    "frames_mode",
    *("clip_length", "size", "color", "tasks", "error_tasks", "errors", "defaults", "runtime"),
    "bundle_sha256",  # a bundle's score sets: the bundle.json that scored them
)
ID_KEYS = ("identity.weights_sha256", "identity.settings_sha256")
#: The identity key of the SHA-256 of the whole record (records of layout format 3 on).
RECORD_DIGEST = "record_sha256"
#: The first layout version whose records are sealed; records of format 2 hash their settings
#: only (they still load, checked as they were).
SEALED_SINCE = 3


def json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def canonical_json(data: Any) -> str:
    """The one text of ``data`` that is hashed: keys sorted, no spaces."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=json_default)


def settings_identity(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The scoring settings of a record (:data:`SETTINGS_KEYS`) and their SHA-256."""
    settings = {k: meta[k] for k in SETTINGS_KEYS if k in meta}
    text = canonical_json(settings)
    return {"settings": json.loads(text), "settings_sha256": sha256(text)}


def _record_digest(record: Mapping[str, Any]) -> str:
    identity = record.get("identity")
    unsealed = dict(record)
    if isinstance(identity, Mapping):
        unsealed["identity"] = {k: v for k, v in identity.items() if k != RECORD_DIGEST}
    return sha256(canonical_json(unsealed))


def seal_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` as the JSON data it is written as, with the SHA-256 of all of it (less that
    digest) in ``identity.record_sha256``: an edit of any value a reader uses is seen."""
    sealed: dict[str, Any] = json.loads(json.dumps(record, default=json_default))
    sealed["identity"][RECORD_DIGEST] = _record_digest(sealed)
    return sealed


def check_record(record: Mapping[str, Any], path: Path) -> None:
    """Raise :class:`DataError` naming ``path`` when the sealed record was edited by hand (a
    changed value, or a removed digest). Records of format 2 carry no seal; their settings are
    checked by :meth:`vadkit.scoring.record.ScoreSetRecord.expected_identity`."""
    identity = record.get("identity")
    recorded = identity.get(RECORD_DIGEST) if isinstance(identity, Mapping) else None
    version = record.get("format")
    old = isinstance(version, int) and not isinstance(version, bool) and version < SEALED_SINCE
    if recorded is None and old:
        return
    if recorded != _record_digest(record):
        what = "its digest is missing" if recorded is None else "it no longer matches its digest"
        raise DataError(
            f"The score set record {path} was edited by hand: {what}, so the scores and "
            "settings it describes cannot be trusted.",
            hint=f"Re-score the set: vadkit score {path.parent.parent.parent} (do not edit "
            "set.json by hand).",
        )


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_arrays(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    from vadkit.storage.io import atomic_write

    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def read_arrays(path: Path, name: str) -> dict[str, np.ndarray]:
    """Every array of a video's ``.npz`` file (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(
            f"Cannot read the scores of video '{name}' from {path}: {exc}.",
            hint="Re-score the run with `vadkit score RUN`.",
        ) from None


def identity_problem(arrays: Mapping[str, np.ndarray], expected: tuple[str, str]) -> str:
    if not all(k in arrays for k in ID_KEYS):
        return "it records no checkpoint: written by another version or by hand"
    weights, settings = (str(arrays[k]) for k in ID_KEYS)
    if weights != expected[0]:
        return f"checkpoint sha256 {weights[:12] or 'unknown'}, the set's is {expected[0][:12]}"
    if settings != expected[1]:
        return "scored with other settings"
    return ""


def drop_errors(
    folder: Path, videos: Iterable[tuple[str, str]], errors: set[str], default: str
) -> None:
    """Remove the arrays of ``errors`` from the file of every video ``(name, file)`` in
    ``folder`` (and the normalised and fused scores of the defaults when the default error
    measure is one of them)."""

    def dropped(key: str) -> bool:
        if key.startswith(("raw.", "norm.")) and key.rsplit(".", 1)[-1] in errors:
            return True
        return default in errors and (key.startswith("norm.") or key == "fused")

    for name, file in videos:
        path = folder / Path(file).name
        arrays = read_arrays(path, name)
        keep = {k: v for k, v in arrays.items() if not dropped(k)}
        if len(keep) != len(arrays):
            write_arrays(path, keep)
