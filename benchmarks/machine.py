"""The CPU a benchmark ran on, as every result page under ``docs/benchmarks/`` states it.

bf16 speed depends on the CPU more than on anything vadkit does: with AVX-512 BF16 or AMX,
oneDNN computes bf16 natively; without, PyTorch emulates it, many times slower than fp32. So each
page names the CPU model and says whether it has those instructions, written here, once:

* :func:`cpu_record` measures the machine the script runs on (model, cores, the ``avx512_bf16``
  and ``amx_bf16`` flags of ``/proc/cpuinfo``, and whether PyTorch computes bf16 natively,
  :func:`vadkit.compute.device.native_bf16_cpu`); a script stores it with its results, so that
  a page rewritten later from a saved result names the machine that measured it;
* :func:`cpu_line` writes one record as the page's sentence; :func:`cpus_line` writes the
  records of several results (a study run in pieces, possibly on several machines).

A result saved before records existed has none: the page says so, and the next run of its
script records it.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: The /proc/cpuinfo flags that decide bf16 speed, and how the pages name them.
BF16_FLAGS = {"avx512_bf16": "AVX-512 BF16", "amx_bf16": "AMX BF16"}
CPUINFO = Path("/proc/cpuinfo")
NOT_RECORDED = "not recorded (measured before the pages recorded it; the next run records it)"


def cpu_record(cpuinfo: str | None = None) -> dict[str, Any]:
    """The CPU this process runs on: ``model``, ``cores``, each flag of :data:`BF16_FLAGS`
    (True/False, None when ``/proc/cpuinfo`` cannot be read) and ``torch_native_bf16``.

    ``cpuinfo`` is the text of ``/proc/cpuinfo`` (read from the system when None)."""
    if cpuinfo is None:
        try:
            cpuinfo = CPUINFO.read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    model, flags = "", None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and flags is None:
            flags = set(value.split())
    record: dict[str, Any] = {
        "model": model or platform.processor() or platform.machine() or "unknown",
        "cores": os.cpu_count(),
    }
    for flag in BF16_FLAGS:
        record[flag] = None if flags is None else flag in flags
    record["torch_native_bf16"] = _torch_native_bf16()
    return record


def _torch_native_bf16() -> bool | None:
    try:
        from vadkit.compute.device import native_bf16_cpu
    except ImportError:  # no torch here
        return None
    return bool(native_bf16_cpu())


def describe_cpu(record: Mapping[str, Any] | None, known: str = "") -> str:
    """``record`` in words: ``AMD EPYC, 2 cores; AVX-512 BF16: yes, AMX BF16: no (PyTorch
    computes bf16 natively)``. Without a record: what a result of an older script ``known``
    (``x86_64, 2 cores``), and that the rest was not recorded."""
    if not record:
        return f"{known}; CPU model and flags {NOT_RECORDED}" if known else NOT_RECORDED
    cores = record.get("cores")
    head = f"{record.get('model') or 'unknown'}" + (f", {cores} cores" if cores else "")

    def said(value: Any) -> str:
        return "not known" if value is None else ("yes" if value else "no")

    flags = ", ".join(f"{name}: {said(record.get(flag))}" for flag, name in BF16_FLAGS.items())
    native = record.get("torch_native_bf16")
    torch_says = (
        ""
        if native is None
        else " (PyTorch computes bf16 natively)"
        if native
        else " (PyTorch emulates bf16: slower than fp32)"
    )
    return f"{head}; {flags}{torch_says}"


def cpu_line(record: Mapping[str, Any] | None) -> str:
    """The sentence a page states its CPU with: ``CPU: ...`` (see :func:`describe_cpu`)."""
    return f"CPU: {describe_cpu(record)}."


def cpus_line(records: Iterable[Mapping[str, Any] | None]) -> str:
    """One sentence for the records of several results: each distinct CPU once, with how many
    results it measured, and how many results recorded none."""
    counts: dict[str, int] = {}
    for record in records:
        text = describe_cpu(record)
        counts[text] = counts.get(text, 0) + 1
    if len(counts) <= 1:
        return cpu_line(None) if not counts else f"CPU: {next(iter(counts))}."
    parts = [f"{text} ({n} result{'s' if n > 1 else ''})" for text, n in counts.items()]
    return "CPUs: " + "; ".join(parts) + "."
