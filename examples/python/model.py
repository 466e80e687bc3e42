"""LUSS-AE's model piece by piece: the cae3d backbone and the vcr, ffp and prp tasks.

A narrow backbone on 16 x 64 x 64 clips keeps this fast on a CPU. Included by the reference pages
of cae3d, vcr, ffp and prp and by the Python quickstart.
"""

# --8<-- [start:setup]
import numpy as np
import torch

import vadkit
from vadkit.model import VADModel
from vadkit.testing import tiny_batch

torch.manual_seed(0)
clip_shape = (1, 16, 64, 64)  # (C, T, H, W): 16 grayscale frames of 64 x 64
# --8<-- [end:setup]

# --8<-- [start:cae3d]
paper = vadkit.create_backbone("cae3d")  # widths (96, 128, 256, 256), as in the paper
print(sum(p.numel() for p in paper.parameters()))  # 5980801
print(paper.latent_shape((1, 16, 256, 256)))  # (256, 2, 16, 16)

backbone = vadkit.create_backbone("cae3d", channels=(8, 8, 16, 16))  # narrow, for a quick test
clip = torch.rand(2, *clip_shape) * 2 - 1  # a batch of 2 clips, pixels in [-1, 1]
features = backbone.features(clip)  # encoder once, decoder once
print(tuple(features.latent.shape))  # (2, 16, 2, 4, 4)
print(tuple(features.recon.shape))  # (2, 1, 16, 64, 64)
# --8<-- [end:cae3d]

# --8<-- [start:model]
tasks = {name: vadkit.create_task(name) for name in ("vcr", "ffp", "prp")}
model = VADModel(backbone, tasks, clip_shape)  # builds each task's head for this backbone
batch = tiny_batch(clip_shape, batch=2)  # clip (2, 1, 16, 64, 64), target frame (2, 1, 64, 64)
batch.views["prp"] = batch.clip  # PRP trains on its own view of the video ...
batch.labels["prp"] = torch.tensor([0, 1])  # ... labelled original (0) or accelerated (1)
losses = model.training_losses(batch)  # unweighted, one per task
print(sorted(losses))  # ['ffp', 'prp', 'vcr']
weights = {name: task.default_weight for name, task in model.task_map.items()}
print(weights)  # {'vcr': 0.6, 'ffp': 0.4, 'prp': 1.0}
loss = sum(weights[name] * value for name, value in losses.items())
loss.backward()
# --8<-- [end:model]

# --8<-- [start:scores]
model.eval()
errors = {"mse": vadkit.create_error("mse"), "bpe": vadkit.create_error("bpe")}
with torch.no_grad():
    scores = model.window_scores(batch, errors)  # one backbone pass feeds every task
for task, streams in scores.items():
    print(task, {key: tuple(value.shape) for key, value in streams.items()})
# vcr {'mse': (2,), 'bpe': (2,)}
# ffp {'mse': (2,), 'bpe': (2,)}
# prp {'score': (2,)}
# --8<-- [end:scores]
assert set(scores["prp"]) == {vadkit.components.SCORE_KEY}

# --8<-- [start:prp-view]
prp = model.task_map["prp"]
rng, batch_rng = np.random.default_rng(1), np.random.default_rng(2)
for _ in range(3):
    indices, label = prp.sample_view(100, 16, rng, batch_rng)
    print(label, indices[:4])
# --8<-- [end:prp-view]
