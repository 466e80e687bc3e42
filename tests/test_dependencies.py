"""Every dependency that pyproject.toml declares is imported by vadkit or its built-in plugins."""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Distribution name -> import name, where the two differ beyond case and '-' vs '_'.
IMPORT_NAMES = {"scikit-learn": "sklearn", "pillow": "PIL", "pyyaml": "yaml"}


def declared() -> list[str]:
    """The requirement strings of ``[project] dependencies``."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def import_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, f"cannot read a distribution name from {requirement!r}"
    dist = match.group(0).lower()
    return IMPORT_NAMES.get(dist, dist.replace("-", "_").replace(".", "_"))


def imported_modules(*folders: Path) -> set[str]:
    """Top-level names of every absolute import statement in the folders' modules, including
    imports inside functions."""
    names: set[str] = set()
    for folder in folders:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names


def unused(requirements: list[str], imported: set[str]) -> list[str]:
    return [r for r in requirements if import_name(r) not in imported]


IMPORTED = imported_modules(ROOT / "vadkit", ROOT / "plugins")


def test_every_declared_dependency_is_imported():
    assert unused(declared(), IMPORTED) == [], (
        "declared in pyproject.toml but imported nowhere under vadkit/ or plugins/: remove them, "
        "or add the import name to IMPORT_NAMES if it differs from the distribution's name"
    )


def test_import_names_are_those_of_the_installed_packages():
    wrong = [r for r in declared() if importlib.util.find_spec(import_name(r)) is None]
    assert wrong == [], f"no module of that name is installed for {wrong}: fix IMPORT_NAMES"


def test_an_unused_dependency_is_caught():
    assert unused([*declared(), "xformers>=0.1", "torchvision"], IMPORTED) == [
        "xformers>=0.1",
        "torchvision",
    ]


def test_timm_does_real_work():
    """timm is declared for the optimizer, schedule and EMA of training and for a backbone."""
    assert "timm" in IMPORTED
    used = set()
    for path in (ROOT / "vadkit" / "training" / "optim.py",):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("timm"):
                used.update(f"{node.module}.{a.name}" for a in node.names)
    assert {
        "timm.optim.create_optimizer_v2",
        "timm.scheduler.create_scheduler_v2",
        "timm.utils.ModelEmaV3",
    } <= used


def test_imports_inside_functions_and_from_imports_are_seen(tmp_path):
    (tmp_path / "m.py").write_text(
        "import os.path\n"
        "from numpy import array\n"
        "from . import sibling\n"
        "def f():\n"
        "    import scipy.ndimage\n"
        "    from PIL import Image\n"
    )
    assert imported_modules(tmp_path) == {"os", "numpy", "scipy", "PIL"}
    assert import_name("scikit-learn>=1.4") == "sklearn" and import_name("Pillow>=10") == "PIL"
    assert import_name("av>=12") == "av" and import_name("PyYAML") == "yaml"
