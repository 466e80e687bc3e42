"""The SHA-256 recorded beside each checkpoint file, and the check that a file still holds it.

Every file vadkit writes into ``RUN/checkpoints/`` (the weights ``last``, ``epoch_NNNN``, ``ema``,
``.pending`` and ``recovered``, and the training state ``last.state.pt``) gets a sidecar
``NAME.sha256`` when it is written, holding the SHA-256 of its bytes in the format of
``sha256sum`` (``cd RUN/checkpoints && sha256sum -c last.safetensors.sha256`` checks one by
hand). Reading a file compares its bytes with the sidecar: a file damaged after it was saved (a
bad disk, a broken copy, an edit) is a :class:`~vadkit.errors.CheckpointError` naming it, even
when its header still parses.

A sidecar lists one digest, or, while its file is being replaced, two: the new one and the old
one. :func:`replace` writes the sidecar with both before the file is replaced and with the new one
only after, so a process killed at any moment leaves a file that one of its recorded digests
matches. A file without a sidecar was written by a vadkit from before digests (or had its sidecar
removed): it is read with one warning, and reading it writes nothing.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from vadkit.errors import CheckpointError
from vadkit.storage.io import write_text

#: Suffix of a sidecar: ``last.safetensors`` -> ``last.safetensors.sha256``.
SUFFIX = ".sha256"

_HEX = re.compile(r"[0-9a-f]{64}")
#: Files already warned about in this process (one warning per file).
_warned: set[Path] = set()


class UnverifiedCheckpointWarning(UserWarning):
    """A checkpoint file was read without a recorded digest to check it against."""


def sidecar(path: str | Path) -> Path:
    """Where the digest of ``path`` is recorded: ``NAME.sha256`` beside it."""
    p = Path(path)
    return p.with_name(p.name + SUFFIX)


def digest_of(data: bytes) -> str:
    """SHA-256 of ``data`` (hex), as recorded in a sidecar."""
    return hashlib.sha256(data).hexdigest()


def recorded(path: str | Path) -> tuple[str, ...] | None:
    """The digests recorded for ``path`` (newest first), or None when it has no sidecar."""
    record = sidecar(path)
    try:
        text = record.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"The digest record '{record}' cannot be read: {exc}",
            hint="Restore the run folder from a copy, or delete the record to load the file "
            "unchecked.",
        ) from None
    digests = tuple(line.split()[0].lower() for line in text.splitlines() if line.strip())
    if not digests or not all(_HEX.fullmatch(d) for d in digests):
        raise CheckpointError(
            f"The digest record '{record}' is not a SHA-256 record (it was damaged or edited).",
            hint="Restore the run folder from a copy, or delete the record to load the file "
            "unchecked.",
        )
    return digests


def record(path: str | Path, digests: Sequence[str]) -> None:
    """Write the sidecar of ``path`` with ``digests`` (atomically, ``sha256sum`` format)."""
    name = Path(path).name
    write_text(sidecar(path), "".join(f"{d}  {name}\n" for d in dict.fromkeys(digests)))


def forget(path: str | Path) -> None:
    """Remove the sidecar of ``path`` (the file has gone, or moved under another name)."""
    sidecar(path).unlink(missing_ok=True)


def replace(path: Path, digests: Sequence[str] | None, put: Callable[[], None]) -> None:
    """Run ``put`` (which atomically replaces ``path`` by bytes whose SHA-256 is ``digests[0]``)
    so that the sidecar matches ``path`` at every moment: before ``put`` it lists the new digest
    and the old ones, after it the new one only. ``digests`` None: the new bytes have no record
    (the sidecar goes first, so that the old bytes are never called damaged)."""
    if digests is None:
        forget(path)
        put()
        return
    try:
        old = recorded(path) if path.exists() else ()
    except CheckpointError:  # an unreadable record: the old bytes were unverifiable already
        old = ()
    if old is not None:  # an existing file without a record stays without one until replaced
        record(path, [*digests, *old])
    put()
    record(path, digests)


def verify(path: str | Path, digest: str, *, warn: bool = True) -> bool:
    """Check ``digest`` (of the bytes just read from ``path``) against the one recorded.

    Returns True when it matches; False when ``path`` has no record, after one warning per file
    and process (``warn``). A digest that does not match is a CheckpointError naming the file.
    """
    p = Path(path)
    known = recorded(p)
    if known is None:
        if warn and p not in _warned:
            _warned.add(p)
            warnings.warn(
                f"'{p}' has no recorded SHA-256 ({sidecar(p).name} is missing: it was saved by a "
                "vadkit from before checkpoint digests, or not by vadkit): loaded without "
                "checking its bytes.",
                UnverifiedCheckpointWarning,
                stacklevel=3,
            )
        return False
    if digest not in known:
        raise CheckpointError(
            f"Checkpoint file '{p}' is damaged: its SHA-256 is {digest}, not the {known[0]} "
            f"recorded in {sidecar(p).name} when vadkit saved it.",
            hint="Its bytes changed after it was saved (a disk or copy error, or an edit); nothing "
            "was loaded from it. Use another checkpoint (--checkpoint epoch_NNNN), or copy the "
            "run again from a good source.",
        )
    return True


def remove_orphans(folder: Path) -> list[Path]:
    """Remove the sidecars in ``folder`` whose file does not exist (left by a process killed
    before it wrote the file, or after it moved it); returns them."""
    gone = []
    for record_path in sorted(folder.glob(f"*{SUFFIX}")):  # dot files too (the pending one)
        if not record_path.with_name(record_path.name[: -len(SUFFIX)]).exists():
            record_path.unlink(missing_ok=True)
            gone.append(record_path)
    return gone
