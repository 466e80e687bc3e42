"""Checkpoints of a run: weights (safetensors) and training state, saved and loaded safely.

Layout::

    RUN/checkpoints/last.safetensors     weights; metadata "vadkit" = JSON model spec
    RUN/checkpoints/last.state.pt        optimizer + progress (torch.save; loaded weights_only)
    RUN/checkpoints/epoch_0005.safetensors
    RUN/checkpoints/ema.safetensors      the weights' moving average (runs with train.ema)
    RUN/checkpoints/NAME.sha256          beside each of them: the SHA-256 of its bytes

Weights and training state are two files, so a checkpoint is saved in three atomic steps: the
weights go to ``checkpoints/.pending.safetensors``, then the state replaces ``last.state.pt``,
then the pending weights replace ``last.safetensors``. A process killed between two steps leaves
either the old pair (the pending file's step differs from the state's: it is dropped) or a new
state with its weights still pending (same step: they are moved into place) -- see
:func:`recover_checkpoint`. Each file's digest is recorded beside it as it is written or moved
(:mod:`vadkit.runs.digests`: the record matches the file at every moment of a save), and reading a
file checks it: a file damaged after it was saved is a CheckpointError naming it. Loading never
runs code: weights are safetensors, and the state is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from vadkit.errors import CheckpointError
from vadkit.runs import digests
from vadkit.runs.layout import CHECKPOINT_DIR, Progress
from vadkit.storage.io import file_digest, replace_file, write_bytes

LAST = "last"
#: Name of the moving average of the weights (``train.ema``), saved beside ``last``.
EMA = "ema"
PENDING = ".pending.safetensors"
STATE_SUFFIX = ".state.pt"
WEIGHTS_SUFFIX = ".safetensors"
STATE_FORMAT = 1


def _spec_difference(found: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    for key in ("backbone", "tasks", "clip_shape"):
        if json.dumps(found.get(key), sort_keys=True) != json.dumps(
            expected.get(key), sort_keys=True
        ):
            return (
                f"{key} is {json.dumps(found.get(key))}, expected {json.dumps(expected.get(key))}"
            )
    return None


@dataclass(frozen=True)
class LoadedWeights:
    """What was read from a weights file: its ``path``, the ``sha256`` of the bytes read, whether
    that digest was ``verified`` against the one recorded when the file was saved (False for a
    file from before digests) and the file's safetensors ``metadata``."""

    path: Path
    sha256: str
    verified: bool
    metadata: dict[str, str]


