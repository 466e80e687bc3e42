"""The timm backbone: any timm 2-D model per frame, offline (pretrained=False) at tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import quiet_machine

from vadkit import plugins
from vadkit.config import resolve_config
from vadkit.errors import ConfigError
from vadkit.testing import check_backbone, check_task

SMALL = ("resnet10t", "mobilenetv3_small_050")


@pytest.fixture(autouse=True)
def _one_thread(tmp_path: Path):
    with quiet_machine(tmp_path / "cache"):
        yield


@pytest.mark.parametrize("model", SMALL)
def test_conformance_and_latent_shape(model: str):
    from vadkit_luss.timm_backbone import TimmBackbone

    check_backbone("timm", model=model, width=16)
    bb = TimmBackbone(model=model, width=16, level=2)
    r = bb.reduction
    assert bb.latent_shape((1, 8, 32, 32)) == (16, 4, 32 // r, 32 // r)
    clip = torch.rand(2, 1, 8, 32, 32) * 2 - 1
    latent = bb.encode(clip)
    assert tuple(latent.shape) == (2, 16, 4, 32 // r, 32 // r)
    assert tuple(bb.decode(latent).shape) == (2, 1, 8, 32, 32)


def test_the_model_is_applied_to_each_frame_independently():
    """The 2-D model sees every frame alone: changing frame 5 changes only its feature map."""
    from vadkit_luss.timm_backbone import TimmBackbone

    bb = TimmBackbone(model="resnet10t", width=8, level=1).eval()
    clip = torch.rand(1, 1, 8, 32, 32)
    other = clip.clone()
    other[:, :, 5] = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        a = bb.frames(clip[0].transpose(0, 1))[-1]
        b = bb.frames(other[0].transpose(0, 1))[-1]
    same = [torch.equal(a[t], b[t]) for t in range(8)]
    assert same == [t != 5 for t in range(8)]


@pytest.mark.parametrize("task", ["vcr", "ffp", "prp"])
def test_every_luss_task_runs_on_it(task: str):
    from vadkit_luss.timm_backbone import TimmBackbone

    check_task(task, backbone=TimmBackbone(model="mobilenetv3_small_050", width=16))


def test_training_steps_for_all_three_tasks(tiny_scene: Path, tmp_path: Path):
    from vadkit.training.trainer import Trainer

    config = resolve_config(
        overrides=[
            "model.backbone=timm",
            "model.params={model='resnet10t', width=8, level=1}",
            "data.size=[32,32]",
            "data.clip_length=8",
            "data.stride=4",
            "train.batch_size=4",
            "train.epochs=1",
            "train.log_steps=1",
        ],
        flags={"data.root": str(tiny_scene)},
    )
    assert config["tasks"]["names"] == ["vcr", "ffp", "prp"]
    result = Trainer(config, tmp_path / "run", handle_signals=False).fit()
    assert result["steps"] >= 2
    steps = [
        json.loads(line)
        for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
        if '"event": "step"' in line
    ]
    for record in steps:
        assert set(record["losses"]) == {"vcr", "ffp", "prp"}
        assert all(torch.isfinite(torch.tensor(v)) for v in record["losses"].values())


def test_unknown_model_and_bad_shapes_are_refused():
    from vadkit_luss.timm_backbone import TimmBackbone

    with pytest.raises(ConfigError, match="not a timm model"):
        TimmBackbone(model="resnet10x")
    with pytest.raises(ConfigError, match="feature levels"):
        TimmBackbone(model="resnet10t", level=9)
    bb = TimmBackbone(model="resnet10t", width=8)
    with pytest.raises(ConfigError, match="divisible by 32"):
        bb.check_clip_shape((1, 8, 48, 48))
    with pytest.raises(ConfigError, match="T even"):
        bb.check_clip_shape((1, 7, 32, 32))


def test_list_backbones_reaches_timms_catalogue(capsys):
    import timm

    from vadkit.cli import main

    plugins.reset()
    try:
        main(["list", "backbones", "timm/*resnet1*", "--json"])
    except SystemExit as exc:
        assert not exc.code
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == timm.list_models("*resnet1*")
    assert {"resnet10t", "resnet18"} <= {r["model"] for r in rows}
    row = next(r for r in rows if r["model"] == "resnet10t")
    assert row["name"] == "timm/resnet10t"
    assert row["use"] == "--backbone timm --set model.params.model=resnet10t"
