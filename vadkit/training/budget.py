"""Time and memory budget of a training run.

Before the first step, :func:`project_memory` runs one forward and backward pass of a copy of the
model on a batch of one training window, under the run's runtime (device, autocast, memory
format), and records with :func:`torch.autograd.graph.saved_tensors_hooks` the bytes autograd
keeps for the backward pass. The peak of a training step at batch size ``B`` is projected as::

    parameters + gradients + Adam's two moments + fixed
        + B x headroom x (input + saved bytes per window)

where ``fixed`` holds the saved tensors that do not grow with the batch (the low-precision copies
of the weights that autocast makes) and ``headroom`` (:data:`HEADROOM`) what a step holds beyond
its saved tensors, measured. :func:`check_memory` stops a run whose projection exceeds what the
machine has (:func:`available_memory`, read after the probe, less :data:`RESERVE`) with a
:class:`~vadkit.errors.ConfigError`, before the run folder is written. :func:`guard_memory` does
both, and refuses the same way when the probe itself runs out of memory (an allocation failure
inside it is a refusal, never a crash).

Measured agreement (``benchmarks/bench_memory.py``, ``docs/benchmarks/train-memory.md``: the
``luss-ae`` model, ``cae3d`` widths 96-128-256-256, 16-frame grey clips, channels-last on the
CPU, projection against the peak resident memory of real steps): in fp32 the projection was 1.14
to 1.32 times the measured peak from 64 x 64 to 256 x 256 frames at batches of 2 to 16, and 1.16
times at the paper's 256 x 256, batch 16 (16.9 GB projected, 14.5 GB measured); the measured
memory per extra window was 1.21 to 1.30 times the saved bytes (1.42 in a repeated run at
64 x 64), hence the fp32 headroom of 1.4. Under bf16 autocast (64 x 64, batches 4 and 16) it was
0.94 to 1.10 times the measured peak over three runs (1.49 per extra window, headroom 1.7). Not
calibrated on CUDA.

After the first few steps of every start or resume, :class:`StepClock` turns the measured seconds
per step (the first step, a warm-up, left out) into the time per epoch and the projected totals;
:func:`projection_record` adds the measured peak memory (:func:`peak_memory`) and
:func:`describe_projection` says it in one line.
"""

from __future__ import annotations

import copy
import math
import os
import resource
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import Tensor, nn

from vadkit.errors import ConfigError

if TYPE_CHECKING:
    from vadkit.components import Batch
    from vadkit.training.step import StepLosses

#: Environment variable that overrides the available memory, in bytes (for tests, and for a
#: machine whose memory vadkit cannot see, e.g. one shared with other jobs).
MEMORY_ENV = "VADKIT_MEMORY_AVAILABLE"
#: Share of the available memory a run must leave free.
RESERVE = 0.10
#: Steps measured after each start or resume (fewer when the epoch has fewer batches).
PROJECTION_STEPS = 5
#: Adam keeps two tensors per parameter (first and second moments).
ADAM_STATE = 2
#: Measured peak over projected bytes per window, by precision: what a step holds beyond the
#: saved tensors (gradients of the activations during backward, autocast's float32 temporaries,
#: the allocator's slack). Calibrated with ``benchmarks/bench_memory.py`` (see the docstring).
HEADROOM: dict[str, float] = {"fp32": 1.4, "bf16": 1.7, "fp16": 1.7}

T = TypeVar("T")


# -- what autograd saves ------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedBytes:
    """Bytes autograd saved for backward during one forward pass.

    ``scaling``: the activations (they grow with the batch); ``fixed``: views and casts of leaf
    tensors (the weights' low-precision copies under autocast), the same at every batch size. Saved
    tensors that share storage with an excluded tensor (the parameters, the input batch) and
    tensors that share storage with each other are counted once or not at all.
    """

    scaling: int
    fixed: int
    tensors: int
    largest: int = 0  # the largest storage among the scaling ones


#: Autograd nodes that only view or cast their one input.
_VIEWS_AND_CASTS = frozenset(
    {
        "ToCopyBackward",
        "TBackward",
        "TransposeBackward",
        "PermuteBackward",
        "ViewBackward",
        "UnsafeViewBackward",
        "ReshapeAliasBackward",
        "AliasBackward",
        "ExpandBackward",
        "UnsqueezeBackward",
        "SqueezeBackward",
    }
)


