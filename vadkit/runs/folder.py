"""Run folders: the files ``vadkit train`` writes, and :class:`RunFolder`, the one way to load a
run's config and weights.

Layout (every file written atomically)::

    RUN/config.toml                      the resolved config
    RUN/versions.json                    vadkit, python, torch and plugin versions
    RUN/metrics.jsonl                    one JSON object per logged step / epoch
    RUN/checkpoints/last.safetensors     weights; metadata "vadkit" = JSON model spec
    RUN/checkpoints/last.state.pt        optimizer + progress (torch.save; loaded weights_only)
    RUN/checkpoints/epoch_0005.safetensors
    RUN/checkpoints/NAME.sha256          the SHA-256 of each checkpoint file, beside it

Checkpoints are saved and read by :mod:`vadkit.runs.checkpoints` (their digests by
:mod:`vadkit.runs.digests`), the model a config describes is :mod:`vadkit.runs.model`, and
``versions.json`` is :mod:`vadkit.runs.versions`.
"""

from __future__ import annotations

import warnings
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from vadkit.config import Config, Settings, dumps_toml, load_toml, validate_config
from vadkit.errors import ConfigError
from vadkit.plugins import missing_plugin_error, missing_plugins
from vadkit.runs.checkpoints import (
    LAST,
    LoadedWeights,
    Progress,
    checkpoint_dir,
    checkpoint_path,
    load_training_checkpoint,
    load_weights,
    read_weights,
    state_path,
    weights_file_digest,
)
from vadkit.runs.layout import CONFIG_FILE
from vadkit.runs.model import build_model as build_model  # documented at this path too
from vadkit.runs.model import model_spec
from vadkit.runs.versions import changed_plugins, read_versions
from vadkit.storage.io import write_text

if TYPE_CHECKING:
    from vadkit.model import VADModel

#: Runs already warned about in this process (one warning per run).
_version_warned: set[Path] = set()


# -- config.toml --------------------------------------------------------------------------------
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
        missing = missing_plugins(read_versions(run_dir) or {}) if "Unknown " in exc.message else []
        if not missing:
            raise
        raise missing_plugin_error(exc, missing) from None


