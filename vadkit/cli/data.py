"""``vadkit data``: download a dataset, check one, generate the synthetic scene."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from vadkit.cli.app import app
from vadkit.cli.common import JsonFlag, QuietOpt, console, err_console, plain, print_json
from vadkit.config.settings import DataSettings

if TYPE_CHECKING:
    from vadkit.data.download import DownloadResult, RegisteredDownload

data_app = typer.Typer(
    help="Download and check datasets, and generate the synthetic scene.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@data_app.command("synth")
def synth_cmd(
    out: Annotated[Path, typer.Argument(help="Folder to write the scene to (new or empty).")],
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same scene.")] = 0,
    size: Annotated[int, typer.Option(help="Frame height and width in pixels.")] = 64,
    train_videos: Annotated[int, typer.Option(help="Number of (normal) training videos.")] = 8,
    test_videos: Annotated[int, typer.Option(help="Number of test videos, one anomaly each.")] = 6,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a non-empty folder.")] = False,
    json_out: JsonFlag = False,
) -> None:
    """Generate the synthetic scene (frame folders + frame_labels_synth.npy) into OUT."""
    import json

    from vadkit.data.synth import generate_scene

    root = generate_scene(
        out,
        seed=seed,
        size=size,
        train_videos=train_videos,
        test_videos=test_videos,
        overwrite=force,
    )
    meta = json.loads((root / "scene.json").read_text())
    if json_out:
        print_json({"root": str(root.resolve()), **meta})
        return
    anomalous = sum(v["anomalous_frames"] for v in meta["test_videos"])
    total = sum(v["frames"] for v in meta["test_videos"])
    console.print(
        f"Wrote the synthetic scene (seed {seed}, {size}x{size}) to [bold]{plain(root)}[/bold]: "
        f"{train_videos} training videos, {test_videos} test videos "
        f"({anomalous} of {total} test frames anomalous)."
    )
    console.print(f"Check it with: vadkit data check {root}", markup=False)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0%}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _summary_table(report: dict[str, Any]) -> Table:
    splits = report["splits"]
    table = Table(title=f"Dataset {plain(report['root'])}", title_justify="left")
    table.add_column("", style="bold")
    for split in splits:
        table.add_column(split, overflow="fold")
    rows = [
        ("format", "format"),
        ("videos", "videos"),
        ("frames", "frames"),
        ("resolution", "resolution"),
        ("short videos", "short_videos"),
        ("unreadable videos", "unreadable_videos"),
        ("ground truth", "ground_truth"),
        ("label coverage", "label_coverage"),
        ("anomalous frames", "anomalous_frames"),
    ]
    for label, key in rows:
        cells = []
        for split, info in splits.items():
            value = info.get(key)
            if key == "frames" and info["frames_per_video"]:
                counts = list(info["frames_per_video"].values())
                value = f"{value:,} ({min(counts)}-{max(counts)} per video)"
            elif key in ("videos", "anomalous_frames") and isinstance(value, int):
                value = f"{value:,}"
                if key == "anomalous_frames" and info["frames"]:
                    value += f" ({info['anomalous_frames'] / info['frames']:.1%})"
            elif key == "label_coverage" and split == "training" and not info["ground_truth"]:
                value = None
            cells.append(plain(_fmt(value)))
        table.add_row(label, *cells)
    for split, info in splits.items():
        for alt in info.get("label_alternatives", []):
            agrees = alt.get("agrees")
            note = "agrees" if agrees else f"differs on {alt.get('differing_frames', '?')} frames"
            if alt.get("error"):
                note = f"unreadable: {alt['error']}"
            cells = [plain(f"{alt['path']} ({note})") if s == split else "" for s in splits]
            table.add_row("other ground truth", *cells)
    return table


#: `vadkit data check` lists each video of a split with at most this many (all of them: --json).
VIDEO_ROWS = 20


def _videos_table(split: str, info: dict[str, Any]) -> Table:
    """One row per video of a split: kind, path, frames, size and anomalous frames."""
    rows = info["video_list"]
    files, folders = info["video_files"], info["frame_folders"]
    kinds = f"{files} video file{'s' * (files != 1)}, {folders} frame folder{'s' * (folders != 1)}"
    table = Table(title=f"{split} videos ({kinds})", title_justify="left")
    for column in ("video", "kind", "path", "frames", "size"):
        table.add_column(column, overflow="fold", justify="right" if column == "frames" else "left")
    anomalous = info.get("anomalous_frames_per_video")
    if anomalous is not None:
        table.add_column("anomalous frames", justify="right")
    for row in rows[:VIDEO_ROWS]:
        cells = [row["name"], row["kind"], row["path"], f"{row['frames']:,}", row["resolution"]]
        if anomalous is not None:
            cells.append(f"{anomalous.get(row['name'], 0):,}")
        table.add_row(*(plain(_fmt(c)) for c in cells))
    if len(rows) > VIDEO_ROWS:
        table.caption = f"and {len(rows) - VIDEO_ROWS} more (--json lists every video)"
    return table


@data_app.command("check")
def check_cmd(
    root: Annotated[Path, typer.Argument(help="Dataset root folder.")],
    format: Annotated[
        str | None, typer.Option("--format", help="Dataset format (default: detect).")
    ] = None,
    labels: Annotated[
        Path | None, typer.Option(help="Ground-truth file or folder (default: detect).")
    ] = None,
    clip_length: Annotated[
        int, typer.Option(help="Clip length T: videos under T+1 frames are reported.")
    ] = DataSettings.clip_length,
    quick: Annotated[
        bool, typer.Option("--quick", help="Do not decode every frame (faster, finds less).")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Summarise a dataset (layout and why, videos, frames, resolution, labels) and report every
    problem found, with its fix.

    Exits with code 2 when a problem of level "error" is found.
    """
    from vadkit.data.check import check_dataset

    report = check_dataset(
        root,
        format=format,
        labels=labels,
        clip_length=clip_length,
        decode=not quick,
        progress=not json_out,
    )
    if json_out:
        print_json(report)
    else:
        console.print(_summary_table(report))
        for split, info in report["splits"].items():
            console.print(
                f"[bold]{escape(split)}[/bold]: layout [bold]{escape(info['format'])}[/bold], "
                f"because {escape(info['format_reason'])}.",
                soft_wrap=True,
            )
            if info["video_list"]:
                console.print(_videos_table(split, info))
        problems = report["problems"]
        if not problems:
            console.print("[green]No problems found.[/green]")
        for p in problems:
            style = "red" if p["severity"] == "error" else "yellow"
            where = "/".join(x for x in (p["split"], p["video"]) if x)
            text = f"[{style}]{p['severity']}[/{style}] {escape(where)}: {escape(p['message'])}"
            console.print(text, soft_wrap=True)
            if p["hint"]:
                console.print(f"  [dim]{escape(p['hint'])}[/dim]", soft_wrap=True)
    if not report["ok"]:
        raise typer.Exit(code=2)


