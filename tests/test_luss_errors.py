"""Per-frame error measures of LUSS-AE: MSE (eq. 8), PSNR, PSE (eq. 9-10), BPE (eq. 11).

Expected values come from eq. (10) evaluated by hand or by plain numpy loops, independent of the
implementation.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from vadkit_luss.errors import BPE, MSE, PSE, PSNR

from vadkit.errors import ConfigError


def eq10(sigma: float = 1.0, k: int = 5, normalize: bool = True) -> np.ndarray:
    """Eq. (10) with python loops."""
    half = k // 2
    g = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            i, j = a - half, b - half
            g[a, b] = math.exp(-(i * i + j * j) / (2 * sigma * sigma)) / (
                2 * math.pi * sigma * sigma
            )
    return g / g.sum() if normalize else g


def blur_loop(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Zero-padded 'same' 2-D filtering of one (H, W) image by an explicit loop."""
    h, w = img.shape
    half = g.shape[0] // 2
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            acc = 0.0
            for a in range(-half, half + 1):
                for b in range(-half, half + 1):
                    yy, xx = y + a, x + b
                    if 0 <= yy < h and 0 <= xx < w:
                        acc += img[yy, xx] * g[a + half, b + half]
            out[y, x] = acc
    return out


def as_t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float32))


# --- MSE -------------------------------------------------------------------------------------


def test_mse_by_hand():
    pred = as_t(np.array([[[[1.0, 2.0], [3.0, 4.0]]], [[[0.0, 0.0], [0.0, 0.5]]]]))
    real = torch.zeros(2, 1, 2, 2)
    out = MSE()(pred, real)
    assert out.shape == (2,)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), [(1 + 4 + 9 + 16) / 4, 0.25 / 4])


# --- PSNR ------------------------------------------------------------------------------------


def test_psnr_matches_numpy_formula():
    rng = np.random.default_rng(0)
    pred = rng.uniform(-1, 1, (3, 2, 5, 7))
    real = rng.uniform(-1, 1, (3, 2, 5, 7))
    expected = [10 * np.log10(4.0 / np.mean((pred[i] - real[i]) ** 2)) for i in range(3)]
    np.testing.assert_allclose(PSNR()(as_t(pred), as_t(real)).numpy(), expected, rtol=1e-5)
    expected255 = [10 * np.log10(255.0**2 / np.mean((pred[i] - real[i]) ** 2)) for i in range(3)]
    got255 = PSNR(data_range=255.0)(as_t(pred), as_t(real)).numpy()
    np.testing.assert_allclose(got255, expected255, rtol=1e-5)


def test_psnr_identical_frames_are_finite_and_psnr_is_a_similarity():
    x = torch.rand(2, 1, 4, 4)
    out = PSNR()(x, x)
    assert torch.isfinite(out).all()
    np.testing.assert_allclose(out.numpy(), 10 * np.log10(4.0 / 1e-10), rtol=1e-5)
    assert PSNR.higher_is_anomalous is False
    assert MSE.higher_is_anomalous and PSE.higher_is_anomalous and BPE.higher_is_anomalous


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), True, "2"])
def test_psnr_rejects_bad_data_range(bad):
    with pytest.raises(ConfigError, match="data_range"):
        PSNR(data_range=bad)


# --- Gaussian kernel ---------------------------------------------------------------------------


def test_kernel_values_follow_eq10():
    raw = PSE(normalize=False).kernel.numpy()
    np.testing.assert_allclose(raw, eq10(normalize=False), rtol=1e-6)
    # centre value 1 / (2 pi); sum = (sum_i exp(-i^2/2))^2 / (2 pi) = 0.98181...
    assert raw[2, 2] == pytest.approx(1 / (2 * math.pi), rel=1e-6)
    s = 1 + 2 * math.exp(-0.5) + 2 * math.exp(-2.0)
    assert raw.sum() == pytest.approx(s * s / (2 * math.pi), rel=1e-6)
    assert raw.sum() == pytest.approx(0.9818, abs=1e-4)
    assert PSE().kernel.sum().item() == pytest.approx(1.0, abs=1e-6)


