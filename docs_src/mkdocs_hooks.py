"""MkDocs hooks: pages generated from the code at build time, so that they cannot go stale.

A line ``<!-- vadkit: NAME -->`` on a page is replaced by generated Markdown:

* ``cli-reference``: every ``vadkit`` command, read from the Typer application itself (usage,
  help, arguments, options, defaults);
* ``config-reference``: every config key with its default, read from ``vadkit.config.DEFAULTS``,
  and its meaning from :data:`CONFIG_KEYS` below. A key without a description, or a description
  of a key that no longer exists, fails the build;
* ``builtin-components``: the components registered by the vadkit distribution, per kind, linked
  to their pages;
* ``benchmarks-index``: the result pages under ``docs/benchmarks/``;
* ``benchmark-summary NAME [HEADING]``: the leading paragraph and first table of
  ``docs/benchmarks/NAME.md``, for a tutorial that quotes a result.
"""

from __future__ import annotations

import re
from typing import Any

MARKERS: dict[str, Any] = {}


def _plain(text: str | None) -> str:
    """Help text without Rich markup, as one paragraph per blank-line-separated block."""
    if not text:
        return ""
    from rich.text import Text

    plain = Text.from_markup(text).plain
    return "\n".join(line.rstrip() for line in plain.strip().splitlines())


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(param: Any) -> str:
    """The default of a parameter as a table cell ("required" when it has none)."""
    if param.required:
        return "required"
    value = param.default
    if callable(value) or value is None or value is False or value == () or value == []:
        return ""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return f"`{_cell(str(value))}`"


def _load_app() -> Any:
    """The root command with every command group mounted, as ``vadkit`` itself builds it."""
    import importlib

    import typer

    app_module = importlib.import_module("vadkit.cli.app")

    app_module._mount_optional()
    return typer.main.get_command(app_module.app)


def _render(cmd: Any, ctx: Any, path: list[str], level: int, out: list[str]) -> None:
    title = " ".join(path)
    out.append(f"{'#' * level} {title}\n")
    help_text = _plain(cmd.help)
    if help_text:
        out.append(help_text + "\n")
    usage = cmd.get_usage(ctx).replace("Usage: ", "", 1).strip()
    out.append(f"```text\n{usage}\n```\n")
    rows = []
    for param in cmd.params:
        record = param.get_help_record(ctx)
        if record is None:  # hidden
            continue
        names = record[0]
        kind = "argument" if param.param_type_name == "argument" else "option"
        helptext = _cell(_plain(getattr(param, "help", None) or ""))
        rows.append(f"| `{_cell(names)}` | {kind} | {_default(param)} | {helptext} |")
    rows.append("| `--help` | option | | Show the help of this command and exit. |")
    out.append("| name | kind | default | description |\n|---|---|---|---|")
    out.append("\n".join(rows) + "\n")
    if hasattr(cmd, "list_commands"):
        names = cmd.list_commands(ctx)
        if names:
            out.append("Commands: " + ", ".join(f"`{title} {n}`" for n in names) + ".\n")
        for name in names:
            sub = cmd.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            _render(sub, sub_ctx, [*path, name], min(level + 1, 4), out)


def cli_reference() -> str:
    """Markdown reference of the ``vadkit`` command and all its subcommands."""
    root = _load_app()
    ctx = root.make_context("vadkit", [], resilient_parsing=True)
    out: list[str] = []
    _render(root, ctx, ["vadkit"], 2, out)
    return "\n".join(out)