def _size(size: int | None) -> str:
    return "size unknown" if size is None else f"{size:,} bytes"


def _list_downloads(found: dict[str, RegisteredDownload], json_out: bool) -> None:
    rows = sorted(found.values(), key=lambda r: r.download.name)
    if json_out:
        print_json(
            [
                {
                    "name": r.download.name,
                    "title": r.download.title,
                    "automatic": r.download.automatic,
                    "homepage": r.download.homepage,
                    "manual": r.download.manual,
                    "plugin": r.plugin,
                    "archives": [
                        {"file": a.file, "size": a.size, "sha256": a.sha256, "urls": list(a.urls)}
                        for a in r.download.archives
                    ],
                }
                for r in rows
            ]
        )
        return
    table = Table(title="Datasets vadkit can download", title_justify="left")
    table.add_column("name", style="bold cyan")
    table.add_column("dataset")
    table.add_column("archives")
    table.add_column("fetched")
    table.add_column("plugin", style="magenta")
    for r in rows:
        d = r.download
        archives = "\n".join(f"{a.file} ({_size(a.size)})" for a in d.archives)
        fetched = "automatically" if d.automatic else "by hand, --archive FILE"
        if d.manual and d.automatic:
            fetched += " (see below)"
        table.add_row(plain(d.name), plain(d.title), plain(archives), fetched, plain(r.plugin))
    console.print(table)
    for r in rows:
        if r.download.manual:
            console.print(f"{r.download.name}: {r.download.manual}", markup=False)
    console.print("Download one with: vadkit data download NAME --to DIR", markup=False)


