"""Typed settings: the one place where every framework default is written.

A run's settings are a tree of dataclasses (:class:`Settings`): ``data``, ``model``, ``tasks``,
``train`` and ``score``, plus the name of the recipe they started from. The framework's defaults
below name no component: which backbone, tasks, error measure and normalizer a run uses comes from
a recipe (``vadkit list recipes``) or from the user. :data:`DEFAULTS` is the same tree as a nested
dict (what a TOML file holds); :func:`vadkit.config.validate_config` completes and checks a dict
once, and :meth:`Settings.from_config` turns the result into this typed object, which the engine
reads instead of re-typing defaults.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from typing import Any

Config = dict[str, Any]

COLORS = ("gray", "rgb")
#: Channels per frame for each ``data.color``.
CHANNELS = {"gray": 1, "rgb": 3}
FRAME_MODES = ("protocol", "all")
PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
#: Streaming (``vadkit watch``): training windows scored by a calibration (evenly spread over all
#: training windows), and the percentile of the fused calibration scores used as alert threshold.
DEFAULT_WINDOWS = 512
DEFAULT_QUANTILE = 99.5
#: Tables whose keys are free (component parameters, per-task numbers); all others are fixed.
OPEN_TABLES = frozenset(
    {"model.params", "tasks.weights", "tasks.params", "score.alphas", "score.presets"}
)


@dataclass
class DataSettings:
    root: str = ""  # empty: the synthetic default scene
    format: str = ""  # empty: detect
    size: list[int] = field(default_factory=lambda: [256, 256])
    color: str = "gray"
    clip_length: int = 16
    stride: int = 1
    labels: str = ""  # empty: detect next to the data

    @property
    def channels(self) -> int:
        return CHANNELS[self.color]

    @property
    def hw(self) -> tuple[int, int]:
        return (int(self.size[0]), int(self.size[1]))


@dataclass
class ModelSettings:
    backbone: str = ""  # empty: the recipe's
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskSettings:
    names: list[str] = field(default_factory=list)  # empty: the recipe's
    weights: dict[str, float] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class TrainSettings:
    epochs: int = 60
    batch_size: int = 16
    lr: float = 1e-4
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    workers: int = 0
    save_every: int = 1
    checkpoint_steps: int = 50
    log_steps: int = 10
    deterministic: bool = True
    #: Stop before training when the projected peak memory exceeds what the machine has.
    memory_check: bool = True
    #: With several processes (torchrun): BatchNorm statistics over the global batch.
    sync_bn: bool = True
    #: Run the training step's forward through ``torch.compile``.
    compile: bool = False


@dataclass
class ScoreSettings:
    error: str = ""  # empty: the recipe's
    normalizer: str = ""  # empty: the recipe's
    alphas: dict[str, float] = field(default_factory=dict)
    #: Named fusion weights (``--alphas NAME``), e.g. the ones a paper found per dataset.
    presets: dict[str, dict[str, float]] = field(default_factory=dict)
    frames: str = "protocol"
    batch_size: int = 32
    precision: str = "auto"
    smooth: float = 0.0


@dataclass
class Settings:
    """The resolved settings of a run, typed (build it with :meth:`from_config`)."""

    recipe: str = ""
    data: DataSettings = field(default_factory=DataSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    tasks: TaskSettings = field(default_factory=TaskSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    score: ScoreSettings = field(default_factory=ScoreSettings)

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        """Typed view of a config completed by :func:`~vadkit.config.validate_config`."""
        tables = {
            "data": DataSettings,
            "model": ModelSettings,
            "tasks": TaskSettings,
            "train": TrainSettings,
            "score": ScoreSettings,
        }
        parts: dict[str, Any] = {"recipe": str(config.get("recipe", ""))}
        for name, kind in tables.items():
            table = config.get(name, {})
            known = {f.name for f in fields(kind)}
            parts[name] = kind(**copy.deepcopy({k: v for k, v in table.items() if k in known}))
        return cls(**parts)

    def to_config(self) -> Config:
        """The nested dict a TOML file holds."""
        return asdict(self)

    @property
    def clip_shape(self) -> tuple[int, int, int, int]:
        """``(C, T, H, W)`` of the clips the run's model takes."""
        height, width = self.data.hw
        return (self.data.channels, int(self.data.clip_length), height, width)


#: The framework's defaults as a nested dict (derived from the dataclasses above).
DEFAULTS: Config = Settings().to_config()


def default_config() -> Config:
    """A fresh copy of :data:`DEFAULTS`."""
    return copy.deepcopy(DEFAULTS)