def test_kernel_is_a_non_persistent_buffer_that_follows_the_module():
    m = BPE()
    assert "kernel" in dict(m.named_buffers())
    assert "kernel" not in m.state_dict()
    assert m.double().kernel.dtype == torch.float64


# --- PSE -------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalize", [True, False])
def test_pse_single_pixel_error_by_hand(normalize):
    # One unit error at (2, 3) of a 6x6 frame; the 5x5 kernel fits inside the frame, so the blurred
    # error image is the kernel itself placed at rows 0..4, cols 1..5: PSE = sum(G^2) / 36.
    g = eq10(normalize=normalize)
    err = np.zeros((6, 6))
    err[2, 3] = 1.0
    blurred = blur_loop(err, g)
    expected_image = np.zeros((6, 6))
    expected_image[0:5, 1:6] = g
    np.testing.assert_allclose(blurred, expected_image, atol=1e-15)
    expected = (g**2).sum() / 36.0
    pred = as_t(err[None, None])
    got = PSE(normalize=normalize)(pred, torch.zeros(1, 1, 6, 6))
    np.testing.assert_allclose(got.numpy(), [expected], rtol=1e-5)


def test_pse_corner_pixel_uses_zero_padding():
    # Error at (0, 0): only the kernel's quarter with i, j >= 0 lands inside the frame.
    g = eq10()
    expected = (g[2:, 2:] ** 2).sum() / 36.0
    err = torch.zeros(1, 1, 6, 6)
    err[0, 0, 0, 0] = 1.0
    got = PSE()(err, torch.zeros_like(err))
    np.testing.assert_allclose(got.numpy(), [expected], rtol=1e-5)


def test_pse_random_matches_loop_and_unnormalized_is_a_constant_factor():
    rng = np.random.default_rng(1)
    err = rng.normal(size=(7, 5))
    expected = (blur_loop(err, eq10()) ** 2).mean()
    got = PSE()(as_t(err[None, None]), torch.zeros(1, 1, 7, 5))
    np.testing.assert_allclose(got.numpy(), [expected], rtol=1e-5)
    raw = PSE(normalize=False)(as_t(err[None, None]), torch.zeros(1, 1, 7, 5))
    factor = eq10(normalize=False).sum() ** 2
    np.testing.assert_allclose(raw.numpy(), got.numpy() * factor, rtol=1e-5)


def test_pse_sigma_and_kernel_size():
    rng = np.random.default_rng(2)
    err = rng.normal(size=(9, 9))
    expected = (blur_loop(err, eq10(sigma=0.5, k=3)) ** 2).mean()
    got = PSE(sigma=0.5, kernel_size=3)(as_t(err[None, None]), torch.zeros(1, 1, 9, 9))
    np.testing.assert_allclose(got.numpy(), [expected], rtol=1e-5)


# --- BPE -------------------------------------------------------------------------------------


def bpe_loop(err: np.ndarray, stride: int = 2) -> float:
    """Blur (full size, zero padding 2), subsample rows/cols 0, b, 2b, ..., mean of squares."""
    g = eq10()
    total, count = 0.0, 0
    for c in range(err.shape[0]):
        blurred = blur_loop(err[c], g)
        for y in range(0, err.shape[1], stride):
            for x in range(0, err.shape[2], stride):
                total += blurred[y, x] ** 2
                count += 1
    return total / count


@pytest.mark.parametrize(("h", "w", "stride"), [(6, 6, 2), (7, 9, 2), (8, 8, 3)])
def test_bpe_matches_blur_then_subsample_loop(h, w, stride):
    rng = np.random.default_rng(h * w)
    pred = rng.uniform(-1, 1, (2, 2, h, w))
    real = rng.uniform(-1, 1, (2, 2, h, w))
    expected = [bpe_loop(pred[i] - real[i], stride) for i in range(2)]
    got = BPE(stride=stride)(as_t(pred), as_t(real))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


