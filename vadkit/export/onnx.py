"""The network as ONNX (and OpenVINO IR): export, and name the component that cannot be exported.

The exporter is PyTorch's TorchScript-based ``torch.onnx.export(..., dynamo=False)`` at opset 17:
on vadkit's graphs it exports in about half a second and its result matches PyTorch to about
2e-7; the ``torch.export``-based exporter (``dynamo=True``, which needs onnxscript) took 13 s on
the same tiny model and could not convert its opset-18 graph down to 17. A component can declare
itself not exportable with a class attribute ``exportable = False`` (and ``export_limit``, a
sentence saying why); any other failure is traced to the component whose own export fails.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vadkit.components import ErrorMeasure
from vadkit.errors import ConfigError, StorageError
from vadkit.export.graph import INPUT_NAME, ScoringGraph
from vadkit.model import VADModel

#: The ONNX opset of exported bundles.
OPSET = 17


class ExportError(ConfigError):
    """A component of the run cannot be exported (exit code 2)."""


def _onnx(module: nn.Module, args: tuple[Tensor, ...], target: Any, **kw: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and trace notes
        torch.onnx.export(
            module, args, target, opset_version=OPSET, dynamo=False, do_constant_folding=True, **kw
        )


def declared_limits(model: VADModel, errors: Mapping[str, ErrorMeasure]) -> list[str]:
    """Components that declare ``exportable = False``, as ``"kind 'name' (why)"``."""
    parts: list[tuple[str, str, object]] = [
        ("backbone", type(model.backbone).__name__, model.backbone)
    ]
    parts += [("task", name, task) for name, task in model.tasks.items()]
    parts += [("error measure", name, err) for name, err in errors.items()]
    out = []
    for kind, name, component in parts:
        if getattr(component, "exportable", True) is False:
            why = getattr(component, "export_limit", "") or "it declares exportable = False"
            out.append(f"{kind} '{name}' ({why})")
    return out


class _Call(nn.Module):
    def __init__(self, fn: Callable[..., Tensor], owner: nn.Module) -> None:
        super().__init__()
        self.owner = owner
        self.fn = fn

    def forward(self, *args: Tensor) -> Tensor:
        return self.fn(*args)


def _fails(module: nn.Module, args: tuple[Tensor, ...]) -> str | None:
    try:
        _onnx(module, args, io.BytesIO())
    except Exception as exc:  # the exporter raises many kinds
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def culprit(graph: ScoringGraph) -> str | None:
    """The first component whose own export fails, as ``"kind 'name' (why)"``, or None.

    Each probe traces outside inference mode (also when the caller is inside it), on ordinary
    tensors: the tracer cannot record an inference tensor, and every component would then be
    blamed for that instead of its own fault."""
    with torch.inference_mode(False), torch.no_grad():
        return _culprit(graph)


def _culprit(graph: ScoringGraph) -> str | None:
    model = graph.model
    windows = torch.zeros((2, *graph.window_shape), dtype=torch.uint8)
    clip = torch.zeros((2, *model.clip_shape))
    frame = clip[:, :, 0]
    for name, err in graph.errors.items():
        why = _fails(_Call(lambda a, b, e=err: e(a, b), err), (frame, frame + 0.1))
        if why:
            return f"error measure '{name}' ({why})"
    backbone = model.backbone
    why = _fails(_Call(lambda x: backbone.features(x, decode=True).latent, backbone), (clip,))
    if why:
        return f"backbone '{type(backbone).__name__}' ({why})"
    for name in model.tasks:
        sub = ScoringGraph.__new__(ScoringGraph)
        nn.Module.__init__(sub)
        one = VADModel.__new__(VADModel)
        nn.Module.__init__(one)
        one.clip_shape, one.backbone = model.clip_shape, model.backbone
        one.tasks = nn.ModuleDict({name: model.tasks[name]})
        sub.model, sub.errors, sub.clip_length = one, graph.errors, graph.clip_length
        sub.outputs = [o for o in graph.outputs if o.startswith(f"{name}/")]
        why = _fails(sub, (windows,))
        if why:
            return f"task '{name}' ({why})"
    return None


def export_onnx(graph: ScoringGraph, path: Path) -> None:
    """Write ``graph`` to ``path`` (dynamic batch, fixed window); an :class:`ExportError` names
    the component that cannot be exported, a :class:`StorageError` the file the operating
    system refused to write (a full disk is not a component's fault)."""
    windows = torch.zeros((2, *graph.window_shape), dtype=torch.uint8)
    axes = {name: {0: "batch"} for name in [INPUT_NAME, *graph.outputs]}
    try:
        _onnx(
            graph,
            (windows,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=graph.outputs,
            dynamic_axes=axes,
        )
    except OSError as exc:  # writing the file, not tracing the graph
        named = exc if exc.filename else OSError(exc.errno, exc.strerror or str(exc), str(path))
        raise StorageError.from_os_error(named) from None
    except Exception as exc:
        who = culprit(graph) or f"the scoring graph ({type(exc).__name__}: {exc})"
        raise ExportError(
            f"Cannot export {who} to ONNX.",
            hint="Leave the component out of the run, or make it traceable (see "
            "docs/reference/bundle.md, 'Limits').",
        ) from None


def export_openvino(onnx_path: Path, xml_path: Path) -> list[Path]:
    """Convert the ONNX file to OpenVINO IR (weights kept fp32); returns the files written."""
    try:
        import openvino as ov
    except ImportError:
        raise ConfigError(
            "--format openvino needs OpenVINO.", hint="pip install openvino (or vadkit[deploy])"
        ) from None
    model = ov.convert_model(str(onnx_path))
    ov.save_model(model, str(xml_path), compress_to_fp16=False)
    return [xml_path, xml_path.with_suffix(".bin")]
