"""The light install (requirements-runtime.txt, then ``pip install --no-deps vadkit``: no torch, no
matplotlib): ``vadkit evaluate BUNDLE`` gives its tables and JSON with the plots skipped in one
note, and every command that needs torch says so in one message (exit 2, no traceback)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import LIGHT_INSTALL, quiet_machine, run_cli
from test_stream import write_video

import vadkit

ROOT = Path(__file__).resolve().parents[1]

#: Runs each ``vadkit`` command of argv[1] (a JSON list of argument lists) in this interpreter;
#: prints one JSON list of [exit code, stdout, stderr]. A traceback is kept as stderr.
_RUNNER = """
import contextlib, io, json, sys, traceback
from vadkit.cli import main
sys.argv[0] = "vadkit"
results = []
for args in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except BaseException:
            code = -1
            err.write(traceback.format_exc())
    results.append([code, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(results))
"""


def light(*commands: list[str]) -> list[tuple[int, str, str]]:
    """Run the commands in one interpreter of the light install; (code, stdout, stderr) each."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(LIGHT_INSTALL), str(ROOT), str(ROOT / "plugins")])
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, json.dumps([list(c) for c in commands])],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return [(int(code), out, err) for code, out, err in json.loads(done.stdout)]


def flat(text: str) -> str:
    """``text`` as one line: a panel's borders and wrapping removed."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.fixture(scope="module", autouse=True)
def _env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with quiet_machine(tmp_path_factory.mktemp("cache")):
        yield


@pytest.fixture(scope="module")
def bundle(tiny_run: vadkit.Run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run exported (with the full install: this process has torch)."""
    out = tmp_path_factory.mktemp("bundles") / "bundle"
    assert run_cli(["export", str(tiny_run.path), "--out", str(out), "--quiet"]) == 0
    return out


def test_the_light_install_lacks_torch_and_matplotlib_and_lists_every_command() -> None:
    env = {**os.environ, "PYTHONPATH": str(LIGHT_INSTALL)}
    for module in ("torch", "matplotlib"):
        probe = subprocess.run(
            [sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True
        )
        assert probe.returncode != 0 and f"No module named '{module}'" in probe.stderr
    (help_code, listing, _), (version_code, version, _) = light(["--help"], ["--version"])
    assert help_code == 0 and version_code == 0 and vadkit.__version__ in version
    for command in (
        *("train", "score", "evaluate", "watch", "export", "maps", "report", "demo"),
        "validate",
    ):
        assert f" {command} " in listing  # no command module imports torch when it is loaded


def test_evaluate_a_bundle_in_the_light_install_skips_only_the_plots(
    bundle: Path, tiny_scene: Path
) -> None:
    scored, table, as_json = light(
        ["score", str(bundle), "--data", str(tiny_scene), "--frames", "all", "--quiet"],
        ["evaluate", str(bundle)],
        ["evaluate", str(bundle), "--json"],
    )
    assert scored[0] == 0, scored[2]
    code, out, err = table
    assert code == 0, err
    assert "Frame-level detection" in out and "fused" in out and "micro AUROC" in out
    notes = [line for line in err.splitlines() if line.strip()]
    assert notes == [
        "warning: plots skipped: matplotlib is not installed (pip install matplotlib draws them)"
    ]
    assert not (bundle / "plots").exists()
    code, out, err = as_json
    assert code == 0 and "Traceback" not in err
    result = json.loads(out)
    assert result["plots_skipped"].startswith("matplotlib is not installed")
    assert 0.0 <= result["results"]["fused"]["micro_auroc"] <= 1.0 and "plots" not in result
    saved = json.loads((bundle / "evaluation.json").read_text())
    assert saved["results"] == result["results"]


def test_every_command_that_needs_torch_says_so_in_one_message(
    tiny_run: vadkit.Run, bundle: Path, tiny_scene: Path, tmp_path: Path
) -> None:
    run = str(tiny_run.path)
    frames = np.zeros((12, 32, 32), np.uint8)
    video = str(write_video(tmp_path / "clip.avi", frames))
    new = tmp_path / "new"
    commands = [
        ["train", "--data", str(tiny_scene), "--out", str(new / "run"), "-q"],
        ["score", run, "--quiet"],
        ["watch", run, video, "--quiet"],
        ["export", run, "--out", str(new / "bundle")],
        ["maps", run, "01", "--out", str(new / "maps")],
        ["demo", "--quick", "--out", str(new / "demo")],
        ["validate", run],
        ["search", run, "--on", "pseudo"],
        ["describe", "error", "bpe"],  # a component of torch: not the plugin's fault
    ]
    for args, (code, _, err) in zip(commands, light(*commands), strict=True):
        who = "The error 'bpe'" if args[0] == "describe" else f"vadkit {args[0]}"
        text = flat(err)
        assert code == 2, (args, err)
        assert f"{who} needs torch, which is not installed" in text, (args, err)
        assert "Install it: pip install 'torch>=" in text, (args, err)
        assert "Traceback" not in err and err.count("vadkit: error") == 1, (args, err)
    assert not new.exists()  # nothing written
    # report imports no torch (it reads score sets; the anomaly maps it would compute are left
    # out with a note): an unscored run is refused for what it is, in one message
    ((code, _, err),) = light(["report", run, "--out", str(tmp_path / "r.html")])
    assert code == 2 and "has no scores yet" in flat(err) and "Traceback" not in err
