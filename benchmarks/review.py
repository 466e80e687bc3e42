"""Review numbers of the code base, as a new maintainer would count them.

    python benchmarks/review.py [PACKAGE_DIR ...]      # default: vadkit

Prints, per package folder: the number of modules and the largest ones (lines), the functions
that take 15 or more parameters, the functions annotated to return ``dict[str, Any]``, and the
modules that call ``window_scores`` (the model's one scoring call). Import cycles are not
counted here: ``tests/test_architecture.py`` finds them with grimp and asserts there are none.

A reading aid, not a check: nothing here fails; the tests hold the rules.
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass, field
from pathlib import Path

MANY_PARAMETERS = 15


@dataclass
class Review:
    modules: list[tuple[int, str]] = field(default_factory=list)  # (lines, path)
    many_parameters: list[tuple[int, str]] = field(default_factory=list)  # (count, path:function)
    dict_returns: list[str] = field(default_factory=list)  # path:function
    window_scores_callers: list[str] = field(default_factory=list)  # paths


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    args = node.args
    count = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
    positional = args.posonlyargs + args.args
    if positional and positional[0].arg in ("self", "cls"):
        count -= 1
    return count


def review(package: Path) -> Review:
    out = Review()
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package.parent).as_posix()
        source = path.read_text(encoding="utf-8")
        out.modules.append((len(source.splitlines()), name))
        tree = ast.parse(source, filename=name)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "window_scores"
                and name not in out.window_scores_callers
            ):
                out.window_scores_callers.append(name)
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if (count := _parameters(node)) >= MANY_PARAMETERS:
                out.many_parameters.append((count, f"{name}:{node.name}"))
            if node.returns is not None and "dict[str, Any]" in ast.unparse(node.returns):
                out.dict_returns.append(f"{name}:{node.name}")
    out.modules.sort(reverse=True)
    out.many_parameters.sort(reverse=True)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", type=Path, default=[Path("vadkit")])
    parser.add_argument("--largest", type=int, default=5, help="how many of the largest to list")
    args = parser.parse_args(argv)
    for package in args.packages:
        if not package.is_dir():
            parser.error(f"{package} is not a folder of Python modules")
        got = review(package)
        print(f"# {package}")
        print(f"modules: {len(got.modules)}")
        for lines, name in got.modules[: args.largest]:
            print(f"  {lines:5d} lines  {name}")
        print(f"functions with {MANY_PARAMETERS}+ parameters: {len(got.many_parameters)}")
        for count, name in got.many_parameters:
            print(f"  {count:3d}  {name}")
        print(f"functions returning dict[str, Any]: {len(got.dict_returns)}")
        print(f"modules calling window_scores: {len(got.window_scores_callers)}")
        for name in got.window_scores_callers:
            print(f"  {name}")


if __name__ == "__main__":
    main()
