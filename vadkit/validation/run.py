"""``vadkit validate RUN``: the pseudo-AUROC of a run's checkpoints, recorded in
``RUN/validation.json``.

Each checkpoint named (or every one, or the weights the run scores) is loaded and measured by
the run's :class:`~vadkit.validation.validator.Validator`; the results are added to the run's
record (:mod:`vadkit.validation.records`) under the run's lock. No test video and no test label
is opened; a run that held out no training video is refused with the fix.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vadkit.compute.device import select_device
from vadkit.config import Settings
from vadkit.errors import CheckpointError, ConfigError
from vadkit.runs.checkpoints import (
    EMA,
    LAST,
    checkpoint_dir,
    checkpoint_path,
    epoch_name,
    read_weights,
    weights_digest,
    weights_progress,
)
from vadkit.runs.folder import load_model, read_config
from vadkit.storage.lock import locked
from vadkit.validation.records import record_validation
from vadkit.validation.validator import (
    PseudoSaturationWarning,
    Validator,
    require_held_out,
    saturation_advice,
)

if TYPE_CHECKING:
    from vadkit.model import VADModel

#: ``vadkit validate --checkpoint all``: every checkpoint of the run.
ALL = "all"


# -- a run folder -------------------------------------------------------------------------------
def run_checkpoints(run_dir: str | Path, names: Sequence[str]) -> list[str]:
    """The checkpoint names ``names`` stands for: ``all`` is every epoch checkpoint (oldest
    first), ``last`` and ``ema`` (when kept); an epoch number names its checkpoint."""
    out: list[str] = []
    for name in names:
        if name == ALL:
            found = checkpoint_dir(run_dir).glob("epoch_*.safetensors")
            epochs = sorted(p.name.split(".")[0] for p in found)
            extra = [n for n in (LAST, EMA) if checkpoint_path(run_dir, n).is_file()]
            out += [*epochs, *extra]
            continue
        resolved = epoch_name(int(name)) if str(name).isdigit() else str(name)
        if not checkpoint_path(run_dir, resolved).is_file():
            raise CheckpointError(
                f"Run '{run_dir}' has no checkpoint '{name}' "
                f"({checkpoint_path(run_dir, resolved)}).",
                hint=f"Checkpoints: {', '.join(run_checkpoints(run_dir, [ALL])) or 'none'}.",
            )
        out.append(resolved)
    return list(dict.fromkeys(out))


def _progress_of(path: Path) -> dict[str, int | None]:
    progress = weights_progress(read_weights(path)[1].metadata)
    return {"epoch": None if progress is None else progress.epoch,
            "step": None if progress is None else progress.step}  # fmt: skip


@locked("vadkit validate")
def validate_run(
    run_dir: str | Path,
    *,
    checkpoints: Sequence[str] = (),
    weights: str | None = None,
    windows: int | None = None,
    kinds: Sequence[str] | None = None,
    seed: int | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    data: str | Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Measure the pseudo-AUROC of a run's checkpoints and record them in ``RUN/validation.json``.

    ``checkpoints``: names (``last``, ``ema``, an epoch number or ``epoch_NNNN``; ``all``: every
    one); none: the weights the run scores (``weights``, default ``score.weights``, as ``vadkit
    score`` resolves it; ``auto`` is a choice, not weights, and is refused). ``windows``,
    ``kinds`` and ``seed`` override the run's ``score.pseudo_*`` settings, ``params`` updates
    its ``score.pseudo_params`` (a table per kind, e.g. ``{"noise": {"std": 4}}``); ``data`` is
    the dataset root when it moved. ``on_progress(checkpoint, windows done, windows)``.

    Returns ``{"run", "protocol", "entries"}``: one entry per checkpoint, with its SHA-256,
    epoch, and the pseudo-AUROC per task, fused and per pseudo-anomaly kind. Reads no test
    video and no label; refuses a run that held out no training video (``data.val_videos``).
    A fused pseudo-AUROC of at least
    :data:`~vadkit.validation.validator.SATURATED` gives a
    :class:`~vadkit.validation.validator.PseudoSaturationWarning` saying how to make the
    pseudo-anomalies subtler.
    """
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    require_held_out(Settings.from_config(config))
    if not checkpoints and weights == "auto":
        raise ConfigError(
            "--weights auto is a choice among weights; vadkit validate measures given weights.",
            hint="Validate them all (--checkpoint all) or name them (--weights last|ema, "
            "--checkpoint N).",
        )
    dev = select_device(device, key="--device")
    validator = Validator(
        config,
        root=data,
        windows=windows,
        kinds=kinds,
        seed=seed,
        params=params,
        batch_size=batch_size,
    )
    names = run_checkpoints(run_dir, checkpoints) if checkpoints else []  # refused before work

    def models() -> Iterator[tuple[str, VADModel, Path | None, str]]:
        """(checkpoint, model, weights file, SHA-256) of each weights to measure."""
        if not names:
            from vadkit.inference.weights import load_scored_model

            _, model, used = load_scored_model(run_dir, weights=weights)
            file = Path(used.file) if used.file else None
            yield used.checkpoint, model, file, used.sha256
        for name in names:
            _, model = load_model(run_dir, checkpoint=name, device=dev)
            path = checkpoint_path(run_dir, name)
            yield name, model, path, weights_digest(path)

    entries = []
    for name, model, path, digest in models():
        progress = None
        if on_progress is not None:

            def progress(done: int, total: int, label: str = name) -> None:
                on_progress(label, done, total)

        result = validator.measure(model, device=dev, on_progress=progress)
        entries.append(
            {
                "checkpoint": name,
                **(_progress_of(path) if path is not None else {"epoch": None, "step": None}),
                "sha256": digest,
                "file": None if path is None else str(path),
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                **validator.protocol(),
                **result,
            }
        )
    record_validation(run_dir, entries)
    advice = saturation_advice(entries)
    if advice is not None:
        warnings.warn(advice, PseudoSaturationWarning, stacklevel=2)
    return {"run": str(run_dir), "protocol": validator.protocol(), "entries": entries}
