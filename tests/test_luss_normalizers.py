"""Per-video score normalizers of LUSS-AE: identity, min-max and robust (eq. 16)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler, RobustScaler
from vadkit_luss.normalizers import Identity, MinMax, Robust

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
