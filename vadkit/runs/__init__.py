"""Run folders (PyTorch): the files ``vadkit train`` writes and the one way to load them back.

:mod:`~vadkit.runs.folder` (``config.toml`` and :class:`~vadkit.runs.folder.RunFolder`),
:mod:`~vadkit.runs.model` (the model a config describes), :mod:`~vadkit.runs.versions`
(``versions.json``), :mod:`~vadkit.runs.checkpoints` (weights and training state, saved in three
atomic steps), :mod:`~vadkit.runs.digests` (the SHA-256 recorded beside each checkpoint file) and
:mod:`~vadkit.runs.metricslog` (``metrics.jsonl``).
"""
