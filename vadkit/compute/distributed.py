"""Training and scoring over several processes with ``torch.distributed``.

vadkit runs on PyTorch's own distributed engine: ``torchrun`` (or ``vadkit train --nproc N``,
which calls the same elastic launcher) starts one process per device and sets ``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous; :func:`init_from_env` joins the process group
(``nccl`` on CUDA, ``gloo`` on the CPU). Outside such a launch everything here is a no-op, so a
single process runs exactly as before.

What the engine does with several processes:

* each process trains on its own shard of every epoch's shuffled windows
  (:func:`vadkit.data.shards.shard_order`, the semantics of
  :class:`torch.utils.data.DistributedSampler`), ``train.batch_size`` windows per step, so the
  *global* batch is ``batch_size x world_size``;
* the model is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel` (gradients are
  averaged), with BatchNorm converted to SyncBatchNorm when ``train.sync_bn`` is on
  (:mod:`vadkit.training.parallel`);
* after every step the processes agree on the step's losses (their mean over the global batch)
  and on whether any of them was asked to stop (:func:`agree_step`);
* rank 0 alone writes the run folder and holds its lock; every rank reads the same checkpoint.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import os
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

from vadkit.compute.reports import REPORT_ENV, RankFailure, first_failure, read_failures
from vadkit.errors import ConfigError, VadkitError

T = TypeVar("T")
V = TypeVar("V")
S = TypeVar("S")

#: Set by torchrun's elastic agent in the workers it starts again after a failure.
RESTART_ENV = "TORCHELASTIC_RESTART_COUNT"
#: How long a collective may wait for the other processes before the run fails.
TIMEOUT = _dt.timedelta(minutes=30)


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (``World()`` = one process)."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise ConfigError(
            f"The environment variable {name}={value!r} is not an integer.",
            hint="Start the processes with torchrun, which sets RANK, LOCAL_RANK and WORLD_SIZE.",
        ) from None


def current() -> World:
    """The world of the initialised process group, else the one the environment describes."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), _env_int("LOCAL_RANK", 0), dist.get_world_size())
    return World(_env_int("RANK", 0), _env_int("LOCAL_RANK", 0), max(1, _env_int("WORLD_SIZE", 1)))


def backend_for(device: str) -> str:
    """``nccl`` when the processes train on CUDA, else ``gloo``."""
    name = str(device).strip().lower()
    cuda = name.startswith("cuda") or (name == "auto" and torch.cuda.is_available())
    return "nccl" if cuda else "gloo"


def init_from_env(device: str = "auto") -> World:
    """Join the process group that torchrun describes in the environment (once).

    With ``WORLD_SIZE`` unset or 1 nothing happens. On CUDA each process takes the GPU of its
    ``LOCAL_RANK``.
    """
    world = current()
    if not world.distributed or dist.is_initialized():
        return world
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(world.local_rank)
    # The rendezvous store of torchrun's agent can outlive a restart (--max-restarts): keys of
    # the failed attempt (its processes' addresses) would be read by the new one, whose
    # processes then wait for peers that are gone. Each attempt keeps to its own keys.
    store, rank, size = next(iter(dist.rendezvous("env://", timeout=TIMEOUT)))
    attempt = _env_int(RESTART_ENV, 0)
    dist.init_process_group(
        backend=backend,
        store=dist.PrefixStore(f"vadkit/attempt-{attempt}/", store),
        rank=rank,
        world_size=size,
        timeout=TIMEOUT,
    )
    atexit.register(leave)
    return current()


def leave() -> None:
    """Destroy the process group, if one was joined (registered at exit by
    :func:`init_from_env`). Left to the interpreter's finalization, gloo's worker threads may
    still hold Python objects then and abort the process (SIGABRT, "terminate called without an
    active exception"), turning a command that succeeded into a failed rank."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank_device(device: str, world: World) -> str:
    """The device of this rank: ``cuda:LOCAL_RANK`` for ``auto``/``cuda`` in a CUDA run."""
    name = str(device).strip().lower()
    if world.distributed and name in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{world.local_rank}"
    return device


def restarting() -> bool:
    """True in a worker that torchrun started again after a failure (``--max-restarts``)."""
    return _env_int(RESTART_ENV, 0) > 0


@dataclass(frozen=True)
class Launched:
    """How :func:`launch` ended: the exit code for the command, and the failure to tell the
    user once (None when the processes succeeded, or when one of them has said it itself, as
    rank 0 of an interrupted training does)."""

    exit_code: int
    failure: RankFailure | None = None


def launch(nproc: int, args: Sequence[str], *, max_restarts: int = 0) -> Launched:
    """Run ``python -m vadkit ARGS`` on ``nproc`` local processes through torch's elastic
    launcher (what ``torchrun --standalone --nproc-per-node N -m vadkit ARGS`` does).

    The processes report a failure to the launcher instead of printing it
    (:mod:`vadkit.compute.reports`), and the launcher's own log lines are silenced: a failure is
    told once, by the caller, from :attr:`Launched.failure`. A vadkit error keeps its exit code
    (2), an interrupt exits 130 (128 + the signal), any other failure 1.
    """
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser
    from torch.distributed.run import run as elastic_run

    options = get_args_parser().parse_args(
        [
            "--standalone",
            f"--nproc-per-node={int(nproc)}",
            f"--max-restarts={int(max_restarts)}",
            "--module",
            "vadkit",
            *args,
        ]
    )
    folder = Path(tempfile.mkdtemp(prefix="vadkit-launch-"))
    before = os.environ.get(REPORT_ENV)
    os.environ[REPORT_ENV] = str(folder)  # the processes inherit the launcher's environment
    logging.disable(logging.CRITICAL)  # the elastic agent's lines: the failure is told once
    unreported: RankFailure | None = None
    keep: str | None = None  # the traceback of the crash that is told
    try:
        try:
            elastic_run(options)
            return Launched(0)
        except ChildFailedError as exc:
            rank, process = min(exc.failures.items(), key=lambda item: item[1].timestamp)
            code = process.exitcode
            signame = process.signal_name()
            exit_code = 128 - code if code < 0 else code or 1
            said = f"killed by {signame}" if code < 0 else f"exit code {code}"
            unreported = RankFailure(int(rank), "crash", exit_code, f"the process ended ({said})")
        except SignalException as exc:  # the launcher was told to stop: so were the processes
            exit_code = 128 + int(exc.sigval)
        failure = first_failure(read_failures(folder))
        if failure is None:  # nothing reported: said by the process itself, or killed
            silent = exit_code in (130, 128 + signal.SIGTERM) or unreported is None
            return Launched(exit_code, None if silent else unreported)
        keep = failure.traceback
        return Launched(failure.exit_code, failure)
    finally:
        logging.disable(logging.NOTSET)
        if before is None:
            os.environ.pop(REPORT_ENV, None)
        else:
            os.environ[REPORT_ENV] = before
        for path in folder.glob("*"):
            if str(path) != keep:  # the told crash's traceback stays, for the user to read
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty


def strip_option(args: Sequence[str], names: Sequence[str]) -> list[str]:
    """``args`` without the options ``names`` and their values (``--opt V`` or ``--opt=V``)."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in names:
            skip = True
        elif not any(arg.startswith(f"{name}=") for name in names):
            out.append(arg)
    return out