# -- the run folder -----------------------------------------------------------------------------
class RunFolder:
    """A run folder that ``vadkit train`` wrote: its config, its checkpoints, and the loading of
    its weights.

    Everything that loads a run's weights (``vadkit score``, ``watch``, ``export``,
    :func:`vadkit.load`, averaging, the choice of ``--weights auto``, ``--resume``) loads them
    through a RunFolder, so every load is checked alike: the config is read and validated once (a
    component whose plugin is not installed names the plugin and its ``pip install``), each file's
    bytes are checked against the SHA-256 recorded when it was saved (a damaged file is a
    :class:`~vadkit.errors.CheckpointError` naming it; a file saved before digests loads with one
    warning, and nothing is written into the run), weights made for another model are refused,
    and a plugin loaded here in another version than the run was trained with is named in one
    warning.

    ``config`` is the run's resolved config when the caller holds it already (the trainer's);
    otherwise it is read from ``config.toml`` on first use. :meth:`open` reads it at once.
    """

    def __init__(self, path: str | Path, config: Config | None = None) -> None:
        self.path = Path(path)
        self._config = config

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        """The run at ``path``, its config read and validated now (a ConfigError when ``path``
        is not a run, or the run needs a component that is not installed)."""
        run = cls(path)
        run.config  # noqa: B018 -- read now: fail before anything else is done
        return run

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- what the run is ---------------------------------------------------------------------
    @property
    def config(self) -> Config:
        """The resolved config (``config.toml``, read and validated once)."""
        if self._config is None:
            self._config = read_config(self.path)
        return self._config

    @cached_property
    def settings(self) -> Settings:
        """The resolved settings, typed."""
        return Settings.from_config(self.config)

    @cached_property
    def spec(self) -> dict[str, Any]:
        """The model spec its weights must carry (:func:`vadkit.runs.model.model_spec`)."""
        return model_spec(self.config)

    # -- where its files are -----------------------------------------------------------------
    @property
    def checkpoints(self) -> Path:
        """``RUN/checkpoints``."""
        return checkpoint_dir(self.path)

    @property
    def state_file(self) -> Path:
        """The training state ``--resume`` continues from (``checkpoints/last.state.pt``)."""
        return state_path(self.path)

    def checkpoint(self, checkpoint: str | int = LAST) -> Path:
        """The weights file of ``checkpoint``: ``"last"``, ``"ema"``, an epoch number or name
        (``5``, ``"epoch_0005"``), or the path of a ``.safetensors`` file."""
        return checkpoint_path(self.path, checkpoint)

    def has_checkpoint(self, checkpoint: str | int) -> bool:
        return self.checkpoint(checkpoint).is_file()

    def epoch_checkpoints(self) -> list[Path]:
        """Every ``epoch_NNNN`` weights file, oldest first."""
        return sorted(self.checkpoints.glob("epoch_*.safetensors"))

    def digest(self, checkpoint: str | int = LAST) -> str:
        """The SHA-256 of ``checkpoint``'s file, checked against the one recorded when it was
        saved (a CheckpointError names a missing or damaged file)."""
        return weights_file_digest(self.checkpoint(checkpoint))

    # -- loading -----------------------------------------------------------------------------
    def build_model(self) -> VADModel:
        """The untrained model of the run's config (seed torch first for a given init)."""
        return build_model(self.config)

    def read_weights(self, checkpoint: str | int) -> tuple[dict[str, torch.Tensor], LoadedWeights]:
        """The tensors of ``checkpoint``'s file, checked against its recorded digest (for
        callers that combine several files, such as averaging)."""
        return read_weights(self.checkpoint(checkpoint))

    def load_weights(self, model: torch.nn.Module, checkpoint: str | int = LAST) -> LoadedWeights:
        """Load ``checkpoint`` into ``model``; returns what was loaded (file, digest).

        A CheckpointError names the file when it is missing, damaged (its bytes differ from the
        digest recorded at save time) or made for another model than the run's config.
        """
        self._check_versions()
        return load_weights(self.checkpoint(checkpoint), model, self.spec)

    def load_model(
        self, checkpoint: str | int = LAST, *, device: str | torch.device = "cpu"
    ) -> tuple[VADModel, LoadedWeights]:
        """The run's model holding ``checkpoint``'s weights (in eval mode, on ``device``), and
        what was loaded (:meth:`load_weights`)."""
        model = self.build_model()
        loaded = self.load_weights(model, checkpoint)
        model.to(device)
        model.eval()
        return model, loaded

    def load_training_state(self, model: torch.nn.Module) -> tuple[Progress, dict[str, Any]]:
        """For ``--resume``: finish or undo a half-done save, load the last weights into
        ``model`` and return the progress and the training state (both files checked against
        their digests; :func:`vadkit.runs.checkpoints.load_training_checkpoint`)."""
        return load_training_checkpoint(self.path, model, self.spec)

    def _check_versions(self) -> None:
        key = self.path.resolve()
        if key in _version_warned:
            return
        _version_warned.add(key)
        changed = changed_plugins(self.path)
        if changed:
            warnings.warn(
                f"run '{self.path}' was trained with plugin {', '.join(changed)}: its scores may "
                "differ from those the run gave when it was trained.",
                stacklevel=3,
            )


def load_model(
    run_dir: str | Path, *, checkpoint: str | int = LAST, device: str | torch.device = "cpu"
) -> tuple[Config, VADModel]:
    """The resolved config and trained model of a run (in eval mode, on ``device``).

    ``checkpoint`` is ``"last"``, an epoch number or name (``5``, ``"epoch_0005"``), or a path
    to a ``.safetensors`` file. Raises :class:`~vadkit.errors.CheckpointError` when the file is
    missing, damaged or made for another model, and :class:`~vadkit.errors.ConfigError` when the
    run's config is unusable. The same as ``RunFolder.open(run_dir).load_model(...)``
    (:class:`RunFolder`).
    """
    run = RunFolder.open(run_dir)
    model, _ = run.load_model(checkpoint, device=device)
    return run.config, model
