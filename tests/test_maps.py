"""Anomaly maps: the error measures' per-pixel maps, the scoring function's maps, frame maps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import quiet_machine, run_cli
from torch import Tensor

import vadkit
from vadkit.api import create_error
from vadkit.components import ErrorMeasure
from vadkit.errors import ConfigError, DataError
from vadkit.inference.framemaps import frame_maps
from vadkit.inference.maps import check_map_error, fuse_maps
from vadkit.inference.mapviews import overlay
from vadkit.inference.scorer import ModelScorer


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


@pytest.mark.parametrize("name", ["mse", "psnr", "pse", "bpe"])
def test_pooling_a_measures_map_gives_its_value(name: str) -> None:
    err = create_error(name)
    gen = torch.Generator().manual_seed(0)
    pred, real = torch.rand(3, 2, 9, 11, generator=gen), torch.rand(3, 2, 9, 11, generator=gen)
    error_map = err.error_map(pred, real)
    assert error_map is not None and error_map.shape[0] == 3 and error_map.dim() == 3
    torch.testing.assert_close(err.pool_map(error_map), err(pred, real), rtol=1e-5, atol=1e-6)


def test_bpe_map_is_the_blurred_subsampled_squared_error_by_hand() -> None:
    # One grey 4x4 frame whose error is a single 1 at (1, 1); a 1x1 "Gaussian" (kernel_size 1)
    # is the identity, so BPE's map with stride 2 samples rows/columns 0 and 2 of the squared
    # error: the 1 at (1, 1) is skipped, and one at (2, 2) is kept.
    bpe = create_error("bpe", kernel_size=1)
    real = torch.zeros(1, 1, 4, 4)
    pred = real.clone()
    pred[0, 0, 1, 1] = 1.0
    assert torch.equal(bpe.error_map(pred, real), torch.zeros(1, 2, 2))
    pred[0, 0, 2, 2] = 0.5
    expected = torch.tensor([[[0.0, 0.0], [0.0, 0.25]]])
    assert torch.equal(bpe.error_map(pred, real), expected)
    assert bpe(pred, real).item() == pytest.approx(0.25 / 4)


def test_psnr_map_is_the_squared_error_and_grows_with_abnormality() -> None:
    psnr = create_error("psnr")
    real = torch.zeros(1, 3, 2, 2)
    pred = torch.full((1, 3, 2, 2), 0.5)
    pred[0, :, 0, 0] = 1.0
    expected = torch.tensor([[[1.0, 0.25], [0.25, 0.25]]])
    torch.testing.assert_close(psnr.error_map(pred, real), expected)
    assert psnr.pool_map(expected).item() == pytest.approx(10 * np.log10(4 / 0.4375), rel=1e-6)


class _OldMeasure(ErrorMeasure):
    """A third-party measure written before maps: only forward()."""

    def forward(self, pred: Tensor, real: Tensor) -> Tensor:
        return (pred - real).abs().flatten(1).mean(dim=1)


def test_a_measure_without_maps_still_scores_and_says_it_has_no_map(tiny_run: vadkit.Run) -> None:
    from vadkit.data.windows import sliding_windows

    model = tiny_run.load(device="cpu", precision="fp32").model
    frames = np.random.default_rng(0).integers(0, 255, (12, 32, 32, 1), dtype=np.uint8)
    _, batch = next(sliding_windows(frames, 8, 4))
    errors = {"old": _OldMeasure(), "bpe": create_error("bpe")}
    with torch.inference_mode():
        scores, maps = model.window_maps(batch, errors)
        plain = model.window_scores(batch, errors)
    assert set(scores["vcr"]) == {"old", "bpe"}
    torch.testing.assert_close(scores["vcr"]["old"], plain["vcr"]["old"])
    assert set(maps["vcr"]) == {"bpe"} and "prp" not in maps
    with pytest.raises(ConfigError, match="'old' gives no per-pixel map"):
        check_map_error(errors, "old")


@pytest.mark.parametrize("name", ["bpe", "psnr"])
def test_pooling_the_window_maps_gives_the_window_scores(tiny_run: vadkit.Run, name: str) -> None:
    from vadkit.data.windows import sliding_windows

    model = tiny_run.load(device="cpu", precision="fp32").model
    frames = np.random.default_rng(1).integers(0, 255, (14, 32, 32, 1), dtype=np.uint8)
    _, batch = next(sliding_windows(frames, 8, 6))
    err = create_error(name)
    with torch.inference_mode():
        scores, maps = model.window_maps(batch, {name: err})
        plain = model.window_scores(batch, {name: err})
    sign = 1.0 if err.higher_is_anomalous else -1.0
    for task in ("vcr", "ffp"):
        per_frame = maps[task][name]  # (B, K, h, w)
        b, k = per_frame.shape[:2]
        pooled = sign * err.pool_map(per_frame.flatten(0, 1)).view(b, k).mean(dim=1)
        torch.testing.assert_close(pooled, plain[task][name], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(scores[task][name], plain[task][name])
    assert maps["vcr"][name].shape[1] == 8 and maps["ffp"][name].shape[1] == 1


def test_fused_map_pools_to_the_fused_score_of_the_score_set(tiny_run: vadkit.Run) -> None:
    # one precision on both sides (score.precision "auto" may pick bf16 on the CPU)
    tiny_run.score(precision="fp32")
    scored = tiny_run.scores().videos[0]
    maps = frame_maps(tiny_run.path, scored.name)
    assert np.array_equal(maps.frames, scored.frames)
    assert maps.images.shape == (len(maps.frames), 32, 32, 3) and maps.images.dtype == np.uint8
    assert set(maps.tasks) == {"vcr", "ffp"}
    assert maps.fused.shape == (len(maps.frames), 32, 32)
    # Upsampled to the frame size, the maps are no longer the native ones; recompute natively.
    from vadkit.inference.maps import window_maps
    from vadkit.scoring.fusion import default_alphas, fuse, get_normalizer, normalized_streams

    detector = tiny_run.load(device="cpu", precision="fp32")
    s = tiny_run.settings
    native = window_maps(
        ModelScorer(detector.model, {"bpe": create_error("bpe")}, detector.runtime),
        _frames_of(tiny_run, scored.name),
        error="bpe",
        batch_size=32,
        frames_mode=s.score.frames,
    )
    for task in ("vcr", "ffp"):
        np.testing.assert_allclose(
            native.maps[task].mean(axis=(1, 2)), scored.raw[task]["bpe"], rtol=1e-4, atol=1e-6
        )
    _, norm = get_normalizer(s.score.normalizer)
    alphas = default_alphas(s.score.alphas, tiny_run.scores().tasks)
    raw = {t: next(iter(native.scores[t].values())) for t in native.scores}
    fused = fuse_maps(native.maps, raw, alphas, norm)
    expected = fuse(normalized_streams(scored, list(alphas), "bpe", norm), alphas)
    np.testing.assert_allclose(fused.mean(axis=(1, 2)), expected, rtol=1e-4, atol=1e-5)


def _frames_of(tiny_run: vadkit.Run, name: str) -> np.ndarray:
    from vadkit.data import open_videos

    s = tiny_run.settings
    vset = open_videos(s.data.root, "testing", size=s.data.hw, color=s.data.color)
    video = vset.get(name)
    return video.frames(np.arange(video.num_frames))


def test_frame_maps_of_a_frame_range_and_bad_ranges(tiny_run: vadkit.Run) -> None:
    maps = frame_maps(tiny_run.path, "02", (10, 13))
    assert maps.frames.tolist() == [10, 11, 12] and maps.video == "02"
    with pytest.raises(ConfigError, match=r"No frame in 0:3 .* is scored"):
        frame_maps(tiny_run.path, "02", (0, 3))
    with pytest.raises(ConfigError, match="not a range"):
        frame_maps(tiny_run.path, "02", (5, 500))
    with pytest.raises(DataError, match="No video 'nope'"):
        frame_maps(tiny_run.path, "nope")


def test_overlay_colours_hot_pixels_and_keeps_cold_ones() -> None:
    image = np.full((4, 6), 100, np.uint8)
    heat = np.zeros((4, 6), np.float32)
    heat[1, 2] = 10.0
    out = overlay(image, heat, vmin=0.0, vmax=10.0, alpha=0.5)
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    assert (out[0, 0] == 100).all()  # heat at vmin: the frame shows through unchanged
    assert not (out[1, 2] == 100).all()  # the hot pixel is coloured
    with pytest.raises(ConfigError, match="vmin"):
        overlay(image, heat, vmin=1.0, vmax=1.0)
    with pytest.raises(DataError, match="uint8"):
        overlay(image.astype(np.float32), heat, vmin=0.0, vmax=1.0)


def test_score_with_maps_stores_them_and_evaluate_reports_pixel_metrics(
    tiny_run: vadkit.Run,
) -> None:
    from vadkit.evaluation.groundtruth import with_ground_truth
    from vadkit.pixel_metrics import pixel_auroc

    stored = tiny_run.score(name="withmaps", maps=True)
    assert all(v.masks is None and v.labels is None for v in stored.videos)  # read by evaluate
    scores = with_ground_truth(stored)
    info = scores.meta.maps
    assert info is not None and info.error == "bpe"
    assert str(info.pixel_masks).endswith("test_pixel_mask")
    video = scores.videos[0]
    assert set(video.maps) == {"vcr", "ffp"}
    assert video.maps["ffp"].dtype == np.float16 and video.maps["ffp"].shape == (
        len(video.frames),
        16,
        16,
    )  # BPE's map of 32x32 frames (stride 2) is under the 64-pixel limit: kept as is
    np.testing.assert_allclose(
        video.maps["ffp"].astype(np.float64).mean(axis=(1, 2)),
        video.raw["ffp"]["bpe"],
        rtol=2e-3,
        atol=1e-6,
    )
    assert video.masks is not None and video.masks.shape == video.maps["ffp"].shape
    assert video.masks.any() == bool(video.labels.any())
    result = tiny_run.evaluate("withmaps", plots=False)
    pixel = result.pixel
    assert pixel is not None and pixel.size == (16, 16) and set(pixel.tasks) == {"vcr", "ffp"}
    expected = pixel_auroc(
        [np.asarray(v.maps["ffp"]) for v in scores.videos], [v.masks for v in scores.videos]
    )
    assert pixel.tasks["ffp"] == pytest.approx(expected)
    for value in (pixel.fused.pixel_auroc, pixel.fused.rbdc, pixel.fused.tbdc):
        assert 0.0 <= value <= 1.0
    plain = tiny_run.evaluate(plots=False)
    assert plain.pixel is None and "--maps" in str(plain.pixel_note)
    assert plain.to_json()["pixel"] == {"note": plain.pixel_note}  # evaluation.json's shape


def test_detector_maps_match_run_maps(tiny_run: vadkit.Run) -> None:
    frames = _frames_of(tiny_run, "01")
    from_run = tiny_run.maps("01", (9, 12), device="cpu")
    detector = tiny_run.load(device="cpu")
    from_frames = detector.maps(frames[..., 0], name="01")
    keep = np.isin(from_frames.frames, from_run.frames)
    np.testing.assert_allclose(from_frames.fused[keep], from_run.fused, rtol=1e-5, atol=1e-5)
    assert from_frames.images.shape[1:] == (32, 32, 3)


def test_maps_cli_writes_overlays_and_an_mp4(tiny_run: vadkit.Run, tmp_path: Path, capsys) -> None:
    import av
    from PIL import Image

    out = tmp_path / "views"
    assert run_cli(["maps", str(tiny_run.path), "02", "--frames", "9:12", "--out", str(out)]) == 0
    assert "Anomaly maps of 02, frames 9:12 (3 frames" in capsys.readouterr().out
    for frame in (9, 10, 11):
        for kind in ("fused", "vcr", "ffp"):
            with Image.open(out / f"02_{frame:06d}_{kind}.png") as image:
                assert image.size == (32, 32) and image.mode == "RGB"
    with av.open(str(out / "02_fused.mp4")) as container:
        assert len(list(container.decode(video=0))) == 3


def test_maps_cli_bad_frames_is_one_message_and_exit_2(tiny_run: vadkit.Run, capsys) -> None:
    assert run_cli(["maps", str(tiny_run.path), "02", "--frames", "12:9"]) == 2
    err = capsys.readouterr().err
    assert "--frames '12:9' is not a frame range A:B with A < B" in err
    assert "Traceback" not in err
    assert run_cli(["maps", str(tiny_run.path), "02", "--frames", "0:3"]) == 2
    assert "No frame in 0:3 of video '02' is scored" in " ".join(capsys.readouterr().err.split())
