"""Write the bit-exactness fixture of the scoring core (tests/test_scoring_core.py).

Run once, with the vadkit of commit 764a1e3 (before the scoring core was written), from the
repository root:  python tests/data/bitexact/make_bitexact.py
It trains nothing that the test needs to repeat: the test loads the weights written here and
compares the scores the current code gives with the ones stored here, bit for bit (fp32, CPU,
one thread).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def main() -> None:
    import vadkit
    from vadkit.data import generate_scene, open_videos

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp())
    scene = generate_scene(tmp / "scene", size=32, train_videos=2, test_videos=3, frames=(24, 30))
    settings = {
        "model.params.channels": [4, 8, 8, 8],
        "data.size": [32, 32],
        "data.clip_length": 8,
        "data.stride": 4,
        "train.batch_size": 8,
    }
    run = vadkit.train(scene, tmp / "run", recipe="luss-ae", epochs=1, settings=settings)
    out = HERE / "run"
    shutil.rmtree(out, ignore_errors=True)
    (out / "checkpoints").mkdir(parents=True)
    for name in ("config.toml", "versions.json"):
        shutil.copy(run.path / name, out / name)
    shutil.copy(run.path / "checkpoints" / "last.safetensors", out / "checkpoints")

    arrays: dict[str, np.ndarray] = {}
    # 1. offline scoring of the test split, every error measure, with the bpe maps
    from vadkit.engine.runs import load_model
    from vadkit.engine.score import applicable_errors, make_runtime, score_videos

    config, model = load_model(out)
    runtime = make_runtime("cpu", "fp32", True)
    runtime.prepare(model)
    errs = applicable_errors(None, (1, 32, 32), runtime.device)
    videos = list(open_videos(scene, "testing", size=(32, 32), color="gray", with_labels=False))
    for mode in ("protocol", "all"):
        for scored in score_videos(
            model,
            videos,
            clip_length=8,
            errors=errs,
            runtime=runtime,
            batch_size=5,
            frames_mode=mode,
            maps_error="bpe",
            maps_limit=16,
        ):
            arrays[f"offline/{mode}/{scored.name}/frames"] = scored.frames
            for task, keys in scored.raw.items():
                for key, values in keys.items():
                    arrays[f"offline/{mode}/{scored.name}/{task}/{key}"] = values
            for task, values in scored.maps.items():
                arrays[f"offline/{mode}/{scored.name}/maps/{task}"] = values
    # 2. the stream scorer (raw scores, no calibration), frames pushed 3 at a time
    from vadkit.stream import StreamScorer

    scorer = StreamScorer(model, config, error="bpe", device="cpu", precision="fp32", max_batch=4)
    frames = videos[0].frames(np.arange(videos[0].num_frames))
    got = []
    for i in range(0, len(frames), 3):
        got.extend(scorer.push_many(list(frames[i : i + 3]), preprocessed=True))
    arrays["stream/frame"] = np.array([s.frame for s in got])
    for task in scorer.tasks:
        arrays[f"stream/{task}"] = np.array([s.raw[task] for s in got])
    # 3. calibration scores of normal training windows
    from vadkit.stream.reference import calibration_scores

    train = list(open_videos(scene, "training", size=(32, 32), color="gray"))
    scores, total = calibration_scores(
        model, train, clip_length=8, errors=errs, runtime=runtime, windows=11, batch_size=4
    )
    arrays["calibration/total"] = np.asarray(total)
    for task, keys in scores.items():
        for key, values in keys.items():
            arrays[f"calibration/{task}/{key}"] = values
    # 4. the Python API's in-memory detector
    detector = vadkit.load(out, device="cpu", precision="fp32")
    one = detector.score_frames(frames, batch_size=7)
    for task, keys in one.raw.items():
        for key, values in keys.items():
            arrays[f"detector/{task}/{key}"] = values
    np.savez_compressed(HERE / "scores.npz", **arrays)
    print(f"{len(arrays)} arrays written to {HERE / 'scores.npz'}", file=sys.stderr)


if __name__ == "__main__":
    main()