MARKERS["cli-reference"] = cli_reference

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
    "[the protocol](protocol.md#choices-made-without-test-labels).",
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
    "No effect in one process. See [Train on GPUs and clusters](../tutorials/gpus-and-clusters.md).",
    "train.compile": "Run the training step's forward pass through `torch.compile` (worth it on "
    "GPUs for long runs; the first steps are slower while it compiles).",
    "train.validate_every": "Label-free validation (`vadkit validate`) at the end of every N-th "
    "epoch: the epoch's checkpoint gets its pseudo-AUROC in `RUN/validation.json`. 0: off. Needs "
    "`data.val_videos` >= 1; training is bit-identical with and without it.",
    "recipe": "The recipe the run started from (`vadkit list recipes`): its settings come after "
    "the framework's defaults and before the config file. Empty: the recipe that claims the data "
    "(one for datasets, one for the synthetic scene). The `--recipe` flag sets it.",
    "train.memory_check": "Before the first step, project the peak memory of a step and stop "
    "(exit 2, nothing written) when it exceeds the available memory less 10%; see "
    "[Memory check](#memory-check). `false` (or `--ignore-memory`) trains anyway; a resumed run "
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
    "validation](validation.md)). The `--criterion` flag of `vadkit score` sets it.",
    "score.pseudo_windows": "Windows label-free validation scores on the held-out videos, half of "
    "them with a pseudo-anomaly (fewer when the videos hold fewer).",
    "score.pseudo_kinds": "The pseudo-anomalies label-free validation injects, in turn (`vadkit "
    "list pseudo_anomalies`). Empty: every registered one.",
    "score.pseudo_seed": "Seed of the windows, the pseudo-anomalies and their draws: the same run "
    "and settings give the same pseudo-AUROC.",
}


