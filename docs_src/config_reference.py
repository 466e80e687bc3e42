"""The config key reference: every key of a run's settings, with its type, default and meaning.

Keys, types and defaults are read from the settings dataclasses
(:class:`vadkit.config.settings.Settings` and its tables), the one place where they are written;
the meaning of each key is :data:`CONFIG_KEYS` below. A key without a meaning, or a meaning of a
key that no longer exists, stops the generator (and fails the test that keeps the page current).
Links in the meanings are relative to ``docs/reference/generated/``, where the page lives.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from docs_src.markdown import GENERATED, cell, code, code_cell

#: What each config key means; keys are dotted paths into ``vadkit.config.DEFAULTS``.
CONFIG_KEYS: dict[str, str] = {
    "data.root": "Dataset folder. Empty: the synthetic default scene, generated on first use in "
    "the cache. The `--data` flag sets it.",
    "data.format": "Dataset format, a name in the `datasets` registry (`vadkit list datasets`). "
    "Empty: detected from the folder's layout.",
    "data.size": "Frames are resized to `[height, width]` pixels (the paper: `[256, 256]`).",
    "data.color": '`"gray"` (one channel, as in the paper) or `"rgb"` (three). The backbone\'s '
    "`in_channels` follows it unless set.",
    "data.clip_length": "T, the frames of one clip; a window holds T + 1 frames (the last is "
    "FFP's target and the frame the window scores).",
    "data.stride": "A training window starts every `stride` frames (1: every frame).",
    "data.labels": "Ground-truth file or folder for the test videos. Empty: detected next to the "
    "data. `vadkit score` records it (it opens no label file); `vadkit evaluate` reads it and "
    "records which file it read.",
    "data.val_videos": "Normal training videos held out of training for the label-free choices "
    "of `vadkit score --weights auto` (drawn from `train.seed`; never trained on). 0: none. See "
    "[the protocol](../protocol.md#choices-made-without-test-labels).",
    "model.backbone": "Backbone, a name in the `backbones` registry. The `--backbone` flag sets it.",
    "model.params": "Table of the backbone's constructor parameters (`vadkit describe backbones "
    "NAME`); the resolved config records every value, defaults included.",
    "tasks.names": "Proxy tasks trained jointly, names in the `tasks` registry. The `--tasks` "
    "flag sets it (`--tasks vcr,ffp`).",
    "tasks.weights": "Table task = loss weight \u03bb (eq. 7). A task left out takes its class's "
    "`default_weight` (vcr 0.6, ffp 0.4, prp 1.0).",
    "tasks.params": "Table of tables: `[tasks.params.NAME]` holds the constructor parameters of "
    "task NAME (`vadkit describe tasks NAME`).",
    "train.epochs": "Passes over the training windows. The `--epochs` flag sets it.",
    "train.batch_size": "Windows per optimizer step in each process; with N processes "
    "(torchrun) the global batch is N x batch_size.",
    "train.lr": "Learning rate (the peak of a schedule).",
    "train.optimizer": 'A timm optimizer name (`timm.optim.create_optimizer_v2`): `"adam"` (the '
    'paper\'s), `"adamw"`, `"sgd"`, ... ; any of `timm.optim.list_optimizers()`.',
    "train.weight_decay": "Weight decay of the optimizer (timm leaves biases and norm layers "
    "out of it); 0: none, the paper's.",
    "train.schedule": '`"constant"` (the paper\'s) or `"cosine"`: timm\'s cosine decay '
    "(`timm.scheduler.create_scheduler_v2`), stepped every optimizer update, to `min_lr` at "
    "the last step.",
    "train.warmup_epochs": "With `cosine`: epochs of linear warm-up from `warmup_lr` to `lr`.",
    "train.warmup_lr": "With `cosine`: the learning rate the warm-up starts from.",
    "train.min_lr": "With `cosine`: the learning rate at the end of training.",
    "train.ema": "Keep an exponential moving average of the weights (`timm.utils.ModelEmaV3`, "
    "BatchNorm statistics averaged as timm does), saved as `checkpoints/ema.safetensors` and "
    "scored by default (`score.weights`). It does not change training.",
    "train.ema_decay": "Decay of the moving average, in [0, 1).",
    "train.ema_warmup": "timm's warm-up of the decay: `1 - (1 + step)^(-2/3)`, capped at "
    "`ema_decay`, so early weights fade fast.",
    "train.validate_every": "Label-free validation (`vadkit validate`) at the end of every N-th "
    "epoch: the epoch's checkpoint gets its pseudo-AUROC in `RUN/validation.json`. 0: off. Needs "
    "`data.val_videos` >= 1; training is bit-identical with and without it.",
    "train.seed": "Seed of the model's initial weights, the shuffling and the PRP sampling: the "
    "same seed gives the same run, also after `--resume`.",
    "train.device": '`"auto"` (CUDA when present, else the CPU), `"cpu"`, `"cuda"` or `"cuda:N"`.',
    "train.precision": '`"auto"`, `"fp32"`, `"bf16"` or `"fp16"` (mixed precision with loss '
    'scaling). `"auto"` picks fp32 unless a faster precision was shown to keep the accuracy.',
    "train.channels_last": "Use the channels-last memory format for 3-D convolutions (faster on "
    "CPU and on recent GPUs).",
    "train.workers": "Data-loader worker processes (0: load in the training process).",
    "train.save_every": "Keep a copy of the weights every N epochs "
    "(`checkpoints/epoch_NNNN.safetensors`); 0: only `last`.",
    "train.checkpoint_steps": "Also save the last checkpoint every N steps within an epoch, so "
    "that `--resume` loses little work; 0: only at the end of each epoch.",
    "train.log_steps": "Write a line to `metrics.jsonl` (and update the progress bar) every N steps.",
    "train.deterministic": "Ask PyTorch for deterministic algorithms, so that a resumed run "
    "reaches the same weights as an uninterrupted one.",
    "train.sync_bn": "With several processes (torchrun, `--nproc`): BatchNorm statistics over the "
    "global batch (SyncBatchNorm), so N x batch_size/N trains like one process at batch_size. "
    "No effect in one process. See [Train on GPUs and clusters](../../tutorials/gpus-and-clusters.md).",
    "train.compile": "Run the training step's forward pass through `torch.compile` (worth it on "
    "GPUs for long runs; the first steps are slower while it compiles).",
    "train.track": "Experiment trackers the run is also logged to, names in the `trackers` "
    'registry (`vadkit list trackers`): `["tensorboard", "mlflow"]`; `vadkit evaluate` and '
    "`vadkit report` log to them too. The `--track` flag sets it; a resumed run may change it. "
    "See [Track experiments](../../tutorials/tracking.md).",
    "train.track_params": "Table of tables: `[train.track_params.NAME]` holds the constructor "
    "parameters of tracker NAME (`vadkit describe trackers NAME`), e.g. the MLflow `uri` and "
    "`experiment`; a resumed run may change them.",
    "score.error_params": "Table of tables: `[score.error_params.NAME]` holds the constructor "
    "parameters of error measure NAME (`vadkit describe errors NAME`), used by every path that "
    "builds it (score, watch, calibration, export, maps); a measure not listed keeps its "
    "defaults. See [component parameters](../config.md#component-parameters).",
    "score.normalizer_params": "Table of tables: `[score.normalizer_params.NAME]` holds the "
    "constructor parameters of normalizer NAME (`vadkit describe normalizers NAME`), used "
    "wherever it rescales scores (score, evaluate, report, watch, calibration).",
    "recipe": "The recipe the run started from (`vadkit list recipes`): its settings come after "
    "the framework's defaults and before the config file. Empty: the recipe that claims the data "
    "(one for datasets, one for the synthetic scene). The `--recipe` flag sets it.",
    "train.memory_check": "Before the first step, project the peak memory of a step and stop "
    "(exit 2, nothing written) when it exceeds the available memory less 10%; see "
    "[Memory check](../config.md#memory-check). `false` (or `--ignore-memory`) trains anyway; a resumed run "
    "may change it.",
    "score.presets": "Table of tables: `[score.presets.NAME]` holds named fusion weights "
    "(`vadkit evaluate --alphas NAME`); the recipe gives them (the built-in ones: the paper's "
    "per-dataset weights `ped2`, `avenue`, `shanghaitech`).",
    "score.error": "Error measure used for VCR and FFP when fusing and evaluating (every "
    "registered one is computed when scoring). The `--error` flag sets it.",
    "score.normalizer": "Per-video score normalizer applied before fusion. The `--normalizer` "
    "flag sets it.",
    "score.alphas": "Table task = fusion weight \u03b1 (eq. 15); a task left out weighs 1. "
    "Presets at evaluation: `--alphas NAME` with a name of `score.presets`.",
    "score.frames": '`"protocol"`: leave out the first T frames of each test video, as the paper '
    'does; `"all"`: score every frame (the first T take the first window\'s score).',
    "score.smooth": "Width (sigma, in frames) of a Gaussian filter applied over time to each "
    "task's rescaled scores at evaluation; 0 (default): no smoothing, the paper's protocol. "
    "The `--smooth` flag of `vadkit evaluate` sets it.",
    "score.batch_size": "Windows per forward pass when scoring.",
    "score.precision": 'Precision when scoring. `"auto"`: fp32 on CUDA; on the CPU bf16 '
    "autocast when its per-window scores rank training windows like fp32's (see "
    "`agreement_windows`, `agreement_min`), else fp32; the choice is recorded in the score set.",
    "score.weights": '`"default"`: the moving average when the run kept one (`train.ema`), else '
    'the last checkpoint; `"last"`; `"ema"`; `"auto"`: the candidate (last, EMA, average of '
    "the last `average_last` epochs) with the lowest proxy loss, or the highest pseudo-AUROC "
    "(`weights_criterion`), on the held-out validation videos (`data.val_videos`). The "
    "`--weights` flag of `vadkit score`, `watch`, `export` and `maps` (and `weights=` of "
    "`vadkit.load`) sets it.",
    "score.average_last": "Epoch checkpoints averaged by the averaging candidate of "
    '`weights = "auto"` (fixed beforehand: the last third of a 15-epoch run).',
    "score.agreement_windows": 'Training windows on which `precision = "auto"` compares a faster '
    "precision with fp32; also how many windows calibrate the int8 model of `vadkit export "
    "--precision int8`, and how many its rule compares.",
    "score.agreement_min": "The Spearman rank correlation, per task, that a faster precision must "
    'reach for `precision = "auto"` to use it, and that an int8 bundle must reach (per task and '
    "fused) to keep its int8 model (fixed beforehand).",
    "score.weights_criterion": 'What `weights = "auto"` chooses by: `"loss"`, the lowest proxy '
    'loss on the held-out videos; `"pseudo"`, the highest fused pseudo-AUROC on them ([label-free '
    "validation](../validation.md)). The `--criterion` flag of `vadkit score` sets it.",
    "score.pseudo_windows": "Windows label-free validation scores on the held-out videos, half of "
    "them with a pseudo-anomaly (fewer when the videos hold fewer).",
    "score.pseudo_kinds": "The pseudo-anomalies label-free validation injects, in turn (`vadkit "
    "list pseudo_anomalies`). Empty: every registered one.",
    "score.pseudo_seed": "Seed of the windows, the pseudo-anomalies and their draws: the same run "
    "and settings give the same pseudo-AUROC.",
    "score.pseudo_params": "Table of tables: `[score.pseudo_params.NAME]` holds the constructor "
    "parameters of pseudo-anomaly NAME (`vadkit describe pseudo_anomalies NAME`; `vadkit "
    "validate --param NAME.PARAM=VALUE` for one validation); a kind not listed keeps its "
    "defaults. Subtler ones when the pseudo-AUROC saturates (see "
    "[label-free validation](../validation.md#when-the-pseudo-auroc-saturates)).",
}


def settings_keys() -> list[tuple[str, str, Any]]:
    """``(dotted key, type as written in settings.py, default)`` of every config key, in the
    order of the dataclasses; a free table (``model.params``) is one key."""
    from vadkit.config.settings import Settings

    out: list[tuple[str, str, Any]] = []

    def walk(obj: Any, prefix: str) -> None:
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            else:
                out.append((f"{prefix}{f.name}", str(f.type), value))

    walk(Settings(), "")
    return out


def check_descriptions(keys: list[str]) -> None:
    """Every key has a meaning in :data:`CONFIG_KEYS` and every meaning a key."""
    missing = [k for k in keys if k not in CONFIG_KEYS]
    stale = [k for k in CONFIG_KEYS if k not in keys]
    if missing or stale:
        raise ValueError(
            f"docs_src/config_reference.py CONFIG_KEYS is out of date: undocumented keys "
            f"{missing}, keys that no longer exist {stale}."
        )


def _shown(default: Any) -> str:
    from vadkit.config import dumps_toml

    if isinstance(default, dict):  # a TOML inline table
        return "{" + ", ".join(f"{k} = {_shown(v)}" for k, v in default.items()) + "}"
    return dumps_toml({"v": default})[4:].strip()


def keys_markdown() -> str:
    """One table per section (``[data]``, ``[model]``, ...): key, type, default, meaning."""
    keys = settings_keys()
    check_descriptions([k for k, _, _ in keys])
    out: list[str] = []
    section: str | None = None
    for key, kind, default in keys:
        top = key.split(".", 1)[0] if "." in key else ""
        if top != section:
            section = top
            title = f"`[{top}]`" if top else "Top level"
            out.append(f"\n## {title}\n\n| key | type | default | meaning |\n|---|---|---|---|")
        row = [code(key), code_cell(kind), code_cell(_shown(default)), cell(CONFIG_KEYS[key])]
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out).lstrip("\n") + "\n"


def page() -> str:
    """``docs/reference/generated/config-keys.md``."""
    return (
        f"{GENERATED}\n\n"
        "# Config keys\n\n"
        "Every key of a run's settings, with its type and default as `vadkit/config/settings.py` "
        "writes them. How settings resolve (defaults, recipe, `--config`, `--set`, flags), how "
        "they are validated and what the memory check does is on the "
        "[configuration page](../config.md). A recipe (`vadkit list recipes`) sets many of them; "
        "`vadkit describe recipes NAME` shows which. The free tables (`model.params`, "
        "`tasks.params`, ...) take a component's constructor parameters "
        "(`vadkit describe KIND NAME`).\n\n" + keys_markdown()
    )
