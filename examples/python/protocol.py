"""The evaluation protocol on numbers small enough to check by hand.

Included by the "Evaluation protocol" reference page.
"""

# --8<-- [start:setup]
import numpy as np

import vadkit
from vadkit.metrics import frame_metrics, macro_auroc, micro_auroc
from vadkit.scoring.core import expand_window_scores

# --8<-- [end:setup]
# --8<-- [start:frames]
# A 20-frame test video scored with clips of T = 16 frames: window i holds frames i..i+16 and
# scores frame i+16, its last frame (the frame FFP predicts). There are 20 - 16 = 4 windows.
window_scores = np.array([0.1, 0.2, 0.3, 0.4])
frames, scores = expand_window_scores(window_scores, 20, 16, "protocol")
print(frames)  # [16 17 18 19]
frames, scores = expand_window_scores(window_scores, 20, 16, "all")
print(len(frames), scores[:3], scores[-4:])  # 20 [0.1 0.1 0.1] [0.1 0.2 0.3 0.4]

# UCSD Ped2's 12 test videos: the protocol scores 2,010 - 12 x 16 = 1,818 frames.
ped2_test = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]
print(sum(ped2_test), sum(n - 16 for n in ped2_test))  # 2010 1818
# --8<-- [end:frames]

# --8<-- [start:micro-macro]
# Two test videos. Within each, the anomalous frames (label 1) score higher than the normal ones;
# but every frame of video B scores higher than video A's (a busier scene, say).
labels = [np.array([0, 0, 0, 1, 1]), np.array([0, 0, 1, 1, 0])]
scores = [np.array([0.1, 0.2, 0.1, 0.4, 0.5]), np.array([0.6, 0.7, 0.9, 0.8, 0.6])]
print(macro_auroc(labels, scores))  # (1.0, 2)
print(micro_auroc(labels, scores))  # 0.75
# --8<-- [end:micro-macro]
assert macro_auroc(labels, scores) == (1.0, 2) and micro_auroc(labels, scores) == 0.75

# --8<-- [start:normalise]
minmax = vadkit.create_normalizer("minmax")
rescaled = [minmax(s) for s in scores]  # each video on its own [0, 1] scale
print(micro_auroc(labels, rescaled))  # 1.0
print(frame_metrics(labels, rescaled))
# --8<-- [end:normalise]
assert micro_auroc(labels, rescaled) == 1.0