def _leaves(table: Any, prefix: str, open_tables: frozenset[str]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in open_tables:
            out.extend(_leaves(value, f"{dotted}.", open_tables))
        else:
            out.append((dotted, value))
    return out


def config_reference() -> str:
    """One table per config section: key, default, meaning."""
    from vadkit import config

    leaves = _leaves(config.DEFAULTS, "", config.OPEN_TABLES)
    keys = [k for k, _ in leaves]
    missing = [k for k in keys if k not in CONFIG_KEYS]
    stale = [k for k in CONFIG_KEYS if k not in keys]
    if missing or stale:
        raise ValueError(
            f"docs_src/mkdocs_hooks.py CONFIG_KEYS is out of date: undocumented keys {missing}, "
            f"keys that no longer exist {stale}."
        )
    out: list[str] = []
    section = None
    for key, default in leaves:
        top = key.split(".", 1)[0]
        if top != section:
            section = top
            out.append(f"\n### `[{top}]`\n\n| key | default | meaning |\n|---|---|---|")
        shown = "{}" if isinstance(default, dict) else config.dumps_toml({"v": default})[4:].strip()
        out.append(f"| `{key}` | `{_cell(shown)}` | {_cell(CONFIG_KEYS[key])} |")
    return "\n".join(out) + "\n"


MARKERS["config-reference"] = config_reference


#: The contract class of each component kind (documented on reference/api.md).
CONTRACTS = {
    "backbones": "vadkit.components.Backbone",
    "tasks": "vadkit.components.ProxyTask",
    "errors": "vadkit.components.ErrorMeasure",
    "normalizers": "vadkit.components.ScoreNormalizer",
    "datasets": "vadkit.data.formats.DatasetFormat",
    "recipes": "vadkit.components.Recipe",
    "pseudo_anomalies": "vadkit.components.PseudoAnomaly",
}


def builtin_components(page: str = "index.md") -> str:
    """A table of the components registered by the vadkit distribution, linked to their pages.

    ``page`` is the path of the page the table goes on, relative to ``docs/`` (links are relative).
    """
    import posixpath

    from vadkit.plugins import KINDS, PluginHost

    host = PluginHost(autoload=False)  # only the vadkit distribution's own entry points
    base = posixpath.dirname(page)
    rows = ["| kind | built-in components | contract | hook |", "|---|---|---|---|"]
    for kind in KINDS:
        entries = host.registry(kind).entries()
        if kind not in CONTRACTS:
            raise ValueError(f"docs_src/mkdocs_hooks.py CONTRACTS has no entry for kind {kind!r}.")
        links = ", ".join(
            f"[`{e.name}`]({posixpath.relpath(f'reference/components/{kind}/{e.name}.md', base)})"
            for e in entries
        )
        hooks = posixpath.relpath("reference/hooks.md", base)
        contract = CONTRACTS[kind]
        short = contract.rsplit(".", 1)[1]
        rows.append(
            f"| {kind} | {links} | [`{short}`][{contract}] | "
            f"[`register_{kind}`]({hooks}#vadkit.hookspecs.register_{kind}) |"
        )
    return "\n".join(rows) + "\n"


def benchmarks_index() -> str:
    """A list of the result pages under docs/benchmarks/, with their titles and first sentences."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"
    pages = sorted(folder.glob("*.md")) if folder.is_dir() else []
    if not pages:
        return (
            "No result page has been written yet: each script under `benchmarks/` writes its "
            "page into `docs/benchmarks/` when run with `--write`.\n"
        )
    out = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        heading = re.search(r"^# (.+)$", text, re.MULTILINE)
        title = heading.group(1).strip() if heading else page.stem
        body = text[heading.end() :] if heading else text
        paragraph = next(
            (p.strip() for p in re.split(r"\n\s*\n", body) if p.strip() and p.strip()[0].isalpha()),
            "",
        )
        sentence = " ".join(re.split(r"(?<=[.!?])\s", " ".join(paragraph.split()))[:1])
        # the sentence moves from docs/benchmarks/ to docs/: its relative links follow
        sentence = re.sub(r"\]\((?![a-z]+:|/|\.\./|#)", "](benchmarks/", sentence)
        sentence = re.sub(r"\]\(\.\./", "](", sentence)
        out.append(
            f"- [{title}](benchmarks/{page.name}): {sentence}"
            if sentence
            else f"- [{title}](benchmarks/{page.name})"
        )
    return "\n".join(out) + "\n"


def benchmark_summary(page: str, name: str, heading: str = "") -> str:
    """The first paragraph and the first table of ``docs/benchmarks/NAME.md``, with a link to it.

    Lets a tutorial quote a result page that a benchmark script rewrites, without a copy that
    could go stale. With ``heading`` (words joined by ``_``) the quote comes under a ``##``
    heading of that title, and a page that does not exist yet quotes nothing at all (the
    tutorial reads the same without it); without, a missing page fails the build.
    """
    import posixpath
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / f"{name}.md"
    if not source.is_file():
        if heading:
            return ""
        raise ValueError(f"{page} quotes docs/benchmarks/{name}.md, which does not exist.")
    text = source.read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    paragraph = next((b for b in blocks if b[0].isalpha() or b.startswith("**")), None)
    table = next((b for b in blocks if b.startswith("|")), None)
    if paragraph is None or table is None:
        raise ValueError(
            f"docs/benchmarks/{name}.md has no leading paragraph or no table to quote."
        )
    title = re.search(r"^# (.+)$", text, re.MULTILINE)
    link = posixpath.relpath(f"benchmarks/{name}.md", posixpath.dirname(page))
    quote = (
        f"{paragraph}\n\n{table}\n\nFrom [{title.group(1).strip() if title else name}]({link}), "
        "which says how it was produced.\n"
    )
    return f"## {heading.replace('_', ' ')}\n\n{quote}" if heading else quote


MARKERS["benchmarks-index"] = benchmarks_index
MARKERS["benchmark-summary"] = benchmark_summary
MARKERS["builtin-components"] = builtin_components
MARKER = re.compile(r"^<!-- vadkit: ([a-z-]+)((?: [\w.-]+)*) -->$", re.MULTILINE)


#: Generators that take the page's path (relative to docs/), for relative links.
PAGE_AWARE = {"builtin-components", "benchmark-summary"}


def expand(markdown: str, page: str = "index.md") -> str:
    """Replace every ``<!-- vadkit: NAME -->`` line by its generated Markdown."""

    def replace(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2).split()
        if name not in MARKERS:
            raise ValueError(f"Unknown docs marker '{name}'; known: {', '.join(sorted(MARKERS))}.")
        generate = MARKERS[name]
        return str(generate(page, *args) if name in PAGE_AWARE else generate(*args))

    return MARKER.sub(replace, markdown)


LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s#]+)(?:#[^)\s]*)?\)")


def repository_links(markdown: str, page: str) -> str:
    """Links to files of the repository outside ``docs/`` (a script, a config) become plain text.

    The site does not host the sources, so such a link cannot work on it; its text (usually the
    file's path in code) stays. A link to a file that does not exist is left alone, so that the
    strict build still reports it.
    """
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    docs = root / "docs"
    here = (docs / page).parent

    def replace(match: re.Match[str]) -> str:
        target = match.group("target")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            return match.group(0)
        resolved = (here / target).resolve()
        inside_repo = resolved.is_relative_to(root) and not resolved.is_relative_to(docs)
        return match.group("text") if inside_repo and resolved.exists() else match.group(0)

    return LINK.sub(replace, markdown)


def on_page_markdown(markdown: str, *, page: Any, **kwargs: Any) -> str:
    return repository_links(expand(markdown, page.file.src_uri), page.file.src_uri)
