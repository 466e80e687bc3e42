"""Conformance checks for components, public so that plugin authors test theirs in one line.

Each ``check_<kind>(component)`` takes a registered name (or a factory) and raises
``AssertionError`` with an explanation when the component breaks its contract::

    from vadkit.testing import check_error

    def test_my_error():
        check_error("mae")

vadkit's own test suite runs the same checks over every registered component.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from vadkit.components import (
    SCORE_KEY,
    Backbone,
    ClipShape,
    ErrorMeasure,
    ProxyTask,
    PublishedResult,
    ScoreNormalizer,
    supports_fit,
)
from vadkit.errors import ConfigError, VadkitError
from vadkit.plugins import get_host
from vadkit.registry import singular
from vadkit.testing.tiny import TinyBackbone, tiny_batch

__all__ = [
    "TinyBackbone",
    "check_backbone",
    "check_component",
    "check_error",
    "check_export",
    "check_normalizer",
    "check_pseudo_anomaly",
    "check_task",
    "check_tracker",
    "tiny_batch",
]

#: Small clip shapes ``(C, T, H, W)`` tried, in order, on a backbone.
CANDIDATE_SHAPES: tuple[ClipShape, ...] = ((1, 8, 32, 32), (1, 16, 32, 32), (1, 16, 64, 64))


def _resolve(kind: str, component: str | Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    if isinstance(component, str):
        entry = get_host().registry(kind).get(component)
        summary = entry.summary
        factory = entry.load()
        assert summary, (
            f"{singular(kind)} '{component}' has no summary: give its factory a docstring "
            "(its first line is what `vadkit list` shows) or register it with summary=..."
        )
        return component, factory
    return getattr(component, "__name__", repr(component)), component


def _check_signature(label: str, factory: Callable[..., Any]) -> None:
    """Every constructor parameter is keyword-only, annotated and has a default (the docs' rule:
    the constructor is the component's configuration schema)."""
    from vadkit.config.params import schema_signature

    sig = schema_signature(factory)
    assert sig is not None, f"{label}: its signature cannot be read"
    rule = (
        "every constructor parameter must be keyword-only (after `*`), typed and defaulted, "
        "so that vadkit can describe it, check a config against it and build the component "
        "by name alone"
    )
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            raise AssertionError(f"{label}: takes *{p.name}; {rule}.")
        if p.kind is p.VAR_KEYWORD:
            raise AssertionError(f"{label}: takes **{p.name}; name each parameter instead: {rule}.")
        if p.kind is not p.KEYWORD_ONLY:
            raise AssertionError(
                f"{label}: parameter '{p.name}' can be passed by position; {rule}."
            )
        if p.annotation is p.empty:
            raise AssertionError(f"{label}: parameter '{p.name}' has no type annotation; {rule}.")
        if p.default is p.empty:
            raise AssertionError(f"{label}: parameter '{p.name}' has no default; {rule}.")


def _build(
    kind: str, component: str | Callable[..., Any], params: dict[str, Any]
) -> tuple[str, Any]:
    label, factory = _resolve(kind, component)
    _check_signature(label, factory)
    return label, factory(**params)


def check_backbone(component: str | Callable[..., Any], **params: Any) -> None:
    """Check a backbone: builds by name, accepts a small clip, decodes to the input's shape."""
    label, model = _build("backbones", component, params)
    assert isinstance(model, Backbone), f"{label} must subclass vadkit.components.Backbone"
    shape = None
    for candidate in CANDIDATE_SHAPES:
        cand = (model.in_channels, *candidate[1:])
        try:
            model.check_clip_shape(cand)
        except ConfigError:
            continue
        shape = cand
        break
    assert shape is not None, f"{label} accepts none of the clip shapes {CANDIDATE_SHAPES}"
    batch = tiny_batch(shape)
    model.train()
    feats = model.features(batch.clip)
    assert feats.decoded is not None and feats.recon is not None
    assert feats.decoded.shape == batch.clip.shape, (
        f"{label}: decode() returned {tuple(feats.decoded.shape)} for input {tuple(batch.clip.shape)}"
    )
    assert tuple(feats.latent.shape[1:]) == tuple(model.latent_shape(shape)), (
        f"{label}: latent_shape() disagrees with encode()"
    )
    assert float(feats.recon.detach().abs().max()) <= 1.0 + 1e-5, (
        f"{label}: activation leaves [-1, 1]"
    )
    loss = (feats.recon - batch.clip).pow(2).mean()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads), (
        f"{label}: some parameters get no finite gradient"
    )
    model.eval()
    with torch.no_grad():
        first, again = model.features(batch.clip).recon, model.features(batch.clip).recon
        assert first is not None and again is not None and torch.equal(first, again), (
            f"{label}: eval mode is not deterministic"
        )


