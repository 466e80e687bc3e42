"""The scoring pass: windows, one backbone pass per batch for all tasks, every error measure."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

import vadkit
from vadkit.api import create_backbone, create_error, create_task, list_errors
from vadkit.components import SCORE_KEY
from vadkit.data import Video, frames_to_tensor
from vadkit.data import test_windows as data_windows
from vadkit.data.windows import sliding_windows, window_batch
from vadkit.errors import ConfigError, DataError
from vadkit.inference.score import score_videos
from vadkit.inference.scorer import applicable_errors, scoring_runtime
from vadkit.model import VADModel
from vadkit.scoring.core import expand_window_scores

T = 8
SHAPE = (1, T, 32, 32)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny convolutions gain nothing from two threads, which spin on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_model(seed: int = 0) -> VADModel:
    torch.manual_seed(seed)
    backbone = create_backbone("cae3d", channels=(4, 8, 8, 8))
    tasks = {n: create_task(n) for n in ("vcr", "ffp", "prp")}
    return VADModel(backbone, tasks, SHAPE).eval()


def video(name: str = "v", n: int = 21, seed: int = 0, labels: bool = True) -> Video:
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (n, 32, 32, 1), dtype=np.uint8)
    lab = (np.arange(n) >= n // 2).astype(np.uint8) if labels else None
    return Video.from_array(name, frames, labels=lab)


def run(model, videos, **kw):
    errors = kw.pop("errors", None) or applicable_errors(None, (1, 32, 32))
    kw.setdefault("runtime", scoring_runtime("cpu", "fp32", channels_last=False))
    return list(score_videos(model, videos, clip_length=T, errors=errors, **kw))


def test_sliding_windows_are_the_frames_by_hand():
    v = video(n=13)
    frames = v.frames(np.arange(13))
    got = list(sliding_windows(frames, T, 3))
    assert [len(i) for i, _ in got] == [3, 2]  # 13 - 8 = 5 windows
    assert np.concatenate([i for i, _ in got]).tolist() == [8, 9, 10, 11, 12]
    # window 2 of the first batch: frames 2..9 as input, frame 10 is scored
    idx, batch = got[0]
    assert idx[2] == 10
    torch.testing.assert_close(batch.clip[2], frames_to_tensor(frames[2:10]), rtol=0, atol=0)
    torch.testing.assert_close(
        batch.target[2], frames_to_tensor(frames[10:11])[:, 0], rtol=0, atol=0
    )
    # the data layer's test_windows is the same iterator over a Video
    want = list(data_windows(v, clip_length=T, batch_size=3))
    for (gi, gb), (wi, wb) in zip(got, want, strict=True):
        np.testing.assert_array_equal(gi, wi)
        assert torch.equal(gb.clip, wb.clip) and torch.equal(gb.target, wb.target)
    # a batch of picked windows converts the same pixels the same way
    picked = window_batch(np.stack([frames[2:11], frames[4:13]]), T)
    assert torch.equal(picked.clip[0], batch.clip[2]) and torch.equal(
        picked.target[1], want[1][1].target[1]
    )


def test_expand_window_scores_modes():
    w = np.array([5.0, 6.0, 7.0])
    frames, scores = expand_window_scores(w, num_frames=5, clip_length=2, mode="protocol")
    np.testing.assert_array_equal(frames, [2, 3, 4])
    np.testing.assert_array_equal(scores, w)
    frames, scores = expand_window_scores(w, num_frames=5, clip_length=2, mode="all")
    np.testing.assert_array_equal(frames, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(scores, [5.0, 5.0, 5.0, 6.0, 7.0])


def test_every_task_and_every_error_in_one_pass():
    model = tiny_model()
    calls = {"encode": 0, "decode": 0, "inference": []}
    enc, dec = model.backbone.encode, model.backbone.decode

    def encode(x):
        calls["encode"] += 1
        calls["inference"].append(torch.is_inference_mode_enabled())
        return enc(x)

    def decode(z):
        calls["decode"] += 1
        return dec(z)

    model.backbone.encode, model.backbone.decode = encode, decode  # type: ignore[method-assign]
    (out,) = run(model, [video(n=21)], batch_size=4)
    # 21 - 8 = 13 windows in batches of 4: 4 batches, one encoder and one decoder pass each
    assert calls["encode"] == 4 and calls["decode"] == 4
    assert all(calls["inference"])
    errors = set(list_errors())
    assert {"mse", "psnr", "pse", "bpe"} <= errors
    assert set(out.raw) == {"vcr", "ffp", "prp"}
    assert set(out.raw["vcr"]) == errors and set(out.raw["ffp"]) == errors
    assert set(out.raw["prp"]) == {SCORE_KEY}
    np.testing.assert_array_equal(out.frames, np.arange(T, 21))
    np.testing.assert_array_equal(out.labels, (np.arange(T, 21) >= 10).astype(np.uint8))
    for keys in out.raw.values():
        for values in keys.values():
            assert values.shape == (13,) and np.isfinite(values).all()
    assert ((out.raw["prp"][SCORE_KEY] >= 0) & (out.raw["prp"][SCORE_KEY] <= 1)).all()


def test_scores_equal_the_model_on_each_window_and_psnr_is_negated():
    model = tiny_model()
    v = video(n=12)
    (out,) = run(model, [v], batch_size=3)
    errors = {"mse": create_error("mse"), "psnr": create_error("psnr")}
    with torch.no_grad():
        ((idx, batch),) = list(data_windows(v, clip_length=T, batch_size=100))
        ref = model.window_scores(batch, errors)
    np.testing.assert_allclose(out.raw["ffp"]["mse"], ref["ffp"]["mse"].numpy(), rtol=1e-5)
    np.testing.assert_allclose(out.raw["vcr"]["mse"], ref["vcr"]["mse"].numpy(), rtol=1e-5)
    # the model's scoring function applies the orientation: PSNR (a similarity) comes negated
    np.testing.assert_allclose(out.raw["vcr"]["psnr"], ref["vcr"]["psnr"].numpy(), rtol=1e-5)
    with torch.no_grad():  # by hand: the mean PSNR of VCR's compared frames, negated
        pred, real = model.task_map["vcr"].compare(model.features(batch.clip), batch)
        k = pred.shape[1]
        by_hand = errors["psnr"](pred.flatten(0, 1), real.flatten(0, 1)).view(-1, k).mean(1)
    assert (by_hand > 0).all()
    torch.testing.assert_close(ref["vcr"]["psnr"], -by_hand)
    np.testing.assert_allclose(
        out.raw["prp"][SCORE_KEY], ref["prp"][SCORE_KEY].numpy(), rtol=1e-5, atol=1e-7
    )
    assert idx[0] == T


def test_batch_size_does_not_change_scores():
    model = tiny_model()
    (a,) = run(model, [video(n=19)], batch_size=2)
    (b,) = run(model, [video(n=19)], batch_size=64)
    for task, keys in a.raw.items():
        for key in keys:
            np.testing.assert_allclose(a.raw[task][key], b.raw[task][key], rtol=1e-5, atol=1e-7)


def test_all_frames_mode_copies_the_first_window():
    model = tiny_model()
    (p,) = run(model, [video(n=15)], frames_mode="protocol")
    (a,) = run(model, [video(n=15)], frames_mode="all")
    np.testing.assert_array_equal(a.frames, np.arange(15))
    assert a.labels is not None and a.labels.shape == (15,)
    np.testing.assert_allclose(a.raw["ffp"]["bpe"][T:], p.raw["ffp"]["bpe"])
    np.testing.assert_allclose(a.raw["ffp"]["bpe"][:T], p.raw["ffp"]["bpe"][0])


def test_bf16_autocast_scores_stay_close_and_float32():
    model = tiny_model()
    (a,) = run(model, [video(n=12)])
    (b,) = run(model, [video(n=12)], runtime=scoring_runtime("cpu", "bf16", channels_last=True))
    assert b.raw["ffp"]["mse"].dtype == np.float64
    np.testing.assert_allclose(a.raw["ffp"]["mse"], b.raw["ffp"]["mse"], rtol=0.1)


def test_short_video_is_skipped_and_bad_labels_rejected():
    model = tiny_model()
    skipped: list = []
    with pytest.warns(UserWarning, match="fewer than clip_length"):
        out = run(model, [video("short", n=T), video("ok", n=10)], skipped=skipped)
    assert [o.name for o in out] == ["ok"] and skipped[0]["name"] == "short"
    bad = video(n=10)
    bad.labels = np.zeros(9, np.uint8)
    with pytest.raises(DataError, match="10 frames but 9 labels"):
        run(model, [bad])
    with pytest.raises(ConfigError, match="not a scoring mode"):
        run(model, [video()], frames_mode="first")


def test_applicable_errors_named_and_unknown():
    assert set(applicable_errors(["bpe", "mse"], (1, 32, 32))) == {"bpe", "mse"}
    with pytest.raises(ConfigError, match="cannot score frames"):
        applicable_errors(["nosuch"], (1, 32, 32))


# -- non-finite scores -------------------------------------------------------------------------
class NaNOnBright(vadkit.ErrorMeasure):
    """MSE, but NaN where the real frame's first pixel is bright (some frames of a video)."""

    def forward(self, pred, real):
        mse = ((pred - real) ** 2).flatten(1).mean(1)
        return torch.where(real.flatten(1)[:, 0] > 0.5, torch.full_like(mse, float("nan")), mse)


