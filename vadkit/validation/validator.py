"""The pseudo-AUROC of a run's models: its pseudo set and its protocol, in one object.

A :class:`Validator` holds one run's pseudo set (:mod:`vadkit.validation.pseudoset`: windows of
its held-out normal training videos, ``data.val_videos``, as they are and with pseudo-anomalies)
and the run's protocol (its default error measure, normalizer and fusion weights), and measures
any model of the run on them in fp32 through :class:`~vadkit.inference.scorer.ModelScorer`.
``vadkit validate`` (:mod:`vadkit.validation.run`) and the trainer's callback
(:mod:`vadkit.training.validate`) record what it measures; :class:`PseudoJudge` is the
criterion of ``vadkit score --weights auto --criterion pseudo``. No test video and no test label
is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vadkit.config import Config, Settings
from vadkit.errors import ConfigError
from vadkit.scoring.fusion import default_alphas, get_normalizer
from vadkit.validation.measure import PseudoScores, score_pseudo
from vadkit.validation.pseudoset import PseudoSet

if TYPE_CHECKING:
    import torch

    from vadkit.data.video import Video
    from vadkit.inference.scorer import ModelScorer
    from vadkit.model import VADModel

#: A fused pseudo-AUROC at or above this is *saturated* (fixed beforehand): the pseudo-anomalies
#: are too easy for the model, so checkpoints that all reach it cannot be told apart by it.
SATURATED = 0.99


class PseudoSaturationWarning(UserWarning):
    """A fused pseudo-AUROC reached :data:`SATURATED`: it cannot rank what reaches it."""


def saturated(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The checkpoints among ``entries`` (pseudo-AUROC results) whose fused pseudo-AUROC is
    saturated (at least :data:`SATURATED`)."""
    return [str(e["checkpoint"]) for e in entries if float(e["fused"]) >= SATURATED]


