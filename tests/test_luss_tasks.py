"""The proxy tasks of LUSS-AE: VCR (eq. 3, 12), FFP (eq. 4, 13) and PRP (eq. 5, 6, 14)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from vadkit_luss.backbone import CAE3D
from vadkit_luss.errors import MSE
from vadkit_luss.tasks import (
    FutureFramePrediction,
    PlaybackRatePrediction,
    VideoClipReconstruction,
)

from vadkit.api import create_task
from vadkit.components import SCORE_KEY, Batch, Features
from vadkit.errors import ConfigError, DataError
from vadkit.model import VADModel

NARROW = (8, 8, 16, 16)
TINY = (1, 8, 32, 32)


def feats(decoded: torch.Tensor, latent: torch.Tensor | None = None) -> Features:
    lat = torch.zeros(decoded.shape[0], 1) if latent is None else latent
    return Features(latent=lat, decoded=decoded, recon=torch.tanh(decoded))


# --- VCR -------------------------------------------------------------------------------------


def test_vcr_loss_by_hand():
    task = VideoClipReconstruction()
    # recon = tanh(decoded); pick decoded so that recon is known: atanh(0.5), 0, atanh(-0.5), 0
    decoded = torch.tensor([math.atanh(0.5), 0.0, math.atanh(-0.5), 0.0]).view(1, 1, 2, 1, 2)
    clip = torch.tensor([0.0, 1.0, -0.5, 0.5]).view(1, 1, 2, 1, 2)
    # squared errors: 0.25, 1, 0, 0.25 -> mean over T*C*H*W = 4 values
    loss = task.loss(feats(decoded), Batch(clip=clip))
    assert loss.item() == pytest.approx(1.5 / 4, rel=1e-6)
    assert VideoClipReconstruction.default_weight == 0.6


def test_vcr_compare_is_frames_first():
    task = VideoClipReconstruction()
    decoded = torch.randn(2, 3, 4, 2, 5)
    clip = torch.randn(2, 3, 4, 2, 5)
    pred, real = task.compare(feats(decoded), Batch(clip=clip))
    assert pred.shape == real.shape == (2, 4, 3, 2, 5)
    for b in range(2):
        for t in range(4):
            torch.testing.assert_close(real[b, t], clip[b, :, t])
            torch.testing.assert_close(pred[b, t], torch.tanh(decoded[b, :, t]))
    # eq. (12): the default scores() averages the per-frame errors over the T frames
    scores = task.scores(feats(decoded), Batch(clip=clip), {"mse": MSE()})["mse"]
    expected = ((torch.tanh(decoded) - clip) ** 2).mean(dim=(1, 2, 3, 4))
    torch.testing.assert_close(scores, expected)


def test_vcr_without_decoder_output_raises():
    with pytest.raises(ConfigError, match="decoder"):
        VideoClipReconstruction().loss(Features(latent=torch.zeros(1)), Batch(clip=torch.zeros(1)))


# --- FFP -------------------------------------------------------------------------------------


def built_ffp(head: str, clip_shape=(1, 4, 6, 6)) -> FutureFramePrediction:
    task = FutureFramePrediction(head=head)
    task.build(CAE3D(channels=NARROW), clip_shape)
    return task


def test_ffp_head_shapes_and_parameters():
    paper = built_ffp("paper", (1, 16, 256, 256))
    assert paper.head is not None
    assert paper.head.kernel_size == (3, 3, 3) and paper.head.stride == (16, 1, 1)
    assert sum(p.numel() for p in paper.parameters()) == 28
    full = built_ffp("full", (1, 16, 256, 256))
    assert full.head is not None and full.head.kernel_size == (16, 3, 3)
    assert sum(p.numel() for p in full.parameters()) == 16 * 9 + 1
    colour = built_ffp("full", (3, 8, 32, 32))
    assert colour.head is not None
    assert (colour.head.in_channels, colour.head.out_channels) == (3, 3)
    assert FutureFramePrediction().head_kind == "full"
    assert FutureFramePrediction.default_weight == 0.4


def _set_single_tap(head: nn.Conv3d, t_index: int) -> None:
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()  # type: ignore[union-attr]
        head.weight[0, 0, t_index, 1, 1] = 1.0


@pytest.mark.parametrize(
    ("head", "tap", "slice_"), [("paper", 1, 0), ("paper", 2, 1), ("full", 3, 3)]
)
def test_ffp_prediction_and_loss_by_hand(head, tap, slice_):
    # A head whose only weight is the centre of time tap `tap` copies decoder slice `slice_`:
    # paper head (stride T, padding 1): taps 0, 1, 2 read slices -1 (zero pad), 0, 1.
    task = built_ffp(head)
    assert task.head is not None
    _set_single_tap(task.head, tap)
    decoded = torch.randn(2, 1, 4, 6, 6)
    target = torch.rand(2, 1, 6, 6) * 2 - 1
    pred = task.predict(feats(decoded))
    assert pred.shape == (2, 1, 6, 6)
    expected_pred = np.tanh(decoded[:, :, slice_].numpy())
    np.testing.assert_allclose(pred.detach().numpy(), expected_pred, rtol=1e-5, atol=1e-6)
    loss = task.loss(feats(decoded), Batch(clip=torch.zeros(2, 1, 4, 6, 6), target=target))
    expected_loss = ((expected_pred - target.numpy()) ** 2).sum() / (2 * 1 * 6 * 6)
    assert loss.item() == pytest.approx(expected_loss, rel=1e-5)


def test_paper_head_sees_only_decoder_slices_0_and_1_and_full_head_sees_all():
    torch.manual_seed(0)
    decoded = torch.randn(1, 1, 8, 6, 6)
    late = decoded.clone()
    late[:, :, 2:] += 5.0  # change every slice after the first two
    early = decoded.clone()
    early[:, :, 1] += 5.0
    paper = built_ffp("paper", (1, 8, 6, 6))
    torch.testing.assert_close(paper.predict(feats(late)), paper.predict(feats(decoded)))
    assert not torch.allclose(paper.predict(feats(early)), paper.predict(feats(decoded)))
    full = built_ffp("full", (1, 8, 6, 6))
    last = decoded.clone()
    last[:, :, -1] += 5.0
    assert not torch.allclose(full.predict(feats(last)), full.predict(feats(decoded)))


def test_ffp_compare_shapes():
    task = built_ffp("full")
    decoded = torch.randn(3, 1, 4, 6, 6)
    target = torch.randn(3, 1, 6, 6)
    pred, real = task.compare(feats(decoded), Batch(clip=torch.zeros(3, 1, 4, 6, 6), target=target))
    assert pred.shape == real.shape == (3, 1, 1, 6, 6)
    torch.testing.assert_close(real[:, 0], target)


def test_ffp_errors():
    with pytest.raises(ConfigError, match="head"):
        FutureFramePrediction(head="2d")
    with pytest.raises(ConfigError, match="build"):
        FutureFramePrediction().predict(feats(torch.zeros(1, 1, 4, 6, 6)))
    task = built_ffp("paper")
    with pytest.raises(DataError, match="target"):
        task.loss(feats(torch.zeros(1, 1, 4, 6, 6)), Batch(clip=torch.zeros(1, 1, 4, 6, 6)))


# --- PRP: head ---------------------------------------------------------------------------------


def built_prp(clip_shape=TINY, channels=NARROW, **kwargs) -> PlaybackRatePrediction:
    task = PlaybackRatePrediction(**kwargs)
    task.build(CAE3D(channels=channels), clip_shape)
    return task


def first_linear(task: PlaybackRatePrediction) -> nn.Linear:
    assert task.head is not None
    return next(m for m in task.head if isinstance(m, nn.Linear))


@pytest.mark.parametrize(
    ("clip_shape", "flat"),
    [
        ((1, 16, 256, 256), 512),  # latent 2x16x16 -> 1x8x8 -> conv -> 4x4, x32
        ((1, 8, 32, 32), 32),  # latent 1x2x2 -> 1x1x1 -> 1x1
        ((1, 16, 64, 64), 32),  # latent 2x4x4 -> 2x2 -> 1x1
        ((1, 8, 96, 96), 128),  # latent 1x6x6 -> 3x3 -> 2x2 (ceil)
        ((1, 8, 32, 160), 96),  # latent 1x2x10 -> 1x5 -> 1x3 (ceil)
    ],
)
def test_prp_head_sizes_itself_from_the_latent(clip_shape, flat):
    task = built_prp(clip_shape)
    assert first_linear(task).in_features == flat
    latent = torch.randn(2, *CAE3D(channels=NARROW).latent_shape(clip_shape))
    assert task.logits(Features(latent=latent)).shape == (2, 2)


def test_prp_parameter_count_at_paper_size():
    task = built_prp((1, 16, 256, 256), channels=(96, 128, 256, 256))
    # Conv2d 256->32 3x3, Linear 512->128, 128->32, 32->2
    assert sum(p.numel() for p in task.parameters()) == 73_760 + 65_664 + 4_128 + 66


def test_prp_ceil_mode_pooling_matches_floor_mode_at_even_sizes():
    torch.manual_seed(0)
    task = built_prp((1, 16, 64, 128))
    assert task.head is not None
    floor_head = nn.Sequential(*task.head)  # same layers, pools switched to floor mode below
    latent = torch.randn(3, 16, 2, 4, 8)
    ceil_out = task.head(latent)
    for m in floor_head:
        if isinstance(m, nn.MaxPool3d | nn.MaxPool2d):
            m.ceil_mode = False
    torch.testing.assert_close(floor_head(latent), ceil_out)


def test_prp_head_uses_only_the_first_pooled_time_slice():
    task = built_prp((1, 32, 32, 32))  # latent time 4 -> pooled 2; keeps pooled slice 0
    latent = torch.randn(1, 16, 4, 2, 2)
    changed = latent.clone()
    changed[:, :, 2:] += 3.0
    torch.testing.assert_close(
        task.logits(Features(latent=changed)), task.logits(Features(latent=latent))
    )


def _constant_logits(task: PlaybackRatePrediction, b0: float, b1: float) -> None:
    assert task.head is not None
    last = task.head[-1]
    assert isinstance(last, nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor([b0, b1]))


def test_prp_loss_and_score_by_hand():
    task = built_prp()
    _constant_logits(task, 0.3, -1.2)
    latent = torch.randn(3, 16, 1, 2, 2)
    labels = torch.tensor([0, 1, 1])
    batch = Batch(clip=torch.zeros(3, 1, 8, 32, 32), labels={"prp": labels})
    loss = task.loss(Features(latent=latent), batch)
    log_z = math.log(math.exp(0.3) + math.exp(-1.2))
    expected = ((log_z - 0.3) + 2 * (log_z + 1.2)) / 3  # mean of -log softmax[label]
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    score = task.scores(Features(latent=latent), batch, {})[SCORE_KEY]
    p_acc = 1.0 / (1.0 + math.exp(0.3 + 1.2))
    np.testing.assert_allclose(score.detach().numpy(), [p_acc] * 3, rtol=1e-6)


def test_prp_flags_and_errors():
    assert PlaybackRatePrediction.uses_decoder is False
    assert PlaybackRatePrediction.uses_error is False
    assert PlaybackRatePrediction.default_weight == 1.0
    with pytest.raises(ConfigError, match="build"):
        PlaybackRatePrediction().logits(Features(latent=torch.zeros(1, 16, 1, 2, 2)))
    task = built_prp()
    latent = Features(latent=torch.zeros(2, 16, 1, 2, 2))
    with pytest.raises(DataError, match="labels"):
        task.loss(latent, Batch(clip=torch.zeros(2)))
    two = {"a": torch.tensor([0, 1]), "b": torch.tensor([1, 1])}
    with pytest.raises(DataError, match=r"\['a', 'b'\]"):
        task.loss(latent, Batch(clip=torch.zeros(2), labels=two))


def test_prp_finds_its_labels_under_its_model_name():
    task = built_prp()
    _constant_logits(task, 0.0, 2.0)
    latent = Features(latent=torch.zeros(2, 16, 1, 2, 2))
    y, other = torch.tensor([1, 1]), torch.tensor([0, 0])
    by_default = task.loss(latent, Batch(clip=torch.zeros(2), labels={"prp": y, "x": other}))
    assert by_default.item() == pytest.approx(math.log(1 + math.exp(-2.0)), rel=1e-6)
    task.name = "speed"
    renamed = task.loss(latent, Batch(clip=torch.zeros(2), labels={"speed": y, "prp": other}))
    assert renamed.item() == pytest.approx(by_default.item())
    with pytest.raises(DataError, match="'speed'"):
        task.loss(latent, Batch(clip=torch.zeros(2), labels={"prp": y}))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"p_accelerated": 1.5},
        {"p_accelerated": -0.1},
        {"p_accelerated": float("nan")},
        {"rates": ()},
        {"rates": (1, 2)},
        {"rates": (2.5,)},
        {"rates": 3},
        {"rate_per": "video"},
    ],
)
def test_prp_rejects_bad_parameters(kwargs):
    with pytest.raises(ConfigError):
        PlaybackRatePrediction(**kwargs)


# --- PRP: sampling -----------------------------------------------------------------------------


def draw(task, start, sample_seed, batch_seed, t=16):
    return task.sample_view(
        start, t, np.random.default_rng(sample_seed), np.random.default_rng(batch_seed)
    )


def test_prp_views_are_original_or_strided_clips():
    task = PlaybackRatePrediction()
    seen = set()
    for i in range(200):
        idx, label = draw(task, 7, i, 1000 + i)
        assert idx.dtype == np.int64 and idx.shape == (16,)
        step = int(idx[1] - idx[0])
        np.testing.assert_array_equal(idx, 7 + step * np.arange(16))
        assert (label, step) in {(0, 1), (1, 2), (1, 3), (1, 4), (1, 5)}
        seen.add((label, step))
    assert len(seen) == 5


def test_prp_views_are_deterministic_given_the_generators():
    task = PlaybackRatePrediction(rate_per="clip")
    a = [draw(task, 3, i, 99) for i in range(50)]
    b = [draw(task, 3, i, 99) for i in range(50)]
    for (ia, la), (ib, lb) in zip(a, b, strict=True):
        assert la == lb
        np.testing.assert_array_equal(ia, ib)


@pytest.mark.parametrize("rate_per", ["batch", "clip"])
def test_prp_sampling_statistics(rate_per):
    task = PlaybackRatePrediction(rate_per=rate_per)
    n = 4000
    labels, rates = [], []
    for i in range(n):
        idx, label = draw(task, 0, i, 10_000 + i)  # independent batches
        labels.append(label)
        if label:
            rates.append(int(idx[1]))
    # 0.5 +- 4 standard deviations (sd = 0.0079)
    assert abs(np.mean(labels) - 0.5) < 0.032
    freq = np.bincount(rates, minlength=6)[2:] / len(rates)
    assert np.all(np.abs(freq - 0.25) < 0.04), freq  # sd about 0.0097


def test_prp_rate_is_shared_by_a_batch_in_batch_mode():
    task = PlaybackRatePrediction()  # rate_per="batch", as in the paper
    per_batch_rates: list[int] = []
    for batch in range(40):
        # every sample gets its own rng and a fresh copy of the batch's rng
        views = [draw(task, 5 * s, 100 * batch + s, batch) for s in range(16)]
        rates = {int(idx[1] - idx[0]) for idx, label in views if label == 1}
        assert len(rates) <= 1
        per_batch_rates.extend(rates)
        assert {label for _, label in views} == {0, 1}  # the class is still drawn per sample
    assert set(per_batch_rates) == {2, 3, 4, 5}


def test_prp_rate_is_drawn_per_clip_in_clip_mode():
    task = PlaybackRatePrediction(rate_per="clip")
    rates = {
        int(idx[1] - idx[0]) for idx, label in (draw(task, 0, s, 0) for s in range(64)) if label
    }
    assert rates == {2, 3, 4, 5}  # the same batch rng, yet different rates
    # and the batch rng plays no part
    for s in range(20):
        a, la = draw(task, 0, s, 1)
        b, lb = draw(task, 0, s, 2)
        assert la == lb
        np.testing.assert_array_equal(a, b)


def test_prp_probability_and_rate_parameters():
    always = PlaybackRatePrediction(p_accelerated=1.0, rates=(3,))
    never = PlaybackRatePrediction(p_accelerated=0.0)
    for i in range(30):
        idx, label = draw(always, 2, i, i, t=8)
        assert label == 1
        np.testing.assert_array_equal(idx, 2 + 3 * np.arange(8))
        idx, label = draw(never, 2, i, i, t=8)
        assert label == 0
        np.testing.assert_array_equal(idx, 2 + np.arange(8))
    rare = PlaybackRatePrediction(p_accelerated=0.1)
    frac = np.mean([draw(rare, 0, i, i)[1] for i in range(2000)])
    assert abs(frac - 0.1) < 0.03


# --- the three tasks together ------------------------------------------------------------------


def test_registered_names():
    assert isinstance(create_task("vcr"), VideoClipReconstruction)
    assert isinstance(create_task("ffp", head="paper"), FutureFramePrediction)
    assert isinstance(create_task("prp", rates=[2, 4]), PlaybackRatePrediction)


def test_paper_model_has_6124447_parameters():
    model = VADModel(
        CAE3D(),
        {
            "vcr": VideoClipReconstruction(),
            "ffp": FutureFramePrediction(head="paper"),
            "prp": PlaybackRatePrediction(),
        },
        (1, 16, 256, 256),
    )
    assert sum(p.numel() for p in model.parameters()) == 6_124_447


def moving_square_video(n: int = 40, size: int = 32) -> torch.Tensor:
    """(C=1, n, size, size) in [-1, 1]: a bright 6x6 square moving right one pixel per frame."""
    video = torch.full((1, n, size, size), -0.8)
    for t in range(n):
        x = t % (size - 6)
        video[0, t, 12:18, x : x + 6] = 0.8
    return video


def tiny_batch(video: torch.Tensor, prp: PlaybackRatePrediction, seed: int = 0) -> Batch:
    t = TINY[1]
    starts = [0, 6, 12, 18]
    clips, targets, views, labels = [], [], [], []
    batch_rng = np.random.default_rng(seed)
    for i, s in enumerate(starts):
        clips.append(video[:, s : s + t])
        targets.append(video[:, s + t])
        idx, label = prp.sample_view(
            s,
            t,
            np.random.default_rng([seed, i]),
            np.random.default_rng(batch_rng.integers(1 << 31)),
        )
        views.append(video[:, np.clip(idx, 0, video.shape[1] - 1)])
        labels.append(label)
    return Batch(
        clip=torch.stack(clips),
        target=torch.stack(targets),
        views={"prp": torch.stack(views)},
        labels={"prp": torch.tensor(labels)},
    )


def test_training_a_tiny_model_reduces_the_total_loss():
    torch.manual_seed(0)
    tasks = {
        "vcr": VideoClipReconstruction(),
        "ffp": FutureFramePrediction(),
        "prp": PlaybackRatePrediction(),
    }
    model = VADModel(CAE3D(channels=NARROW), tasks, TINY)
    batch = tiny_batch(moving_square_video(), tasks["prp"])  # type: ignore[arg-type]
    assert set(batch.labels["prp"].tolist()) == {0, 1}

    def total() -> torch.Tensor:
        losses = model.training_losses(batch)
        assert set(losses) == {"vcr", "ffp", "prp"}
        return sum(
            (type(tasks[k]).default_weight * v for k, v in losses.items()), torch.tensor(0.0)
        )

    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    initial = total().item()
    for _ in range(12):
        opt.zero_grad()
        loss = total()
        loss.backward()
        opt.step()
    final = total().item()
    assert math.isfinite(final)
    assert final < 0.8 * initial, (initial, final)

    model.eval()
    with torch.no_grad():
        scores = model.window_scores(batch, {"mse": MSE()})
    assert scores["vcr"]["mse"].shape == scores["ffp"]["mse"].shape == (4,)
    assert scores["prp"][SCORE_KEY].shape == (4,)
    assert ((scores["prp"][SCORE_KEY] >= 0) & (scores["prp"][SCORE_KEY] <= 1)).all()
