"""Training: one model, several proxy tasks, a weighted loss, resumable checkpoints.

:class:`TrainStep` is one optimisation step and nothing else (the speed benchmark times it);
:class:`Trainer` runs epochs over the data loader, logs metrics, saves checkpoints and resumes.
A first SIGINT/SIGTERM stops training after the step in progress, saves a checkpoint and raises
:class:`TrainingInterrupted`; a second one interrupts at once (the last checkpoint stays intact).
Before the first step the Trainer checks that a step fits in memory, and after the first few
steps of every start it logs the measured time and memory and their projection
(:mod:`vadkit.engine.budget`).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from torch import Tensor

from vadkit.components import Batch
from vadkit.config import Config, resolve_config
from vadkit.config.overrides import parse_override
from vadkit.engine import budget, runs
from vadkit.engine.device import Runtime
from vadkit.engine.io import write_text
from vadkit.engine.lock import HOLDER_FILE, LOCK_FILE, run_lock
from vadkit.engine.runs import Progress
from vadkit.errors import ConfigError, VadkitError

#: Loss key of the weighted total, beside one key per task.
TOTAL = "loss"
#: Settings a resumed run may change: neither changes what it computes.
RESUMABLE = ("train.epochs", "train.memory_check")

LoaderFactory = Callable[..., Iterable[Batch]]


LOCK_FILES = (LOCK_FILE, HOLDER_FILE)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on a signal after saving a checkpoint at ``progress``."""

    def __init__(self, progress: Progress, signum: int, run_dir: Path) -> None:
        super().__init__(f"training interrupted at step {progress.step}")
        self.progress = progress
        self.signum = signum
        self.run_dir = run_dir

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class TrainingDiverged(VadkitError):
    """The loss became NaN or infinite."""


