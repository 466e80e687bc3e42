"""The scoring core and the score-set format, without torch.

A :class:`~vadkit.scoring.core.WindowScorer` turns windows of uint8 frames into anomaly scores;
the trained PyTorch model (:mod:`vadkit.inference`) and an exported bundle's engine
(:mod:`vadkit.runtime`) are its two implementations. Everything that turns window scores into
per-frame score streams, score sets on disk, normalised and fused scores lives here, so both
paths share it. Importing this package (or anything it imports) never imports torch: a contract
checked by ``tests/test_architecture.py``.
"""
