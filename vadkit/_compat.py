"""Deprecated paths, and dict access to records now dataclasses: kept until :data:`REMOVED_IN`.

vadkit 0.1 kept the training, scoring and evaluation code in one package, ``vadkit.engine``. It is
now split into folders that say what they hold (:mod:`vadkit.training`, :mod:`vadkit.inference`,
:mod:`vadkit.scoring`, :mod:`vadkit.evaluation`, :mod:`vadkit.runs`, :mod:`vadkit.storage`,
:mod:`vadkit.compute`). The old module paths were documented, so they keep working: importing one
gives the module at its new place, with a :class:`DeprecationWarning` naming it. ``import
vadkit`` installs the import hook (:func:`install`); nothing else in vadkit imports an old path
(``tests/test_architecture.py`` checks it).

vadkit 0.1 also returned some records as dicts that are dataclasses now (the score set's record,
the evaluation): their ``record[key]`` keeps reading the JSON they were, with a
:class:`DeprecationWarning` (:func:`record_item`), until :data:`REMOVED_IN` too.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

#: The vadkit version in which the old paths below stop working.
REMOVED_IN = "0.3.0"

#: Old module -> its new place (one module), or the modules whose public names it re-exported
#: (``"module:a,b"``: only the names ``a`` and ``b`` of that module).
MOVED_MODULES: dict[str, str | tuple[str, ...]] = {
    "vadkit.engine.io": "vadkit.storage.io",
    "vadkit.engine.folders": "vadkit.storage.folders",
    "vadkit.engine.lock": "vadkit.storage.lock",
    "vadkit.engine.scoreset": "vadkit.scoring.scoreset",
    "vadkit.engine.scorefiles": "vadkit.scoring.scorefiles",
    "vadkit.engine.fusion": "vadkit.scoring.fusion",
    "vadkit.engine.finite": "vadkit.scoring.finite",
    "vadkit.engine.score": "vadkit.inference.score",
    "vadkit.engine.maps": "vadkit.inference.maps",
    "vadkit.engine.mapviews": "vadkit.inference.mapviews",
    "vadkit.engine.weights": "vadkit.inference.weights",
    "vadkit.engine.average": "vadkit.inference.average",
    "vadkit.engine.validation": "vadkit.inference.validation",
    "vadkit.engine.device": "vadkit.compute.device",
    "vadkit.engine.distributed": "vadkit.compute.distributed",
    "vadkit.engine.runs": (
        "vadkit.runs.folder",
        "vadkit.runs.model",
        "vadkit.runs.versions",
        "vadkit.runs.checkpoints",
    ),
    "vadkit.engine.checkpoints": "vadkit.runs.checkpoints",
    "vadkit.engine.metricslog": "vadkit.runs.metricslog",
    "vadkit.engine.train": (
        "vadkit.training.trainer",
        "vadkit.training.launch",
        "vadkit.training.step",
        "vadkit.training.callbacks",
    ),
    "vadkit.engine.step": "vadkit.training.step",
    "vadkit.engine.callbacks": "vadkit.training.callbacks",
    "vadkit.engine.optim": "vadkit.training.optim",
    "vadkit.engine.budget": "vadkit.training.budget",
    "vadkit.engine.launch": "vadkit.training.launch",
    "vadkit.engine.parallel": "vadkit.training.parallel",
    "vadkit.engine.evaluate": "vadkit.evaluation.evaluate",
    "vadkit.engine.search": "vadkit.evaluation.search",
    "vadkit.engine.groundtruth": "vadkit.evaluation.groundtruth",
    "vadkit.engine.pixeleval": "vadkit.evaluation.pixeleval",
    "vadkit.engine.demo": "vadkit.demo",
    # moved in vadkit 0.1 already; the decoder went to vadkit.data.live
    "vadkit.engine.stream": ("vadkit.stream", "vadkit.data.live:FrameReader,check_source"),
}

#: Names the old package ``vadkit.engine`` itself exported, and the module that has them now.
MOVED_NAMES: dict[str, str] = {
    "atomic_write": "vadkit.storage.io",
    "Runtime": "vadkit.compute.device",
    "build_model": "vadkit.runs.model",
    "load_model": "vadkit.runs.folder",
    "Trainer": "vadkit.training.trainer",
    "TrainStep": "vadkit.training.step",
    "TrainingInterrupted": "vadkit.training.callbacks",
}

_PACKAGE = "vadkit.engine"


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated and will be removed in vadkit {REMOVED_IN}: use {new}.",
        DeprecationWarning,
        stacklevel=3,  # past this and find_spec/__getattr__ (importlib's frames are skipped)
    )


def _merged(name: str, sources: Sequence[str]) -> types.ModuleType:
    """A module holding the public names of ``sources`` (the first one that has a name wins)."""
    module = types.ModuleType(name, f"Deprecated alias of {', '.join(sources)}.")
    exported: list[str] = []
    for source in reversed(sources):
        path, _, listed = source.partition(":")
        target = importlib.import_module(path)
        names = listed.split(",") if listed else list(getattr(target, "__all__", None) or [])
        if not names:  # no __all__: what the module defines itself
            names = [
                n
                for n, v in vars(target).items()
                if n[0] != "_"
                and not isinstance(v, types.ModuleType)
                and getattr(v, "__module__", path) == path
            ]
        for attr in names:
            setattr(module, attr, getattr(target, attr))
        exported = [*names, *(n for n in exported if n not in names)]
    module.__all__ = exported  # type: ignore[attr-defined]
    return module


def _engine_package() -> types.ModuleType:
    module = types.ModuleType(_PACKAGE, "Deprecated: vadkit.engine was split into folders.")
    module.__path__ = []  # a package: its submodules are found by the hook below

    def __getattr__(attr: str) -> Any:
        if attr in MOVED_NAMES:
            _warn(f"{_PACKAGE}.{attr}", f"{MOVED_NAMES[attr]}.{attr}")
            return getattr(importlib.import_module(MOVED_NAMES[attr]), attr)
        if f"{_PACKAGE}.{attr}" in MOVED_MODULES:
            return importlib.import_module(f"{_PACKAGE}.{attr}")
        raise AttributeError(f"module {_PACKAGE!r} has no attribute {attr!r}")

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


class _Loader(importlib.abc.Loader):
    def __init__(self, module: types.ModuleType) -> None:
        self.module = module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self.module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old module paths of :data:`MOVED_MODULES` (and the package ``vadkit.engine``)."""

    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == _PACKAGE:
            module = _engine_package()
        elif fullname in MOVED_MODULES:
            new = MOVED_MODULES[fullname]
            sources = (new,) if isinstance(new, str) else new
            _warn(fullname, " and ".join(s.partition(":")[0] for s in sources))
            module = (
                importlib.import_module(new) if isinstance(new, str) else _merged(fullname, new)
            )
        else:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, _Loader(module), is_package=fullname == _PACKAGE
        )


