"""LUSS-AE's score normalizers on a short score stream, with values you can check by hand.

A normalizer rescales one video's 1-D score stream; it never changes the order of the scores
within the video, only how videos compare with each other. The reference pages of none, minmax
and robust include the sections of this file.
"""

# --8<-- [start:setup]
import numpy as np

import vadkit

scores = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 50.0])  # one video; the last frame is an outlier
# --8<-- [end:setup]

# --8<-- [start:none]
none = vadkit.create_normalizer("none")
print(none(scores))  # [ 1.  2.  3.  4.  5. 50.]
# --8<-- [end:none]

# --8<-- [start:minmax]
minmax = vadkit.create_normalizer("minmax")
print(np.round(minmax(scores), 3))  # [0.    0.02  0.041 0.061 0.082 1.   ]
# (a - min) / (max - min): the outlier squeezes every other frame towards 0
# --8<-- [end:minmax]
assert np.allclose(minmax(scores), (scores - 1) / 49)

# --8<-- [start:robust]
robust = vadkit.create_normalizer("robust")  # quantile_range=(1, 99), as in the paper
median = np.median(scores)  # 3.5
q1, q99 = np.percentile(scores, [1, 99])  # 1.05, 47.75 (linear interpolation)
print(np.allclose(robust(scores), (scores - median) / (q99 - q1)))  # True
# A narrower range ignores the outlier completely:
iqr = vadkit.create_normalizer("robust", quantile_range=(25, 75))
print(iqr(scores))  # [-1.  -0.6 -0.2  0.2  0.6 18.6]
# --8<-- [end:robust]
assert np.allclose(iqr(scores), (scores - 3.5) / 2.5)

# --8<-- [start:fit]
# A live stream has no whole video: fit on scores of normal data once, transform new scores.
normal = np.array([0.20, 0.22, 0.19, 0.21, 0.20, 0.23, 0.18])  # median 0.2, q25 0.195, q75 0.215
fitted = vadkit.create_normalizer("robust", quantile_range=(25, 75)).fit(normal)
print(np.round(fitted.transform(np.array([0.20, 0.215, 0.40])), 3))  # [ 0.    0.75 10.  ]
# --8<-- [end:fit]
assert np.allclose(fitted.transform(np.array([0.4])), (0.4 - 0.2) / 0.02)
