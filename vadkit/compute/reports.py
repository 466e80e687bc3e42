"""What a process started by ``vadkit ... --nproc N`` reports when it fails (no torch).

:func:`vadkit.compute.distributed.launch` gives the processes it starts a folder
(:data:`REPORT_ENV`). A process that ends on a vadkit error, an interrupt or any other exception
writes ``rank-N.json`` there (:func:`report_failure`) and prints nothing; the launcher reads the
reports (:func:`read_failures`) and says the one that explains the failure (:func:`first_failure`)
once: the same vadkit error that every rank raised, or the one rank whose error made the others
fail (a peer that left closes their connections), never once per rank and never a traceback.
"""

from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

#: The folder where the processes of one launch leave their failure reports.
REPORT_ENV = "VADKIT_LAUNCH_REPORTS"
#: Kinds of failure, the one that explains a failure best first: a vadkit error names the cause
#: and its fix; an interrupt was asked for; any other exception may be a consequence of either
#: (a rank whose peer left fails in its next collective).
KINDS = ("error", "interrupted", "crash")


@dataclass(frozen=True)
class RankFailure:
    """How one process ended: ``kind`` (:data:`KINDS`), the exit code it chose, its message and
    hint, and for a crash the file holding its traceback."""

    rank: int
    kind: str
    exit_code: int
    message: str
    hint: str | None = None
    traceback: str | None = None
    time: float = 0.0

    def line(self) -> str:
        """One line for a crash: the rank, the exception and where its traceback is."""
        where = f" (traceback: {self.traceback})" if self.traceback else ""
        return f"rank {self.rank} failed: {self.message}{where}"


def launched() -> bool:
    """True in a process that :func:`vadkit.compute.distributed.launch` started."""
    return bool(os.environ.get(REPORT_ENV, "").strip())


def report_failure(
    kind: str,
    exit_code: int,
    message: str,
    *,
    hint: str | None = None,
    error: BaseException | None = None,
) -> bool:
    """In a launched process, write this process's failure for the launcher and return True
    (the caller prints nothing); elsewhere do nothing and return False. ``error``: the exception
    of a crash, whose traceback is kept in ``rank-N.traceback.txt`` beside the report."""
    folder = os.environ.get(REPORT_ENV, "").strip()
    if not folder or kind not in KINDS:
        return False
    rank = os.environ.get("RANK", "0").strip() or "0"
    base = Path(folder) / f"rank-{rank}"
    kept = None
    try:
        if error is not None:
            kept = base.with_suffix(".traceback.txt")
            kept.write_text("".join(traceback.format_exception(error)), encoding="utf-8")
        report = RankFailure(
            rank=int(rank),
            kind=kind,
            exit_code=int(exit_code),
            message=message,
            hint=hint,
            traceback=None if kept is None else str(kept),
            time=time.time(),
        )
        partial = base.with_suffix(".json.tmp")
        partial.write_text(json.dumps(asdict(report)), encoding="utf-8")
        os.replace(partial, base.with_suffix(".json"))
    except (OSError, ValueError):  # the launcher's folder is gone: say it here instead
        return False
    return True


def read_failures(folder: Path) -> list[RankFailure]:
    """The reports in ``folder`` (unreadable ones left out)."""
    found = []
    for path in sorted(folder.glob("rank-*.json")):
        try:
            found.append(RankFailure(**json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    return found


def first_failure(failures: list[RankFailure]) -> RankFailure | None:
    """The failure to tell the user: the best kind (:data:`KINDS`), then the earliest."""
    if not failures:
        return None
    return min(failures, key=lambda f: (KINDS.index(f.kind), f.time, f.rank))