def _is_leaf_copy(tensor: Tensor) -> bool:
    """True for a view or cast of a leaf that requires grad: in a model, a weight (e.g. the
    low-precision copy autocast makes once per forward pass). Inputs require no grad."""
    fn = tensor.grad_fn
    while fn is not None:
        name = type(fn).__name__
        if name == "AccumulateGrad":
            return True
        if name.rstrip("0123456789") not in _VIEWS_AND_CASTS:
            return False
        inputs = [node for node, _ in fn.next_functions if node is not None]
        if len(inputs) != 1:
            return False
        fn = inputs[0]
    return False


def _storage(tensor: Tensor) -> tuple[str, int, int]:
    storage = tensor.untyped_storage()
    return (str(tensor.device), storage.data_ptr(), storage.nbytes())


def saved_tensor_bytes(
    forward: Callable[[], T], *, exclude: Iterable[Tensor] = ()
) -> tuple[T, SavedBytes]:
    """Run ``forward()`` and measure the bytes autograd saves for the backward pass.

    Every saved tensor is counted by its storage (``untyped_storage()``), once: views and
    in-place results share one storage. Tensors sharing storage with ``exclude`` (e.g. the
    parameters, counted apart) are left out. Returns ``forward()``'s result and the bytes.
    """
    skip = {_storage(t)[:2] for t in exclude}
    seen: dict[tuple[str, int], tuple[int, bool]] = {}
    count = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal count
        count += 1
        if tensor.device.type == "meta":
            return tensor
        device, ptr, nbytes = _storage(tensor)
        key = (device, ptr)
        if key in skip or ptr == 0:
            return tensor
        fixed = _is_leaf_copy(tensor)
        old = seen.get(key)
        seen[key] = (max(nbytes, old[0]) if old else nbytes, fixed and (old is None or old[1]))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = forward()
    scaling = sum(n for n, fixed in seen.values() if not fixed)
    fixed = sum(n for n, is_fixed in seen.values() if is_fixed)
    largest = max((n for n, is_fixed in seen.values() if not is_fixed), default=0)
    return result, SavedBytes(scaling=scaling, fixed=fixed, tensors=count, largest=largest)