def check_task(
    component: str | Callable[..., Any], *, backbone: Backbone | None = None, **params: Any
) -> None:
    """Check a proxy task on :class:`TinyBackbone` (or ``backbone``): loss, gradients, scores."""
    from vadkit.model import VADModel

    label, task = _build("tasks", component, params)
    assert isinstance(task, ProxyTask), f"{label} must subclass vadkit.components.ProxyTask"
    bb = backbone if backbone is not None else TinyBackbone()
    shape: ClipShape = (bb.in_channels, 8, 32, 32)
    model = VADModel(bb, {"t": task}, shape)
    batch = tiny_batch(shape, batch=4)
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(1)
    view = task.sample_view(0, shape[1], rng_a, rng_b)
    again = task.sample_view(0, shape[1], np.random.default_rng(0), np.random.default_rng(1))
    if view is not None:
        assert again is not None and np.array_equal(view[0], again[0]) and view[1] == again[1], (
            f"{label}: sample_view is not reproducible from its generators"
        )
        idx, _ = view
        assert len(idx) == shape[1], f"{label}: sample_view must return clip_length indices"
        batch.views["t"] = batch.clip.clone()
        batch.labels["t"] = torch.tensor([0, 1, 0, 1])
    model.train()
    losses = model.training_losses(batch)
    loss = losses["t"]
    assert loss.dim() == 0 and torch.isfinite(loss), f"{label}: loss must be a finite scalar"
    loss.backward()
    assert any(p.grad is not None for p in model.parameters()), f"{label}: loss has no gradient"
    model.eval()
    from vadkit.api import create_error

    class _L1(ErrorMeasure):
        def forward(self, pred: Tensor, real: Tensor) -> Tensor:
            return (pred - real).abs().flatten(1).mean(1)

    errors: dict[str, ErrorMeasure] = {"l1": _L1()}
    with contextlib.suppress(VadkitError):  # the built-in plugin may be blocked
        errors["mse"] = create_error("mse")
    with torch.no_grad():
        scores = model.window_scores(batch, errors)["t"]
    expected = set(errors) if task.uses_error else {SCORE_KEY}
    assert set(scores) == expected, (
        f"{label}: scores keys {sorted(scores)}, expected {sorted(expected)}"
    )
    for key, value in scores.items():
        assert value.shape == (batch.size,), (
            f"{label}: score '{key}' has shape {tuple(value.shape)}"
        )
        assert torch.isfinite(value).all(), f"{label}: score '{key}' is not finite"


def check_error(component: str | Callable[..., Any], **params: Any) -> None:
    """Check an error measure: ``(N, C, H, W)`` pairs to ``(N,)``, per frame, ordered by damage."""
    label, err = _build("errors", component, params)
    assert isinstance(err, ErrorMeasure), f"{label} must subclass vadkit.components.ErrorMeasure"
    g = torch.Generator().manual_seed(0)
    for channels in (1, 3):
        real = torch.rand((3, channels, 16, 16), generator=g) * 2 - 1
        noise = torch.randn((3, channels, 16, 16), generator=g)
        small = (real + 0.05 * noise).clamp(-1, 1)
        large = (real + 0.5 * noise).clamp(-1, 1)
        e_small, e_large = err(small, real), err(large, real)
        assert e_small.shape == (3,), f"{label}: returned shape {tuple(e_small.shape)}, not (N,)"
        assert torch.isfinite(e_small).all() and torch.isfinite(e_large).all(), (
            f"{label}: not finite"
        )
        sign = 1.0 if err.higher_is_anomalous else -1.0
        assert (sign * (e_large - e_small) > 0).all(), (
            f"{label}: a larger error must score as more anomalous "
            f"(higher_is_anomalous={err.higher_is_anomalous})"
        )
        single = torch.stack([err(small[i : i + 1], real[i : i + 1])[0] for i in range(3)])
        assert torch.allclose(single, e_small, rtol=1e-5, atol=1e-6), (
            f"{label}: frames of a batch must be scored independently"
        )


