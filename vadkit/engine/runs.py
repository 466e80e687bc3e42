"""Run folders: the model a config describes, its checkpoints, and loading them back.

Layout (every file written atomically)::

    RUN/config.toml                      the resolved config
    RUN/versions.json                    vadkit, python, torch and plugin versions
    RUN/metrics.jsonl                    one JSON object per logged step / epoch
    RUN/checkpoints/last.safetensors     weights; metadata "vadkit" = JSON model spec
    RUN/checkpoints/last.state.pt        optimizer + progress (torch.save; loaded weights_only)
    RUN/checkpoints/epoch_0005.safetensors

Weights and training state are two files, so a checkpoint is saved in three atomic steps: the
weights go to ``checkpoints/.pending.safetensors``, then the state replaces ``last.state.pt``,
then the pending weights replace ``last.safetensors``. A process killed between two steps leaves
either the old pair (the pending file's step differs from the state's: it is dropped) or a new
state with its weights still pending (same step: they are moved into place) -- see
:func:`recover_checkpoint`. Loading never runs code: weights are safetensors, and the state is
read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_save

from vadkit.config import Config, Settings, coerce_params, dumps_toml, load_toml, validate_config
from vadkit.engine.io import atomic_write, replace_file, write_bytes, write_text
from vadkit.errors import CheckpointError, ConfigError

CONFIG_FILE = "config.toml"
VERSIONS_FILE = "versions.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoints"
LAST = "last"
PENDING = ".pending.safetensors"
STATE_SUFFIX = ".state.pt"
WEIGHTS_SUFFIX = ".safetensors"
STATE_FORMAT = 1

if TYPE_CHECKING:
    from vadkit.model import VADModel


@dataclass
class Progress:
    """Where training stands: ``epoch`` in progress (0-based), ``batch`` batches of it done,
    ``step`` optimizer steps done in total."""

    epoch: int = 0
    batch: int = 0
    step: int = 0


# -- the model a config describes ---------------------------------------------------------------
def clip_shape(config: Config) -> tuple[int, int, int, int]:
    """``(C, T, H, W)`` of the clips a run's model takes."""
    return Settings.from_config(config).clip_shape


def model_spec(config: Config) -> dict[str, Any]:
    """What identifies a model: backbone and tasks with their parameters, clip shape, version."""
    from vadkit import __version__

    return {
        "backbone": {"name": config["model"]["backbone"], "params": config["model"]["params"]},
        "tasks": [
            {"name": n, "params": config["tasks"]["params"].get(n, {})}
            for n in config["tasks"]["names"]
        ],
        "clip_shape": list(clip_shape(config)),
        "vadkit": __version__,
    }


def build_model(config: Config) -> VADModel:
    """The untrained :class:`~vadkit.model.VADModel` of a resolved config (seed torch first)."""
    from vadkit.api import get_entry
    from vadkit.model import VADModel

    bb_entry = get_entry("backbones", config["model"]["backbone"])
    backbone = bb_entry.create(**coerce_params(bb_entry.load(), config["model"]["params"]))
    tasks = {}
    for name in config["tasks"]["names"]:
        entry = get_entry("tasks", name)
        params = config["tasks"]["params"].get(name, {})
        tasks[name] = entry.create(**coerce_params(entry.load(), params))
    return VADModel(backbone, tasks, clip_shape(config))


def _spec_difference(found: Mapping[str, Any], expected: Mapping[str, Any]) -> str | None:
    for key in ("backbone", "tasks", "clip_shape"):
        if json.dumps(found.get(key), sort_keys=True) != json.dumps(
            expected.get(key), sort_keys=True
        ):
            return (
                f"{key} is {json.dumps(found.get(key))}, expected {json.dumps(expected.get(key))}"
            )
    return None


# -- run folder files ---------------------------------------------------------------------------
def write_config(run_dir: str | Path, config: Config) -> Path:
    path = Path(run_dir) / CONFIG_FILE
    write_text(path, dumps_toml(config))
    return path


