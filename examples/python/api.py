"""The Python API in five lines: train a run, score it, evaluate it, load it, score frames.

Included by the "Quickstart from Python" page. The settings are tiny (32 x 32 frames, a narrow
backbone, one epoch) so that it runs in about a minute on a CPU; the AUROC it prints says nothing
about the method.
"""

import shutil

# --8<-- [start:api]
import tempfile
from pathlib import Path

import numpy as np

import vadkit

out = Path(tempfile.mkdtemp()) / "run"
tiny = {"data.size": [32, 32], "data.stride": 8, "model.params.channels": [4, 4, 8, 8]}
run = vadkit.train(data=None, out=out, epochs=1, settings=tiny)  # None: the synthetic scene
print(run.settings.recipe, run.settings.data.hw)  # luss-ae-synthetic (32, 32)
scores = run.score()  # a ScoreSet: per video, per task, per error measure
print(scores.tasks, len(scores.videos))  # ['vcr', 'ffp', 'prp'] 6
result = run.evaluate(alphas="ped2", plots=False)  # micro/macro AUROC, EER, AP, protocol
print(sorted(result.results))  # ['ffp', 'fused', 'prp', 'vcr']

detector = vadkit.load(out)  # the trained model in memory
frames = np.random.default_rng(0).integers(0, 256, (20, 120, 160, 3), dtype=np.uint8)
frame_scores = detector.score_frames(frames)  # resized and converted like the training data
print(frame_scores.frames[:3].tolist(), frame_scores.stream("ffp", "bpe").shape)  # [8, 9, 10] (12,)
print(detector.fused(frame_scores).shape)  # (12,)
# --8<-- [end:api]
shutil.rmtree(out.parent)
