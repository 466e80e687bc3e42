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


def test_task_class_attributes_have_the_documented_defaults() -> None:
    # first-plugin.md, hooks.md and the ProxyTask docstring promise these to plugin authors
    assert vadkit.ProxyTask.uses_decoder is True
    assert vadkit.ProxyTask.uses_error is True
    assert vadkit.ProxyTask.default_weight == 1.0


def test_checks_catch_an_untyped_positional_parameter() -> None:
    class Positional(vadkit.ErrorMeasure):
        """Takes its power by position, untyped."""

        def __init__(self, power=2.0):
            super().__init__()
            self.power = power

        def forward(self, pred, real):
            return (pred - real).abs().pow(self.power).flatten(1).mean(1)

    with pytest.raises(AssertionError, match="parameter 'power' can be passed by position"):
        testing.check_error(Positional)


def test_checks_catch_an_untyped_keyword_parameter() -> None:
    class Untyped(vadkit.ScoreNormalizer):
        """Scales by an untyped factor."""

        def __init__(self, *, scale=1.0):
            self.scale = scale

        def __call__(self, scores):
            return scores * self.scale

    with pytest.raises(AssertionError, match="parameter 'scale' has no type annotation"):
        testing.check_normalizer(Untyped)


def _takes_args(*args: int) -> None:
    """A factory with a catch-all *args."""


def _takes_kwargs(**kwargs: int) -> None:
    """A factory with a catch-all **kwargs."""


@pytest.mark.parametrize(
    ("factory", "message"), [(_takes_args, r"takes \*args"), (_takes_kwargs, r"takes \*\*kwargs")]
)
def test_checks_catch_catch_all_parameters(factory, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        testing.check_dataset(factory)


def test_a_component_without_a_constructor_has_no_parameters() -> None:
    class Plain(vadkit.ErrorMeasure):
        """Mean absolute error, no constructor of its own."""

        def forward(self, pred, real):
            return (pred - real).abs().flatten(1).mean(1)

    testing.check_error(Plain)  # nn.Module's (*args, **kwargs) is not the component's


def test_checks_catch_a_recipe_whose_published_results_do_not_fit() -> None:
    from vadkit_luss.recipes import luss_ae_synthetic

    from vadkit.components import PublishedResult, Recipe

    settings = luss_ae_synthetic().settings

    def result(**changes: object) -> PublishedResult:
        fields: dict = {"dataset": "ped2", "metric": "micro_auroc", "value": 0.9, "source": "x"}
        return PublishedResult(**{**fields, **changes})

    def make(*published: PublishedResult):
        def recipe() -> Recipe:
            """A recipe with published results."""
            return Recipe(settings=settings, published=published)

        return recipe

    testing.check_recipe(make(result(), result(score="prp", protocol={"data.size": [256, 256]})))
    with pytest.raises(AssertionError, match="score 'mae' is not one of"):
        testing.check_recipe(make(result(score="mae")))
    with pytest.raises(AssertionError, match=r"its protocol is not valid settings.*train\.epoch"):
        testing.check_recipe(make(result(protocol={"train.epoch": 60})))
    with pytest.raises(AssertionError, match="its protocol is not valid settings"):
        testing.check_recipe(make(result(protocol={"score.frames": "every"})))
