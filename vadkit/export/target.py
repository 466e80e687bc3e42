"""Where ``vadkit export`` may write a bundle: never over anything it did not write.

A bundle replaces its ``--out`` folder as a whole (:func:`vadkit.storage.folders.staged_folder`),
so :func:`check_target` refuses, before anything is computed or written, an ``--out`` that is a
file or a link, a run folder, a folder that is not a bundle (a folder of runs, ``RUN/checkpoints``,
any folder of the user's), and a bundle holding what its export did not write: the score sets
``vadkit score BUNDLE`` wrote in ``scores/``, or any other file. An empty folder, or a bundle
holding exactly what its export wrote (and the lock files of ``vadkit score``), is replaced.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from vadkit.errors import ConfigError
from vadkit.runtime.bundle import BUNDLE_FILE, is_bundle
from vadkit.scoring.scoreset import SCORES_DIR, list_score_sets
from vadkit.storage.lock import LOCK_FILES

_NOTHING = "Nothing was written."


def _listed(names: list[str]) -> str:
    shown = ", ".join(sorted(names)[:4])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 4 else "")


def written_by_export(bundle: Path) -> set[str]:
    """The entries of the folder ``bundle`` that its export wrote: ``bundle.json`` and every
    file its ``files`` lists (nothing more when ``bundle.json`` cannot be read)."""
    try:
        recorded = json.loads((bundle / BUNDLE_FILE).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        recorded = None
    names = recorded if isinstance(recorded, dict) else {}
    return {BUNDLE_FILE} | {PurePosixPath(str(n)).parts[0] for n in names if str(n)}


def check_target(target: Path, run_dir: Path) -> None:
    """Refuse (:class:`ConfigError`, exit 2) an ``--out`` that export would replace but did not
    write; see the module's docstring."""
    fix = f"Export into a new folder: vadkit export {run_dir} --out NEW_DIR. {_NOTHING}"
    if target.is_symlink():
        raise ConfigError(f"--out '{target}' is a link; a bundle is a folder.", hint=fix)
    if not target.exists():
        return
    if not target.is_dir():
        raise ConfigError(f"--out '{target}' is a file, not a bundle folder.", hint=fix)
    if (target / "config.toml").exists():
        raise ConfigError(f"--out '{target}' is a run folder.", hint=fix)
    entries = [p.name for p in target.iterdir() if p.name not in LOCK_FILES]
    if not entries:
        return
    if not is_bundle(target):
        raise ConfigError(
            f"--out '{target}' exists and is not a bundle (it holds {_listed(entries)}); "
            "export replaces its --out folder as a whole.",
            hint=fix,
        )
    scores = target / SCORES_DIR
    if scores.exists() and any(scores.iterdir()):
        sets = list_score_sets(target)
        held = f"the score sets {_listed(sets)}" if sets else "files"
        raise ConfigError(
            f"Bundle '{target}' holds {held} in {SCORES_DIR}/, which exporting over it would "
            "delete.",
            hint=f"Export into a new folder (--out NEW_DIR), or move '{scores}' away first. "
            f"{_NOTHING}",
        )
    foreign = [e for e in entries if e not in written_by_export(target) and e != SCORES_DIR]
    if foreign:
        raise ConfigError(
            f"Bundle '{target}' holds {_listed(foreign)}, which its export did not write and "
            "exporting over it would delete.",
            hint=f"Export into a new folder (--out NEW_DIR), or move them away first. {_NOTHING}",
        )
