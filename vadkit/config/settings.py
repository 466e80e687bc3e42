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
SCHEDULES = ("constant", "cosine")
WEIGHT_CHOICES = ("default", "last", "ema", "auto")
#: What ``weights = "auto"`` chooses by (``score.weights_criterion``): the lowest proxy loss on
#: the held-out videos, or the highest pseudo-AUROC on them (``vadkit validate``).
WEIGHT_CRITERIA = ("loss", "pseudo")
#: Streaming (``vadkit watch``): training windows scored by a calibration (evenly spread over all
#: training windows), and the percentile of the fused calibration scores used as alert threshold.
DEFAULT_WINDOWS = 512
DEFAULT_QUANTILE = 99.5
#: ``vadkit report``: segments are runs of frames whose fused score is above this quantile of
#: the run's pooled fused test scores (label-free), runs separated by fewer than
#: ``REPORT_SEGMENT_GAP`` frames are merged, and the ``REPORT_TOP_K`` with the highest peak are
#: shown with their frames.
REPORT_SEGMENT_QUANTILE = 0.95
REPORT_SEGMENT_GAP = 5
REPORT_TOP_K = 6
#: ``vadkit report`` of several runs: the confidence of the t-interval of the mean over runs.
REPORT_CONFIDENCE = 0.95
#: Tables whose keys are free (component parameters, per-task numbers); all others are fixed.
OPEN_TABLES = frozenset(
    {
        "model.params",
        "tasks.weights",
        "tasks.params",
        "train.track_params",
        "score.error_params",
        "score.normalizer_params",
        "score.pseudo_params",
        "score.alphas",
        "score.presets",
    }
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
    #: Normal training videos held out for validation (chosen from train.seed; never trained on).
    val_videos: int = 0

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
    #: timm optimizer name (``timm.optim.list_optimizers()``); "adam" is the paper's.
    optimizer: str = "adam"
    weight_decay: float = 0.0
    #: Learning-rate schedule per optimizer step: "constant" (the paper) or "cosine" (timm).
    schedule: str = "constant"
    warmup_epochs: int = 0
    warmup_lr: float = 1e-6
    min_lr: float = 0.0
    #: Exponential moving average of the weights (timm.utils.ModelEmaV3), saved as "ema".
    ema: bool = False
    ema_decay: float = 0.999
    ema_warmup: bool = True
    #: With several processes (torchrun): BatchNorm statistics over the global batch.
    sync_bn: bool = True
    #: Run the training step's forward through ``torch.compile``.
    compile: bool = False
    #: Experiment trackers the run also logs to (``vadkit list trackers``); none: only the run
    #: folder's ``metrics.jsonl``.
    track: list[str] = field(default_factory=list)
    #: ``[train.track_params.NAME]``: the constructor parameters of tracker NAME.
    track_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Label-free validation (``vadkit validate``) at the end of every N-th epoch, recorded in
    #: RUN/validation.json (0: off). Needs data.val_videos >= 1.
    validate_every: int = 0


@dataclass
class ScoreSettings:
    error: str = ""  # empty: the recipe's
    normalizer: str = ""  # empty: the recipe's
    #: Constructor parameters of error measures, one table per measure
    #: (``[score.error_params.bpe]``, ``--set score.error_params.bpe.sigma=2``; see ``vadkit
    #: describe errors NAME``). Every measure a run scores with is built with them; a measure not
    #: listed keeps its defaults. Fixed before scoring, never chosen on test labels.
    error_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Constructor parameters of normalizers, one table per normalizer
    #: (``[score.normalizer_params.robust]``), used wherever that normalizer rescales scores.
    normalizer_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    alphas: dict[str, float] = field(default_factory=dict)
    #: Named fusion weights (``--alphas NAME``), e.g. the ones a paper found per dataset.
    presets: dict[str, dict[str, float]] = field(default_factory=dict)
    frames: str = "protocol"
    batch_size: int = 32
    precision: str = "auto"
    smooth: float = 0.0
    #: Weights scored: "default" (the EMA when train.ema, else the last checkpoint), "last",
    #: "ema", or "auto" (chosen by the validation loss on data.val_videos; see protocol page).
    weights: str = "default"
    #: Epoch checkpoints averaged by the "average" candidate of weights = "auto".
    average_last: int = 5
    #: precision = "auto" uses a faster precision only when, on this many training windows, the
    #: Spearman rank correlation of its per-window scores with fp32's is at least agreement_min
    #: for every task (fixed beforehand; see the protocol page).
    agreement_windows: int = 256
    agreement_min: float = 0.99
    #: What weights = "auto" chooses by: "loss" (validation loss) or "pseudo" (pseudo-AUROC).
    weights_criterion: str = "loss"
    #: Label-free validation (``vadkit validate``): windows scored on the held-out videos, half
    #: of them with a pseudo-anomaly of one of ``pseudo_kinds`` (empty: every registered one),
    #: drawn from ``pseudo_seed``.
    pseudo_windows: int = 256
    pseudo_kinds: list[str] = field(default_factory=list)
    pseudo_seed: int = 0
    #: Parameters of pseudo-anomaly kinds, a table per kind (``[score.pseudo_params.noise]``,
    #: ``--set score.pseudo_params.noise.std=4``; see ``vadkit describe pseudo_anomalies
    #: NAME``): subtler ones when the pseudo-AUROC saturates. A kind without a table keeps its
    #: defaults.
    pseudo_params: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class MapSettings:
    """Defaults of anomaly maps and pixel metrics (not part of a run's config)."""

    #: Longest side of the maps ``vadkit score --maps`` stores (float16), in pixels.
    stored_size: int = 64
    #: Opacity of the hottest pixels of an overlay.
    alpha: float = 0.5
    #: Overlay colour range: these percentiles of the fused maps of the frames drawn.
    percentiles: tuple[float, float] = (1.0, 99.5)
    #: Frames per second of the MP4 that ``vadkit maps`` writes.
    fps: int = 10
    #: Number of map-value quantiles at which RBDC and TBDC sample their curves.
    thresholds: int = 100


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
