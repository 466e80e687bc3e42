"""Every benchmark page names the CPU it was measured on and its bf16 instructions.

bf16 speed depends on AVX-512 BF16 / AMX, so each page writer states them through one helper,
``benchmarks/machine.py``. Tested at unit level: the helper on given ``/proc/cpuinfo`` texts,
each page writer's use of it (read from the scripts), and two page writers called on the
committed records; no benchmark is run.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

#: Each script that writes a page under docs/benchmarks/, and the function that writes its text.
PAGE_WRITERS = {
    "ablations.py": "page",
    "bench_gpu.py": "main",
    "bench_loader.py": "main",
    "bench_memory.py": "main",
    "bench_ped2.py": "page",
    "bench_runtime.py": "runtime_page.py:page",
    "bench_score_speed.py": "page",
    "bench_stream.py": "page",
    "bench_train_speed.py": "main",
    "gpu_session.py": "machine",
    "methods.py": "page",
    "ped2_seeds.py": "page",
    "validation_study.py": "page",
}
#: Scripts whose page can be rewritten later from a saved result: the result records the CPU.
SAVED_RESULTS = (
    "ablations.py",
    "bench_ped2.py",
    "bench_runtime.py",
    "bench_score_speed.py",
    "bench_stream.py",
    "methods.py",
    "ped2_seeds.py",
    "validation_study.py",
)
HELPERS = {"cpu_line", "cpus_line", "describe_cpu"}

ZEN4 = "processor\t: 0\nmodel name\t: AMD EPYC 9B14\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n"
SAPPHIRE = "model name\t: Intel(R) Xeon(R) Platinum 8481C\nflags\t: avx512f avx512_bf16 amx_bf16\n"
OLD = "model name\t: Intel(R) Xeon(R) CPU E5-2690 v4\nflags\t: avx2 fma\n"


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(BENCH))
    try:
        yield {name: importlib.import_module(name) for name in ("machine", "ped2_seeds")}
    finally:
        sys.path.remove(str(BENCH))


def test_the_cpu_record_reads_the_model_and_the_bf16_flags(bench):
    machine = bench["machine"]
    zen4, intel, old = (machine.cpu_record(t) for t in (ZEN4, SAPPHIRE, OLD))
    assert zen4["model"] == "AMD EPYC 9B14"
    assert (zen4["avx512_bf16"], zen4["amx_bf16"]) == (True, False)
    assert (intel["avx512_bf16"], intel["amx_bf16"]) == (True, True)
    assert (old["avx512_bf16"], old["amx_bf16"]) == (False, False)
    unknown = machine.cpu_record("")  # no /proc/cpuinfo: flags not known, a model all the same
    assert unknown["avx512_bf16"] is None and unknown["model"]
    here = machine.cpu_record()
    assert here["model"] and here["cores"] >= 1
    assert isinstance(here["torch_native_bf16"], bool)


def test_the_page_line_names_model_and_flags(bench):
    machine = bench["machine"]
    record = {**machine.cpu_record(ZEN4), "cores": 2, "torch_native_bf16": True}
    assert machine.cpu_line(record) == (
        "CPU: AMD EPYC 9B14, 2 cores; AVX-512 BF16: yes, AMX BF16: no "
        "(PyTorch computes bf16 natively)."
    )
    old = {**machine.cpu_record(OLD), "cores": 4, "torch_native_bf16": False}
    assert machine.describe_cpu(old) == (
        "Intel(R) Xeon(R) CPU E5-2690 v4, 4 cores; AVX-512 BF16: no, AMX BF16: no "
        "(PyTorch emulates bf16: slower than fp32)"
    )
    assert "not recorded" in machine.cpu_line(None)
    assert machine.describe_cpu(None, "x86_64, 2 cores").startswith("x86_64, 2 cores; CPU model")
    # several results: each CPU once, with how many results it measured
    both = machine.cpus_line([record, record, old, None])
    assert both.startswith("CPUs: AMD EPYC 9B14") and "(2 results)" in both
    assert "E5-2690 v4" in both and "not recorded" in both
    assert machine.cpus_line([record, record]) == machine.cpu_line(record)


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    return names


def _function(path: Path, name: str) -> ast.FunctionDef:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    assert found, f"{path.name} has no function {name}()"
    return found[0]


def test_every_script_that_writes_a_page_is_checked():
    writers = set()
    for script in sorted(BENCH.glob("*.py")):
        text = script.read_text(encoding="utf-8")
        if script.name != "machine.py" and (
            "docs/benchmarks" in text or '"docs" / "benchmarks"' in text
        ):
            writers.add(script.name)
    helpers = {v.split(":")[0] for v in PAGE_WRITERS.values() if ":" in v}  # runtime_page.py
    assert writers - helpers == set(PAGE_WRITERS), f"update PAGE_WRITERS: {sorted(writers)}"


@pytest.mark.parametrize("script", sorted(PAGE_WRITERS))
def test_each_page_writer_states_the_cpu(script):
    where, _, name = PAGE_WRITERS[script].rpartition(":")
    function = _function(BENCH / (where or script), name)
    used = _calls(function) & HELPERS
    assert used, f"{where or script}:{name}() does not state the CPU (benchmarks/machine.py)"
    if script in SAVED_RESULTS:  # the saved result records the CPU that measured it
        assert "cpu_record" in _calls(ast.parse((BENCH / script).read_text(encoding="utf-8")))


def _seed(seed: int) -> dict[str, object]:
    """A seed study result as ped2_seeds.run_seed writes it (the fields its page reads)."""
    losses = {"last": {"losses": {"loss": 0.2}}, "ema": {"losses": {"loss": 0.1}}}
    choice = {"chosen": "ema", "candidates": losses}
    sets = {
        name: {
            "weights": {"choice": choice},
            "precision_choice": {"chosen": "fp32"},
            "eval": {"bpe/minmax": {"fused": 0.8 + 0.01 * seed}},
        }
        for name in ("last", "ema", "auto")
    }
    return {"seed": seed, "train_args": ["--epochs", "15"], "val_videos": 2,
            "train_seconds": 1200.0, "sets": sets}  # fmt: skip


def test_the_seed_study_page_names_each_seeds_cpu(bench):
    """ped2_seeds.page: seeds finished before CPUs were recorded say so; a seed with a record
    names its CPU."""
    seeds, machine = bench["ped2_seeds"], bench["machine"]
    results = [_seed(0), _seed(1)]
    text = seeds.page(results, "benchmarks/bench_ped2.py --seeds 0,1")
    assert "Trained and scored on: CPU: not recorded" in text
    record = {**machine.cpu_record(SAPPHIRE), "cores": 8, "torch_native_bf16": True}
    results[0] = {**results[0], "cpu_record": record}
    text = seeds.page(results, "benchmarks/bench_ped2.py --seeds 0,1")
    assert machine.describe_cpu(record) + " (1 result)" in text
    assert "AMX BF16: yes" in text
