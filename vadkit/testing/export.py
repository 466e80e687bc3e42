"""The optional export conformance check: a component scores the same once exported.

Plugins opt in by calling :func:`vadkit.testing.check_export` in their tests; a component that
cannot be exported by design declares ``exportable = False`` (and ``export_limit``) instead, and
``vadkit export`` then names it. The check builds a tiny model around the component
(:class:`~vadkit.testing.tiny.TinyBackbone`, a reconstruction task, an L1 error measure, as needed),
exports its :class:`~vadkit.export.graph.ScoringGraph` to ONNX and compares ONNX Runtime's
scores with PyTorch's (relative difference at most :data:`~vadkit.export.writer.PARITY_RTOL`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from vadkit.components import Backbone, Batch, ClipShape, ErrorMeasure, Features, ProxyTask
from vadkit.export.graph import ScoringGraph
from vadkit.export.onnx import export_onnx
from vadkit.export.writer import PARITY_RTOL, check_parity
from vadkit.model import VADModel
from vadkit.testing.tiny import TinyBackbone

KINDS = ("backbones", "tasks", "errors")


class _L1(ErrorMeasure):
    def forward(self, pred: Tensor, real: Tensor) -> Tensor:
        return (pred - real).abs().flatten(1).mean(1)


class _LastFrame(ProxyTask):
    """Reconstruction of the clip's last frame: a task with no head, to carry a component."""

    def loss(self, features: Features, batch: Batch) -> Tensor:
        assert features.recon is not None
        return (features.recon - batch.clip).abs().mean()

    def compare(self, features: Features, batch: Batch) -> tuple[Tensor, Tensor]:
        assert features.recon is not None
        return features.recon[:, :, -1:].transpose(1, 2), batch.clip[:, :, -1:].transpose(1, 2)


def export_parity(
    backbone: Backbone, tasks: dict[str, ProxyTask], errors: dict[str, ErrorMeasure]
) -> dict[str, float]:
    """Largest relative difference per output between ONNX Runtime and PyTorch for a tiny model
    of these components (clips ``(C, 8, 32, 32)``, or 16 frames if the backbone needs them)."""
    from vadkit.runtime.engines import OnnxRuntimeEngine

    model = None
    for t in (8, 16):
        shape: ClipShape = (int(backbone.in_channels), t, 32, 32)
        try:
            model = VADModel(backbone, tasks, shape)
            break
        except Exception:
            continue
    assert model is not None, "no tiny clip shape (8 or 16 frames, 32x32) fits the backbone"
    graph = ScoringGraph(model, errors).eval()
    windows = np.random.default_rng(0).integers(0, 256, (3, *graph.window_shape), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(graph, path)
        engine = OnnxRuntimeEngine(str(path), ["CPUExecutionProvider"])
        return check_parity(graph, engine, windows)


def check_export(kind: str, component: Any) -> None:
    """Check that a built component (``kind``: backbones, tasks or errors) exports to ONNX with
    scores within :data:`PARITY_RTOL` of PyTorch's."""
    if kind not in KINDS:
        raise ValueError(f"export checks cover {', '.join(KINDS)}, not {kind!r}")
    backbone = component if kind == "backbones" else TinyBackbone()
    tasks: dict[str, ProxyTask] = {"t": component if kind == "tasks" else _LastFrame()}
    errors: dict[str, ErrorMeasure] = {"e": component} if kind == "errors" else {"l1": _L1()}
    diffs = export_parity(backbone, tasks, errors)
    worst = max(diffs, key=lambda k: diffs[k])
    assert diffs[worst] <= PARITY_RTOL, (
        f"exported {kind[:-1]} scores '{worst}' differ from PyTorch's by {diffs[worst]:.2e} "
        f"(relative), more than {PARITY_RTOL:g}"
    )
