"""A third-party plugin installed with pip appears in vadkit with no change to vadkit."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "vadkit-example-plugin"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> Path:
    """A fresh virtual environment that sees this one's packages (torch is not copied) and has
    the example plugin pip-installed into it, and only into it."""
    env = tmp_path_factory.mktemp("plugin-env") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    purelib = subprocess.check_output(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip()
    outer = [p for p in site.getsitepackages() if Path(p).is_dir()]
    # "import" lines of a .pth file run at start-up: addsitedir also runs the outer .pth files
    # (vadkit's editable install lives in one of them).
    lines = [f"import site; site.addsitedir({p!r})" for p in outer]
    (Path(purelib) / "_outer_env.pth").write_text("\n".join(lines) + "\n")
    # build from a copy: an in-tree build would leave an .egg-info folder in examples/
    source = env.parent / "plugin-src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("*.egg-info", "build"))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-build-isolation", str(source)],
        check=True,
    )  # fmt: skip
    return python


def vadkit_json(python: Path, *args: str) -> object:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VADKIT_")}
    out = subprocess.run(
        [str(python), "-m", "vadkit", *args, "--json"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_plugin_is_not_in_this_environment():
    out = subprocess.run(
        [sys.executable, "-m", "vadkit", "list", "errors", "--json"], capture_output=True, text=True
    )
    assert "mae" not in {r["name"] for r in json.loads(out.stdout)}


def test_installed_plugin_components_are_listed(plugin_env):
    for kind, name in [("errors", "mae"), ("normalizers", "zscore"), ("backbones", "tiny_ae"),
                       ("tasks", "motion"), ("tasks", "arrow")]:  # fmt: skip
        rows = {r["name"]: r for r in vadkit_json(plugin_env, "list", kind)}  # type: ignore[union-attr]
        assert name in rows, f"{name} missing from `vadkit list {kind}`"
        assert rows[name]["plugin"] == "example"
        assert rows[name]["summary"]


def test_installed_plugin_in_vadkit_plugins(plugin_env):
    info = {p["name"]: p for p in vadkit_json(plugin_env, "plugins")}  # type: ignore[union-attr]
    assert info["example"]["version"] == "0.2.0"
    assert info["example"]["status"] == "loaded"
    assert info["example"]["components"] == {
        "backbones": ["tiny_ae"], "errors": ["mae"], "normalizers": ["zscore"],
        "tasks": ["arrow", "motion"], "recipes": ["example-tiny"],
    }  # fmt: skip
    assert info["luss"]["status"] == "loaded"


def test_plugin_own_tests_pass_with_vadkit_testing(plugin_env):
    out = subprocess.run(
        [str(plugin_env), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "7 passed" in out.stdout
