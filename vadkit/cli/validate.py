"""``vadkit validate``: the pseudo-AUROC of a run's checkpoints, without test labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vadkit.cli.app import app
from vadkit.cli.common import (
    JsonFlag,
    QuietOpt,
    RunArg,
    console,
    parse_csv,
    plain,
    print_json,
)
from vadkit.cli.progress import LazyBar
from vadkit.cli.tables import fmt_metric
from vadkit.config.overrides import parse_component_params


@app.command("validate")
def validate_cmd(
    run: RunArg,
    checkpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--checkpoint",
            help="Checkpoints to validate: 'last', 'ema', epoch numbers (comma-separated or repeated); 'all': every one. "
            "Repeatable. Default: the weights the run scores (--weights).",
            show_default=False,
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="Without --checkpoint: 'default' (the moving average when the run kept one, "
            "else the last checkpoint), 'last' or 'ema'. Default: the run's score.weights.",
            show_default=False,
        ),
    ] = None,
    windows: Annotated[
        int | None,
        typer.Option(
            "--windows",
            min=2,
            help="Windows scored, half of them with a pseudo-anomaly (default: the run's "
            "score.pseudo_windows).",
            show_default=False,
        ),
    ] = None,
    kinds: Annotated[
        str | None,
        typer.Option(
            "--kinds",
            help="Pseudo-anomalies to inject, comma-separated (default: the run's "
            "score.pseudo_kinds, else every one of `vadkit list pseudo_anomalies`).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            help="Seed of the windows and pseudo-anomalies (default: score.pseudo_seed).",
            show_default=False,
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help="A parameter of a pseudo-anomaly, KIND.PARAM=VALUE (e.g. noise.std=4; see "
            "`vadkit describe pseudo_anomalies KIND`). Repeatable. Default: the run's "
            "score.pseudo_params, else each kind's defaults.",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Dataset root whose training split holds the run's held-out videos "
            "(default: the run's data.root).",
            show_default=False,
        ),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Windows per batch.", show_default=False),
    ] = None,
    json_out: JsonFlag = False,
    quiet: QuietOpt = False,
) -> None:
    """Measure a run's checkpoints by pseudo-AUROC: pseudo-anomalies injected into its held-out
    normal training videos (data.val_videos), scored with its default error measure, normalizer
    and fusion weights. Reads no test label; records RUN/validation.json."""
    from vadkit.validation.run import validate_run

    bar = None if quiet or json_out else LazyBar("validating windows")
    seen: dict[str, int] = {}

    def progress(name: str, done: int, total: int) -> None:
        assert bar is not None
        seen.setdefault(name, len(seen))
        bar.update(seen[name] * total + done, max(len(seen), 1) * total)

    try:
        result = validate_run(
            run,
            checkpoints=[c for item in checkpoint or () for c in parse_csv(item)],
            weights=weights,
            windows=windows,
            kinds=parse_csv(kinds) or None,
            seed=seed,
            params=parse_component_params(param or [], "--param", "noise.std=4") or None,
            device=device,
            batch_size=batch_size,
            data=data,
            on_progress=progress if bar is not None else None,
        )
    finally:
        if bar is not None:
            bar.stop()
    if json_out:
        print_json(result)
        return
    for table in _tables(result):
        console.print(table)
    protocol = result["protocol"]
    pseudo = protocol["pseudo"]
    first = result["entries"][0]
    console.print(
        f"{first['windows']} windows of {len(protocol['held_out'])} held-out video(s) "
        f"({plain(', '.join(protocol['held_out']))}), {first['anomalous']} with a "
        f"pseudo-anomaly ({plain(', '.join(pseudo['kinds']))}; seed {pseudo['seed']}"
        f"{_params_text(pseudo.get('params', {}))}); "
        f"error {plain(protocol['error'] or '-')}, normalizer {plain(protocol['normalizer'])}, "
        f"weights {plain(', '.join(f'{k}={v:g}' for k, v in protocol['alphas'].items()))}.",
    )
    console.print(f"Recorded in [bold]{plain(Path(run) / 'validation.json')}[/]")


def _params_text(params: dict[str, dict[str, Any]]) -> str:
    """``"; noise std=4"``: the parameters that differ from the defaults, when some do."""
    said = [
        f"{kind} " + " ".join(f"{k}={v}" for k, v in table.items())
        for kind, table in params.items()
    ]
    return plain("; " + "; ".join(said)) if said else ""


def _tables(result: dict[str, Any]) -> list[Table]:
    """Per checkpoint: the fused and per-task pseudo-AUROC; then the fused one per kind."""
    entries = result["entries"]
    tables = []
    for title, columns, values in (
        ("Pseudo-AUROC (no test label read)", ["fused", *entries[0]["tasks"]],
         lambda e: {"fused": e["fused"], **e["tasks"]}),
        ("Fused pseudo-AUROC per pseudo-anomaly", list(entries[0]["kinds"]),
         lambda e: e["kinds"]),
    ):  # fmt: skip
        table = Table(title=title)
        table.add_column("checkpoint", style="bold cyan", no_wrap=True)
        for column in columns:
            table.add_column(column, justify="right", style="bold" if column == "fused" else "")
        for e in entries:
            epoch = "" if e["epoch"] is None else f" (epoch {e['epoch']})"
            row = values(e)
            table.add_row(
                plain(f"{e['checkpoint']}{epoch}"), *(fmt_metric(row.get(c), 3) for c in columns)
            )
        tables.append(table)
    return tables
