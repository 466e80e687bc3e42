"""Averaging the last epoch checkpoints and re-estimating BatchNorm statistics before scoring."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from vadkit.api import create_backbone, create_task
from vadkit.components import Batch
from vadkit.errors import CheckpointError
from vadkit.inference.average import (
    average_weights,
    batchnorm_layers,
    epoch_checkpoints,
    recalibrate_batchnorm,
)
from vadkit.model import VADModel

SHAPE = (1, 8, 32, 32)


def tiny_model() -> VADModel:
    torch.manual_seed(0)
    backbone = create_backbone("cae3d", channels=(4, 8, 8, 8))
    return VADModel(backbone, {n: create_task(n) for n in ("vcr", "ffp", "prp")}, SHAPE).eval()


def save_epochs(run: Path, model: VADModel, values: list[float]) -> list[Path]:
    """Epoch checkpoints whose floating tensors are all filled with one value each."""
    folder = run / "checkpoints"
    folder.mkdir(parents=True)
    paths = []
    for epoch, value in enumerate(values, start=1):
        state = {
            k: (torch.full_like(v, value) if v.is_floating_point() else v + epoch).contiguous()
            for k, v in model.state_dict().items()
        }
        path = folder / f"epoch_{epoch:04d}.safetensors"
        save_file(state, str(path))
        paths.append(path)
    return paths


def test_average_of_the_last_checkpoints(tmp_path: Path) -> None:
    model = tiny_model()
    save_epochs(tmp_path, model, [100.0, 1.0, 2.0, 6.0])
    paths = epoch_checkpoints(tmp_path, 3)
    assert [p.stem for p in paths] == ["epoch_0002", "epoch_0003", "epoch_0004"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    average_weights(model, paths)
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            assert torch.all(value == 3.0), key  # (1 + 2 + 6) / 3
        else:  # BatchNorm's batch counters: from the last checkpoint
            assert torch.equal(value, before[key] + 4), key


def test_too_few_checkpoints(tmp_path: Path) -> None:
    save_epochs(tmp_path, tiny_model(), [1.0])
    with pytest.raises(CheckpointError, match="has 1 epoch checkpoint"):
        epoch_checkpoints(tmp_path, 2)


def test_batchnorm_statistics_are_the_mean_over_all_windows() -> None:
    model = tiny_model()
    g = torch.Generator().manual_seed(0)
    batches = [
        Batch(clip=torch.rand((4, *SHAPE), generator=g) * 2 - 1, target=torch.zeros(4, 1, 32, 32))
        for _ in range(3)
    ]
    first_bn = batchnorm_layers(model)[0]
    weights = {k: v.clone() for k, v in model.named_parameters()}
    seen_inputs: list[torch.Tensor] = []
    hook = first_bn.register_forward_pre_hook(lambda m, args: seen_inputs.append(args[0]))
    with torch.no_grad():  # what the first BatchNorm receives (the conv before it is unchanged)
        for b in batches:
            model.backbone.encode(b.clip)
    hook.remove()
    expected = torch.stack([x.mean(dim=(0, 2, 3, 4)) for x in seen_inputs]).mean(dim=0)

    assert recalibrate_batchnorm(model, batches) == 12
    torch.testing.assert_close(first_bn.running_mean, expected, rtol=1e-5, atol=1e-6)
    assert not model.training and not first_bn.training
    for key, value in model.named_parameters():
        assert torch.equal(value, weights[key]), key  # only the statistics change
