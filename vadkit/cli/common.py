"""Shared pieces of the command line: consoles, option aliases, error display."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import unicodedata
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from vadkit.compute.reports import RankFailure
from vadkit.errors import ConfigError, VadkitError

console = Console()
err_console = Console(stderr=True)

#: Invisible characters that reorder how text is shown (bidirectional embeddings, overrides and
#: isolates): a name holding one prints as another.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def control_characters(text: str) -> list[str]:
    """The control characters of ``text``, each once: C0 and C1 controls (a newline, a tab, an
    escape sequence's ESC, DEL), the line and paragraph separators, and the bidirectional
    controls. Other invisible characters (the joiners of emoji sequences) are left alone."""
    found = [
        ch for ch in text if unicodedata.category(ch) in ("Cc", "Zl", "Zp") or ch in _BIDI_CONTROLS
    ]
    return list(dict.fromkeys(found))


def plain_name(param: typer.CallbackParam, value: object) -> object:
    """Option callback of every option that takes a name (``--name``, ``--scores``, ``--error``,
    ``--normalizer``, ...): a value with a control character is refused in one line naming it
    (written as Python would, so that the character shows), exit 2. A name becomes a folder, a
    file or a line of a log, where a newline or an escape sequence would forge another."""
    for text in value if isinstance(value, list | tuple) else [value]:
        if isinstance(text, str) and (found := control_characters(text)):
            option = max(param.opts, key=len) if param.opts else str(param.name)
            chars = ", ".join(repr(ch) for ch in found)
            raise ConfigError(
                f"{option} {text!r} contains a control character ({chars}).",
                hint="Names are plain text: type it again without the control character.",
            )
    return value


JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]

# Arguments and options shared by the commands that score and evaluate a run.
RunArg = Annotated[Path, typer.Argument(help="Run folder written by `vadkit train`.")]
ScoreSetOpt = Annotated[
    str,
    typer.Option("--scores", help="Score set to use (RUN/scores/<name>).", callback=plain_name),
]

# Options shared by the commands that load a run's weights (score, watch, maps, export).
CheckpointOpt = Annotated[
    str, typer.Option("--checkpoint", help="'last', an epoch number, or a .safetensors path.")
]
CalibrationDataOpt = Annotated[
    Path | None,
    typer.Option(
        "--calibration-data",
        help="Dataset root whose training split (normal videos) calibrates the run "
        "(default: the run's data.root).",
        show_default=False,
    ),
]
#: ``--device`` of the commands that take a run or a bundle (score, watch).
DeviceOpt = Annotated[
    str,
    typer.Option(
        "--device",
        help="auto, cpu, cuda or cuda:N; for a bundle also onnxruntime or openvino.",
    ),
]
#: ``--precision`` help of the commands that take a run or a bundle (score, watch).
PRECISION_HELP = (
    "auto, fp32, bf16 or fp16 (CUDA); for a bundle: auto (its int8 model where kept, else "
    "fp32), fp32, int8, or bf16 (OpenVINO)."
)
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]

ErrorOpt = Annotated[
    str | None,
    typer.Option(
        "--error",
        help="Error measure (default: the run's score.error).",
        show_default=False,
        callback=plain_name,
    ),
]
NormOpt = Annotated[
    str | None,
    typer.Option(
        "--normalizer",
        help="Per-video normalizer (default: the run's).",
        show_default=False,
        callback=plain_name,
    ),
]
SmoothOpt = Annotated[
    float | None,
    typer.Option(
        "--smooth",
        help="Gaussian temporal smoothing of the normalised scores, sigma in frames "
        "(default: the run's score.smooth; 0 = the paper's protocol, no smoothing).",
        show_default=False,
    ),
]

WeightsOpt = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="'default': the weights' moving average when the run kept one (train.ema), "
        "else the last checkpoint; 'last' (or --checkpoint); 'ema'; 'auto': the candidate "
        "chosen on the held-out validation videos (data.val_videos) by the lowest proxy loss, "
        "or the highest pseudo-AUROC (score.weights_criterion). The same for score, watch, "
        "export and vadkit.load. Default: the run's score.weights.",
        show_default=False,
    ),
]

CriterionOpt = Annotated[
    str | None,
    typer.Option(
        "--criterion",
        help="What --weights auto chooses by: 'loss', the lowest proxy loss on the held-out "
        "validation videos; 'pseudo', the highest pseudo-AUROC on them (vadkit validate). "
        "Default: the run's score.weights_criterion.",
        show_default=False,
        callback=plain_name,
    ),
]

AlphasOpt = Annotated[
    str | None,
    typer.Option(
        "--alphas",
        help="Fusion weights: a preset of the run's recipe (e.g. a dataset's name), 'a1,a2,a3' "
        "in task order, or 'TASK=WEIGHT,...'. Default: the run's score.alphas.",
        show_default=False,
    ),
]

#: The flags of the commands that run on N processes (train, score).
NPROC_FLAGS = ("--nproc", "--devices")


def nproc_option(work: str) -> typer.models.OptionInfo:
    """``--nproc N`` / ``--devices N``; ``work`` says what each process does."""
    return typer.Option(
        *NPROC_FLAGS,
        metavar="N",
        min=1,
        help=f"Run on N processes of this machine (one per GPU, or CPU processes), started by "
        f"torch's elastic launcher (as torchrun --standalone --nproc-per-node N -m vadkit ... "
        f"does): {work}",
        show_default=False,
    )


#: The arguments of this invocation (what ``--nproc`` hands to the processes it starts); the
#: entry point (:func:`vadkit.cli.app.main`) fills it.
invoked_args: list[str] = []


def launch_processes(nproc: int | None, extra: list[str] | None = None) -> None:
    """With ``--nproc N`` outside a distributed launch: run this command again on N processes
    (its arguments less ``--nproc``, plus ``extra``) and exit with their status, a failure told
    once (:func:`show_failure`): not once per process, and without a traceback."""
    if nproc is None:
        return
    from vadkit.compute import distributed

    if distributed.current().distributed:
        return
    args = distributed.strip_option(invoked_args, NPROC_FLAGS) + list(extra or [])
    launched = distributed.launch(nproc, args)
    if launched.failure is not None:
        show_failure(launched.failure)
    raise typer.Exit(launched.exit_code)


def show_failure(failure: RankFailure) -> None:
    """How one of the processes of ``--nproc`` failed, as one process would have said it: a
    vadkit error's panel, ``Interrupted.``, or one line naming the rank, the exception and the
    file that holds its traceback."""
    if failure.kind == "error":
        show_error(VadkitError(failure.message, hint=failure.hint))
    elif failure.kind == "interrupted":
        err_console.print("[yellow]Interrupted.[/yellow]")
    else:
        err_console.print(Text(f"vadkit: {failure.line()}", style="red"), soft_wrap=True)


def parse_csv(value: str | None) -> list[str]:
    """``"vcr, ffp,prp"`` -> ``["vcr", "ffp", "prp"]``."""
    if not value:
        return []
    return [p.strip() for p in value.split(",") if p.strip()]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def plain(value: object) -> str:
    """``value`` as markup that prints literally: paths, names and values a user chose (``[/x]``,
    ``[bold]``) are text, never rich markup."""
    return escape(str(value))


def show_error(exc: VadkitError) -> None:
    """The error's message and hint in a red panel, printed as plain text (never as markup)."""
    body = Text(exc.message)
    if exc.hint:
        body.append("\n")
        body.append(exc.hint, style="dim")
    err_console.print(Panel(body, title="vadkit: error", title_align="left", border_style="red"))


def one_line(text: str) -> str:
    """``text`` with its lines joined by spaces (a warning is one line)."""
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the command line: ``warning: <message>`` on one line of
    stderr, as plain text, without the source line Python would print."""
    text = Text("warning: ", style="yellow")
    text.append(one_line(str(message)))
    err_console.print(text, soft_wrap=True)


@contextlib.contextmanager
def cli_warnings() -> Iterator[None]:
    """Show warnings with :func:`show_warning` inside the block (library use keeps Python's)."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # each distinct warning once per command
        warnings.showwarning = show_warning
        yield


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT raises :class:`KeyboardInterrupt` inside the block, also in a process that started
    with it ignored: a shell starts background jobs (``vadkit score ... &``) so, and Python then
    installs no handler, so ``kill -INT`` would do nothing. Every command runs in it (the
    entry point, :func:`vadkit.cli.app.main`): an interrupted ``score`` exits 130 keeping the
    previous set, ``watch`` closes its alerts. The disposition found is restored afterwards;
    elsewhere than in the main thread nothing changes. (``train`` installs its own handler,
    which stops after the step in progress.)"""
    ignored = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    )
    if not ignored:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Stop a command with a usage error (exit code 2)."""
    raise VadkitError(message, hint=hint)
