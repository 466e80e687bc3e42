"""Optimizer, learning-rate schedule and weight EMA of training (vadkit.training.optim, via timm)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vadkit.config import TrainSettings, resolve_config
from vadkit.errors import ConfigError
from vadkit.training.optim import Optimization


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))


def test_default_is_the_papers_adam_without_schedule_or_ema():
    model = _net()
    opt = Optimization(model, TrainSettings(), updates_per_epoch=7)
    assert type(opt.optimizer) is torch.optim.Adam
    assert opt.optimizer.param_groups[0]["lr"] == TrainSettings.lr
    assert opt.optimizer.param_groups[0]["weight_decay"] == 0.0
    assert len(opt.optimizer.param_groups) == 1
    assert opt.scheduler is None and opt.ema_model is None


def test_cosine_schedule_with_warm_up_matches_the_formula():
    model = _net()
    train = TrainSettings(
        epochs=4, lr=1e-2, schedule="cosine", warmup_epochs=1, warmup_lr=1e-4, min_lr=1e-5
    )
    per_epoch = 5
    opt = Optimization(model, train, updates_per_epoch=per_epoch)
    total, warm = train.epochs * per_epoch, per_epoch
    for step in range(1, total):
        opt.after_step(model, step)
        lr = opt.optimizer.param_groups[0]["lr"]
        if step < warm:  # linear warm-up from warmup_lr towards lr
            expected = 1e-4 + step * (1e-2 - 1e-4) / warm
        else:
            expected = 1e-5 + 0.5 * (1e-2 - 1e-5) * (1 + math.cos(math.pi * step / total))
        assert lr == pytest.approx(expected, rel=1e-9), step


def test_ema_follows_timms_warm_up_decay_on_parameters_and_batchnorm_buffers():
    model = _net()
    train = TrainSettings(ema=True, ema_decay=0.9, ema_warmup=True)
    opt = Optimization(model, train, updates_per_epoch=1)
    ema = opt.ema_model
    assert ema is not None
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
        model[1].running_mean.add_(2.0)
    step = 3
    opt.after_step(model, step)
    # timm's warm-up: decay = 1 - (1 + (step - 1)) ** -2/3, capped at ema_decay
    decay = min(1 - (1 + (step - 1)) ** (-2 / 3), 0.9)
    now = model.state_dict()
    for key, value in ema.state_dict().items():
        if value.is_floating_point():
            expected = decay * before[key] + (1 - decay) * now[key]
            assert torch.allclose(value, expected, atol=1e-6), key
    assert not torch.equal(ema.state_dict()["1.running_mean"], before["1.running_mean"])


def test_resumed_state_restores_ema_and_learning_rate():
    train = TrainSettings(epochs=3, ema=True, schedule="cosine", warmup_epochs=1)
    a, b = _net(), _net()
    first = Optimization(a, train, updates_per_epoch=4)
    with torch.no_grad():
        next(a.parameters()).add_(1.0)
    for step in range(1, 6):
        first.after_step(a, step)
    state = {"optimizer": first.optimizer.state_dict(), **first.extra_state()}
    second = Optimization(b, train, updates_per_epoch=4)
    second.load_state_dict(state, step=5)
    assert second.optimizer.param_groups[0]["lr"] == first.optimizer.param_groups[0]["lr"]
    assert second.ema_model is not None and first.ema_model is not None
    for (k, x), y in zip(
        first.ema_model.state_dict().items(), second.ema_model.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), k


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("train.optimizer=adamm", "not a timm optimizer"),
        ("train.schedule=step", "train.schedule"),
        ("train.ema_decay=1.0", "train.ema_decay"),
        ("train.warmup_epochs=60", "train.warmup_epochs"),
        ("score.weights=best", "score.weights"),
        ("data.val_videos=-1", "data.val_videos"),
    ],
)
def test_bad_settings_name_the_key(override: str, match: str):
    extra = ["train.schedule=cosine"] if "warmup" in override else []
    with pytest.raises(ConfigError, match=match):
        resolve_config(overrides=[override, *extra])