def _print_result(result: DownloadResult, registered: RegisteredDownload) -> None:
    if result.existed:
        console.print(
            f"[bold]{plain(result.folder)}[/bold] is already there: an earlier download "
            "finished it, nothing was fetched.",
            soft_wrap=True,
        )
    else:
        console.print(
            f"Downloaded [bold]{plain(result.name)}[/bold] ({plain(result.title)}) into "
            f"[bold]{plain(result.folder)}[/bold].",
            soft_wrap=True,
        )
        kept = [a for a in result.archives if a.source != "given with --archive"]
        if kept and kept[0].path.exists():
            size = sum(a.path.stat().st_size for a in kept if a.path.exists())
            console.print(
                f"The archives are kept in {plain(kept[0].path.parent)} ({size:,} bytes; "
                "checked again whenever they are used): delete them, or pass "
                "--no-keep-archives next time, to free the space.",
                style="dim",
            )
    for note in registered.download.notes:
        console.print(f"Note: {plain(note)}")
    for root in result.roots:
        console.print(f"Check it with: vadkit data check {root}", markup=False, soft_wrap=True)


@data_app.command("download")
def download_cmd(
    name: Annotated[
        str | None,
        typer.Argument(help="Dataset to download (leave out to list those vadkit can download)."),
    ] = None,
    to: Annotated[
        Path,
        typer.Option(
            "--to",
            help="Folder that receives the dataset folder NAME (and vadkit-archives/, the "
            "downloaded archives).",
        ),
    ] = Path("."),
    archive: Annotated[
        list[Path] | None,
        typer.Option(
            "--archive",
            help="An archive you downloaded yourself (repeat for several): checked against its "
            "sha256 and read where it is.",
            show_default=False,
        ),
    ] = None,
    keep_archives: Annotated[
        bool,
        typer.Option(
            "--keep-archives/--no-keep-archives",
            help="Keep the downloaded archives once the dataset is in place.",
        ),
    ] = True,
    quiet: QuietOpt = False,
    json_out: JsonFlag = False,
) -> None:
    """Download a dataset into DIR/NAME, in a layout `vadkit data check` reads.

    Mirrors are tried in order and transfers resume; every archive is checked against its
    sha256 each time it is used, and extracted only inside DIR/NAME.

    Exit code 2: a wrong checksum (the file is kept aside, never used), a refused archive or a
    folder in the way. Exit code 1: no mirror worked (run it again to resume).
    """
    from vadkit.cli.progress import TransferBars
    from vadkit.data.download import download_dataset, find_download, registered_downloads

    if name is None:
        _list_downloads(registered_downloads(), json_out)
        return
    registered = find_download(name)
    bars = TransferBars(quiet=quiet)
    try:
        result = download_dataset(
            name, to, archives=list(archive or []), keep_archives=keep_archives, reporter=bars
        )
    finally:
        bars.stop()
    if json_out:
        print_json(result.as_dict())
        return
    _print_result(result, registered)
    if not quiet and result.existed and archive:
        err_console.print("(--archive was not needed.)", style="dim")


app.add_typer(data_app, name="data")