def install() -> None:
    """Put the finder of the old paths first on ``sys.meta_path`` (once): those names are
    reserved for the aliases."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())


def model_stream_scorer(
    model: Any, settings: Any, error: str, device: str | None, precision: str | None
) -> Any:
    """The window scorer of ``StreamScorer(model, config, device=, precision=)``, the form of
    vadkit 0.1 (deprecated): the model on its scoring runtime, with ``error`` as its measure.
    Now: ``StreamScorer(ModelScorer(...), settings)``, or ``open_for_stream(RUN).scorer``."""
    warnings.warn(
        "StreamScorer(model, config, ...) is deprecated and will be removed in vadkit "
        f"{REMOVED_IN}: pass a window scorer, e.g. StreamScorer(open_for_stream(RUN).scorer, "
        "settings) or StreamScorer(ModelScorer(model, errors, runtime), settings).",
        DeprecationWarning,
        stacklevel=3,
    )
    scorer = importlib.import_module("vadkit.inference.scorer")
    sset = settings.score
    asked = precision if precision not in (None, "auto") else sset.precision
    runtime = scorer.scoring_runtime(device or "auto", asked, settings.train.channels_last)
    uses_error = any(t.uses_error for t in model.task_map.values())
    frame_shape = (settings.data.channels, *settings.data.hw)
    params = sset.error_params
    errors = (
        scorer.applicable_errors([error], frame_shape, runtime.device, params=params)
        if uses_error
        else {}
    )
    return scorer.ModelScorer(model, errors, runtime)


def _record_json(record: Any, access: str, key: object) -> dict[str, Any]:
    kind = type(record).__name__
    warnings.warn(
        f"{access.format(kind=kind, key=key)} is deprecated and will be removed in vadkit "
        f"{REMOVED_IN}: the result is a {kind} now; read its attributes, or .to_json() for "
        "the JSON written.",
        DeprecationWarning,
        stacklevel=4,
    )
    return dict(record.to_json())


def record_item(record: Any, key: str) -> Any:
    """``record[key]`` on a typed record that vadkit 0.1 returned as a dict (deprecated): the
    score-set record of ``score_run`` and ``ScoreSet.meta``
    (:class:`vadkit.scoring.record.ScoreSetRecord`) and the result of ``evaluate_run`` and
    ``Run.evaluate`` (:class:`vadkit.evaluation.result.Evaluation`). Reads ``to_json()[key]``."""
    return _record_json(record, "{kind}[{key!r}]", key)[key]


def record_get(record: Any, key: str, default: Any = None) -> Any:
    """``record.get(key, default)`` of the same dicts (deprecated): ``to_json().get(...)``."""
    return _record_json(record, "{kind}.get({key!r})", key).get(key, default)


def record_contains(record: Any, key: object) -> bool:
    """``key in record`` of the same dicts (deprecated): ``key in to_json()``."""
    return key in _record_json(record, "{key!r} in {kind}", key)


class LegacyDictAccess:
    """``record[key]``, ``record.get(key)`` and ``key in record`` on a typed record that vadkit
    0.1 returned as a dict (deprecated, each with a warning): they read its ``to_json()``."""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return record_item(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return record_get(self, key, default)

    def __contains__(self, key: object) -> bool:
        return record_contains(self, key)
