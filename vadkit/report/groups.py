"""Runs grouped by what changes their numbers, so that only runs of one setting are averaged.

Two runs are in one group when they share the recipe, the dataset they were scored on and every
setting that changes the numbers: every key of their ``config.toml`` except those of
:data:`NOT_GROUPING` (the seed, which a seed study varies, and settings of speed, logging and
paths), with the evaluation's own settings (error measure, normalizer, fusion weights,
smoothing, frames mode: what ``evaluate`` used, under the config keys ``score.error``, ...), the
score set, the weights it scored (``last``, ``ema``, ...) and the ground-truth file's name. The
precision a scoring run chose (``score.precision = "auto"``) is not part of it: it is a
label-free choice made per run that keeps the ranking of the scores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vadkit.report.collect import RunData, metric_value, run_config
from vadkit.report.fmt import setting_text
from vadkit.report.spread import Spread, spread

#: Settings of ``config.toml`` that do not group runs: the seed (what a seed study varies),
#: speed, logging and paths (the data is named by :func:`dataset_name`), and the scoring
#: defaults the evaluation's own settings replace.
NOT_GROUPING = frozenset(
    {
        "train.seed",
        "train.device",
        "train.workers",
        "train.save_every",
        "train.checkpoint_steps",
        "train.log_steps",
        "train.memory_check",
        "train.deterministic",
        "train.channels_last",
        "train.compile",
        "data.root",
        "data.format",
        "data.labels",
        "score.batch_size",
        "score.presets",
        "score.weights",
    }
)
#: The evaluation's settings, under the config keys they override (the protocol's names).
EVALUATION_KEYS = {
    "score.error": "error",
    "score.normalizer": "normalizer",
    "score.alphas": "alphas",
    "score.smooth": "smoothing_sigma",
    "score.frames": "frames_mode",
}
#: The group's own keys that are not config keys.
SCORE_SET, WEIGHTS, GROUND_TRUTH, DATASET = "score set", "weights", "ground truth", "dataset"
SYNTHETIC = "synthetic"
METRICS = ("micro_auroc", "macro_auroc")
#: How many of the settings that set a group apart its label names (the page lists them all).
LABEL_SETTINGS = 3


def dataset_name(meta: Mapping[str, Any]) -> str | None:
    """The dataset a score set was scored on: ``"synthetic"`` for vadkit's synthetic scene,
    otherwise the data folder's name, lower case, letters and digits only (``UCSDped2`` ->
    ``"ucsdped2"``); None for video files."""
    root = meta.get("root")
    if meta.get("source") != "dataset" or not root:
        return None
    path = Path(str(root))
    if (path / "scene.json").is_file():
        return SYNTHETIC
    return normal_name(path.name) or None


def normal_name(name: str) -> str:
    """Lower case, letters and digits only: how dataset names are compared."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def is_dataset(found: str | None, name: str) -> bool:
    """Whether a run on ``found`` (:func:`dataset_name`) is on the benchmark ``name``: the same
    name, or one ending with it (``ucsdped2`` is ``ped2``)."""
    want = normal_name(name)
    return bool(found and want and (found == want or found.endswith(want)))


def flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; an empty table stays as ``{}``."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def run_settings(run: RunData) -> dict[str, Any]:
    """The run's settings as dotted keys: its ``config.toml``, the evaluation's settings over
    the scoring defaults (:data:`EVALUATION_KEYS`), the dataset, score set, weights and ground
    truth."""
    flat = {
        k: v
        for k, v in flatten(run_config(run)).items()
        if not any(k == s or k.startswith(s + ".") for s in EVALUATION_KEYS)
    }
    p = run.protocol.to_json()
    for key, name in EVALUATION_KEYS.items():
        value = p.get(name)
        if key == "score.smooth":
            value = float(value or 0.0)
        if isinstance(value, Mapping):
            flat.update(flatten(value, key + "."))
        else:
            flat[key] = value
    truth = p.get("ground_truth")
    flat[DATASET] = dataset_name(run.scores.meta.to_json())
    flat[SCORE_SET] = run.scores.name
    flat[WEIGHTS] = p.get("checkpoint")
    flat[GROUND_TRUTH] = Path(str(truth)).name if truth else None
    return flat