# -- weights ------------------------------------------------------------------------------------
def weights_bytes(model: torch.nn.Module, spec: Mapping[str, Any], progress: Progress) -> bytes:
    """The model's state dict as safetensors bytes, with the spec and progress as metadata."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "vadkit": json.dumps(spec, sort_keys=True),
        "progress": json.dumps(asdict(progress)),
        "format": "vadkit-weights",
    }
    return safetensors_save(tensors, metadata=metadata)


def _missing(p: Path) -> CheckpointError:
    return CheckpointError(
        f"Checkpoint '{p}' does not exist.",
        hint="Train first, or name a checkpoint that exists in the run's checkpoints/ folder.",
    )


def _unreadable(p: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(
        f"Checkpoint '{p}' cannot be read: {exc}",
        hint="The file is damaged or not a safetensors file; use another checkpoint.",
    )


def read_weights(
    path: str | Path, *, warn: bool = True
) -> tuple[dict[str, torch.Tensor], LoadedWeights]:
    """Tensors of a safetensors file and what was read (:class:`LoadedWeights`).

    The bytes are read once, checked against the digest recorded beside the file
    (:func:`vadkit.runs.digests.verify`; a file without one is read after a warning, unless
    ``warn`` is False) and parsed from memory, so the digest is that of the tensors returned. A
    missing, damaged or unparsable file is a CheckpointError naming it.
    """
    p = Path(path)
    if not p.is_file():
        raise _missing(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise _unreadable(p, exc) from None
    sha256 = digests.digest_of(data)
    verified = digests.verify(p, sha256, warn=warn)
    try:
        tensors = safetensors_load(data)
        size = int.from_bytes(data[:8], "little")  # the header safetensors has just parsed
        metadata = dict(json.loads(data[8 : 8 + size]).get("__metadata__") or {})
    except (SafetensorError, ValueError) as exc:
        raise _unreadable(p, exc) from None
    return tensors, LoadedWeights(p, sha256, verified, metadata)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The safetensors metadata of a weights file, from its header alone (not checked against
    its digest: it names what the file claims to hold, e.g. to name a mismatched pair)."""
    p = Path(path)
    if not p.is_file():
        raise _missing(p)
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            return dict(fh.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise _unreadable(p, exc) from None


def weights_spec(metadata: Mapping[str, str], path: str | Path) -> dict[str, Any]:
    try:
        spec = json.loads(metadata["vadkit"])
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(
            f"Checkpoint '{path}' has no vadkit model spec in its metadata.",
            hint="It was not written by vadkit; load it with safetensors directly.",
        ) from None
    if not isinstance(spec, dict):
        raise CheckpointError(f"Checkpoint '{path}' has a malformed model spec.", hint=None)
    return spec


def weights_progress(metadata: Mapping[str, str]) -> Progress | None:
    try:
        return Progress(**json.loads(metadata["progress"]))
    except (KeyError, TypeError, json.JSONDecodeError):
        return None


def load_weights(
    path: str | Path, model: torch.nn.Module, spec: Mapping[str, Any] | None = None
) -> LoadedWeights:
    """Load a safetensors checkpoint into ``model``; returns what was read (digest, metadata).

    Raises :class:`CheckpointError` naming the file when its bytes do not match the digest
    recorded beside it (:func:`read_weights`), and naming the mismatch when the checkpoint was
    made for another model: a different spec (when ``spec`` is given), or tensor names or shapes
    that differ from ``model``'s.
    """
    tensors, loaded = read_weights(path)
    metadata = loaded.metadata
    if spec is not None:
        difference = _spec_difference(weights_spec(metadata, path), spec)
        if difference:
            raise CheckpointError(
                f"Checkpoint '{path}' belongs to another model: {difference}.",
                hint="Load it with the config of the run that wrote it (its config.toml).",
            )
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    shapes = [
        f"{k} {tuple(tensors[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in tensors and tensors[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(
            f"missing tensors {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    if extra:
        problems.append(
            f"unexpected tensors {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}"
        )
    if shapes:
        problems.append(
            f"shapes differ: {'; '.join(shapes[:5])}{' ...' if len(shapes) > 5 else ''}"
        )
    if problems:
        raise CheckpointError(
            f"Checkpoint '{path}' does not fit this model: {'; '.join(problems)}.",
            hint="It was saved from a model with other components or parameters; load it with "
            "the config of the run that wrote it.",
        )
    with torch.no_grad():
        for key, value in own.items():
            value.copy_(tensors[key])
    return loaded


#: SHA-256 of a weights file's bytes: what a score set, a calibration or a bundle was made with.
weights_digest = file_digest


def weights_file_digest(path: str | Path) -> str:
    """:func:`weights_digest` of ``path``, checked against the digest recorded beside it."""
    p = Path(path)
    if not p.is_file():
        raise _missing(p)
    sha256 = file_digest(p)
    digests.verify(p, sha256)
    return sha256


def state_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's state dict (names, dtypes, shapes and bytes, in name order): the
    identity of weights that exist only in memory, such as an average of checkpoints."""
    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        tensor = value.detach().to("cpu").contiguous()
        h.update(f"{key}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        h.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


# -- training state -----------------------------------------------------------------------------
def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def state_path(run_dir: str | Path) -> Path:
    """The training state ``--resume`` continues from: ``RUN/checkpoints/last.state.pt``."""
    return checkpoint_dir(run_dir) / f"{LAST}{STATE_SUFFIX}"


def epoch_name(epoch: int) -> str:
    """Name of the checkpoint saved after ``epoch`` epochs (1-based): ``epoch_0005``."""
    return f"epoch_{epoch:04d}"


def checkpoint_path(run_dir: str | Path, checkpoint: str | int = LAST) -> Path:
    """``"last"``, ``"epoch_0005"``, ``5`` or a ``.safetensors`` path -> the weights file."""
    if isinstance(checkpoint, int) or str(checkpoint).isdigit():
        return checkpoint_dir(run_dir) / f"{epoch_name(int(checkpoint))}{WEIGHTS_SUFFIX}"
    name = str(checkpoint)
    if name.endswith(WEIGHTS_SUFFIX) and (os.sep in name or "/" in name):
        return Path(name)
    if name.endswith(WEIGHTS_SUFFIX):
        name = name[: -len(WEIGHTS_SUFFIX)]
    return checkpoint_dir(run_dir) / f"{name}{WEIGHTS_SUFFIX}"


def save_checkpoint(
    run_dir: str | Path,
    model: torch.nn.Module,
    spec: Mapping[str, Any],
    progress: Progress,
    *,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None = None,
    epoch_copy: int | None = None,
    extra: Mapping[str, Any] | None = None,
    ema: torch.nn.Module | None = None,
) -> Path:
    """Save weights and training state as ``last`` (see the module doc for the three steps).

    ``epoch_copy=n`` also writes the weights as ``epoch_000n.safetensors``; ``extra`` entries
    (tensors, numbers, strings, lists and dicts of them) are stored in the state; ``ema`` (the
    moving average of the weights) is written as ``ema.safetensors`` before the state (resuming
    restores the average from the state, which holds it too).
    """
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    data = weights_bytes(model, spec, progress)
    digest = digests.digest_of(data)
    pending = folder / PENDING
    _write(pending, data)
    if epoch_copy is not None:  # before the state: a resumed run can never skip writing it
        _write(folder / f"{epoch_name(epoch_copy)}{WEIGHTS_SUFFIX}", data)
    if ema is not None:
        _write(folder / f"{EMA}{WEIGHTS_SUFFIX}", weights_bytes(ema, spec, progress))
    state = {
        "format": STATE_FORMAT,
        "progress": asdict(progress),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else {},
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
        **(extra or {}),
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    _write(state_path(run_dir), buffer.getvalue())
    last = folder / f"{LAST}{WEIGHTS_SUFFIX}"
    digests.replace(last, [digest], lambda: replace_file(pending, last))
    digests.forget(pending)
    return last


def _write(path: Path, data: bytes) -> None:
    """Write ``path`` atomically with its digest recorded beside it."""
    digests.replace(path, [digests.digest_of(data)], lambda: write_bytes(path, data))


def _move(src: Path, dst: Path) -> None:
    """Replace ``dst`` by ``src`` (same folder), its recorded digest with it."""
    try:
        known = digests.recorded(src)
    except CheckpointError:  # an unreadable record goes as no record
        known = None
    digests.replace(dst, known, lambda: replace_file(src, dst))
    digests.forget(src)


def recover_checkpoint(run_dir: str | Path) -> None:
    """Finish or undo a checkpoint save that a killed process left half done (and remove the
    digest records whose file was never written)."""
    folder = checkpoint_dir(run_dir)
    pending = folder / PENDING
    last = folder / f"{LAST}{WEIGHTS_SUFFIX}"
    if pending.exists():
        try:
            _, loaded = read_weights(pending, warn=False)
            pending_progress = weights_progress(loaded.metadata)
            state_progress = Progress(**read_state(state_path(run_dir), warn=False)["progress"])
        except (CheckpointError, TypeError, KeyError):
            _drop_pending(pending, last)
        else:
            if pending_progress == state_progress:
                _move(pending, last)
            else:
                _drop_pending(pending, last)
    if folder.is_dir():
        digests.remove_orphans(folder)


def _drop_pending(pending: Path, last: Path) -> None:
    """Remove pending weights that no state goes with, unless they are the only weights left:
    then they are kept as ``recovered.safetensors`` (never delete the only copy), with their
    recorded digest."""
    if last.exists():
        pending.unlink(missing_ok=True)
        digests.forget(pending)
        return
    kept = pending.with_name(f"recovered{WEIGHTS_SUFFIX}")
    _move(pending, kept)
    warnings.warn(
        f"the only weights of the run were pending and their training state is unusable: "
        f"kept as '{kept}' (score them with --checkpoint recovered)",
        stacklevel=3,
    )


def read_state(path: str | Path, *, warn: bool = True) -> dict[str, Any]:
    """The training state saved beside the weights (``torch.load(weights_only=True)``), its
    bytes checked against their recorded digest first (as :func:`read_weights` does)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(
            f"Training state '{p}' does not exist.",
            hint="The run has no checkpoint to resume from; train it again without --resume.",
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CheckpointError(
            f"Training state '{p}' cannot be read: {exc}", hint="Resume from another run."
        ) from None
    digests.verify(p, digests.digest_of(data), warn=warn)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # PyTorch's text advises weights_only=False: never pass it on
        raise CheckpointError(
            f"Training state '{p}' cannot be read: it is not a vadkit checkpoint, or it was "
            "damaged or tampered with (vadkit loads only tensors and plain values from it; "
            "nothing in it was run).",
            hint="Resume from another run, or train again without --resume.",
        ) from None
    except Exception as exc:  # a damaged file: other errors come in many types
        raise CheckpointError(
            f"Training state '{p}' cannot be read: {type(exc).__name__}: {exc}",
            hint="The file is damaged or was not written by vadkit; resume from another run.",
        ) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise CheckpointError(
            f"Training state '{p}' is not a vadkit training state (format {STATE_FORMAT}).",
            hint="Resume only runs written by this version of vadkit.",
        )
    return state


def load_training_checkpoint(
    run_dir: str | Path, model: torch.nn.Module, spec: Mapping[str, Any]
) -> tuple[Progress, dict[str, Any]]:
    """Load ``last`` weights into ``model``; returns the progress and the state to restore.

    A half-done save is finished or undone first (:func:`recover_checkpoint`); weights and state
    from different steps are refused before either is used, and both files are checked against
    their recorded digests.
    """
    recover_checkpoint(run_dir)
    weights = checkpoint_dir(run_dir) / f"{LAST}{WEIGHTS_SUFFIX}"
    state = read_state(state_path(run_dir))
    progress = Progress(**state["progress"])
    claimed = weights_progress(read_metadata(weights))
    if claimed != progress:
        raise CheckpointError(
            f"'{weights}' (at {claimed}) and its training state (at {progress}) "
            "are from different steps.",
            hint="The run folder was changed by hand; resume from an untouched run.",
        )
    load_weights(weights, model, spec)
    return progress, state
