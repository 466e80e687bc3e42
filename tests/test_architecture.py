"""The shape of the code, checked: no import cycles, a torch-free scoring core, one scoring loop.

The import graph is built by grimp (the engine of import-linter) from the source, with the
imports written inside functions; ``TYPE_CHECKING`` imports count for cycles (a cycle of type
hints is still a cycle of design) but not for the torch-free contract (they never run).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import ClassVar

import pytest

grimp = pytest.importorskip("grimp", reason="grimp is in the dev extra (pip install -e .[dev])")

ROOT = Path(__file__).resolve().parents[1]
NOTORCH = ROOT / "tests" / "notorch"
#: The packages that must never import torch: the scoring core and the score-set format, the
#: bundle runtime, and the crash-safe files under both.
TORCH_FREE = ("vadkit.scoring", "vadkit.runtime", "vadkit.storage")


def _graph(*, external: bool, type_checking: bool) -> grimp.ImportGraph:
    return grimp.build_graph(
        "vadkit",
        "vadkit_luss",
        include_external_packages=external,
        exclude_type_checking_imports=not type_checking,
        cache_dir=None,
    )


def import_cycles(graph: grimp.ImportGraph, prefix: str = "vadkit") -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), among ``prefix``'s
    modules: each is a set of modules that import each other in a circle."""
    modules = sorted(m for m in graph.modules if m == prefix or m.startswith(prefix + "."))
    edges = {
        m: sorted(x for x in graph.find_modules_directly_imported_by(m) if x in modules)
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:  # iterative, so a deep graph cannot overflow the stack
        nonlocal counter
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(edges[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for module in modules:
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("type_checking", [True, False], ids=["with-type-hints", "runtime"])
def test_vadkit_has_no_import_cycle(type_checking: bool) -> None:
    cycles = import_cycles(_graph(external=False, type_checking=type_checking))
    assert cycles == [], "import cycles (modules that import each other):\n" + "\n".join(
        " <-> ".join(c) for c in cycles
    )


def test_the_cycle_finder_sees_a_cycle() -> None:
    class Graph:
        modules: ClassVar[set[str]] = {"vadkit", "vadkit.a", "vadkit.b", "vadkit.c"}

        def find_modules_directly_imported_by(self, m: str) -> set[str]:
            return {"vadkit.a": {"vadkit.b"}, "vadkit.b": {"vadkit.a", "vadkit.c"}}.get(m, set())

    assert import_cycles(Graph()) == [["vadkit.a", "vadkit.b"]]  # type: ignore[arg-type]


def test_the_scoring_core_the_score_sets_and_the_runtime_import_no_torch() -> None:
    graph = _graph(external=True, type_checking=False)
    chains = {}
    for module in sorted(graph.modules):
        if module.startswith(TORCH_FREE):
            chain = graph.find_shortest_chain(importer=module, imported="torch")
            if chain:
                chains[module] = " -> ".join(chain)
    assert not chains, "torch-free modules that reach torch:\n" + "\n".join(chains.values())
    # the check sees a chain where there is one
    assert graph.find_shortest_chain(importer="vadkit.inference.scorer", imported="torch")


NUMPY_SCORER = """
import numpy as np
from vadkit.scoring.core import (SlidingByStacking, StreamKey, WindowScorer, WindowScores,
                                 score_videos)

class Mean(SlidingByStacking):
    clip_length = 2
    frame_shape = (4, 4, 1)
    tasks = ["t"]
    error_tasks = ["t"]
    errors = ["abs"]
    supports_maps = False
    def score_windows(self, windows, *, maps=False):
        w = windows.astype(np.float64)
        return WindowScores({StreamKey("t", "abs"): np.abs(w[:, -1] - w[:, :-1].mean(1)).mean((1, 2, 3))})
    def describe(self):
        return {"runtime": "numpy"}

class Clip:
    name, labels = "v", None
    def __init__(self, n): self.array = np.random.default_rng(0).integers(0, 255, (n, 4, 4, 1), dtype=np.uint8)
    @property
    def num_frames(self): return len(self.array)
    def frames(self, i): return self.array[i]

assert isinstance(Mean(), WindowScorer)
(scored,) = score_videos(Mean(), [Clip(9)], batch_size=3, frames_mode="all")
assert scored.frames.tolist() == list(range(9)) and scored.raw["t"]["abs"].shape == (9,)
"""


def test_the_torch_free_packages_import_and_score_with_torch_blocked() -> None:
    """Every module of the torch-free packages imports in an interpreter where ``import torch``
    fails, and the scoring loop runs there with a numpy scorer."""
    modules = sorted(
        m for m in _graph(external=False, type_checking=False).modules if m.startswith(TORCH_FREE)
    )
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += NUMPY_SCORER + "import sys\nassert 'torch' not in sys.modules\nprint('ok')\n"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(NOTORCH), str(ROOT), str(ROOT / "plugins")])
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
    # the blocker works: importing torch there fails
    blocked = subprocess.run(
        [sys.executable, "-c", "import torch"], capture_output=True, text=True, env=env
    )
    assert blocked.returncode != 0 and "blocked" in blocked.stderr


def _calls(attribute: str) -> set[str]:
    """The modules of vadkit whose code calls ``X.<attribute>(...)``."""
    found = set()
    for path in sorted((ROOT / "vadkit").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == attribute
            ):
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_the_model_scores_windows_in_one_place() -> None:
    """Offline scoring, streaming, calibration, the precision rule and the Python API all score
    through ModelScorer; the exported graph calls the one scoring function itself (it is the
    model, traced), and the conformance kit tests it."""
    assert _calls("window_scores") == {
        "vadkit/inference/scorer.py",
        "vadkit/export/graph.py",
        "vadkit/testing/__init__.py",
    }
    assert _calls("window_maps") == {"vadkit/inference/scorer.py"}
    # an engine runs windows in one place too: the engine scorer (and the export parity checks);
    # engines.py is the engines themselves (ONNX Runtime's session.run)
    engines = {"vadkit/runtime/scorer.py", "vadkit/export/writer.py", "vadkit/runtime/engines.py"}
    assert _calls("run") - engines == set()


def test_one_loop_over_windows_and_videos() -> None:
    """The loops over a video's windows, over picked windows and over videos are written once."""
    assert _calls("score_sliding") == {"vadkit/scoring/core.py"}
    assert _calls("score_windows") <= {"vadkit/scoring/core.py", "vadkit/runtime/scorer.py"}
    loops = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "vadkit").rglob("*.py")
        if "def score_videos(" in path.read_text(encoding="utf-8")
    }
    assert loops == {"vadkit/scoring/core.py", "vadkit/inference/score.py"}  # the second wraps it
    wrapper = (ROOT / "vadkit" / "inference" / "score.py").read_text(encoding="utf-8")
    assert "return core.score_videos(" in wrapper


