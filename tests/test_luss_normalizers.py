"""Per-video score normalizers of LUSS-AE: identity, min-max and robust (eq. 16)."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, RobustScaler
from vadkit_luss.normalizers import Identity, MinMax, Robust

import vadkit
from vadkit import plugins
from vadkit.components import ScoreNormalizer, supports_fit
from vadkit.errors import ConfigError, DataError


def _sk(scaler, x: np.ndarray) -> np.ndarray:
    return scaler.fit_transform(x.reshape(-1, 1)).ravel()


def test_identity_returns_a_float64_copy():
    x = np.array([3, 1, 2], dtype=np.int32)
    out = Identity()(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [3.0, 1.0, 2.0])
    out[0] = 99.0
    assert x[0] == 3


def test_minmax_by_hand():
    out = MinMax()(np.array([2.0, 4.0, 3.0, 6.0]))
    np.testing.assert_allclose(out, [0.0, 0.5, 0.25, 1.0])


def test_minmax_constant_stream_is_zeros():
    out = MinMax()(np.full(5, 0.7))
    np.testing.assert_array_equal(out, np.zeros(5))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_minmax_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    x = rng.gamma(2.0, 3.0, size=int(rng.integers(2, 300)))
    np.testing.assert_allclose(MinMax()(x), _sk(MinMaxScaler(), x), rtol=1e-12, atol=1e-12)


def test_robust_by_hand():
    # 0..100: median 50, q1 = 1, q99 = 99 (linear interpolation) -> divide by 98.
    x = np.arange(101, dtype=np.float64)
    np.testing.assert_allclose(Robust()(x), (x - 50.0) / 98.0)
    # (25, 75) on 0..4: median 2, q25 = 1, q75 = 3.
    np.testing.assert_allclose(
        Robust(quantile_range=(25.0, 75.0))(np.array([4.0, 0.0, 2.0, 1.0, 3.0])),
        [1.0, -1.0, 0.0, -0.5, 0.5],
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("qr", [(1.0, 99.0), (25.0, 75.0), (0.0, 100.0)])
def test_robust_matches_sklearn(seed, qr):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 500))
    x = np.concatenate([rng.normal(0.0, 1.0, n), rng.normal(8.0, 0.5, 3)])  # a few outliers
    expected = _sk(RobustScaler(quantile_range=qr), x)
    np.testing.assert_allclose(Robust(quantile_range=qr)(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "x",
    [
        np.array([5.0]),  # a single score
        np.full(7, -2.5),  # constant
        np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]),  # nearly constant
        np.array([1e-300, 2e-300, 3e-300]),  # range below eps: divided by 1
    ],
)
def test_robust_edge_cases_match_sklearn(x):
    expected = _sk(RobustScaler(quantile_range=(1, 99)), x)
    np.testing.assert_allclose(Robust()(x), expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(MinMax()(x), _sk(MinMaxScaler(), x), rtol=1e-12, atol=1e-300)


def test_constant_stream_robust_is_zeros():
    np.testing.assert_array_equal(Robust()(np.full(4, 3.0)), np.zeros(4))


def test_float32_input_is_computed_in_float64():
    x = np.linspace(0, 1, 11, dtype=np.float32)
    assert Robust()(x).dtype == np.float64
    assert MinMax()(x).dtype == np.float64


@pytest.mark.parametrize("norm", [Identity(), MinMax(), Robust()])
def test_empty_input_raises(norm):
    with pytest.raises(DataError, match="empty"):
        norm(np.array([]))


@pytest.mark.parametrize("norm", [Identity(), MinMax(), Robust()])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_raises(norm, bad):
    with pytest.raises(DataError, match="non-finite") as info:
        norm(np.array([0.1, 0.2, bad, 0.3]))
    assert "index 2" in str(info.value)
    assert info.value.hint


@pytest.mark.parametrize("norm", [Identity(), MinMax(), Robust()])
def test_two_dimensional_input_raises(norm):
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        norm(np.zeros((2, 3)))


@pytest.mark.parametrize("qr", [(99.0, 1.0), (5.0, 5.0), (-1.0, 50.0), (1.0, 101.0), (1.0,), "ab"])
def test_robust_rejects_bad_quantile_range(qr):
    with pytest.raises(ConfigError, match="quantile_range"):
        Robust(quantile_range=qr)


def test_robust_accepts_a_list_and_reprs_its_parameters():
    norm = Robust(quantile_range=[5, 95])  # type: ignore[arg-type]  # as read from a config file
    assert norm.quantile_range == (5.0, 95.0)
    assert repr(norm) == "Robust(quantile_range=(5.0, 95.0))"
    with pytest.raises(TypeError):
        Robust((1.0, 99.0))  # type: ignore[call-arg]  # keyword-only


# -- fit on a reference, transform other scores ----------------------------------------------
def test_fit_then_transform_applies_the_reference_statistics():
    ref = np.array([4.0, 0.0, 2.0, 1.0, 3.0])  # min 0, max 4, median 2, q25 1, q75 3
    other = np.array([-2.0, 2.0, 6.0, 10.0])
    np.testing.assert_array_equal(Identity().fit(ref).transform(other), other)
    np.testing.assert_allclose(MinMax().fit(ref).transform(other), [-0.5, 0.5, 1.5, 2.5])
    robust = Robust(quantile_range=(25.0, 75.0))
    assert robust.fit(ref) is robust
    np.testing.assert_allclose(robust.transform(other), [-2.0, 0.0, 2.0, 4.0])
    # 0..100 with the paper's (1, 99): (x - 50) / 98
    np.testing.assert_allclose(
        Robust().fit(np.arange(101.0)).transform(np.array([148.0, 50.0, 1.0])),
        [1.0, 0.0, -0.5],
        rtol=1e-12,
    )


def test_transform_keeps_the_fit_until_the_next_fit():
    norm = MinMax().fit(np.array([0.0, 10.0]))
    np.testing.assert_allclose(norm.transform(np.array([5.0])), [0.5])
    np.testing.assert_allclose(norm.transform(np.array([20.0])), [2.0])
    norm.fit(np.array([0.0, 2.0]))
    np.testing.assert_allclose(norm.transform(np.array([5.0])), [2.5])


def test_fit_transform_is_the_per_video_rescaling_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 50.0])
    np.testing.assert_allclose(MinMax().fit_transform(x), (x - 1.0) / 49.0)
    # median 3.5; percentile 1 = 1 + 0.05 * 1 = 1.05, percentile 99 = 5 + 0.95 * 45 = 47.75
    np.testing.assert_allclose(Robust().fit_transform(x), (x - 3.5) / (47.75 - 1.05), rtol=1e-12)
    np.testing.assert_allclose(
        Robust(quantile_range=(25.0, 75.0)).fit_transform(x),
        [-1.0, -0.6, -0.2, 0.2, 0.6, 18.6],  # q25 = 2.25, q75 = 4.75
    )
    np.testing.assert_array_equal(Identity().fit_transform(x), x)
    for norm in (Identity(), MinMax(), Robust()):
        np.testing.assert_array_equal(norm(x), norm.fit_transform(x))


def test_zero_range_reference_divides_by_one():
    ref = np.full(6, 3.0)
    other = np.array([3.0, 4.5, 1.0])
    np.testing.assert_array_equal(MinMax().fit(ref).transform(other), [0.0, 1.5, -2.0])
    np.testing.assert_array_equal(Robust().fit(ref).transform(other), [0.0, 1.5, -2.0])
    # a range below 10 * eps counts as zero too
    tiny = np.array([1.0, 1.0 + 1e-15])
    np.testing.assert_allclose(MinMax().fit(tiny).transform(np.array([2.0])), [1.0])


def test_transform_passes_non_finite_scores_through():
    norm = Robust().fit(np.arange(101.0))
    out = norm.transform(np.array([np.inf, 148.0, -np.inf, np.nan]))
    assert out[0] == np.inf and out[2] == -np.inf and np.isnan(out[3])
    assert out[1] == pytest.approx(1.0)
    assert norm.transform(np.array([])).shape == (0,)


def test_transform_before_fit_and_bad_input():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="Robust is not fitted"):
        Robust().transform(np.array([1.0]))
    with pytest.raises(DataError, match=r"shape \(2, 2\)"):
        MinMax().fit(np.arange(3.0)).transform(np.zeros((2, 2)))
    for norm in (Identity(), MinMax(), Robust()):
        with pytest.raises(DataError, match="empty"):
            norm.fit(np.array([]))
        with pytest.raises(DataError, match="non-finite"):
            norm.fit(np.array([0.0, np.nan]))


# -- the contract: a normalizer written before fit/transform keeps working offline -------------
class Legacy(ScoreNormalizer):
    """Overrides only __call__, as every normalizer did before fit/transform."""

    def __call__(self, scores):
        scores = np.asarray(scores, np.float64)
        return scores / scores.max()


class Doubled(Robust):
    """A subclass of a fitting normalizer that rescales through its own __call__."""

    def __call__(self, scores):
        return 2.0 * super().__call__(scores)


def test_legacy_normalizer_works_offline():
    from vadkit.scoring.core import VideoScores
    from vadkit.scoring.fusion import normalized_streams

    x = np.array([1.0, 2.0, 4.0])
    np.testing.assert_array_equal(Legacy().fit_transform(x), [0.25, 0.5, 1.0])
    np.testing.assert_array_equal(Legacy()(x), [0.25, 0.5, 1.0])
    assert not supports_fit(Legacy) and not supports_fit(Legacy())
    with pytest.raises(NotImplementedError, match="Legacy does not implement fit"):
        Legacy().fit(x)
    video = VideoScores(name="v", num_frames=3, frames=np.arange(3), raw={"vcr": {"mse": x}})
    streams = normalized_streams(video, ["vcr"], "mse", Legacy())
    np.testing.assert_array_equal(streams["vcr"], [0.25, 0.5, 1.0])


def test_override_of_call_on_a_fitting_normalizer_is_kept_offline():
    x = np.arange(101.0)
    np.testing.assert_allclose(Doubled().fit_transform(x), 2 * (x - 50.0) / 98.0)
    np.testing.assert_allclose(Doubled()(x), 2 * (x - 50.0) / 98.0)
    assert not supports_fit(Doubled)
    assert supports_fit(Robust) and supports_fit(MinMax()) and supports_fit(Identity)


def test_a_normalizer_with_nothing_says_what_is_missing():
    class Empty(ScoreNormalizer):
        pass

    with pytest.raises(NotImplementedError, match="Empty does not implement fit"):
        Empty()(np.array([1.0]))
    assert not supports_fit(Empty)


@pytest.fixture
def fresh_plugins():
    plugins.reset()
    yield
    plugins.reset()


def test_a_call_only_normalizer_gives_one_clear_error_when_streamed(tmp_path, fresh_plugins):
    from vadkit.stream import Calibration

    path = tmp_path / "oldnorm.py"
    path.write_text(
        textwrap.dedent(
            '''
            import numpy as np
            import vadkit

            class Halves(vadkit.ScoreNormalizer):
                """Halves the scores (rescales whole videos through __call__ only)."""

                def __call__(self, scores):
                    return np.asarray(scores, np.float64) / 2

            @vadkit.hookimpl
            def register_normalizers(register):
                register("halves", Halves)
            '''
        )
    )
    plugins.configure(plugins=[str(path)])
    scores = {"vcr": {"bpe": np.arange(10.0)}}
    with pytest.raises(ConfigError) as info:
        Calibration(scores=scores, error="bpe", alphas={"vcr": 1.0}, normalizer="halves")
    err = info.value
    assert "Normalizer 'halves' (Halves) cannot rescale a stream" in err.message
    assert "not fit(reference) and transform(scores)" in err.message
    assert err.hint is not None and "Give it fit() and transform()" in err.hint
    able = err.hint.split("--normalizer: ")[1].rstrip(".").split(", ")
    assert {"none", "minmax", "robust"} <= set(able) and "halves" not in able
    # the same calibration with a fitting normalizer works, and offline the old one still does
    Calibration(scores=scores, error="bpe", alphas={"vcr": 1.0}, normalizer="robust")
    np.testing.assert_array_equal(
        vadkit.create_normalizer("halves").fit_transform(np.array([2.0, 4.0])), [1.0, 2.0]
    )