def test_a_measure_with_nan_is_left_out_with_a_warning_and_the_others_are_kept():
    model = tiny_model()
    errors = {"mse": create_error("mse"), "nanny": NaNOnBright(), "psnr": create_error("psnr")}
    left_out: dict[str, str] = {}
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 200, (n, 32, 32, 1), dtype=np.uint8) for n in (12, 14, 12)]
    for frames in arrays:
        frames[:, 0, 0] = 0  # 'nanny' is finite where the first pixel is dark...
    arrays[1][12:14, 0, 0] = 255  # ...and NaN on frames 12-13 of video '02'
    videos = [Video.from_array(f"0{i + 1}", a) for i, a in enumerate(arrays)]
    with pytest.warns(UserWarning) as caught:
        out = run(model, videos, errors=errors, left_out=left_out)
    message = "; ".join(str(w.message) for w in caught)
    assert "error measure 'nanny' left out" in message
    # VCR's window 5 (clip = frames 5-12, scores frame 13) is the one that sees frame 12 or 13
    assert "task 'vcr', video '02': 1 of 6 scores (NaN) at frame 13" in message
    assert list(left_out) == ["nanny"] and "video '02'" in left_out["nanny"]
    assert "nanny" in out[0].raw["vcr"]  # scored before it broke: the set removes it
    for scored in out[1:]:
        assert set(scored.raw["vcr"]) == set(scored.raw["ffp"]) == {"mse", "psnr"}
        assert all(np.isfinite(v).all() for keys in scored.raw.values() for v in keys.values())
    assert "nanny" in errors  # the caller's mapping is not changed


