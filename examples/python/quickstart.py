"""vadkit from Python: what is registered, building components by name, scoring tiny frames.

Included by the "Quickstart from Python" page; runs in a second.
"""

# --8<-- [start:registries]
import numpy as np
import torch

import vadkit

print(vadkit.list_errors())  # ['bpe', 'l1', 'mse', 'pse', 'psnr']
print(vadkit.list_errors("p*"))  # ['pse', 'psnr']
print(vadkit.list_tasks(exclude="prp"))  # ['ffp', 'mfp', 'vcr']
entry = vadkit.get_entry("errors", "bpe")
print(entry.plugin, entry.summary.split(":")[0])  # luss Blur pooled error
# --8<-- [end:registries]

# --8<-- [start:create]
bpe = vadkit.create_error("bpe")  # the paper's settings: stride 2, sigma 1, 5x5 kernel
wide = vadkit.create_error("bpe", sigma=2.0, kernel_size=11)  # keyword parameters only
print(wide)  # BPE(stride=2, sigma=2.0, kernel_size=11, normalize=True)
# --8<-- [end:create]

# --8<-- [start:score]
torch.manual_seed(0)
real = torch.rand(4, 1, 64, 64) * 2 - 1  # 4 grayscale frames, pixels in [-1, 1]
pred = (real + 0.1 * torch.randn_like(real)).clamp(-1, 1)
pred[3, :, 20:40, 20:40] = -1.0  # frame 3: a square the model did not expect
per_frame = bpe(pred, real)  # (N, C, H, W) x 2 -> (N,)
print(per_frame.shape)  # torch.Size([4])
print(int(per_frame.argmax()))  # 3
# --8<-- [end:score]

# --8<-- [start:normalize]
robust = vadkit.create_normalizer("robust")  # per-video (a - median) / (q99 - q1)
video_scores = np.array([0.20, 0.21, 0.19, 0.22, 0.90, 0.20])
print(np.round(robust(video_scores), 2))  # [-0.01  0.01 -0.02  0.02  1.03 -0.01]
# --8<-- [end:normalize]