def check_normalizer(component: str | Callable[..., Any], **params: Any) -> None:
    """Check a normalizer: same shape, finite, order-preserving, constant streams stay finite;
    with ``fit``/``transform``: fit returns it, fit then transform equals the per-video result,
    and transform rescales each score on its own."""
    label, norm = _build("normalizers", component, params)
    assert isinstance(norm, ScoreNormalizer), (
        f"{label} must subclass vadkit.components.ScoreNormalizer"
    )
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, size=101) * 3 + 1
    y = np.asarray(norm(x.copy()))
    assert y.shape == x.shape and np.isfinite(y).all(), f"{label}: bad output shape or values"
    assert np.array_equal(np.argsort(y, kind="stable"), np.argsort(x, kind="stable")), (
        f"{label}: a per-video rescaling must keep the order of scores"
    )
    const = np.asarray(norm(np.full(10, 4.2)))
    assert const.shape == (10,) and np.isfinite(const).all(), (
        f"{label}: constant stream gives {const}"
    )
    if supports_fit(norm):
        _check_fit_transform(label, norm, x, y)


def _check_fit_transform(label: str, norm: ScoreNormalizer, x: np.ndarray, y: np.ndarray) -> None:
    """fit/transform: fit returns the normalizer, fit then transform is the per-video rescaling,
    and transform rescales each score on its own (a stream transforms a few at a time)."""
    assert norm.fit(x.copy()) is norm, f"{label}: fit(reference) must return the normalizer"
    again = np.asarray(norm.transform(x.copy()))
    assert np.allclose(again, y, rtol=1e-9, atol=1e-12), (
        f"{label}: fit(x) then transform(x) must equal fit_transform(x)"
    )
    other = np.linspace(-5.0, 40.0, 12)
    batch = np.asarray(norm.transform(other.copy()))
    assert batch.shape == other.shape and np.isfinite(batch).all(), (
        f"{label}: transform gives bad output shape or values"
    )
    alone = np.array([np.asarray(norm.transform(other[i : i + 1]))[0] for i in range(12)])
    assert np.allclose(alone, batch, rtol=1e-9, atol=1e-12), (
        f"{label}: transform must rescale each score with what fit learnt only, not with "
        "statistics of the scores it is given"
    )
    assert np.array_equal(np.argsort(batch, kind="stable"), np.arange(12)), (
        f"{label}: transform must keep the order of scores"
    )


def check_dataset(component: str | Callable[..., Any], **params: Any) -> None:
    """Check a dataset format: builds by name with defaults and has a summary."""
    label, fmt = _build("datasets", component, params)
    assert fmt is not None, f"{label}: factory returned None"


def check_recipe(component: str | Callable[..., Any], **params: Any) -> None:
    """Check a recipe: returns a :class:`~vadkit.components.Recipe` whose settings resolve.

    The recipe's settings are validated as a run's would be (every key known, every component
    registered, every parameter accepted by its constructor), and its fusion presets must give
    a weight to each of its tasks.
    """
    from vadkit.components import Recipe
    from vadkit.components.recipe import DEFAULT_ROLES
    from vadkit.config import default_config, merge, validate_config

    label, recipe = _build("recipes", component, params)
    assert isinstance(recipe, Recipe), f"{label} must return a vadkit.components.Recipe"
    assert all(role in DEFAULT_ROLES for role in recipe.default_for), (
        f"{label}: default_for {recipe.default_for!r} must only name {DEFAULT_ROLES}"
    )
    config = validate_config(merge(default_config(), dict(recipe.settings)))
    for preset, weights in recipe.presets.items():
        missing = [t for t in config["tasks"]["names"] if t not in weights]
        assert not missing, f"{label}: preset '{preset}' has no weight for {missing}"
    for result in recipe.published:
        _check_published(label, result, config)


def _check_published(label: str, result: PublishedResult, config: dict[str, Any]) -> None:
    """A recipe's published result names one of its scores and a protocol whose every key is
    a config key that accepts its value (set over the recipe's settings and validated)."""
    import copy

    from vadkit.config import set_dotted, validate_config

    where = f"{label}: published result {result.dataset}/{result.score}/{result.metric}"
    assert isinstance(result, PublishedResult), f"{label}: published holds {type(result)}"
    scores = [*config["tasks"]["names"], "fused"]
    assert result.score in scores, f"{where}: score {result.score!r} is not one of {scores}"
    changed = copy.deepcopy(config)
    for key, value in result.protocol.items():
        set_dotted(changed, key, copy.deepcopy(value))
    try:
        validate_config(changed)
    except ConfigError as exc:
        raise AssertionError(f"{where}: its protocol is not valid settings: {exc.message}") from exc