def test_bpe_single_pixel_by_hand():
    # Error at (2, 3) of 6x6: the blurred image is G at rows 0..4, cols 1..5; subsampling keeps
    # rows {0, 2, 4} and cols {2, 4} of it, i.e. kernel rows {0, 2, 4} x cols {1, 3}; 9 samples.
    g = eq10()
    expected = sum(g[a, b] ** 2 for a in (0, 2, 4) for b in (1, 3)) / 9.0
    err = torch.zeros(1, 1, 6, 6)
    err[0, 0, 2, 3] = 1.0
    got = BPE()(err, torch.zeros_like(err))
    np.testing.assert_allclose(got.numpy(), [expected], rtol=1e-5)


def test_bpe_with_stride_one_equals_pse():
    x, y = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(BPE(stride=1)(x, y), PSE()(x, y))


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (PSE, {"kernel_size": 4}),
        (PSE, {"kernel_size": 0}),
        (PSE, {"sigma": 0.0}),
        (PSE, {"sigma": float("inf")}),
        (BPE, {"stride": 0}),
        (BPE, {"stride": 1.5}),
        (BPE, {"kernel_size": 2.0}),
    ],
)
def test_bad_parameters_raise_config_error(cls, kwargs):
    with pytest.raises(ConfigError):
        cls(**kwargs)


# --- properties shared by all measures ---------------------------------------------------------

MEASURES = [MSE(), PSNR(), PSE(), BPE(), PSE(normalize=False)]


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: repr(m))
def test_frames_are_independent_in_a_batch(measure):
    gen = torch.Generator().manual_seed(0)
    pred = torch.rand(4, 2, 8, 10, generator=gen) * 2 - 1
    real = torch.rand(4, 2, 8, 10, generator=gen) * 2 - 1
    real[2] = pred[2]  # a perfect frame among imperfect ones
    batched = measure(pred, real)
    assert batched.shape == (4,)
    singles = torch.cat([measure(pred[i : i + 1], real[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(batched, singles)
    if measure.higher_is_anomalous:
        assert batched[2].item() == 0.0  # no error leaks in from neighbouring frames
        assert (batched[[0, 1, 3]] > 0).all()


@pytest.mark.parametrize("measure", [MSE(), PSE(), BPE()], ids=lambda m: repr(m))
def test_channels_are_not_mixed(measure):
    # An error in one channel of three gives a third of the one-channel value (mean over C*H*W);
    # a kernel that mixed channels would spread the error to the other two.
    err = torch.zeros(1, 1, 6, 6)
    err[0, 0, 2, 3] = 1.0
    err[0, 0, 4, 1] = -0.5
    one = measure(err, torch.zeros_like(err))
    three = torch.zeros(1, 3, 6, 6)
    three[:, 1] = err[:, 0]
    torch.testing.assert_close(measure(three, torch.zeros_like(three)), one / 3)


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: repr(m))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_any_input_dtype_gives_float32(measure, dtype):
    pred = torch.linspace(-1, 1, 2 * 36).view(2, 1, 6, 6)
    real = torch.zeros(2, 1, 6, 6)
    ref = measure(pred.to(dtype).float(), real)
    out = measure(pred.to(dtype), real.to(dtype))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: repr(m))
def test_autocast_does_not_lower_precision(measure):
    gen = torch.Generator().manual_seed(3)
    pred, real = torch.randn(2, 1, 8, 8, generator=gen), torch.randn(2, 1, 8, 8, generator=gen)
    ref = measure(pred, real)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = measure(pred, real)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)


@pytest.mark.parametrize("measure", MEASURES, ids=lambda m: repr(m))
def test_shape_mismatch_raises(measure):
    with pytest.raises(ConfigError, match=r"\(2, 1, 6, 6\)"):
        measure(torch.zeros(2, 1, 6, 6), torch.zeros(2, 1, 6, 5))
    with pytest.raises(ConfigError):
        measure(torch.zeros(1, 6, 6), torch.zeros(1, 6, 6))