def test_a_task_whose_own_score_is_not_finite_is_an_error_naming_it():
    model = tiny_model()
    prp = model.task_map["prp"]
    scores = prp.scores

    def broken(feats, batch, errors):
        out = scores(feats, batch, errors)
        return {k: torch.full_like(v, float("inf")) for k, v in out.items()}

    prp.scores = broken  # type: ignore[method-assign]
    with pytest.raises(
        DataError, match=r"task 'prp', video 'v': 4 of 4 scores \(inf\) at frames 8-11"
    ):
        run(model, [video(n=12)], errors={"mse": create_error("mse")})


def test_auto_precision_tries_bf16_only_on_a_cpu_that_computes_it_natively(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Emulated bf16 (an AVX2-only CPU) is slower than fp32: "auto" does not even try it there."""
    from vadkit.compute import device

    monkeypatch.setattr(device, "native_bf16_cpu", lambda: False)
    assert scoring_runtime("cpu", "auto").precision == "fp32"
    assert scoring_runtime("cpu", "bf16").precision == "bf16"  # asked for: given
    monkeypatch.setattr(device, "native_bf16_cpu", lambda: True)
    assert scoring_runtime("cpu", "auto").precision == "bf16"  # a candidate, kept by the rank rule
    monkeypatch.undo()
    import torch

    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert device.native_bf16_cpu() == native


# -- the run's error-measure parameters ----------------------------------------------------------
def test_applicable_errors_builds_each_measure_with_its_params():
    errors = applicable_errors(["bpe", "psnr"], (1, 32, 32), params={"bpe": {"sigma": 2}})
    assert (errors["bpe"].sigma, errors["bpe"].stride) == (2.0, 2)  # the rest: defaults
    assert errors["psnr"].data_range == 2.0
    with pytest.raises(ConfigError, match=r"score\.error_params\.bpe\.sigm"):
        applicable_errors(["bpe"], (1, 32, 32), params={"bpe": {"sigm": 2}})


def test_the_runs_error_params_reach_the_measure_that_scores_and_the_sets_identity(
    tmp_path, tiny_scene
):
    """A run trained with ``score.error_params.bpe.sigma = 2``: its bpe scores are those of a
    BPE built by hand with sigma 2, not the default's; its score set records the parameters,
    and the same weights scored with the default sigma make a set of other settings."""
    import shutil

    from conftest import TINY_RUN_SETTINGS, quiet_machine

    from vadkit.data import open_videos
    from vadkit.inference.weights import load_scored_model
    from vadkit.scoring.scoreset import load_scores

    with quiet_machine(tmp_path / "cache"):
        run = vadkit.train(
            tiny_scene,
            tmp_path / "run",
            recipe="luss-ae",
            epochs=1,
            settings={**TINY_RUN_SETTINGS, "score.error_params.bpe.sigma": 2},
        )
        shutil.copytree(run.path, tmp_path / "default")  # the same weights, sigma 1 below
        scored = run.score(device="cpu", precision="fp32", errors=["bpe", "mse"])
        assert scored.meta.errors["bpe"].params == {
            "stride": 2,
            "sigma": 2.0,
            "kernel_size": 5,
            "normalize": True,
        }
        _, model, _ = load_scored_model(run.path)
        videos = list(open_videos(tiny_scene, "testing", size=(32, 32), with_labels=False))
        runtime = scoring_runtime("cpu", "fp32", channels_last=True)

        def by_hand(bpe):
            return list(score_videos(model, videos, errors={"bpe": bpe}, runtime=runtime))

        sigma2, default = by_hand(create_error("bpe", sigma=2.0)), by_hand(create_error("bpe"))
        for got, want, other in zip(scored.videos, sigma2, default, strict=True):
            for task in ("vcr", "ffp"):
                np.testing.assert_allclose(got.raw[task]["bpe"], want.raw[task]["bpe"], rtol=1e-5)
                assert not np.allclose(got.raw[task]["bpe"], other.raw[task]["bpe"], rtol=1e-3)

        config = tmp_path / "default" / "config.toml"
        text = config.read_text()
        assert text.count("sigma = 2.0") == 1
        config.write_text(text.replace("sigma = 2.0", "sigma = 1.0"))
        vadkit.Run(tmp_path / "default").score(device="cpu", precision="fp32", errors=["bpe"])
    other = load_scores(tmp_path / "default")
    assert (other.meta.errors["bpe"].params or {})["sigma"] == 1.0
    ours, theirs = scored.meta.to_json()["identity"], other.meta.to_json()["identity"]
    assert ours["weights_sha256"] == theirs["weights_sha256"]
    assert ours["settings_sha256"] != theirs["settings_sha256"]
    first = scored.meta.videos[0].file
    shutil.copy(tmp_path / "default" / "scores" / first, run.path / "scores" / first)
    with pytest.raises(DataError, match="other settings"):
        load_scores(run.path)
