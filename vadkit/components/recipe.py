"""The recipe contract: a method's settings, named and documented beside its components."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: When a recipe is used without being named: ``"datasets"`` when data is given, ``"synthetic"``
#: when the run trains on vadkit's synthetic scene (no data).
DEFAULT_ROLES = ("datasets", "synthetic")

#: The metrics a published result may name: the keys of each row of
#: :func:`vadkit.evaluation.evaluate.evaluate_scores` (:class:`vadkit.metrics.FrameMetrics`).
#: All are fractions in [0, 1]; the EER is the only one where lower is better.
PUBLISHED_METRICS = ("micro_auroc", "macro_auroc", "eer", "average_precision")


@dataclass(frozen=True)
class PublishedResult:
    """A number a method's paper reports, declared by the recipe that reproduces the method.

    ``vadkit report`` sets it beside what the runs of the recipe measured on the same dataset
    ("paper claims vs measured here"), with the settings in ``protocol`` that the runs do not
    share listed as protocol differences.

    Attributes:
        dataset: the benchmark, lower case (``"ped2"``, ``"avenue"``, ``"shanghaitech"``); a
            run is on it when the name of the data folder it was scored from is this name, or
            ends with it, letter case and punctuation ignored (``UCSDped2`` is ``ped2``).
        metric: one of :data:`PUBLISHED_METRICS` (``"micro_auroc"`` for the usual frame-level
            AUROC).
        value: on vadkit's scale, a fraction: a paper's "98.52 % AUROC" is ``0.9852``.
        source: where the number is printed, e.g. ``"Lohani et al., VISAPP 2023, Table 1"``.
        score: the score it is of: ``"fused"`` (the method's final score) or a task's name, for
            a number of one task's score alone.
        protocol: the settings the paper obtained it with, as dotted config keys (those of
            ``--set``), e.g. ``{"data.size": [256, 256], "train.epochs": 60}``; the
            evaluation's settings are named ``score.error``, ``score.normalizer``,
            ``score.alphas``, ``score.frames`` and ``score.smooth``. List what matters first.
        note: anything else a reader needs to weigh the number (one sentence).
    """

    dataset: str
    metric: str
    value: float
    source: str
    score: str = "fused"
    protocol: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""

    def __post_init__(self) -> None:
        if not self.dataset or self.dataset != self.dataset.lower():
            raise ValueError(f"published result: dataset {self.dataset!r} must be lower case")
        if self.metric not in PUBLISHED_METRICS:
            raise ValueError(
                f"published result: metric {self.metric!r} is not one of {PUBLISHED_METRICS}"
            )
        if not (isinstance(self.value, int | float) and math.isfinite(self.value)):
            raise ValueError(f"published result: value {self.value!r} is not a finite number")
        if not 0.0 <= self.value <= 1.0:
            raise ValueError(
                f"published result: value {self.value!r} is not a fraction (write 98.52 % as "
                "0.9852)"
            )
        if not self.source:
            raise ValueError("published result: name its source (paper, table)")

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "eer"


@dataclass(frozen=True)
class Recipe:
    """A named set of defaults that make a method work: what ``vadkit train --recipe`` starts from.

    A plugin registers a function that returns a Recipe (``register_recipes``); the function's
    docstring documents it (``vadkit describe recipes NAME``). A run records the recipe it started
    from; settings resolve as: the framework's defaults, then the recipe, then the config file,
    ``--set`` items and flags.

    Attributes:
        settings: a partial config, nested as a TOML file is (tables ``data``, ``model``,
            ``tasks``, ``train``, ``score``): backbone and its parameters, tasks with their loss
            weights and parameters, error measure, normalizer, frame size, clip length, ...
        presets: fusion weights by name (``vadkit evaluate --alphas NAME``), e.g. the weights a
            paper found for each dataset: ``{"ped2": {"vcr": 0.1, "ffp": 0.8, "prp": 1.0}}``.
        default_for: the roles in :data:`DEFAULT_ROLES` in which the recipe is used when none is
            named. At most one recipe of all plugins may claim each role.
        published: the numbers the method's paper reports (:class:`PublishedResult`), which
            ``vadkit report`` sets beside what the recipe's runs measure. Optional: a recipe
            without a paper declares none.
    """

    settings: Mapping[str, Any]
    presets: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    default_for: tuple[str, ...] = ()
    published: tuple[PublishedResult, ...] = ()
