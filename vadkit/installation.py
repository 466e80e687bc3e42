"""What this installation of vadkit has: the dependencies it declares, and the one error for a
declared one that is not installed.

The light install (``requirements-runtime.txt`` then ``pip install --no-deps vadkit``) has no
torch and no matplotlib: it scores, watches and evaluates exported bundles. A command or a
component that imports one of the missing packages says which one and the pip command that adds
it (:func:`missing_dependency`), instead of a traceback or blaming a plugin. Torch-free.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re

from vadkit.errors import VadkitError

#: The distribution whose declared dependencies are read.
DISTRIBUTION = "vadkit"


def declared_requirements() -> dict[str, str]:
    """Import name -> requirement (``"torch>=2.10"``, ``'onnx>=1.16; extra == "deploy"'``) of
    every dependency the installed vadkit declares (an extra's too), read from its metadata, so
    that nothing here repeats ``pyproject.toml``; empty when vadkit is not installed. Only
    distributions imported under their own name are found (``torch``, ``matplotlib``; not
    ``scikit-learn``, which the light install has)."""
    try:
        declared = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return {}
    out: dict[str, str] = {}
    for requirement in declared:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if match:
            out.setdefault(match.group(0).lower().replace("-", "_"), requirement)
    return out


class MissingDependencyError(VadkitError):
    """A package vadkit declares is not installed here (the light install has no torch)."""


def missing_dependency(exc: ImportError, who: str) -> MissingDependencyError | None:
    """The error saying that ``who`` (``"vadkit train"``, ``"The error measure 'bpe'"``) needs
    the module ``exc`` could not import, with the pip command that adds it; None when that module
    is no dependency vadkit declares (a bug, or a plugin's own dependency: the caller goes on as
    before)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    requirement = declared_requirements().get(top.lower())
    if requirement is None:
        return None
    extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
    if extra:
        install = f'pip install "vadkit[{extra.group(1)}]"'
    else:
        spec = requirement.split(";")[0].strip()
        install = f"pip install '{spec}' (or every dependency of vadkit: pip install vadkit)"
    return MissingDependencyError(
        f"{who} needs {top}, which is not installed (the light install scores, watches and "
        "evaluates exported bundles only).",
        hint=f"Install it: {install}.",
    )