def read_config(run_dir: str | Path) -> Config:
    """The resolved config of a run, validated again (its components must still exist)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"'{run_dir}' is not a vadkit run folder: {path.name} is missing.",
            hint="Pass the folder that `vadkit train` wrote (its --out).",
        )
    raw = load_toml(path)
    try:
        return validate_config(raw)
    except ConfigError as exc:  # an unknown component (a RegistryError, wrapped by the config)
        missing = missing_plugins(run_dir) if "Unknown " in exc.message else []
        if not missing:
            raise
        raise _missing_plugin_error(exc, missing) from None


def versions(config: Config) -> dict[str, Any]:
    """Versions of vadkit, Python, torch and of each plugin whose components ``config`` uses."""
    from vadkit import __version__
    from vadkit.api import get_entry
    from vadkit.plugins import get_host

    used = [
        get_entry("backbones", config["model"]["backbone"]),
        *(get_entry("tasks", n) for n in config["tasks"]["names"]),
        get_entry("normalizers", config["score"]["normalizer"]),
    ]
    if config["score"]["error"]:
        used.append(get_entry("errors", config["score"]["error"]))
    if config.get("recipe"):
        used.append(get_entry("recipes", config["recipe"]))
    infos = get_host().plugins
    names = sorted({e.plugin for e in used})
    return {
        "vadkit": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "plugins": {n: (infos[n].version if n in infos else None) for n in names},
        "distributions": {n: (infos[n].distribution if n in infos else None) for n in names},
    }


def write_versions(run_dir: str | Path, config: Config) -> Path:
    path = Path(run_dir) / VERSIONS_FILE
    write_text(path, json.dumps(versions(config), indent=2) + "\n")
    return path


# -- a run that needs a plugin that is not loaded -----------------------------------------------
def missing_plugins(run_dir: str | Path) -> list[dict[str, Any]]:
    """Plugins that the run's ``versions.json`` records but that are not loaded now: ``name``,
    ``version``, ``distribution`` (None in older runs) and ``status`` (e.g. ``blocked``)."""
    from vadkit.plugins import get_host

    try:
        recorded = json.loads((Path(run_dir) / VERSIONS_FILE).read_text())
    except (OSError, ValueError):
        return []
    loaded, dists = get_host().plugins, recorded.get("distributions") or {}
    return [
        {"name": n, "version": v, "distribution": dists.get(n), "status": "not installed"}
        | ({"status": loaded[n].status} if n in loaded else {})
        for n, v in sorted((recorded.get("plugins") or {}).items())
        if n not in loaded or loaded[n].status != "loaded"
    ]


def _missing_plugin_error(exc: ConfigError, missing: list[dict[str, Any]]) -> ConfigError:
    said, fixes = [], []
    for p in missing:
        name, version, dist = p["name"], p["version"], p["distribution"]
        status = "failed to load" if p["status"] == "failed" else p["status"]
        said.append(f"plugin '{name}' {version or '(version not recorded)'} ({status} here)")
        if p["status"] == "blocked":
            fixes.append(f"stop blocking '{name}' (--block, VADKIT_BLOCK_PLUGINS)")
        elif dist:
            fixes.append(f"pip install {dist}{f'=={version}' if version else ''}")
        else:
            fixes.append(f"install the package that provides the vadkit plugin '{name}', or "
                         "load its module or file with --plugin")  # fmt: skip
    return ConfigError(
        f"{exc.message} This run was made with {'; '.join(said)}.",
        hint=f"To use the run, {'; '.join(fixes)}.",
    )


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


def read_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; a missing or damaged file is a CheckpointError."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(
            f"Checkpoint '{p}' does not exist.",
            hint="Train first, or name a checkpoint that exists in the run's checkpoints/ folder.",
        )
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint '{p}' cannot be read: {exc}",
            hint="The file is damaged or not a safetensors file; use another checkpoint.",
        ) from None
    return tensors, metadata


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
) -> dict[str, str]:
    """Load a safetensors checkpoint into ``model``; returns its metadata.

    Raises :class:`CheckpointError` naming the file and the mismatch when the checkpoint was made
    for another model: a different spec (when ``spec`` is given), or tensor names or shapes that
    differ from ``model``'s.
    """
    tensors, metadata = read_weights(path)
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
    return metadata


# -- training state -----------------------------------------------------------------------------
def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


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
) -> Path:
    """Save weights and training state as ``last`` (see the module doc for the three steps).

    ``epoch_copy=n`` also writes the weights as ``epoch_000n.safetensors``; ``extra`` entries
    (tensors, numbers, strings, lists and dicts of them) are stored in the state.
    """
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    data = weights_bytes(model, spec, progress)
    pending = folder / PENDING
    write_bytes(pending, data)
    if epoch_copy is not None:  # before the state: a resumed run can never skip writing it
        write_bytes(folder / f"{epoch_name(epoch_copy)}{WEIGHTS_SUFFIX}", data)
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
    with atomic_write(folder / f"{LAST}{STATE_SUFFIX}", "wb") as fh:
        torch.save(state, fh)
    last = folder / f"{LAST}{WEIGHTS_SUFFIX}"
    replace_file(pending, last)
    return last


def recover_checkpoint(run_dir: str | Path) -> None:
    """Finish or undo a checkpoint save that a killed process left half done."""
    folder = checkpoint_dir(run_dir)
    pending = folder / PENDING
    if not pending.exists():
        return
    state_path = folder / f"{LAST}{STATE_SUFFIX}"
    try:
        _, metadata = read_weights(pending)
        pending_progress = weights_progress(metadata)
        state_progress = Progress(**read_state(state_path)["progress"])
    except (CheckpointError, TypeError, KeyError):
        pending.unlink(missing_ok=True)
        return
    if pending_progress == state_progress:
        replace_file(pending, folder / f"{LAST}{WEIGHTS_SUFFIX}")
    else:
        pending.unlink(missing_ok=True)


def read_state(path: str | Path) -> dict[str, Any]:
    """The training state saved beside the weights (``torch.load(weights_only=True)``)."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(
            f"Training state '{p}' does not exist.",
            hint="The run has no checkpoint to resume from; train it again without --resume.",
        )
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types
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
    """Load ``last`` weights into ``model``; returns the progress and the state to restore."""
    recover_checkpoint(run_dir)
    folder = checkpoint_dir(run_dir)
    weights = folder / f"{LAST}{WEIGHTS_SUFFIX}"
    state = read_state(folder / f"{LAST}{STATE_SUFFIX}")
    metadata = load_weights(weights, model, spec)
    progress = Progress(**state["progress"])
    if weights_progress(metadata) != progress:
        raise CheckpointError(
            f"'{weights}' (at {weights_progress(metadata)}) and its training state (at {progress}) "
            "are from different steps.",
            hint="The run folder was changed by hand; resume from an untouched run.",
        )
    return progress, state


# -- the shared entry point for scoring ---------------------------------------------------------
def load_model(
    run_dir: str | Path, *, checkpoint: str | int = LAST, device: str | torch.device = "cpu"
) -> tuple[Config, VADModel]:
    """The resolved config and trained model of a run (in eval mode, on ``device``).

    ``checkpoint`` is ``"last"``, an epoch number or name (``5``, ``"epoch_0005"``), or a path
    to a ``.safetensors`` file. Raises :class:`CheckpointError` when the file is missing, damaged
    or made for another model, and :class:`ConfigError` when the run's config is unusable.
    """
    config = read_config(run_dir)
    model = build_model(config)
    load_weights(checkpoint_path(run_dir, checkpoint), model, model_spec(config))
    model.to(device)
    model.eval()
    return config, model
