"""``vadkit train``: resolve the config, then hand over to :class:`vadkit.training.trainer.Trainer`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from vadkit.cli.app import app
from vadkit.cli.common import (
    QuietOpt,
    console,
    err_console,
    launch_processes,
    nproc_option,
    parse_csv,
    plain,
    plain_name,
)
from vadkit.cli.progress import ProgressBar

if TYPE_CHECKING:
    from vadkit.training.callbacks import Callback


@app.command("train")
def train_cmd(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            metavar="ROOT",
            help="Dataset root (default: the synthetic scene).",
            show_default=False,
        ),
    ] = None,
    recipe: Annotated[
        str | None,
        typer.Option(
            "--recipe",
            metavar="NAME",
            help="Recipe to start from (default: the one made for the data; "
            "`vadkit list recipes`).",
            show_default=False,
            callback=plain_name,
        ),
    ] = None,
    tasks: Annotated[
        str | None,
        typer.Option(
            "--tasks",
            metavar="NAMES",
            help="Comma-separated task names (tasks.names).",
            callback=plain_name,
        ),
    ] = None,
    error: Annotated[
        str | None,
        typer.Option(
            "--error",
            metavar="NAME",
            help="Error measure scoring will use (score.error).",
            callback=plain_name,
        ),
    ] = None,
    normalizer: Annotated[
        str | None,
        typer.Option(
            "--normalizer",
            metavar="NAME",
            help="Score normalizer scoring will use (score.normalizer).",
            callback=plain_name,
        ),
    ] = None,
    backbone: Annotated[
        str | None,
        typer.Option(
            "--backbone",
            metavar="NAME",
            help="Backbone name (model.backbone).",
            callback=plain_name,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="FILE", help="A TOML config file.", show_default=False),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="Override a config key: --set train.batch_size=8 (repeatable).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="RUN_DIR",
            help="Run folder to write (default: runs/<date-time>).",
            show_default=False,
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", metavar="N", min=1, help="Epochs to train (train.epochs)."),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            metavar="RUN",
            help="Continue the run in this folder from its last checkpoint.",
        ),
    ] = None,
    ignore_memory: Annotated[
        bool,
        typer.Option(
            "--ignore-memory",
            help="Train even when the projected peak memory exceeds what the machine has "
            "(train.memory_check = false).",
        ),
    ] = False,
    track: Annotated[
        list[str] | None,
        typer.Option(
            "--track",
            metavar="NAME",
            help="Also log the run to an experiment tracker: tensorboard, mlflow or a plugin's "
            "(`vadkit list trackers`); repeatable or comma-separated (train.track). Evaluation "
            "and report are logged to it too.",
            show_default=False,
        ),
    ] = None,
    nproc: Annotated[
        int | None,
        nproc_option("the model is trained with DistributedDataParallel over them."),
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a model on normal videos and write a run folder (config, checkpoints, metrics)."""
    from vadkit.compute import distributed
    from vadkit.runs.checkpoints import checkpoint_path
    from vadkit.training.callbacks import TrainingInterrupted
    from vadkit.training.launch import default_run_dir, resolve_train_config
    from vadkit.training.trainer import Trainer

    if nproc is not None:  # every process must agree on one run folder
        fresh = out is None and resume is None
        launch_processes(nproc, ["--out", str(default_run_dir())] if fresh else [])

    run_dir, cfg = resolve_train_config(
        resume=resume,
        out=out,
        config_file=config,
        overrides=set_ or [],
        flags={
            "recipe": recipe,
            "data.root": str(data.expanduser().resolve()) if data is not None else None,
            "tasks.names": parse_csv(tasks) if tasks is not None else None,
            "score.error": error,
            "score.normalizer": normalizer,
            "model.backbone": backbone,
            "train.epochs": epochs,
            "train.memory_check": False if ignore_memory else None,
            "train.track": [n for item in track for n in parse_csv(item)] if track else None,
        },
        default_out=default_run_dir,
    )
    world = distributed.init_from_env(cfg["train"]["device"])
    run_dir = distributed.from_main(run_dir)  # rank 0's default folder
    quiet = quiet or not world.is_main
    # started again by torchrun (--max-restarts) after a failure: continue from the checkpoint
    resuming = resume is not None or (
        distributed.restarting() and checkpoint_path(run_dir).is_file()
    )
    bar = None if quiet else ProgressBar()
    trainer = Trainer(
        cfg,
        run_dir,
        resume=resuming,
        callbacks=[cast("Callback", bar)] if bar else [],
        verbose=not quiet,
    )
    if not quiet:
        verb = "Resuming" if resuming else "Training"
        console.print(
            f"{verb} [bold]{plain(', '.join(cfg['tasks']['names']))}[/] on "
            f"[bold]{plain(cfg['model']['backbone'])}[/]"
            + (f" (recipe [bold]{plain(cfg['recipe'])}[/])" if cfg["recipe"] else "")
            + f" into [bold]{plain(run_dir)}[/] "
            + (
                f"on {world.size} processes, global batch {world.size * cfg['train']['batch_size']} "
                if world.distributed
                else ""
            )
            + f"({trainer.runtime.device}, {trainer.runtime.precision}"
            f"{', channels-last' if trainer.runtime.channels_last else ''})"
        )
    try:
        summary = trainer.fit()
    except TrainingInterrupted as stop:
        if bar is not None:
            bar.stop()
        if world.is_main:
            err_console.print(
                f"[yellow]Interrupted at epoch {stop.progress.epoch + 1}, step "
                f"{stop.progress.step}; checkpoint saved.[/yellow] Continue with: "
                f"vadkit train --resume {plain(run_dir)}"
            )
        raise typer.Exit(stop.exit_code) from None
    except KeyboardInterrupt:  # a second Ctrl-C: the last checkpoint is intact
        if world.is_main:  # said once, not once per process
            err_console.print(
                f"[yellow]Interrupted.[/yellow] Continue from the last checkpoint with: "
                f"vadkit train --resume {plain(run_dir)}"
            )
        raise typer.Exit(130) from None
    finally:
        if bar is not None:
            bar.stop()
    if not quiet:
        console.print(
            f"Done: {summary['epochs']} epochs, {summary['steps']} steps, "
            f"final loss {summary['loss']:.4f}. Run folder: [bold]{plain(run_dir)}[/]"
            if summary.get("loss") is not None
            else f"Done. Run folder: [bold]{plain(run_dir)}[/]"
        )