def test_no_module_imports_an_old_path() -> None:
    """``vadkit.engine`` is only a deprecated alias (vadkit/_compat.py)."""
    graph = _graph(external=False, type_checking=True)
    assert not [m for m in graph.modules if m.startswith("vadkit.engine")]
    for path in sorted((ROOT / "vadkit").rglob("*.py")):
        if path.name == "_compat.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "import vadkit.engine" not in text and "from vadkit.engine" not in text, path


def test_old_paths_still_work_with_a_deprecation_warning() -> None:
    import importlib

    from vadkit import _compat
    from vadkit._version import __version__

    def release(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    assert release(_compat.REMOVED_IN) > release(__version__)
    for old, new in _compat.MOVED_MODULES.items():
        sys.modules.pop(old, None)
        with pytest.warns(
            DeprecationWarning, match=rf"{old} is deprecated .* {_compat.REMOVED_IN}"
        ):
            module = importlib.import_module(old)
        if isinstance(new, str):
            assert module is importlib.import_module(new), old
    from vadkit.inference.score import score_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from vadkit.engine import Trainer  # type: ignore[import-not-found]
        from vadkit.engine.score import score_run as old_score_run  # type: ignore[import-not-found]
    assert old_score_run is score_run
    from vadkit.training.trainer import Trainer as new_trainer

    assert Trainer is new_trainer


#: The functions that build a run's error measures and normalizers, and the position of the
#: argument that carries the run's parameters (``score.error_params``/``normalizer_params``).
CONFIGURED_BUILDERS = {"applicable_errors": 3, "get_normalizer": 1, "stream_normalizer": 1}


def _builder_calls() -> list[tuple[str, str, bool]]:
    """``(module, function, passes parameters)`` for every call of a configured builder, and of
    the plain ``create_error``/``create_normalizer`` (which never do), in vadkit."""
    calls = []
    for path in sorted((ROOT / "vadkit").rglob("*.py")):
        module = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("create_error", "create_normalizer"):
                calls.append((module, name, False))
            elif name in CONFIGURED_BUILDERS:
                given = len(node.args) > CONFIGURED_BUILDERS[name] or any(
                    k.arg == "params" for k in node.keywords
                )
                calls.append((module, name, given))
    return calls


def test_every_error_measure_and_normalizer_is_built_with_the_runs_parameters() -> None:
    """Scoring, evaluation, reports, maps, streaming, calibration and export build error
    measures and normalizers through the configured builders, each time with the parameters of
    the run or of the record it reads; only the Python API's ``create_*`` and the conformance
    kit (a plain MSE) build one with its defaults."""
    calls = _builder_calls()
    unconfigured = {
        (module, name)
        for module, name, given in calls
        if not given and module not in ("vadkit/api.py", "vadkit/testing/__init__.py")
    }
    assert unconfigured == set(), f"built without the run's parameters: {sorted(unconfigured)}"
    modules = {module for module, _, given in calls if given}
    assert {"vadkit/inference/score.py", "vadkit/export/writer.py"} <= modules  # the check sees