def check_tracker(component: str | Callable[..., Any], **params: Any) -> None:
    """Check an experiment tracker: builds by name with defaults, is a
    :class:`~vadkit.tracking.Tracker` whose ``requires`` names an install for each module, and
    logs a pretend run as the trainer would (settings, a step record at a checkpoint, an epoch,
    the end), then an evaluation and a report into the same record, with no error and no
    :class:`~vadkit.tracking.TrackingWarning`. The modules it requires must be installed."""
    from vadkit.testing.tracking import check_tracker_factory

    label, factory = _resolve("trackers", component)
    _check_signature(label, factory)
    check_tracker_factory(label, factory, params)


def check_pseudo_anomaly(component: str | Callable[..., Any], **params: Any) -> None:
    """Check a pseudo-anomaly: it keeps the window's shape, changes exactly the frames it labels
    (a frame labelled 0 is the input's, unchanged), labels the scored frame in some windows,
    leaves its inputs alone and is reproducible from its generator; grey and colour frames."""
    from vadkit.components import PseudoAnomaly

    label, anomaly = _build("pseudo_anomalies", component, params)
    assert isinstance(anomaly, PseudoAnomaly), (
        f"{label} must subclass vadkit.components.PseudoAnomaly"
    )
    frames = np.random.default_rng(0)
    scored = changed = 0
    for channels in (1, 3):
        for t in (4, 8):
            shape = (t + 1, 16, 16, channels)
            extra = int(anomaly.extra_frames(t))
            assert extra >= 0, f"{label}: extra_frames({t}) = {extra} is negative"
            window = frames.integers(0, 256, shape, dtype=np.uint8)
            ahead = frames.integers(0, 256, (extra, *shape[1:]), dtype=np.uint8)
            donor = frames.integers(0, 256, shape, dtype=np.uint8) if anomaly.needs_donor else None
            inputs = [a.copy() for a in (window, ahead) if a is not None]
            for seed in range(4):
                out = anomaly(window, np.random.default_rng(seed), donor, ahead)
                again = anomaly(window, np.random.default_rng(seed), donor, ahead)
                assert np.array_equal(out.frames, again.frames) and np.array_equal(
                    out.labels, again.labels
                ), f"{label}: the same generator seed must modify a window the same way"
                assert all(
                    np.array_equal(a, b) for a, b in zip(inputs, (window, ahead), strict=True)
                ), f"{label}: modified its input frames in place"
                same = (out.frames == window).reshape(t + 1, -1).all(axis=1)
                normal = out.labels == 0
                assert same[normal].all(), (
                    f"{label}: frames {np.flatnonzero(normal & ~same).tolist()} are labelled "
                    "normal (0) but changed; a frame labelled 0 must be the input's"
                )
                changed += int((~same).any())
                scored += int(out.labels[-1] == 1)
    assert changed, f"{label}: changed no frame of any window"
    assert scored, (
        f"{label}: never labelled the last frame (the one a window scores) anomalous, so "
        "`vadkit validate` would count every window it modifies as normal"
    )


_CHECKS: dict[str, Callable[..., None]] = {
    "backbones": check_backbone,
    "tasks": check_task,
    "errors": check_error,
    "normalizers": check_normalizer,
    "datasets": check_dataset,
    "recipes": check_recipe,
    "trackers": check_tracker,
    "pseudo_anomalies": check_pseudo_anomaly,
}


def check_export(kind: str, component: str | Callable[..., Any], **params: Any) -> None:
    """Optional: check that a backbone, task or error measure exports to ONNX (``vadkit
    export``) and scores the same there as in PyTorch (relative difference at most 1e-4).

    Needs ``onnxruntime``. A component that cannot be exported by design declares the class
    attribute ``exportable = False`` (with ``export_limit``, a sentence saying why) instead.
    """
    from vadkit.testing.export import check_export as _check

    _label, built = _build(kind, component, params)
    _check(kind, built)


def check_component(kind: str, name: str, **params: Any) -> None:
    """Run the conformance check of ``kind`` on the component registered as ``name``."""
    _CHECKS[kind](name, **params)
