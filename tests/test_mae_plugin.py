"""The MAE method (plugin ``mae``): its components by hand and through :mod:`vadkit.testing`, and
the whole command-line path on the synthetic scene at a tiny size: train, score, evaluate,
export, score the bundle, watch a video file, anomaly maps and the report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import quiet_machine, run_cli
from test_stream import write_video
from vadkit_mae.backbone import MaskedViT
from vadkit_mae.errors import L1
from vadkit_mae.tasks import MaskedFramePrediction

import vadkit
from vadkit import testing
from vadkit.components import Backbone, Batch
from vadkit.errors import ConfigError
from vadkit.model import VADModel

#: ``mae-synthetic`` made tiny: 32 x 32 frames (16 tokens of width 16, one block), 1 epoch.
TINY_MAE = [
    "data.size=[32,32]",
    "model.params.dim=16",
    "model.params.depth=1",
    "model.params.heads=2",
    "train.batch_size=8",
    "train.warmup_epochs=0",
    "train.device='cpu'",
]
T = 3  # the recipes' previous frames per window
RTOL = 1e-4
FLASH = 6  # white frames appended to a normal video


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


def _vit(**params: object) -> MaskedViT:
    small: dict[str, object] = {"frames": 2, "patch_size": 4, "dim": 8, "depth": 1, "heads": 2}
    return MaskedViT(**{**small, **params})  # type: ignore[arg-type]


def _batch(shape: tuple[int, int, int, int], seed: int = 0, size: int = 3) -> Batch:
    return testing.tiny_batch(shape, batch=size, seed=seed)


# -- conformance ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "name", "params"),
    [
        ("backbones", "mae_vit", {"mask_ratio": 0.5, "decoder_depth": 0}),
        ("backbones", "mae_vit", {"in_channels": 3, "patch_size": 4, "dim": 32, "depth": 2}),
        ("tasks", "mfp", {"motion_weight": 0.0}),
        ("tasks", "mfp", {"motion_weight": 0.5, "residual": False}),
    ],
    ids=["masked", "colour", "mse-loss", "half-motion-absolute"],
)
def test_options_pass_the_conformance_checks(kind: str, name: str, params: dict) -> None:
    """The defaults are checked by test_conformance (over the registries); here the options."""
    testing.check_component(kind, name, **params)


def test_the_plugin_registers_its_components_as_a_builtin() -> None:
    from vadkit.plugins import get_host

    host = get_host()
    assert host.plugins["mae"].status == "loaded" and host.is_builtin("mae")
    for kind, name in [
        ("backbones", "mae_vit"),
        ("tasks", "mfp"),
        ("errors", "l1"),
        ("recipes", "mae"),
        ("recipes", "mae-synthetic"),
    ]:
        assert vadkit.get_entry(kind, name).plugin == "mae"


# -- the backbone --------------------------------------------------------------------------------
def test_masking_hides_the_drawn_share_of_tokens_in_training_only() -> None:
    bb = _vit(mask_ratio=0.5)
    assert bb.mask_token is not None
    tokens = torch.randn(3, 16, 8)
    masked = bb._mask(tokens)
    hidden = (masked == bb.mask_token).all(dim=-1)
    assert hidden.sum(dim=1).tolist() == [8, 8, 8]  # round(0.5 * 16) per clip
    assert torch.equal(masked[~hidden], tokens[~hidden])
    clip = _batch((1, 2, 16, 16)).clip
    bb.eval()
    before = bb.encode(clip)
    with torch.no_grad():
        bb.mask_token.fill_(100.0)
    assert torch.equal(bb.encode(clip), before)  # eval mode never masks
    bb.train()
    assert not torch.allclose(bb.encode(clip), before)


def test_the_latent_is_the_token_grid_and_decode_gives_the_clip() -> None:
    bb = _vit(in_channels=3, frames=3).eval()
    clip = _batch((3, 3, 16, 24)).clip
    feats = bb.features(clip)
    assert feats.latent.shape == (3, 8, 4, 6) == (3, *bb.latent_shape((3, 3, 16, 24)))
    assert feats.decoded is not None and feats.decoded.shape == clip.shape


def test_every_frame_of_the_clip_reaches_the_latent() -> None:
    bb = _vit(frames=3).eval()
    clip = _batch((1, 3, 16, 16)).clip
    for t in range(3):
        changed = clip.clone()
        changed[:, :, t] = -changed[:, :, t]
        assert not torch.allclose(bb.encode(changed), bb.encode(clip)), t


@pytest.mark.parametrize(
    ("params", "shape", "says"),
    [
        ({}, (1, 3, 16, 16), "model.params.frames = 2 frames, not 3 (data.clip_length)"),
        ({}, (1, 2, 16, 18), "cannot cut frames of 16 x 18 pixels into 4 x 4 patches"),
        ({}, (3, 2, 16, 16), "takes 1 channel(s), not 3"),
        ({"dim": 10, "heads": 4}, None, "dim 10 is not divisible by heads 4"),
        ({"mask_ratio": 1.0}, None, "mask_ratio must be a number in [0, 1), not 1.0"),
        ({"frames": 0}, None, "frames must be a positive integer, not 0"),
        ({"decoder_depth": -1}, None, "decoder_depth must be an integer >= 0"),
        ({"init": "he"}, None, "init must be one of 'timm', 'mae', not 'he'"),
    ],
)
def test_what_the_backbone_refuses_is_one_clear_message(
    params: dict, shape: tuple[int, int, int, int] | None, says: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        _vit(**params).check_clip_shape(shape or (1, 2, 16, 16))
    assert says in exc.value.message


@pytest.mark.parametrize(("init", "std"), [("timm", 0.02), ("mae", (2 / (128 + 512)) ** 0.5)])
def test_the_two_initialisations_of_the_linear_layers(init: str, std: float) -> None:
    torch.manual_seed(0)
    bb = MaskedViT(init=init, depth=1)
    fc1 = bb.blocks[0].mlp.fc1  # 128 -> 512
    assert float(fc1.weight.detach().std()) == pytest.approx(std, rel=0.1)
    assert not fc1.bias.any()


# -- the task ------------------------------------------------------------------------------------
def _model(task: MaskedFramePrediction, shape=(1, 2, 16, 16), **params: object) -> VADModel:
    return VADModel(_vit(frames=shape[1], **params), {"mfp": task}, shape)


def test_an_untrained_head_repeats_the_last_frame() -> None:
    model = _model(MaskedFramePrediction()).eval()
    batch = _batch((1, 2, 16, 16))
    pred, real = model.task_map["mfp"].compare(model.features(batch.clip), batch)
    assert pred.shape == real.shape == (3, 1, 1, 16, 16)
    assert torch.equal(pred[:, 0], batch.clip[:, :, -1])
    assert torch.equal(real[:, 0], batch.target)


def test_the_loss_without_motion_weight_is_the_mse_and_with_it_weighs_moving_patches() -> None:
    task = MaskedFramePrediction(motion_weight=0.0)
    model = _model(task)
    assert task.head is not None
    torch.nn.init.normal_(task.head.weight, std=0.1)
    batch = _batch((1, 2, 16, 16))
    feats = model.features(batch.clip)
    pred = task.predict(feats, batch)
    torch.testing.assert_close(task.loss(feats, batch), F.mse_loss(pred, batch.target))
    task.motion_weight = 0.5
    weights = task.patch_weights(batch.clip[:, :, -1], batch.target)
    per_patch = F.avg_pool2d((pred - batch.target).square(), 4).flatten(1)
    torch.testing.assert_close(task.loss(feats, batch), (per_patch * weights).sum(1).mean())


def test_motion_weights_by_hand() -> None:
    task = MaskedFramePrediction(motion_weight=0.5)
    _model(task, shape=(1, 2, 8, 8))  # 4 x 4 patches: 4 per frame
    last = torch.zeros(2, 1, 8, 8)
    target = torch.zeros(2, 1, 8, 8)
    target[0, 0, 1, 2] = 0.5  # something moved in the top-left patch of window 0
    target[0, 0, 6, 6] = 0.25  # and less in the bottom-right one; window 1 is static
    weights = task.patch_weights(last, target)
    expected = torch.tensor([[0.125 + 0.5 * 2 / 3, 0.125, 0.125, 0.125 + 0.5 / 3], [0.25] * 4])
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2))


def test_scoring_and_training_never_run_the_decoder() -> None:
    model = _model(MaskedFramePrediction())
    calls: list[int] = []
    decode = model.backbone.decode
    model.backbone.decode = lambda latent: calls.append(1) or decode(latent)  # type: ignore[method-assign]
    batch = _batch((1, 2, 16, 16))
    model.training_losses(batch)["mfp"].backward()
    with torch.inference_mode():
        scores = model.eval().window_scores(batch, {"l1": L1()})
    assert set(scores["mfp"]) == {"l1"} and calls == []


def test_a_backbone_without_a_feature_map_is_refused() -> None:
    class Flat(Backbone):
        """Encodes a clip to a flat vector."""

        def latent_shape(self, clip_shape):
            return (10,)

    with pytest.raises(ConfigError, match=r"latent feature map \(D, h, w\)"):
        VADModel(Flat(), {"mfp": MaskedFramePrediction()}, (1, 2, 16, 16))


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"motion_weight": 1.5}, "motion_weight must be a number in [0, 1], not 1.5"),
        ({"residual": "yes"}, "residual must be true or false, not 'yes'"),
    ],
)
def test_what_the_task_refuses_is_one_clear_message(params: dict, says: str) -> None:
    with pytest.raises(ConfigError) as exc:
        MaskedFramePrediction(**params)
    assert says in exc.value.message


# -- the error measure and the recipes -----------------------------------------------------------
def test_l1_by_hand_and_its_map() -> None:
    real = torch.zeros(2, 3, 2, 2)
    pred = real.clone()
    pred[0, :, 0, 0] = 0.5
    pred[1] = -1.0
    l1 = L1()
    torch.testing.assert_close(l1(pred, real), torch.tensor([0.125, 1.0]))
    error_map = l1.error_map(pred, real)
    assert error_map.shape == (2, 2, 2) and error_map[0, 0, 0] == 0.5
    torch.testing.assert_close(l1.pool_map(error_map), l1(pred, real))


@pytest.mark.parametrize("recipe", ["mae", "mae-synthetic"])
def test_each_recipe_builds_its_model(recipe: str) -> None:
    from vadkit.config import Settings, resolve_config
    from vadkit.runs.folder import build_model

    config = resolve_config(flags={"recipe": recipe})
    settings = Settings.from_config(config)
    assert settings.model.params["frames"] == settings.data.clip_length == T
    model = build_model(config)
    assert list(model.task_map) == ["mfp"] and not model.needs_decoder


# -- the command-line path on the synthetic scene ------------------------------------------------
@pytest.fixture(scope="module")
def run(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mae-synthetic`` made tiny, trained one epoch, scored with anomaly maps, calibrated."""
    out = tmp_path_factory.mktemp("runs") / "mae"
    sets = [a for item in TINY_MAE for a in ("--set", item)]
    train = ["train", "--recipe", "mae-synthetic", "--data", str(tiny_scene), "--epochs", "1"]
    assert run_cli([*train, "--out", str(out), "--quiet", *sets]) == 0
    assert run_cli(["score", str(out), "--maps", "--quiet"]) == 0
    assert run_cli(["watch", str(out), "--calibrate", "--device", "cpu", "--quiet"]) == 0
    return out


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert run_cli([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def clip(tiny_scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A normal training video of the scene, then white frames (the camera is blinded)."""
    from PIL import Image

    folder = sorted((tiny_scene / "training" / "frames").iterdir())[0]
    frames = np.stack([np.asarray(Image.open(f).convert("L")) for f in sorted(folder.glob("*"))])
    flash = np.full((FLASH, *frames.shape[1:]), 255, np.uint8)
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    return write_video(path, np.concatenate([frames, flash]))


def test_train_score_and_evaluate(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _json(capsys, "evaluate", str(run))
    assert set(result["results"]) == {"mfp", "fused"}
    assert 0.0 <= result["results"]["fused"]["micro_auroc"] <= 1.0
    protocol = result["protocol"]
    assert (protocol["error"], protocol["normalizer"]) == ("mse", "minmax")
    assert protocol["alphas"] == {"mfp": 1.0}
    from vadkit.scoring.scoreset import load_scores

    scores = load_scores(run)
    for video in scores.videos:  # the protocol: window i scores frame i + T
        assert video.frames[0] == T and set(video.raw["mfp"]) >= {"mse", "l1"}
    versions = json.loads((run / "versions.json").read_text())
    assert "mae" in versions["plugins"] and versions["distributions"]["mae"] == "vadkit"


def test_export_and_score_the_bundle_as_pytorch_does(
    run: Path, tiny_scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vadkit.export.writer import relative_difference
    from vadkit.scoring.scoreset import load_scores

    bundle = run.parent / "bundle"
    assert run_cli(["export", str(run), "--out", str(bundle), "--quiet"]) == 0
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["input"]["shape"] == ["batch", T + 1, 32, 32, 1]
    assert meta["tasks"] == ["mfp"] and meta["error_tasks"] == ["mfp"]
    assert meta["export"]["parity_at_export"]["max_rel_diff"] <= RTOL
    common = ["--data", str(tiny_scene), "--frames", "all", "--quiet"]
    assert run_cli(["score", str(run), *common, "--name", "torch", "--precision", "fp32"]) == 0
    assert run_cli(["score", str(bundle), *common, "--name", "onnx"]) == 0
    ref, got = load_scores(run, "torch"), load_scores(bundle, "onnx")
    for a, b in zip(ref.videos, got.videos, strict=True):
        assert np.array_equal(a.frames, b.frames) and a.frames[0] == 0  # --frames all
        for key, values in a.raw["mfp"].items():
            assert relative_difference(values, b.raw["mfp"][key]) <= RTOL, (a.name, key)


def test_watch_a_video_file_as_offline_scoring_does(
    run: Path, clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vadkit.scoring.scoreset import load_scores

    args = ["--device", "cpu", "--precision", "fp32", "--quiet"]
    assert run_cli(["score", str(run), str(clip), "--name", "clip", *args]) == 0
    (offline,) = load_scores(run, "clip").videos
    jsonl = tmp_path / "watch.jsonl"
    assert run_cli(["watch", str(run), str(clip), "--jsonl", str(jsonl), *args]) == 0
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    rows = [r for r in records if "event" not in r]
    alerts = [r for r in records if r.get("event") == "alert"]
    n = offline.num_frames
    assert [r["frame"] for r in rows] == list(offline.frames) == list(range(T, n))
    np.testing.assert_allclose(
        [r["raw"]["mfp"] for r in rows], offline.raw["mfp"]["mse"], rtol=1e-5, atol=1e-8
    )
    first_white = n - FLASH  # a frame nothing before it predicts
    assert any(a["start_frame"] <= first_white <= a["end_frame"] for a in alerts), alerts
    capsys.readouterr()


def test_anomaly_maps_and_the_report(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import av
    from PIL import Image

    from vadkit.evaluation.evaluate import evaluate_scores
    from vadkit.evaluation.groundtruth import with_ground_truth
    from vadkit.scoring.scoreset import load_scores

    views = tmp_path / "views"
    assert run_cli(["maps", str(run), "02", "--frames", "4:7", "--out", str(views)]) == 0
    for frame in (4, 5, 6):
        for kind in ("fused", "mfp"):
            with Image.open(views / f"02_{frame:06d}_{kind}.png") as image:
                assert image.size == (32, 32) and image.mode == "RGB"
    with av.open(str(views / "02_fused.mp4")) as container:
        assert len(list(container.decode(video=0))) == 3
    capsys.readouterr()

    page = tmp_path / "report.html"
    report = _json(capsys, "report", str(run), "--out", str(page), "--top", "2")
    assert report["maps"] == ["stored"] and report["notes"] == [""]
    text = page.read_text()
    expected = evaluate_scores(with_ground_truth(load_scores(run)))
    for key, row in expected["results"].items():
        assert f"{row['micro_auroc']:.4f}" in text, key
    pixel = expected["pixel"]["fused"]  # scored with --maps: the MSE maps give pixel metrics
    assert f"<td>{pixel['pixel_auroc']:.4f}</td>" in text
    assert text.count('class="overlay"') == text.count('class="frame"') >= 1


def test_the_cli_refuses_a_clip_length_the_backbone_does_not_take(
    tiny_scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sets = [a for item in [*TINY_MAE, "data.clip_length=4"] for a in ("--set", item)]
    out = tmp_path / "run"
    train = ["train", "--recipe", "mae-synthetic", "--data", str(tiny_scene), "--epochs", "1"]
    assert run_cli([*train, "--out", str(out), "--quiet", *sets]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    squeezed = " ".join(err.replace("│", " ").split())
    assert "model.params.frames = 3 frames, not 4" in squeezed
    assert not (out / "checkpoints").exists()


def test_with_luss_blocked_the_recipe_names_the_measure_it_lacks(tmp_path: Path) -> None:
    """mae scores with the built-in mse and minmax, registered by the plugin luss: blocked, the
    recipe is refused before training, naming what is missing."""
    env = {**os.environ, "VADKIT_BLOCK_PLUGINS": "luss"}
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "vadkit", "train", "--recipe", "mae-synthetic", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Unknown error 'mse'" in done.stderr and not out.exists()
