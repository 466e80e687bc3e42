"""benchmarks/review.py counts what a reviewer asks about: module sizes, functions with 15+
parameters, ``dict[str, Any]`` returns and the callers of ``window_scores``. Tested on a small
package written here, where each count is known."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from review import review  # noqa: E402


def test_the_review_counts_a_package_whose_numbers_are_known(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    many = ", ".join(f"a{i}" for i in range(15))
    (pkg / "__init__.py").write_text("")
    (pkg / "big.py").write_text(
        "from typing import Any\n"
        f"def wide({many}): pass\n"
        "class C:\n"
        f"    def method(self, {', '.join(f'b{i}' for i in range(14))}): pass\n"
        "def record() -> dict[str, Any]:\n    return {}\n" + "\n" * 20
    )
    (pkg / "sub" / "score.py").write_text("def f(model, x):\n    return model.window_scores(x)\n")
    got = review(pkg)
    assert len(got.modules) == 3
    assert got.modules[0][1] == "pkg/big.py" and got.modules[0][0] > 20
    assert got.many_parameters == [(15, "pkg/big.py:wide")]  # self is not counted: 14 stays out
    assert got.dict_returns == ["pkg/big.py:record"]
    assert got.window_scores_callers == ["pkg/sub/score.py"]


def test_the_script_reviews_vadkit_and_refuses_a_missing_folder(tmp_path: Path) -> None:
    script = ROOT / "benchmarks" / "review.py"
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("# vadkit\nmodules: ")
    assert "modules calling window_scores:" in done.stdout
    bad = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "nope")], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "is not a folder of Python modules" in bad.stderr
