"""``vadkit export``: a trained run as a bundle that scores without torch.

:func:`export_run` writes a folder holding the network with its error measures inside the graph
(:mod:`vadkit.export.graph`, exported by :mod:`vadkit.export.onnx`) and ``bundle.json``: the clip
shape, colour and frame size, the tasks and the error measure of each output, the fusion
defaults, the calibration (normalizer statistics and threshold, fitted on the run's training
windows as ``watch`` fits them), the vadkit version, the checkpoint's SHA-256 and every file's
checksum. :mod:`vadkit.runtime` reads it. The format is in ``docs/reference/bundle.md``;
where a bundle may be written (never over what export did not write) is
:mod:`vadkit.export.target`.
"""

from __future__ import annotations

from vadkit.export.writer import check_parity, export_run

__all__ = ["check_parity", "export_run"]