# -- agreeing across processes --------------------------------------------------------------------
def barrier() -> None:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def from_main(value: T) -> T:
    """Rank 0's ``value`` on every rank (a pickled broadcast; the value itself elsewhere)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return value
    box: list[Any] = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def on_main(function: Callable[[], T]) -> T | None:
    """Run ``function`` on rank 0 only; a :class:`VadkitError` it raises is raised on every rank
    (so no rank waits for one that has failed). Other ranks get None."""
    world = current()
    error: VadkitError | None = None
    result: T | None = None
    if world.is_main:
        try:
            result = function()
        except VadkitError as exc:
            error = exc
    error = from_main(error)
    if error is not None:
        raise error
    return result


def gather_to_main(items: Sequence[T]) -> list[list[T]] | None:
    """Every rank's ``items`` on rank 0 (a list per rank); None on the other ranks."""
    world = current()
    if not world.distributed:
        return [list(items)]
    out: list[Any] = [None] * world.size if world.is_main else []
    dist.gather_object(list(items), out if world.is_main else None, dst=0)
    return out if world.is_main else None


def agree_step(
    losses: Mapping[str, Tensor], signum: int | None
) -> tuple[dict[str, Tensor], int | None]:
    """One collective per step: the losses averaged over the ranks (the global batch's, as every
    rank's batch has the same size) and a stop signal if any rank received one."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return dict(losses), signum
    keys = list(losses)
    first = next(iter(losses.values()))
    flag = torch.tensor([float(signum or 0)], device=first.device)
    flat = torch.cat([torch.stack([losses[k].detach().float() for k in keys]), flag])
    dist.all_reduce(flat)
    size = dist.get_world_size()
    agreed = {k: flat[i] / size for i, k in enumerate(keys)}
    if signum is None and float(flat[-1]) > 0:
        total = int(float(flat[-1]))
        signum = total if total in (signal.SIGINT, signal.SIGTERM) else int(signal.SIGTERM)
    return agreed, signum


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Rank 0 runs the block first, the others after it (e.g. rank 0 decodes the videos into the
    frame cache once, the others then map the cached files)."""
    world = current()
    if world.distributed and not world.is_main:
        barrier()
    yield
    if world.distributed and world.is_main:
        barrier()


def score_shards(
    videos: Sequence[V],
    score: Callable[[Sequence[V]], Iterator[S]],
    skipped: list[dict[str, Any]],
    left_out: dict[str, str],
) -> Iterator[S]:
    """Score video ``i`` on rank ``i % world_size``; on rank 0 yield every video's scores in
    the order of ``videos`` (what one process yields), with every rank's ``skipped`` videos and
    ``left_out`` error measures merged into the given ones; other ranks yield nothing.

    ``score(videos)`` scores videos as one process does (it may skip short ones).
    """
    world = current()
    mine: list[tuple[int, S]] = []
    for index in range(world.rank, len(videos), world.size):
        mine.extend((index, scored) for scored in score([videos[index]]))
    gathered = gather_to_main([(mine, list(skipped), dict(left_out))])
    if gathered is None:
        return
    everything: list[tuple[int, S]] = []
    skipped.clear()
    names = {getattr(v, "name", None): i for i, v in enumerate(videos)}
    for ((part, their_skipped, their_left_out),) in gathered:
        everything.extend(part)
        skipped.extend(their_skipped)
        for key, reason in their_left_out.items():
            left_out.setdefault(key, reason)
    skipped.sort(key=lambda item: names.get(item.get("name"), 0))
    for _, scored in sorted(everything, key=lambda pair: pair[0]):
        yield scored


@contextlib.contextmanager
def main_only(enabled: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[None]:
    """``enabled()`` entered on rank 0 only (e.g. the run folder's lock), then a barrier, so the
    other ranks start once rank 0 holds it; a failure to enter it is raised on every rank."""
    world = current()
    if not world.distributed:
        with enabled():
            yield
        return
    stack = contextlib.ExitStack()
    with stack:
        on_main(lambda: stack.enter_context(enabled()))
        yield