def lookup(settings: Mapping[str, Any], key: str) -> Any:
    """A setting by dotted key; a table (``score.alphas``) is gathered from its leaves; None
    when the run has none."""
    if key in settings:
        return settings[key]
    table = {k[len(key) + 1 :]: v for k, v in settings.items() if k.startswith(key + ".")}
    if not table:
        return None
    nested: dict[str, Any] = {}
    for dotted, value in table.items():
        node = nested
        *parts, last = dotted.split(".")
        for part in parts:
            node = node.setdefault(part, {})
        node[last] = value
    return nested


def _grouping(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in settings.items()
        if not any(k == s or k.startswith(s + ".") for s in NOT_GROUPING)
    }


def _key(settings: Mapping[str, Any]) -> str:
    return json.dumps(_grouping(settings), sort_keys=True, default=str)


@dataclass
class RunGroup:
    """Runs that share every setting that changes the numbers (``settings``: the first run's,
    as dotted keys); ``differing`` holds the settings by which the group differs from the
    other groups of the report, ``varying`` those that differ between its own runs (the seed)."""

    runs: list[RunData]
    settings: dict[str, Any]
    differing: dict[str, Any] = field(default_factory=dict)
    varying: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def recipe(self) -> str:
        return str(self.settings.get("recipe") or "")

    @property
    def dataset(self) -> str | None:
        value = self.settings.get(DATASET)
        return None if value is None else str(value)

    @property
    def label(self) -> str:
        """``recipe on dataset``, then the settings that set it apart from the other groups."""
        text = f"{self.recipe or 'no recipe'} on {self.dataset or 'video files'}"
        extra = [
            f"{k}={setting_text(v)}"
            for k, v in self.differing.items()
            if k not in ("recipe", DATASET)
        ]
        if len(extra) > LABEL_SETTINGS:
            extra = [*extra[:LABEL_SETTINGS], f"{len(extra) - LABEL_SETTINGS} more"]
        return text + (f" ({', '.join(extra)})" if extra else "")

    @property
    def scores(self) -> list[str]:
        """The scores of its runs' evaluations: each task alone, then ``fused``."""
        keys: list[str] = []
        for run in self.runs:
            results = {} if run.evaluation is None else run.evaluation.to_json()["results"]
            keys += [k for k in results if k not in keys]
        return [k for k in keys if k != "fused"] + (["fused"] if "fused" in keys else [])

    def spread(self, score: str, metric: str) -> Spread:
        """One metric of one score over the group's runs."""
        return spread([metric_value(r, score, metric) for r in self.runs])

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "recipe": self.recipe,
            "dataset": self.dataset,
            "runs": [r.label for r in self.runs],
            "run_dirs": [str(r.run_dir) for r in self.runs],
            "differing": self.differing,
            "varying": self.varying,
            "spread": {
                score: {m: self.spread(score, m).as_dict() for m in METRICS}
                for score in self.scores
            },
        }


def group_runs(runs: Sequence[RunData]) -> list[RunGroup]:
    """The runs grouped by the settings that change their numbers, in the order of their first
    run."""
    by_key: dict[str, RunGroup] = {}
    members: dict[str, list[dict[str, Any]]] = {}  # each group's runs' settings
    for run in runs:
        settings = run_settings(run)
        key = _key(settings)
        if key in by_key:
            by_key[key].runs.append(run)
        else:
            by_key[key] = RunGroup(runs=[run], settings=settings)
        members.setdefault(key, []).append(settings)
    groups = list(by_key.values())
    grouping = [_grouping(g.settings) for g in groups]
    apart = _differing_keys(grouping)
    for key, group, values in zip(by_key, groups, grouping, strict=True):
        group.differing = {k: values.get(k) for k in apart}
        mine = members[key]
        group.varying = {k: [s.get(k) for s in mine] for k in _differing_keys(mine)}
    return groups


def _differing_keys(tables: Iterable[Mapping[str, Any]]) -> list[str]:
    """The keys whose values are not the same in every table (missing counts as a value)."""
    tables = list(tables)
    keys: list[str] = []
    for table in tables:
        keys += [k for k in table if k not in keys]
    return [
        k
        for k in keys
        if len({json.dumps(t.get(k), sort_keys=True, default=str) for t in tables}) > 1
    ]
