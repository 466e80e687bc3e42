"""Every registered component, built-in or third-party, passes its kind's contract checks.

The cases are collected from the registries themselves, so a new component is tested with no
new test code. The checks are the public ones in :mod:`vadkit.testing`.
"""

from __future__ import annotations

import pytest

import vadkit
from vadkit import testing
from vadkit.plugins import KINDS

CASES = [(kind, name) for kind in KINDS for name in vadkit.list_components(kind)]


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}:{n}" for k, n in CASES])
def test_component_conforms(kind: str, name: str) -> None:
    testing.check_component(kind, name)


def test_every_builtin_kind_has_components() -> None:
    for kind in ("backbones", "tasks", "errors", "normalizers"):
        assert vadkit.list_components(kind), f"no {kind} registered"


def test_checks_catch_a_broken_error_measure() -> None:
    class Ignores(vadkit.ErrorMeasure):
        """Returns the same value whatever the frames."""

        def forward(self, pred, real):
            return pred.new_zeros(pred.shape[0])

    with pytest.raises(AssertionError, match="more anomalous"):
        testing.check_error(Ignores)


def test_checks_catch_an_order_breaking_normalizer() -> None:
    import numpy as np

    class Reverses(vadkit.ScoreNormalizer):
        """Flips the scores."""

        def __call__(self, scores):
            return -np.asarray(scores)

    with pytest.raises(AssertionError, match="keep the order"):
        testing.check_normalizer(Reverses)


def test_checks_catch_a_parameter_without_default() -> None:
    class NeedsArg(vadkit.ScoreNormalizer):
        """Needs an argument."""

        def __init__(self, *, scale: float):
            self.scale = scale

        def __call__(self, scores):
            return scores

    with pytest.raises(AssertionError, match="has no default"):
        testing.check_normalizer(NeedsArg)


def test_tiny_backbone_passes_its_own_check() -> None:
    testing.check_backbone(testing.TinyBackbone)


def test_task_class_attributes_have_the_documented_defaults() -> None:
    # first-plugin.md, hooks.md and the ProxyTask docstring promise these to plugin authors
    assert vadkit.ProxyTask.uses_decoder is True
    assert vadkit.ProxyTask.uses_error is True
    assert vadkit.ProxyTask.default_weight == 1.0
