"""Training: one model, several proxy tasks, a weighted loss, resumable checkpoints.

:class:`TrainStep` is one optimisation step and nothing else (the speed benchmark times it);
:class:`Trainer` runs epochs over the data loader, logs metrics, saves checkpoints and resumes.
A first SIGINT/SIGTERM stops training after the step in progress, saves a checkpoint and raises
:class:`TrainingInterrupted`; a second one interrupts at once (the last checkpoint stays intact).
Before the first step the Trainer checks that a step fits in memory, and after the first few
steps of every start it logs the measured time and memory and their projection
(:mod:`vadkit.training.budget`).
"""

from __future__ import annotations

import math
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import torch

from vadkit.components import Batch
from vadkit.compute import distributed
from vadkit.compute.device import Runtime
from vadkit.config import Config, Settings
from vadkit.data.split import validation_split
from vadkit.errors import CheckpointError, ConfigError
from vadkit.runs.checkpoints import Progress, checkpoint_path, save_checkpoint
from vadkit.runs.folder import RunFolder, write_config
from vadkit.runs.layout import CONFIG_FILE, METRICS_FILE
from vadkit.runs.metricslog import MetricsLog
from vadkit.runs.versions import record_resume_versions, write_versions
from vadkit.storage.lock import LOCK_FILES, run_lock
from vadkit.tracking.build import trackers_for
from vadkit.training import budget, parallel
from vadkit.training.callbacks import Callback, TrainingInterrupted
from vadkit.training.optim import Optimization
from vadkit.training.step import (
    TOTAL,
    Determinism,
    LossMeter,
    StepLosses,
    TrainingDiverged,
    TrainStep,
)
from vadkit.training.validate import validation_callbacks

