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


def test_checks_catch_a_transform_that_uses_its_own_input() -> None:
    import numpy as np

    class Centres(vadkit.ScoreNormalizer):
        """Fits nothing: centres whatever it transforms."""

        def fit(self, reference):
            return self

        def transform(self, scores):
            scores = np.asarray(scores, np.float64)
            return scores - scores.mean()

    with pytest.raises(AssertionError, match="with what fit learnt only"):
        testing.check_normalizer(Centres)


def test_checks_catch_a_fit_that_does_not_return_the_normalizer() -> None:
    import numpy as np

    class Forgets(vadkit.ScoreNormalizer):
        """Shifts by the reference's minimum, but fit returns None."""

        def fit(self, reference):
            self.low = float(np.min(reference))

        def transform(self, scores):
            return np.asarray(scores, np.float64) - self.low

        def fit_transform(self, scores):
            self.fit(scores)
            return self.transform(scores)

    with pytest.raises(AssertionError, match="must return the normalizer"):
        testing.check_normalizer(Forgets)


def test_a_call_only_normalizer_still_passes_its_check() -> None:
    import numpy as np

    class Shifts(vadkit.ScoreNormalizer):
        """Subtracts the video's minimum (written before fit/transform existed)."""

        def __call__(self, scores):
            scores = np.asarray(scores, np.float64)
            return scores - scores.min()

    testing.check_normalizer(Shifts)
    assert not vadkit.components.supports_fit(Shifts)


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