# -- the projection -----------------------------------------------------------------------------
def _tensor_bytes(tensors: Iterable[Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def batch_tensors(batch: Batch) -> list[Tensor]:
    """Every tensor of ``batch`` (clip, target, views, labels)."""
    out = [batch.clip, *batch.views.values(), *batch.labels.values()]
    if batch.target is not None:
        out.append(batch.target)
    return out


@dataclass(frozen=True)
class MemoryProjection:
    """The parts of a training step's peak memory, in bytes (see :func:`project_memory`)."""

    parameters: int  # parameters and buffers
    gradients: int
    optimizer: int  # Adam's moments
    input_per_window: int
    saved_per_window: int
    saved_fixed: int
    headroom: float = 1.0  # factor on the bytes per window (see HEADROOM)
    device: str = "cpu"

    @property
    def per_window(self) -> int:
        """Projected bytes per window: input and saved tensors, times the headroom."""
        return math.ceil((self.input_per_window + self.saved_per_window) * self.headroom)

    @property
    def fixed(self) -> int:
        return self.parameters + self.gradients + self.optimizer + self.saved_fixed

    def total(self, batch_size: int) -> int:
        """Projected peak bytes of a training step at ``batch_size`` windows."""
        return self.fixed + int(batch_size) * self.per_window

    def largest_batch(self, budget: float) -> int:
        """The largest batch size whose projection stays within ``budget`` bytes (0: none)."""
        if self.per_window <= 0:
            return 0
        return max(0, math.floor((budget - self.fixed) / self.per_window))


def _probe(step: StepLosses, window: Batch) -> SavedBytes:
    """Forward and backward pass of a copy of the step's model, with the random state kept."""
    device = step.runtime.device
    devices = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        probe = copy.deepcopy(step.model)
        probe.train()
        (total, _), saved = saved_tensor_bytes(
            lambda: step.losses(window, model=probe),
            exclude=[*probe.parameters(), *probe.buffers(), *batch_tensors(window)],
        )
        total.backward()
    return saved


def project_memory(
    step: StepLosses, window: Batch, *, headroom: float | None = None
) -> MemoryProjection:
    """Project the peak memory of ``step`` from one forward and backward pass on ``window``.

    ``window`` is a batch of one training window; ``headroom`` multiplies the bytes per window
    (default: :data:`HEADROOM` for the step's precision). The pass runs on a deep copy of the model
    (its BatchNorm statistics and gradients are the copy's), with the random number generators
    of the CPU and of the step's device restored afterwards and no optimizer step, so training
    afterwards is bit-identical to training without the probe.
    """
    if window.size != 1:
        raise ValueError(f"project_memory takes a batch of one window, not {window.size}")
    model: nn.Module = step.model
    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    device = step.runtime.device
    saved = _probe(step, window)
    return MemoryProjection(
        parameters=_tensor_bytes(params) + _tensor_bytes(model.buffers()),
        gradients=_tensor_bytes(trainable),
        optimizer=ADAM_STATE * _tensor_bytes(trainable),
        input_per_window=_tensor_bytes(batch_tensors(window)),
        saved_per_window=saved.scaling,
        saved_fixed=saved.fixed,
        headroom=HEADROOM.get(step.runtime.precision, 1.0) if headroom is None else headroom,
        device=str(device),
    )


# -- what the machine has -----------------------------------------------------------------------
def _meminfo(path: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat(path: Path, key: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _cgroup_headroom(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """Bytes this process's memory cgroup still allows (reclaimable file cache counted free)."""
    candidates = (
        (root / "memory.max", root / "memory.current", root / "memory.stat", "inactive_file"),
        (
            root / "memory" / "memory.limit_in_bytes",
            root / "memory" / "memory.usage_in_bytes",
            root / "memory" / "memory.stat",
            "total_inactive_file",
        ),
    )
    for limit_file, usage_file, stat_file, key in candidates:
        limit = _read_int(limit_file)  # "max" (no limit) is not a number
        if limit is None or limit >= 1 << 60:
            continue
        usage = _read_int(usage_file) or 0
        return max(0, limit - usage + _stat(stat_file, key))
    return None


def available_memory(device: torch.device | str = "cpu") -> int | None:
    """Bytes a new allocation can take on ``device`` (None when unknown).

    :data:`MEMORY_ENV` overrides it (bytes). CPU: ``MemAvailable`` of ``/proc/meminfo`` (or
    ``os.sysconf``), and no more than the memory cgroup still allows; CUDA: the device's free
    memory (``torch.cuda.mem_get_info``) plus what torch's allocator holds unused.
    """
    given = os.environ.get(MEMORY_ENV, "").strip()
    if given:
        try:
            return int(float(given))
        except ValueError:
            raise ConfigError(
                f"{MEMORY_ENV} = {given!r} is not a number of bytes.",
                hint=f"Set it to bytes, e.g. {MEMORY_ENV}=8000000000, or unset it.",
            ) from None
    device = torch.device(device)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached)  # blocks torch's allocator holds free are this process's
    values = [v for v in (_meminfo(), _cgroup_headroom()) if v is not None]
    return min(values) if values else None


def peak_memory(device: torch.device | str = "cpu") -> int:
    """Peak bytes this process has held: resident memory on the CPU, allocated on CUDA."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # macOS: bytes; Linux: KiB


# -- the check ----------------------------------------------------------------------------------
def format_bytes(n: float) -> str:
    """``1.2 GB``, ``340 MB``: decimal units, as memory is sold."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.0f} MB"
    return f"{n / 1e3:.0f} kB"


def check_memory(
    projection: MemoryProjection,
    available: int | None,
    *,
    batch_size: int,
    size: Iterable[int],
) -> None:
    """Raise :class:`ConfigError` if the projected peak exceeds ``available`` less the reserve."""
    if available is None:
        return
    needed = projection.total(batch_size)
    budget = available * (1 - RESERVE)
    if needed <= budget:
        return
    reserve = f", of which vadkit leaves {RESERVE:.0%} free" if needed <= available else ""
    fits = projection.largest_batch(budget)
    raise _refusal(
        f"Training would need about {format_bytes(needed)} at train.batch_size = {batch_size} "
        f"and data.size = {list(size)}; {_where(projection.device)} {format_bytes(available)} "
        f"available{reserve}.",
        size=size,
        fits=fits,
    )


def _where(device: str) -> str:
    return "this machine has" if device == "cpu" else f"the device {device} has"


def _refusal(message: str, *, size: Iterable[int], fits: int = 0) -> ConfigError:
    """The guard's refusal: ``message`` and the one hint (a batch size that fits, else half the
    frame size, or the way to train anyway)."""
    if fits > 0:
        lower = f"e.g. --set train.batch_size={fits}"
    else:
        half = ",".join(str(int(n) // 2) for n in size)
        lower = f"one window alone does not fit; e.g. --set 'data.size=[{half}]'"
    return ConfigError(
        message,
        hint=f"Lower train.batch_size or data.size ({lower}), or train anyway with "
        "--ignore-memory (--set train.memory_check=false).",
    )


#: Words of the RuntimeError an allocator raises when it cannot allocate (torch's CPU allocator:
#: "DefaultCPUAllocator: not enough memory"; older CUDA builds: "CUDA out of memory").
_ALLOCATION_FAILURES = ("not enough memory", "out of memory")


def is_allocation_failure(exc: BaseException) -> bool:
    """True when ``exc`` says an allocation failed: :class:`MemoryError`,
    :class:`torch.OutOfMemoryError`, or an allocator's :class:`RuntimeError`."""
    if isinstance(exc, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(
        words in str(exc).lower() for words in _ALLOCATION_FAILURES
    )


def guard_memory(
    step: StepLosses, window: Batch, *, batch_size: int, size: Iterable[int]
) -> tuple[MemoryProjection, int | None]:
    """Project a step's memory from ``window`` (:func:`project_memory`) and check it against what
    the device has (:func:`available_memory`, read after the probe; :func:`check_memory`).

    Returns the projection and the available bytes. An allocation failure inside the probe is
    refused with the same :class:`ConfigError` as a projection that is too large: one window's
    pass did not fit, so no batch does.
    """
    size = list(size)
    device = step.runtime.device
    failure = None
    try:
        projection = project_memory(step, window)
    except (MemoryError, RuntimeError) as exc:
        if not is_allocation_failure(exc):
            raise
        failure = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
    if failure is not None:  # out of the except block: the probe's tensors are freed by now
        if device.type == "cuda":
            torch.cuda.empty_cache()
        available = available_memory(device)
        has = f"{_where(str(device))} {format_bytes(available)} available" if available else ""
        raise _refusal(
            f"Training would need more memory than is available at train.batch_size = {batch_size} "
            f"and data.size = {size}: one window's forward and backward pass ran out of memory "
            f"({failure[:200]}){'; ' + has if has else ''}.",
            size=size,
        )
    available = available_memory(device)
    check_memory(projection, available, batch_size=batch_size, size=size)
    return projection, available


# -- the measured projection --------------------------------------------------------------------
class StepClock:
    """Seconds of the first ``steps`` steps after a start; the first is a warm-up."""

    def __init__(self, steps: int) -> None:
        self.steps = max(1, int(steps))
        self.seconds: list[float] = []

    def add(self, seconds: float) -> bool:
        """Record one step; True once ``steps`` steps are in (and only then)."""
        self.seconds.append(float(seconds))
        return len(self.seconds) == self.steps

    @property
    def seconds_per_step(self) -> float:
        timed = self.seconds[1:] or self.seconds
        return sum(timed) / len(timed)


def projection_record(
    clock: StepClock,
    *,
    epoch: int,
    step: int,
    epochs: int,
    batches: int,
    steps_left: int,
    resumed: bool,
    device: torch.device | str,
    projected_bytes: int | None,
    available_bytes: int | None,
) -> dict[str, Any]:
    """The ``projection`` record: time per epoch, projected totals, peak memory.

    ``batches``: batches per epoch; ``steps_left``: steps still to run after ``step``.
    """
    per_step = clock.seconds_per_step
    return {
        "event": "projection",
        "epoch": epoch,
        "step": step,
        "steps_timed": max(1, len(clock.seconds) - 1),
        "seconds_per_step": per_step,
        "epoch_seconds": per_step * batches,
        "total_seconds": per_step * batches * epochs,
        "remaining_seconds": per_step * steps_left,
        "epochs": epochs,
        "resumed": resumed,
        "peak_bytes": peak_memory(device),
        "projected_bytes": projected_bytes,
        "available_bytes": available_bytes,
        "device": str(device),
    }


def format_seconds(seconds: float) -> str:
    """``41 s``, ``4.1 min``, ``2.3 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def describe_projection(record: Mapping[str, Any]) -> str:
    """One line for a ``projection`` record, e.g. ``epoch ~ 41 s, total ~ 4.1 min for 6 epochs,
    peak memory 1.2 GB of 22.9 GB available``."""
    epochs = int(record["epochs"])
    unit = "epoch" if epochs == 1 else "epochs"
    if record.get("resumed"):
        total = f"~ {format_seconds(record['remaining_seconds'])} left of {epochs} {unit}"
    else:
        total = f"total ~ {format_seconds(record['total_seconds'])} for {epochs} {unit}"
    memory = f"peak memory {format_bytes(record['peak_bytes'])}"
    if record.get("available_bytes"):
        memory += f" of {format_bytes(record['available_bytes'])} available"
    return f"epoch ~ {format_seconds(record['epoch_seconds'])}, {total}, {memory}"