LoaderFactory = Callable[..., Iterable[Batch]]


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
            -> batches, also given ``rank=`` and ``world_size=`` when several processes train;
            default :func:`vadkit.data.make_train_loader`.
        callbacks: :class:`Callback` objects (progress display, tests' crash hooks, ...); the
            experiment trackers the config names (``train.track``) and the label-free
            validation of ``train.validate_every`` (:mod:`vadkit.training.validate`) are added
            after them.
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
        #: The given callbacks, then those the config asks for: its trackers (a missing package
        #: stops here) and its label-free validation (``train.validate_every``).
        self.callbacks = [*callbacks, *trackers_for(config), *validation_callbacks(config)]
        self.handle_signals = handle_signals
        self.verbose = verbose
        train = config["train"]
        #: This process among the training processes (torchrun); rank 0 writes the run folder.
        self.world = distributed.init_from_env(train["device"])
        self.runtime = Runtime.from_config(
            distributed.rank_device(train["device"], self.world),
            train["precision"],
            train["channels_last"],
        )
        #: The run folder being written (the config is this trainer's).
        self.folder = RunFolder(self.run_dir, config)
        self.spec = self.folder.spec
        self.progress = Progress()
        self.model: Any = None
        self.optimizer: torch.optim.Optimizer | None = None
        #: Optimizer, lr schedule and weight EMA (:mod:`vadkit.training.optim`).
        self.optim: Optimization | None = None
        self.scaler: torch.amp.GradScaler | None = None
        self.step_fn: TrainStep | None = None
        self._stop_signal: int | None = None
        self._agreed_signal: int | None = None
        self._saved_step = -1
        #: metrics.jsonl, written with each checkpoint (rank 0 writes every rank's records).
        self.metrics = MetricsLog(self.run_dir / METRICS_FILE, writer=self.world.is_main)
        self._epoch_meter = LossMeter()
        self._window_meter = LossMeter()
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
        folder = self.folder.checkpoints
        if self.resume:
            if not (self.run_dir / CONFIG_FILE).is_file():
                raise ConfigError(
                    f"Cannot resume '{self.run_dir}': it has no {CONFIG_FILE}.",
                    hint="Pass the folder of a run that `vadkit train` started.",
                )
        elif folder.exists() and any(folder.iterdir()):
            raise ConfigError(
                f"'{self.run_dir}' already holds a training run.",
                hint=f"Continue it with: vadkit train --resume {self.run_dir}  "
                "(or choose another --out).",
            )
        elif not (self.run_dir / CONFIG_FILE).is_file() and self.run_dir.is_dir():
            others = [p.name for p in self.run_dir.iterdir() if p.name not in LOCK_FILES]
            if others:
                raise ConfigError(
                    f"'{self.run_dir}' is not empty and is not a vadkit run "
                    f"(it holds {', '.join(sorted(others)[:3])}{', ...' if len(others) > 3 else ''}).",
                    hint="Train into a new or empty folder with --out; nothing was written.",
                )

    def setup(self) -> None:
        """Build the model, check the memory a step will take, then open the data, build
        optimizer and step, and load the last checkpoint (when resuming) or start the run folder:
        a run too large for the machine writes nothing (no frame cache, no run folder), and bad
        data leaves no half-made run behind."""
        distributed.on_main(self._check_run_dir)  # rank 0 judges the folder for every rank
        train = self.config["train"]
        torch.manual_seed(int(train["seed"]))
        self.model = self.folder.build_model()
        self.runtime.prepare(self.model)
        self._check_memory()  # before the data is opened: its first opening fills the cache
        self.optim = Optimization(
            self.model, Settings.from_config(self.config).train, self._updates_per_epoch()
        )
        self.optimizer = self.optim.optimizer
        self.scaler = self.runtime.grad_scaler()
        self.step_fn = TrainStep(
            self.model, self.optimizer, self.config["tasks"]["weights"], self.runtime, self.scaler
        )
        self._windows()
        if self.resume:
            self._restore()
        elif self.world.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            write_config(self.run_dir, self.config)
            write_versions(self.run_dir, self.config)
            self.metrics.start()
        self.step_fn.model = parallel.wrap_for_training(
            self.model,
            self.runtime.device,
            world=self.world,
            sync_bn=bool(train["sync_bn"]),
            compile=bool(train["compile"]),
        )
        if self.world.distributed:
            self._log(
                {
                    "event": "world",
                    "step": self.progress.step,
                    "world_size": self.world.size,
                    "global_batch": self.world.size * int(train["batch_size"]),
                    "backend": distributed.backend_for(str(self.runtime.device)),
                    "sync_bn": bool(train["sync_bn"]),
                }
            )

    def _check_memory(self) -> None:
        """Project a step's peak memory from one window; stop if the machine has too little.

        The probe runs on a copy of the model with the random state restored (see
        :func:`vadkit.training.budget.project_memory`), so it leaves training bit-identical. The
        available memory is read after it: what the probe made resident counts as used. Unless
        the Trainer was given its windows, the window is one of the data's shape
        (:meth:`_probe_windows`): the memory a step takes depends on the shapes alone, and the
        data is not opened (nor its frames cached) for a run that is then refused.
        """
        train = self.config["train"]
        device = self.runtime.device
        if not train["memory_check"]:
            self.available_memory = budget.available_memory(device)
            return
        probe = self.loader_factory(
            self.windows if self.windows is not None else self._probe_windows(),
            batch_size=1,
            epoch=0,
            skip_batches=0,
            workers=0,
            pin_memory=False,
        )
        window = next(iter(probe), None)
        if window is None:  # no training windows: the data layer has said why
            return
        del probe
        forward = StepLosses(self.model, self.config["tasks"]["weights"], self.runtime)
        self.memory, self.available_memory = budget.guard_memory(
            forward,
            window,
            batch_size=int(train["batch_size"]),
            size=self.config["data"]["size"],
        )

    def _probe_windows(self) -> Any:
        """One training window of the data's shape (``data.size``, ``data.color``,
        ``data.clip_length`` + 1 frames) with the model's task views, its frames all zero."""
        from vadkit.data import TrainWindows
        from vadkit.data.sources import COLORS, check_color, check_size
        from vadkit.data.video import Video

        data = self.config["data"]
        span = int(data["clip_length"]) + 1
        height, width = check_size(data["size"])
        frames = np.zeros((span, height, width, COLORS[check_color(data["color"])]), np.uint8)
        return TrainWindows(
            [Video.from_array("memory probe", frames)],
            clip_length=span - 1,
            tasks=self.model.task_map,
            seed=int(self.config["train"]["seed"]),
        )

    def _restore(self) -> None:
        assert self.optimizer is not None and self.scaler is not None
        progress, state = self.folder.load_training_state(self.model)
        if self.world.is_main:
            record_resume_versions(self.run_dir, self.config, progress.epoch)
        assert self.optim is not None
        try:
            self.optim.load_state_dict(state, progress.step)
            if state.get("scaler") and self.scaler.is_enabled():
                self.scaler.load_state_dict(state["scaler"])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(
                f"The optimizer state in '{self.run_dir}' does not fit this model: {exc}",
                hint="Resume with the run's own config.toml.",
            ) from None
        rng = state.get("rng", {})
        if "torch" in rng:
            torch.set_rng_state(rng["torch"])
        if rng.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        meters = state.get("meters", {})
        self._epoch_meter = LossMeter.from_state(meters.get("epoch"), self.runtime.device)
        self._window_meter = LossMeter.from_state(meters.get("window"), self.runtime.device)
        self.progress = progress
        self._saved_step = progress.step
        if self.world.is_main:
            write_config(self.run_dir, self.config)  # train.epochs may have grown
            self.metrics.truncate(progress.step)
            before = self.metrics.world_size()
        self._log({"event": "resumed", **asdict(progress)})
        if self.world.is_main and before != self.world.size:
            self._world_size_changed(before, progress)

    def _world_size_changed(self, before: int, progress: Progress) -> None:
        """Warn (once: rank 0) and record in ``metrics.jsonl`` that the run resumes on another
        number of processes than its last session: the global batch and the schedule's steps
        per epoch change, so the run no longer follows the one it started as."""
        batch = int(self.config["train"]["batch_size"])
        now = self.world.size
        self._log(
            {
                "event": "world_size_changed",
                **asdict(progress),
                "from_world_size": before,
                "world_size": now,
                "from_global_batch": before * batch,
                "global_batch": now * batch,
            }
        )
        where = f" mid-epoch (epoch {progress.epoch + 1}, batch {progress.batch})" * bool(
            progress.batch
        )
        warnings.warn(
            f"'{self.run_dir}' was trained on {before} process(es) and resumes{where} on {now}: "
            f"the global batch changes from {before * batch} to {now * batch} and the "
            "learning-rate schedule's steps per epoch with it, so the run will not match one "
            f"trained on {before} throughout (recorded in {METRICS_FILE})",
            stacklevel=2,
        )

    def _shard(self) -> dict[str, int]:
        """The loader arguments that give this process its shard of an epoch (none alone)."""
        if not self.world.distributed:
            return {}
        return {"rank": self.world.rank, "world_size": self.world.size}

    def _updates_per_epoch(self) -> int:
        """Optimizer steps per epoch (sizes a learning-rate schedule; 1 without one): the
        batches of this process's shard, so that with N processes a schedule ends with the
        run, not after N times as many steps."""
        if self.config["train"]["schedule"] == "constant":
            return 1
        loader = self.loader_factory(
            self._windows(),
            batch_size=int(self.config["train"]["batch_size"]),
            epoch=0,
            skip_batches=0,
            workers=0,
            pin_memory=False,
            **self._shard(),
        )
        return len(loader)  # type: ignore[arg-type]

    def _windows(self) -> Any:
        if self.windows is None:
            from vadkit.data import TrainWindows, default_data_root, open_videos

            data = self.config["data"]
            root = data["root"] or default_data_root()
            with distributed.main_first():  # rank 0 fills the frame cache, the others map it
                videos = open_videos(
                    root,
                    "training",
                    size=tuple(data["size"]),
                    color=data["color"],
                    format=data["format"] or None,
                    progress=self.verbose and self.world.is_main,
                )
            trained, _ = validation_split(
                list(videos), int(data["val_videos"]), int(self.config["train"]["seed"])
            )
            self.windows = TrainWindows(
                trained,
                clip_length=int(data["clip_length"]),
                stride=int(data["stride"]),
                tasks=self.model.task_map,
                seed=int(self.config["train"]["seed"]),
            )
        return self.windows

    # -- metrics and checkpoints --------------------------------------------------------------
    def _log(self, record: dict[str, Any]) -> None:
        self.metrics.log(record)

    def save(self, *, epoch_copy: int | None = None) -> Path:
        """Flush metrics, then save weights and state as ``last`` (and ``epoch_copy``)."""
        assert self.optimizer is not None and self.optim is not None
        self.metrics.flush()
        if not self.world.is_main:  # every rank holds the same weights: rank 0 writes them
            self._saved_step = self.progress.step
            return checkpoint_path(self.run_dir)
        optim_state = self.optim.extra_state()
        path = save_checkpoint(
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
                },
                "scheduler": optim_state["scheduler"],
                "ema": optim_state["ema"],
            },
            ema=self.optim.ema_model,
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
        self._window_meter = LossMeter()

    def fit(self) -> dict[str, Any]:
        """Train to ``train.epochs``; returns a summary (run folder, steps, last epoch's losses).

        The run folder is locked while training: a second writer is refused naming this one.
        """
        if self.model is None:  # refuse a folder that is not ours before locking it
            distributed.on_main(self._check_run_dir)
        with distributed.main_only(lambda: run_lock(self.run_dir, "vadkit train")):
            return self._fit()

    def _fit(self) -> dict[str, Any]:
        train = self.config["train"]
        old_signals: dict[int, Any] = {}
        determinism = Determinism(bool(train["deterministic"]), self.runtime.device)
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
            self.metrics.flush()
            if self._saved_step != self.progress.step:
                self.save()
            distributed.barrier()  # no rank leaves before rank 0 has saved
            self._call("on_train_end")
            return {
                "run_dir": str(self.run_dir),
                "epochs": self.progress.epoch,
                "steps": self.progress.step,
                "losses": last_record.get("losses", {}),
                TOTAL: last_record.get(TOTAL),
            }
        except BaseException as error:  # trackers record how the run ended
            self._call("on_train_error", error)
            raise
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
            **self._shard(),
        )
        batches = start + len(loader)  # type: ignore[arg-type]  # len() excludes skipped ones
        if start == 0:
            self._epoch_meter = LossMeter()
            self._window_meter = LossMeter()
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
            if self.world.distributed:  # the global batch's losses; a stop on any rank
                losses, self._agreed_signal = distributed.agree_step(losses, self._stop_signal)
            now = time.perf_counter()
            self.progress.batch += 1
            self.progress.step += 1
            assert self.optim is not None
            self.optim.after_step(self.model, self.progress.step)
            clips = batch.size * self.world.size  # the global batch
            self._epoch_meter.add(losses, clips, now - tick)
            self._window_meter.add(losses, clips, now - tick)
            if self._clock is not None and self._clock.add(now - tick):
                self._project(epoch, batches)
            tick = now
            if self.progress.step % log_steps == 0:
                self._log_window(epoch)
            self._call("on_step_end", self.progress)
            if self._stop_requested() is not None:
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
        self._epoch_meter = LossMeter()
        self._log(record)
        save_every = int(train["save_every"])
        copy = self.progress.epoch if save_every and self.progress.epoch % save_every == 0 else None
        self.save(epoch_copy=copy)
        self._call("on_epoch_end", record)
        if self._stop_requested() is not None:
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

    def _stop_requested(self) -> int | None:
        """The signal to stop on: this process's, or with several processes the one they agreed
        on after the last step (a signal that arrives later waits for the next step, so that
        every rank stops after the same one)."""
        return self._agreed_signal if self.world.distributed else self._stop_signal

    def _stop(self) -> None:
        signum = self._stop_requested()
        assert signum is not None
        self._log({"event": "interrupted", **asdict(self.progress)})
        if self._saved_step != self.progress.step:
            self.save()
        else:
            self.metrics.flush()
        distributed.barrier()
        raise TrainingInterrupted(Progress(**asdict(self.progress)), signum, self.run_dir)
