"""The 3DCAE backbone of LUSS-AE (METHOD.md, "Backbone")."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from vadkit_luss.backbone import CAE3D

from vadkit.api import create_backbone
from vadkit.components import Backbone
from vadkit.errors import ConfigError

NARROW = (8, 8, 16, 16)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def expected_params(c: int, widths: tuple[int, int, int, int]) -> int:
    """Parameter count by hand: k^3 = 27 weights per channel pair, a bias, BN scale and shift."""
    chain = (c, *widths)
    enc = sum(27 * a * b + b + 2 * b for a, b in itertools.pairwise(chain))
    up = chain[::-1]
    dec = sum(27 * a * b + b + 2 * b for a, b in itertools.pairwise(up[:-1]))
    dec += 27 * up[-2] * up[-1] + up[-1]  # last transposed conv, no norm
    return enc + dec


def test_default_parameter_count_matches_the_paper():
    assert count(CAE3D()) == 5_980_801
    assert expected_params(1, (96, 128, 256, 256)) == 5_980_801


@pytest.mark.parametrize(("c", "widths"), [(1, NARROW), (3, (4, 6, 8, 10))])
def test_parameter_count_of_other_widths(c, widths):
    assert count(CAE3D(in_channels=c, channels=widths)) == expected_params(c, widths)


def test_layers_follow_method():
    m = CAE3D()
    convs = [x for x in m.encoder if isinstance(x, nn.Conv3d)]
    assert [x.stride for x in convs] == [(1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]
    assert [x.out_channels for x in convs] == [96, 128, 256, 256]
    assert all(x.kernel_size == (3, 3, 3) and x.padding == (1, 1, 1) for x in convs)
    assert all(x.bias is not None for x in convs)
    ups = [x for x in m.decoder if isinstance(x, nn.ConvTranspose3d)]
    assert [x.out_channels for x in ups] == [256, 128, 96, 1]
    assert [x.stride for x in ups] == [(2, 2, 2)] * 3 + [(1, 2, 2)]
    assert [x.output_padding for x in ups] == [(1, 1, 1)] * 3 + [(0, 1, 1)]
    norms = [x for x in m.decoder if isinstance(x, nn.BatchNorm3d)]
    assert len(norms) == 3
    assert isinstance(m.decoder[-1], nn.ConvTranspose3d)  # no norm nor activation at the end
    acts = [x for x in m.modules() if isinstance(x, nn.LeakyReLU)]
    assert len(acts) == 7 and all(a.negative_slope == 0.2 for a in acts)


def test_full_size_shapes_on_the_meta_device():
    with torch.device("meta"):  # no memory, no initialisation cost
        m = CAE3D()
    x = torch.empty(1, 1, 16, 256, 256, device="meta")
    z = m.encode(x)
    assert tuple(z.shape) == (1, 256, 2, 16, 16)
    assert m.decode(z).shape == x.shape


def test_latent_shape_is_analytic_and_agrees_with_a_meta_pass():
    m = CAE3D()
    assert m.latent_shape((1, 16, 256, 256)) == (256, 2, 16, 16)
    narrow = CAE3D(channels=NARROW)
    for shape in [(1, 8, 32, 32), (1, 16, 64, 48), (1, 24, 16, 160)]:
        assert narrow.latent_shape(shape) == Backbone.latent_shape(narrow, shape)


def test_small_real_input_round_trip():
    torch.manual_seed(0)
    m = CAE3D(channels=NARROW)
    x = torch.rand(2, 1, 8, 32, 32) * 2 - 1
    f = m.features(x)
    assert f.latent.shape == (2, 16, 1, 2, 2)
    assert f.decoded is not None and f.recon is not None
    assert f.decoded.shape == x.shape
    torch.testing.assert_close(f.recon, torch.tanh(f.decoded))  # decode() is pre-tanh
    assert f.decoded.abs().max() > 0  # not trivially zero
    assert m.features(x, decode=False).decoded is None


def test_colour_input():
    m = CAE3D(in_channels=3, channels=NARROW)
    x = torch.randn(2, 3, 8, 16, 32)
    assert m.activation(m.decode(m.encode(x))).shape == x.shape


@pytest.mark.parametrize(
    "shape",
    [(1, 10, 32, 32), (1, 8, 40, 32), (1, 8, 32, 24), (1, 0, 32, 32), (1, 4, 32, 32)],
)
def test_bad_clip_shapes_raise_config_error_naming_shape_and_rule(shape):
    m = CAE3D(channels=NARROW)
    with pytest.raises(ConfigError) as info:
        m.check_clip_shape(shape)
    msg = str(info.value)
    assert str(shape) in msg
    assert "divisible by 8" in msg and "divisible by 16" in msg
    assert info.value.hint
    with pytest.raises(ConfigError):
        m.latent_shape(shape)


def test_wrong_channel_count_or_rank_raises():
    m = CAE3D(channels=NARROW)
    with pytest.raises(ConfigError, match="1 channel"):
        m.check_clip_shape((3, 8, 32, 32))
    with pytest.raises(ConfigError, match="C, T, H, W"):
        m.check_clip_shape((8, 32, 32))  # type: ignore[arg-type]
    m.check_clip_shape((1, 16, 256, 256))  # fine


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channels": (8, 8, 16)},
        {"channels": (8, 0, 16, 16)},
        {"channels": (8, 8.0, 16, 16)},
        {"channels": 8},
        {"in_channels": 0},
        {"in_channels": True},
        {"negative_slope": -0.1},
        {"negative_slope": float("nan")},
    ],
)
def test_bad_parameters_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        CAE3D(**kwargs)


def test_parameters_are_keyword_only_and_lists_are_accepted():
    with pytest.raises(TypeError):
        CAE3D(1)  # type: ignore[call-arg]
    m = CAE3D(channels=[4, 4, 8, 8], negative_slope=0)  # type: ignore[arg-type]  # from a config file
    assert m.channels == (4, 4, 8, 8)


def test_channels_last_3d_gives_the_same_output():
    torch.manual_seed(1)
    m = CAE3D(channels=NARROW).eval()
    x = torch.randn(2, 1, 8, 32, 32)
    with torch.no_grad():
        ref = m.decode(m.encode(x))
        m_cl = m.to(memory_format=torch.channels_last_3d)
        out = m_cl.decode(m_cl.encode(x.contiguous(memory_format=torch.channels_last_3d)))
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_bfloat16_autocast_trains():
    torch.manual_seed(2)
    m = CAE3D(channels=NARROW)
    x = torch.rand(2, 1, 8, 32, 32) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        f = m.features(x)
        assert f.recon is not None
        loss = (f.recon.float() - x).square().mean()
    assert f.recon.shape == x.shape
    assert torch.isfinite(f.recon).all()
    loss.backward()
    conv = m.encoder[0]
    assert isinstance(conv, nn.Conv3d)
    first = conv.weight.grad
    assert first is not None and torch.isfinite(first).all() and first.abs().sum() > 0


def test_registered_as_cae3d():
    m = create_backbone("cae3d", channels=[4, 4, 8, 8])
    assert isinstance(m, CAE3D)
    assert CAE3D.__doc__ is not None and CAE3D.__doc__.splitlines()[0].strip()
