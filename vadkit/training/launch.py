"""Where a training run goes and with which config: a new run, or one resumed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from vadkit.config import Config, resolve_config
from vadkit.config.overrides import parse_override
from vadkit.errors import ConfigError
from vadkit.runs import folder as runs

#: Settings a resumed run may change: none changes what it computes (a table's keys below it too).
RESUMABLE = ("train.epochs", "train.memory_check", "train.track", "train.track_params")


def _resumable(key: str) -> bool:
    return any(key == r or key.startswith(f"{r}.") for r in RESUMABLE)


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
    run past the memory check, ``train.track`` and ``train.track_params`` to log it elsewhere),
    anything else is a :class:`ConfigError`.
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
    changed = [k for k in given if not _resumable(k)]
    if config_file is not None:
        changed.insert(0, "--config")
    sets = [parse_override(item) for item in overrides]
    if any(not _resumable(key) for key, _ in sets):
        changed.append("--set")
    if changed:
        raise ConfigError(
            f"--resume continues '{run_dir}' with its own config; it cannot change "
            f"{', '.join(changed)}.",
            hint="Leave those options out (only --epochs, --track and --set of "
            "train.memory_check, train.track or train.track_params may change), or start a new "
            "run with --out.",
        )
    if out is not None and Path(out).resolve() != run_dir.resolve():
        raise ConfigError(
            f"--resume {run_dir} writes into that run folder, not --out {out}.",
            hint="Leave out --out when resuming.",
        )
    updates = {key: value for key, value in sets}  # flags win over --set, as in a new run
    updates.update((key, value) for key, value in given.items() if _resumable(key))
    if updates:
        config = resolve_config(base=config, flags=updates)
    return run_dir, config