class TrainStep:
    """One optimisation step: every task's loss on one batch, weighted sum, backward, update.

    The encoder runs once on the shared clip (and once on each task's own view), the decoder at
    most once per input (see :meth:`vadkit.model.VADModel.training_losses`).
    """

    def __init__(
        self,
        model: Any,
        optimizer: torch.optim.Optimizer,
        weights: Mapping[str, float],
        runtime: Runtime,
        scaler: torch.amp.GradScaler | None = None,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.weights = dict(weights)
        self.runtime = runtime
        self.scaler = scaler if scaler is not None and scaler.is_enabled() else None
        self._non_blocking = runtime.device.type == "cuda"
        self._memory_format = torch.channels_last_3d if runtime.channels_last else None

    def losses(self, batch: Batch, *, model: Any = None) -> tuple[Tensor, dict[str, Tensor]]:
        """The forward pass of a step: the weighted total (float32) and every task's loss.

        ``model``: another model to run instead of the step's own (the memory probe of
        :mod:`vadkit.engine.budget` runs a copy).
        """
        batch = batch.to(
            self.runtime.device,
            non_blocking=self._non_blocking,
            memory_format=self._memory_format,
        )
        with self.runtime.autocast():
            losses = (self.model if model is None else model).training_losses(batch)
        total = sum(self.weights[name] * loss.float() for name, loss in losses.items())
        assert isinstance(total, Tensor)
        return total, losses

    def __call__(self, batch: Batch) -> dict[str, Tensor]:
        """Run one step; returns the detached losses (``"loss"`` = weighted total, per task)."""
        total, losses = self.losses(batch)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            total.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(total).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        out = {TOTAL: total.detach()}
        out.update((name, loss.detach().float()) for name, loss in losses.items())
        return out


class Callback:
    """Hooks a :class:`Trainer` calls; subclass and override what you need (all no-ops)."""

    def on_train_start(self, trainer: Trainer) -> None: ...

    def on_epoch_start(self, trainer: Trainer, epoch: int, batches: int, start: int) -> None: ...

    def on_step_end(self, trainer: Trainer, progress: Progress) -> None: ...

    def on_log(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_projection(self, trainer: Trainer, record: dict[str, Any]) -> None:
        """Called once per start or resume, after the first few steps (up to
        :data:`vadkit.engine.budget.PROJECTION_STEPS`), with the ``projection`` record also
        written to ``metrics.jsonl``: measured seconds per step, time per epoch, projected total
        and remaining time, peak memory and available memory (bytes); see
        :func:`vadkit.engine.budget.describe_projection` for one line of it."""

    def on_checkpoint(self, trainer: Trainer, path: Path, progress: Progress) -> None: ...

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None: ...

    def on_stop_requested(self, trainer: Trainer, signum: int) -> None: ...

    def on_train_end(self, trainer: Trainer) -> None: ...


class _Meter:
    """Running sums of the losses since some point (kept on the device, no sync per step)."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.count = 0
        self.clips = 0
        self.seconds = 0.0

    def add(self, losses: Mapping[str, Tensor], clips: int, seconds: float) -> None:
        for key, value in losses.items():
            self.sums[key] = value if key not in self.sums else self.sums[key] + value
        self.count += 1
        self.clips += clips
        self.seconds += seconds

    def means(self) -> dict[str, float]:
        return {k: float(v) / max(self.count, 1) for k, v in self.sums.items()}

    def state(self) -> dict[str, Any]:
        return {
            "sums": {k: float(v) for k, v in self.sums.items()},
            "count": self.count,
            "clips": self.clips,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None, device: torch.device) -> _Meter:
        meter = cls()
        if state:
            meter.sums = {
                k: torch.tensor(v, dtype=torch.float32, device=device)
                for k, v in state["sums"].items()
            }
            meter.count = int(state["count"])
            meter.clips = int(state["clips"])
        return meter


def _default_loader(windows: Any, **kwargs: Any) -> Iterable[Batch]:
    from vadkit.data import make_train_loader

    return make_train_loader(windows, **kwargs)


class Trainer:
    """Train the model of a resolved config and write its run folder.

    Args:
        config: a config resolved by :func:`vadkit.config.resolve_config` (for a resumed run,
            the run's own ``config.toml``, possibly with a larger ``train.epochs``).
        run_dir: the run folder; created if needed.
        resume: continue from ``run_dir``'s last checkpoint instead of starting afresh.
        windows: training windows (a ``vadkit.data.TrainWindows``); default: opened from
            ``config["data"]``.
        loader: ``loader(windows, batch_size=, epoch=, skip_batches=, workers=, pin_memory=)``
            -> batches; default :func:`vadkit.data.make_train_loader`.
        callbacks: :class:`Callback` objects (progress display, tests' crash hooks, ...).
        handle_signals: stop cleanly on SIGINT/SIGTERM (only possible in the main thread).
        verbose: show the data layer's progress while it decodes videos the first time.
    """

    def __init__(
        self,
        config: Config,
        run_dir: str | Path,
        *,
        resume: bool = False,
        windows: Any = None,
        loader: LoaderFactory | None = None,
        callbacks: Sequence[Callback] = (),
        handle_signals: bool = True,
        verbose: bool = False,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.windows = windows
        self.loader_factory = loader or _default_loader
        self.callbacks = list(callbacks)
        self.handle_signals = handle_signals
        self.verbose = verbose
        train = config["train"]
        self.runtime = Runtime.from_config(
            train["device"], train["precision"], train["channels_last"]
        )
        self.spec = runs.model_spec(config)
        self.progress = Progress()
        self.model: Any = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.step_fn: TrainStep | None = None
        self._stop_signal: int | None = None
        self._saved_step = -1
        self._pending_lines: list[str] = []
        self._epoch_meter = _Meter()
        self._window_meter = _Meter()
        #: The memory projection made before the first step (None with train.memory_check off).
        self.memory: budget.MemoryProjection | None = None
        #: Bytes the device had available when training started (None when unknown).
        self.available_memory: int | None = None
        self._clock: budget.StepClock | None = None
        self._projected = False

    # -- setup ---------------------------------------------------------------------------------
    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)  # duck-typed callbacks may leave hooks out
            if method is not None:
                method(self, *args)

    def _check_run_dir(self) -> None:
        folder = runs.checkpoint_dir(self.run_dir)
        if self.resume:
            if not (self.run_dir / runs.CONFIG_FILE).is_file():
                raise ConfigError(
                    f"Cannot resume '{self.run_dir}': it has no {runs.CONFIG_FILE}.",
                    hint="Pass the folder of a run that `vadkit train` started.",
                )
        elif folder.exists() and any(folder.iterdir()):
            raise ConfigError(
                f"'{self.run_dir}' already holds a training run.",
                hint=f"Continue it with: vadkit train --resume {self.run_dir}  "
                "(or choose another --out).",
            )
        elif not (self.run_dir / runs.CONFIG_FILE).is_file() and self.run_dir.is_dir():
            others = [p.name for p in self.run_dir.iterdir() if p.name not in LOCK_FILES]
            if others:
                raise ConfigError(
                    f"'{self.run_dir}' is not empty and is not a vadkit run "
                    f"(it holds {', '.join(sorted(others)[:3])}{', ...' if len(others) > 3 else ''}).",
                    hint="Train into a new or empty folder with --out; nothing was written.",
                )

    def setup(self) -> None:
        """Build model, optimizer and step, open the data, check the memory a step will take,
        then load the last checkpoint (when resuming) or start the run folder: bad data and a
        run too large for the machine leave no half-made run behind."""
        self._check_run_dir()
        train = self.config["train"]
        torch.manual_seed(int(train["seed"]))
        self.model = runs.build_model(self.config)
        self.runtime.prepare(self.model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(train["lr"]))
        self.scaler = self.runtime.grad_scaler()
        self.step_fn = TrainStep(
            self.model, self.optimizer, self.config["tasks"]["weights"], self.runtime, self.scaler
        )
        self._windows()
        self._check_memory()
        if self.resume:
            self._restore()
        else:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            runs.write_config(self.run_dir, self.config)
            runs.write_versions(self.run_dir, self.config)
            write_text(self.run_dir / runs.METRICS_FILE, "")

    def _check_memory(self) -> None:
        """Project a step's peak memory from one window; stop if the machine has too little.

        The probe runs on a copy of the model with the random state restored (see
        :func:`vadkit.engine.budget.project_memory`), so it leaves training bit-identical. The
        available memory is read after it: what the probe made resident counts as used.
        """
        train = self.config["train"]
        device = self.runtime.device
        if not train["memory_check"]:
            self.available_memory = budget.available_memory(device)
            return
        assert self.step_fn is not None
        probe = self.loader_factory(
            self._windows(), batch_size=1, epoch=0, skip_batches=0, workers=0, pin_memory=False
        )
        window = next(iter(probe), None)
        if window is None:  # no training windows: the data layer has said why
            return
        self.memory = budget.project_memory(self.step_fn, window)
        del window, probe
        self.available_memory = budget.available_memory(device)
        budget.check_memory(
            self.memory,
            self.available_memory,
            batch_size=int(train["batch_size"]),
            size=self.config["data"]["size"],
        )

    def _restore(self) -> None:
        assert self.optimizer is not None and self.scaler is not None
        progress, state = runs.load_training_checkpoint(self.run_dir, self.model, self.spec)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            if state.get("scaler") and self.scaler.is_enabled():
                self.scaler.load_state_dict(state["scaler"])
        except (KeyError, ValueError) as exc:
            raise runs.CheckpointError(
                f"The optimizer state in '{self.run_dir}' does not fit this model: {exc}",
                hint="Resume with the run's own config.toml.",
            ) from None
        rng = state.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if rng.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        meters = state.get("meters", {})
        self._epoch_meter = _Meter.from_state(meters.get("epoch"), self.runtime.device)
        self._window_meter = _Meter.from_state(meters.get("window"), self.runtime.device)
        self.progress = progress
        self._saved_step = progress.step
        runs.write_config(self.run_dir, self.config)  # train.epochs may have grown
        self._truncate_metrics(progress.step)
        self._log({"event": "resumed", **asdict(progress)})

    def _windows(self) -> Any:
        if self.windows is None:
            from vadkit.data import TrainWindows, default_data_root, open_videos

            data = self.config["data"]
            root = data["root"] or default_data_root()
            videos = open_videos(
                root,
                "training",
                size=tuple(data["size"]),
                color=data["color"],
                format=data["format"] or None,
                progress=self.verbose,
            )
            self.windows = TrainWindows(
                videos,
                clip_length=int(data["clip_length"]),
                stride=int(data["stride"]),
                tasks=self.model.task_map,
                seed=int(self.config["train"]["seed"]),
            )
        return self.windows

    # -- metrics and checkpoints --------------------------------------------------------------
    def _log(self, record: dict[str, Any]) -> None:
        self._pending_lines.append(json.dumps(record, sort_keys=False))

    def _flush_metrics(self) -> None:
        if not self._pending_lines:
            return
        path = self.run_dir / runs.METRICS_FILE
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        write_text(path, old + "".join(line + "\n" for line in self._pending_lines))
        self._pending_lines.clear()

    def _truncate_metrics(self, step: int) -> None:
        """Drop records logged after ``step`` (written before a save that did not finish)."""
        path = self.run_dir / runs.METRICS_FILE
        if not path.exists():
            return
        kept = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if int(record.get("step", 0)) <= step:
                kept.append(line + "\n")
        write_text(path, "".join(kept))

    def save(self, *, epoch_copy: int | None = None) -> Path:
        """Flush metrics, then save weights and state as ``last`` (and ``epoch_copy``)."""
        assert self.optimizer is not None
        self._flush_metrics()
        path = runs.save_checkpoint(
            self.run_dir,
            self.model,
            self.spec,
            self.progress,
            optimizer=self.optimizer,
            scaler=self.scaler,
            epoch_copy=epoch_copy,
            extra={
                "meters": {
                    "epoch": self._epoch_meter.state(),
                    "window": self._window_meter.state(),
                }
            },
        )
        self._saved_step = self.progress.step
        self._call("on_checkpoint", path, Progress(**asdict(self.progress)))
        return path

    # -- signals -------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop_signal is not None:  # second signal: stop now
            raise KeyboardInterrupt
        self._stop_signal = signum
        self._call("on_stop_requested", signum)

    def _install_signals(self) -> dict[int, Any]:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return {}
        old: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, self._on_signal)
        return old

    # -- the loop ------------------------------------------------------------------------------
    def _log_window(self, epoch: int) -> None:
        meter = self._window_meter
        means = meter.means()
        total = means.get(TOTAL, float("nan"))
        if not math.isfinite(total):
            raise TrainingDiverged(
                f"Training diverged: the loss is {total} at step {self.progress.step} "
                f"(run '{self.run_dir}').",
                hint="Lower train.lr, or train in fp32 (--set train.precision=fp32); "
                "resume from the last checkpoint with --resume.",
            )
        record = {
            "event": "step",
            "epoch": epoch,
            "batch": self.progress.batch,
            "step": self.progress.step,
            TOTAL: total,
            "losses": {k: v for k, v in means.items() if k != TOTAL},
            "lr": self.optimizer.param_groups[0]["lr"] if self.optimizer else None,
            "clips_per_s": meter.clips / meter.seconds if meter.seconds > 0 else None,
        }
        self._log(record)
        self._call("on_log", record)
        self._window_meter = _Meter()

    def fit(self) -> dict[str, Any]:
        """Train to ``train.epochs``; returns a summary (run folder, steps, last epoch's losses).

        The run folder is locked while training: a second writer is refused naming this one.
        """
        if self.model is None:
            self._check_run_dir()  # refuse a folder that is not ours before locking it
        with run_lock(self.run_dir, "vadkit train"):
            return self._fit()

    def _fit(self) -> dict[str, Any]:
        train = self.config["train"]
        old_signals: dict[int, Any] = {}
        determinism = _Determinism(bool(train["deterministic"]), self.runtime.device)
        try:
            determinism.__enter__()
            if self.model is None:
                self.setup()
            windows = self._windows()
            old_signals = self._install_signals()
            self._call("on_train_start")
            last_record: dict[str, Any] = {}
            epochs = int(train["epochs"])
            while self.progress.epoch < epochs:
                last_record = self._run_epoch(windows) or last_record
            self._flush_metrics()
            if self._saved_step != self.progress.step:
                self.save()
            self._call("on_train_end")
            return {
                "run_dir": str(self.run_dir),
                "epochs": self.progress.epoch,
                "steps": self.progress.step,
                "losses": last_record.get("losses", {}),
                TOTAL: last_record.get(TOTAL),
            }
        finally:
            for sig, handler in old_signals.items():
                signal.signal(sig, handler)
            determinism.__exit__()

    def _run_epoch(self, windows: Any) -> dict[str, Any] | None:
        assert self.step_fn is not None
        train = self.config["train"]
        epoch = self.progress.epoch
        start = self.progress.batch
        loader = self.loader_factory(
            windows,
            batch_size=int(train["batch_size"]),
            epoch=epoch,
            skip_batches=start,
            workers=int(train["workers"]),
            pin_memory=self.runtime.device.type == "cuda",
        )
        batches = start + len(loader)  # type: ignore[arg-type]  # len() excludes skipped ones
        if start == 0:
            self._epoch_meter = _Meter()
            self._window_meter = _Meter()
        if self._clock is None and not self._projected:
            self._clock = budget.StepClock(min(budget.PROJECTION_STEPS, batches - start))
        self._call("on_epoch_start", epoch, batches, start)
        self.model.train()
        log_steps = int(train["log_steps"])
        ckpt_steps = int(train["checkpoint_steps"])
        epoch_start = time.perf_counter()
        tick = epoch_start
        for batch in loader:
            losses = self.step_fn(batch)
            now = time.perf_counter()
            self.progress.batch += 1
            self.progress.step += 1
            self._epoch_meter.add(losses, batch.size, now - tick)
            self._window_meter.add(losses, batch.size, now - tick)
            if self._clock is not None and self._clock.add(now - tick):
                self._project(epoch, batches)
            tick = now
            if self.progress.step % log_steps == 0:
                self._log_window(epoch)
            self._call("on_step_end", self.progress)
            if self._stop_signal is not None:
                self._stop()
            if (
                ckpt_steps
                and self.progress.step % ckpt_steps == 0
                and self.progress.batch < batches
            ):
                self.save()
        if self._window_meter.count:
            self._log_window(epoch)
        meter = self._epoch_meter
        means = meter.means()
        record = {
            "event": "epoch",
            "epoch": epoch,
            "step": self.progress.step,
            TOTAL: means.get(TOTAL),
            "losses": {k: v for k, v in means.items() if k != TOTAL},
            "batches": meter.count,
            "clips": meter.clips,
            "seconds": time.perf_counter() - epoch_start,
            "clips_per_s": meter.clips / meter.seconds if meter.seconds > 0 else None,
        }
        self.progress.epoch += 1
        self.progress.batch = 0
        self._epoch_meter = _Meter()
        self._log(record)
        save_every = int(train["save_every"])
        copy = self.progress.epoch if save_every and self.progress.epoch % save_every == 0 else None
        self.save(epoch_copy=copy)
        self._call("on_epoch_end", record)
        if self._stop_signal is not None:
            self._stop()
        return record

    def _project(self, epoch: int, batches: int) -> None:
        """Log the ``projection`` record and call ``on_projection`` (once per start)."""
        assert self._clock is not None
        clock, self._clock, self._projected = self._clock, None, True
        train = self.config["train"]
        epochs = int(train["epochs"])
        record = budget.projection_record(
            clock,
            epoch=epoch,
            step=self.progress.step,
            epochs=epochs,
            batches=batches,
            steps_left=batches - self.progress.batch + (epochs - epoch - 1) * batches,
            resumed=self.resume,
            device=self.runtime.device,
            projected_bytes=(
                None if self.memory is None else self.memory.total(int(train["batch_size"]))
            ),
            available_bytes=self.available_memory,
        )
        self._log(record)
        self._call("on_projection", record)

    def _stop(self) -> None:
        assert self._stop_signal is not None
        self._log({"event": "interrupted", **asdict(self.progress)})
        if self._saved_step != self.progress.step:
            self.save()
        else:
            self._flush_metrics()
        raise TrainingInterrupted(
            Progress(**asdict(self.progress)), self._stop_signal, self.run_dir
        )


#: Where a run goes when no folder is given: ``runs/<date-time>``.
RUNS_FOLDER = "runs"


def default_run_dir() -> Path:
    """``runs/<date-time>``, with a suffix when a run started in the same second."""
    base = Path(RUNS_FOLDER) / time.strftime("%Y%m%d-%H%M%S")
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def resolve_train_config(
    *,
    resume: str | Path | None = None,
    out: str | Path | None = None,
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    flags: Mapping[str, Any] | None = None,
    default_out: Callable[[], Path] | None = None,
) -> tuple[Path, Config]:
    """The run folder and resolved config of a ``vadkit train`` invocation.

    A new run resolves defaults, ``config_file``, ``overrides`` and ``flags`` (dotted keys, None
    = not given). A resumed run takes its own ``config.toml``; only the :data:`RESUMABLE`
    settings may change (``train.epochs`` to train longer, ``train.memory_check`` to force a
    run past the memory check), anything else is a :class:`ConfigError`.
    """
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    if resume is None:
        config = resolve_config(config_file=config_file, overrides=overrides, flags=given)
        if out is not None:
            run_dir = Path(out)
        elif default_out is not None:
            run_dir = default_out()
        else:
            raise ConfigError("No run folder given.", hint="Pass --out RUN_DIR.")
        return run_dir, config
    run_dir = Path(resume)
    config = runs.read_config(run_dir)  # first: is it a run at all?
    changed = [k for k in given if k not in RESUMABLE]
    if config_file is not None:
        changed.insert(0, "--config")
    sets = [parse_override(item) for item in overrides]
    if any(key not in RESUMABLE for key, _ in sets):
        changed.append("--set")
    if changed:
        raise ConfigError(
            f"--resume continues '{run_dir}' with its own config; it cannot change "
            f"{', '.join(changed)}.",
            hint="Leave those options out (only --epochs and --set train.memory_check may "
            "change), or start a new run with --out.",
        )
    if out is not None and Path(out).resolve() != run_dir.resolve():
        raise ConfigError(
            f"--resume {run_dir} writes into that run folder, not --out {out}.",
            hint="Leave out --out when resuming.",
        )
    updates = {key: value for key, value in sets}  # flags win over --set, as in a new run
    updates.update((key, given[key]) for key in RESUMABLE if key in given)
    if updates:
        config = resolve_config(base=config, flags=updates)
    return run_dir, config


class _Determinism:
    """Deterministic kernels where torch has them (restored on exit)."""

    def __init__(self, enabled: bool, device: torch.device) -> None:
        self.enabled = enabled
        self.device = device
        self._old: tuple[bool, bool, bool, bool] | None = None

    def __enter__(self) -> None:
        self._old = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark,
        )
        if not self.enabled:
            return
        if self.device.type == "cuda":
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True, warn_only=True)

    def __exit__(self, *exc: object) -> None:
        if self._old is None:
            return
        enabled, warn_only, cudnn_det, cudnn_bench = self._old
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.deterministic = cudnn_det
        torch.backends.cudnn.benchmark = cudnn_bench