def saturation_advice(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """One line saying which checkpoints are saturated and how to make the pseudo-anomalies
    subtler; None when none is."""
    names = saturated(entries)
    if not names:
        return None
    best = max(float(e["fused"]) for e in entries)
    return (
        f"The fused pseudo-AUROC of {', '.join(names)} is at least {SATURATED} (up to "
        f"{best:.3f}): these pseudo-anomalies are too easy for this model, so the pseudo-AUROC "
        "cannot tell such checkpoints apart. Make them subtler with score.pseudo_params (vadkit "
        "validate --param, e.g. --param noise.std=4 --param blur.sigma=0.7; see `vadkit "
        "describe pseudo_anomalies NAME`), or keep the validation loss as the criterion."
    )


#: The criterion recorded when a choice is made by pseudo-AUROC.
PSEUDO_CRITERION = (
    "highest fused pseudo-AUROC on held-out normal training videos with pseudo-anomalies"
)


def require_held_out(settings: Settings, what: str = "vadkit validate") -> None:
    """A ConfigError when the run held out no training video to validate on."""
    if settings.data.val_videos < 1:
        raise ConfigError(
            f"{what} measures on held-out normal training videos, but this run held out none "
            "(data.val_videos = 0): every training video was trained on.",
            hint="Train with --set data.val_videos=N (N >= 1; N videos drawn from train.seed "
            "are then never trained on).",
        )


def pseudo_settings(
    settings: Settings,
    *,
    windows: int | None = None,
    kinds: Sequence[str] | None = None,
    seed: int | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The pseudo set's settings: ``windows``, ``kinds`` (every registered pseudo-anomaly when
    ``score.pseudo_kinds`` and ``kinds`` are empty) and ``seed``, the run's ``[score]`` ones
    unless given; and ``params``, the parameters of the kinds used that differ from their
    defaults (the run's ``score.pseudo_params``, each kind's table updated by ``params``),
    present only when some do, so the default protocol reads as it always has."""
    from vadkit.api import get_entry, list_pseudo_anomalies
    from vadkit.config.params import configured_params

    count = int(settings.score.pseudo_windows if windows is None else windows)
    if count < 2:
        raise ConfigError(
            f"{count} validation window(s): at least 2 are needed (one as it is, one with a "
            "pseudo-anomaly).",
            hint="E.g. --windows 256",
        )
    names = list(kinds or settings.score.pseudo_kinds or list_pseudo_anomalies())
    for name in names:
        get_entry("pseudo_anomalies", name)  # an unknown name: the registry's message
    names = list(dict.fromkeys(names))
    for name in params or {}:
        get_entry("pseudo_anomalies", name)
        if name not in names:
            raise ConfigError(
                f"Parameters are given for the pseudo-anomaly {name!r}, which is not among the "
                f"kinds measured ({', '.join(names)}).",
                hint=f"Measure it too (--kinds {','.join([*names, name])}), or drop its "
                "parameters.",
            )
    changed = {}
    for name in names:
        given = {**settings.score.pseudo_params.get(name, {}), **(params or {}).get(name, {})}
        table = configured_params("pseudo_anomalies", name, given)
        if table != configured_params("pseudo_anomalies", name):
            changed[name] = table
    spec: dict[str, Any] = {
        "windows": count,
        "kinds": names,
        "seed": int(settings.score.pseudo_seed if seed is None else seed),
    }
    if changed:
        spec["params"] = changed
    return spec


def pseudo_set(
    config: Config,
    held: Sequence[Video],
    donors: Sequence[Video],
    spec: Mapping[str, Any],
) -> PseudoSet:
    """The pseudo set of ``held`` (the run's held-out videos) for ``spec``
    (:func:`pseudo_settings`); patches are pasted from ``donors``."""
    from vadkit.config.params import build_component

    params = spec.get("params", {})
    anomalies = {
        name: build_component("pseudo_anomalies", name, params.get(name)) for name in spec["kinds"]
    }
    return PseudoSet(
        held,
        donors,
        Settings.from_config(config).data.clip_length,
        anomalies,
        pairs=int(spec["windows"]) // 2,
        seed=int(spec["seed"]),
    )


class Validator:
    """Measures models of one run on its pseudo set, with the run's protocol.

    Args:
        config: the run's resolved config.
        root: the dataset root (default the run's ``data.root``), for a dataset that moved.
        windows: overrides ``score.pseudo_windows``.
        kinds: override ``score.pseudo_kinds``.
        seed: overrides ``score.pseudo_seed``.
        params: update ``score.pseudo_params`` (a table per kind, e.g. ``{"noise": {"std": 4}}``).
        batch_size: windows per batch (default ``score.batch_size``).
        videos: ``(trained, held out)`` training videos, when already open (the trainer's).
    """

    def __init__(
        self,
        config: Config,
        *,
        root: str | Path | None = None,
        windows: int | None = None,
        kinds: Sequence[str] | None = None,
        seed: int | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        batch_size: int | None = None,
        videos: tuple[Sequence[Video], Sequence[Video]] | None = None,
    ) -> None:
        from vadkit.data.split import training_videos

        settings = Settings.from_config(config)
        require_held_out(settings)
        self.config = config
        self.settings = settings
        self.spec = pseudo_settings(
            settings, windows=windows, kinds=kinds, seed=seed, params=params
        )
        trained, held = videos if videos is not None else training_videos(config, root=root)
        self.pseudo = pseudo_set(config, held, [*trained, *held], self.spec)
        self.batch_size = int(batch_size or settings.score.batch_size)
        self.normalizer_name, self.normalizer = get_normalizer(
            settings.score.normalizer, settings.score.normalizer_params
        )
        self.alphas = default_alphas(settings.score.alphas, list(settings.tasks.names))

    def protocol(self) -> dict[str, Any]:
        """How the pseudo-AUROC is measured (recorded with every result)."""
        return {
            "pseudo": dict(self.spec),
            "held_out": [v.name for v in self.pseudo.videos],
            "error": self.settings.score.error,
            "normalizer": self.normalizer_name,
            "alphas": dict(self.alphas),
        }

    def scorer(self, model: VADModel, device: torch.device | None = None) -> ModelScorer:
        """``model`` as a window scorer in fp32 with the run's default error measure, on
        ``device`` (default: where the model is)."""
        from vadkit.compute.device import Runtime
        from vadkit.inference.scorer import ModelScorer, applicable_errors

        if device is None:
            device = next(iter(model.parameters())).device
        error = self.settings.score.error
        uses_error = any(t.uses_error for t in model.task_map.values())
        shape = (self.settings.data.channels, *self.settings.data.hw)
        errors = (
            applicable_errors([error], shape, device, params=self.settings.score.error_params)
            if uses_error and error
            else {}
        )
        runtime = Runtime(
            device=device, precision="fp32", channels_last=self.settings.train.channels_last
        )
        return ModelScorer(model, errors, runtime)

    def scores(
        self,
        model: VADModel,
        *,
        device: torch.device | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> PseudoScores:
        """The normalised per-task scores of ``model`` on the pseudo set."""
        return score_pseudo(
            self.scorer(model, device),
            self.pseudo,
            error=self.settings.score.error,
            normalizer=self.normalizer,
            batch_size=self.batch_size,
            on_progress=on_progress,
        )

    def measure(
        self,
        model: VADModel,
        *,
        device: torch.device | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """The pseudo-AUROC of ``model``: per task, fused (the run's weights), per kind."""
        scores = self.scores(model, device=device, on_progress=on_progress)
        return scores.aurocs(self.alphas)


class PseudoJudge:
    """``--weights auto`` by pseudo-AUROC (:func:`vadkit.inference.validation.choose_weights`
    with ``criterion = "pseudo"``): each candidate's pseudo-AUROC, the highest fused wins."""

    criterion = PSEUDO_CRITERION

    def __init__(
        self, config: Config, trained: Sequence[Video], held: Sequence[Video], batch_size: int
    ) -> None:
        self.validator = Validator(config, batch_size=batch_size, videos=(trained, held))

    def measure(self, model: VADModel) -> dict[str, Any]:
        return {"pseudo": self.validator.measure(model)}

    def best(self, candidates: Mapping[str, Mapping[str, Any]]) -> str:
        return max(candidates, key=lambda n: candidates[n]["pseudo"]["fused"])

    def describe(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "held_out": [v.name for v in self.validator.pseudo.videos],
            "windows": len(self.validator.pseudo.items),
            "protocol": self.validator.protocol(),
        }
