"""``vadkit list``, ``vadkit describe`` and ``vadkit plugins``."""

from __future__ import annotations

import inspect
import re
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from vadkit.cli.common import JsonFlag, console, fail, plain, print_json
from vadkit.config.params import PARAM_TABLES, params_key
from vadkit.errors import VadkitError
from vadkit.plugins import KINDS, get_host
from vadkit.registry import singular

if TYPE_CHECKING:
    from vadkit.components.recipe import PublishedResult


def normalize_kind(kind: str) -> str:
    k = kind.strip().lower().replace("-", "_")
    if k in KINDS:
        return k
    for plural in (f"{k}s", f"{k[:-1]}ies"):  # error -> errors, pseudo_anomaly -> ..._anomalies
        if plural in KINDS:
            return plural
    fail(f"Unknown component kind '{kind}'.", hint=f"Kinds are: {', '.join(KINDS)}.")


def list_cmd(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
    pattern: Annotated[
        str,
        typer.Argument(
            help="fnmatch pattern, e.g. 'p*'; for backbones, 'timm/PATTERN' lists timm's models."
        ),
    ] = "*",
    json_out: JsonFlag = False,
) -> None:
    """List the registered components of KIND with their summary and plugin."""
    kind = normalize_kind(kind)
    if kind == "backbones" and pattern.startswith(TIMM_PREFIX):
        _list_timm_models(pattern[len(TIMM_PREFIX) :], json_out)
        return
    entries = get_host().registry(kind).entries(pattern)
    if json_out:
        print_json(
            [
                {"name": e.name, "summary": e.summary, "plugin": e.plugin, "target": e.target_path}
                for e in entries
            ]
        )
        return
    table = Table(title=f"{kind} matching '{plain(pattern)}'" if pattern != "*" else kind)
    table.add_column("name", style="bold cyan")
    table.add_column("summary")
    table.add_column("plugin", style="magenta")
    for e in entries:
        table.add_row(plain(e.name), plain(e.summary), plain(e.plugin))
    console.print(table)
    if not entries:
        console.print(f"No {kind} match '{pattern}'.", markup=False)


#: ``vadkit list backbones 'timm/PATTERN'`` lists timm's 2-D models for the ``timm`` backbone.
TIMM_PREFIX = "timm/"
TIMM_BACKBONE = "timm"


def _list_timm_models(pattern: str, json_out: bool) -> None:
    """timm's models matching ``pattern`` (``timm.list_models``), each usable as
    ``--backbone timm --set model.params.model=NAME``."""
    import timm

    host = get_host()
    if TIMM_BACKBONE not in host.registry("backbones").names():
        fail(
            f"No backbone named '{TIMM_BACKBONE}' is registered, so timm's models cannot be used.",
            hint="It comes with vadkit's built-in plugin; stop blocking it (--block).",
        )
    names = timm.list_models(pattern or "*")
    use = f"--backbone {TIMM_BACKBONE} --set model.params.model="
    if json_out:
        print_json([{"name": f"{TIMM_PREFIX}{n}", "model": n, "use": use + n} for n in names])
        return
    table = Table(title=f"timm models matching '{plain(pattern)}' ({len(names)})")
    table.add_column("name", style="bold cyan")
    table.add_column("use with")
    for n in names:
        table.add_row(plain(f"{TIMM_PREFIX}{n}"), plain(use + n))
    console.print(table)
    if not names:
        console.print(f"No timm model matches '{pattern}'.", markup=False)


#: ``:role:`target``` or ``:domain:role:`target``` (target may be ``~a.b.c`` or ``text <a.b.c>``).
_ROLE = re.compile(r":(?:[a-z]+:)?[a-z]+:`([^`]+)`")
#: ````x````, possibly over several lines of one paragraph (never across a blank line).
_LITERAL = re.compile(r"``((?:[^`\n]|`(?!`)|\n(?![ \t]*\n))+?)``")


def _role_text(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    labelled = re.fullmatch(r"(.+?)\s*<[^<>]+>", target)
    if labelled:
        return labelled.group(1)
    if target.startswith("~"):
        return target[1:].rsplit(".", 1)[-1]
    return target


def plain_text(doc: str) -> str:
    """A reST-flavoured docstring as plain text: ``x`` -> x, :class:`~a.b.C` -> C, :func:`a.f` ->
    a.f, and a paragraph's closing ``::`` (the start of a literal block) -> ``:``."""
    text = _ROLE.sub(_role_text, doc)
    text = _LITERAL.sub(lambda m: m.group(1), text)
    lines = []
    for line in text.splitlines():
        if line.strip() == "::":
            continue
        line = re.sub(r"\s+::$", "", line.rstrip())  # "text ::" -> "text"
        lines.append(re.sub(r"(\S)::$", r"\1:", line))  # "text::" -> "text:"
    return "\n".join(lines)


def _parameters(factory: Any) -> list[dict[str, str]]:
    from vadkit.config.params import schema_signature

    sig = schema_signature(factory)
    if sig is None:
        return []
    rows = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = p.annotation
        ann_s = (
            ""
            if ann is p.empty
            else (ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann)))
        )
        default = "(required)" if p.default is p.empty else repr(p.default)
        rows.append({"name": p.name, "type": str(ann_s), "default": default})
    return rows


def describe_cmd(
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}.")],
    name: Annotated[str, typer.Argument(help="Component name (see `vadkit list KIND`).")],
    json_out: JsonFlag = False,
) -> None:
    """Show a component's documentation and parameters (types and defaults)."""
    kind = normalize_kind(kind)
    entry = get_host().registry(kind).get(name)
    factory = entry.load()
    doc = plain_text(inspect.cleandoc(factory.__doc__ or ""))
    params = _parameters(factory)
    key = params_key(kind, entry.name) if kind in PARAM_TABLES else None
    if json_out:
        info: dict[str, Any] = {
            "kind": kind,
            "name": entry.name,
            "plugin": entry.plugin,
            "target": entry.target_path,
            "summary": entry.summary,
            "doc": doc,
            "parameters": params,
            "config_key": key,
        }
        if kind == "recipes":
            info["published"] = [asdict(r) for r in _published(entry.name)]
        print_json(info)
        return
    console.print(
        f"[bold cyan]{plain(entry.name)}[/]  ({singular(kind)} from plugin "
        f"[magenta]{plain(entry.plugin)}[/], {plain(entry.target_path)})"
    )
    if doc:
        console.print(doc, markup=False, highlight=False)
    if kind == "recipes":
        _print_recipe(entry.name)
        return
    table = Table(title="parameters")
    for col in ("name", "type", "default"):
        table.add_column(col)
    for row in params:
        table.add_row(plain(row["name"]), plain(row["type"]), plain(row["default"]))
    console.print(table if params else "No parameters.")
    if params and key is not None:
        console.print(
            f"Set them for a run: vadkit train --set {_example(factory, key)}, or a [{key}] table "
            "in its config file (docs/reference/config.md).",
            markup=False,
            highlight=False,
        )


def _example(factory: Any, key: str) -> str:
    """``KEY.PARAM=VALUE`` for the first parameter of ``factory`` (not ``in_channels``, which
    follows the data), its default written as TOML, quoted for a shell when it needs to be."""
    import shlex

    from vadkit.config.params import schema_signature
    from vadkit.config.toml import toml_value

    sig = schema_signature(factory)
    for p in sig.parameters.values() if sig is not None else ():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "in_channels":
            continue
        try:
            value = "VALUE" if p.default is p.empty else toml_value(p.default, p.name)
        except VadkitError:  # a default TOML cannot hold
            value = "VALUE"
        return shlex.quote(f"{key}.{p.name}={value}")
    return f"{key}.PARAM=VALUE"


def _print_recipe(name: str) -> None:
    """A recipe's settings, as the TOML a config file would hold."""
    from vadkit.config import dumps_toml, recipe_settings

    settings = recipe_settings(name)
    settings.pop("recipe", None)
    console.print(
        f"Settings (over the framework's defaults; train with --recipe {name}):", markup=False
    )
    console.print(dumps_toml(settings), markup=False, highlight=False)
    published = _published(name)
    if not published:
        return
    table = Table(title="published results (set beside the runs by vadkit report)")
    for col in ("dataset", "score", "metric", "paper", "source"):
        table.add_column(col)
    for r in published:
        cells = (r.dataset, r.score, r.metric, f"{r.value:.4f}", r.source)
        table.add_row(*(plain(c) for c in cells))
    console.print(table)


def _published(name: str) -> tuple[PublishedResult, ...]:
    """The numbers a recipe declares from its method's paper."""
    from vadkit.config.recipes import load_recipe

    return tuple(load_recipe(name).published)


def plugins_cmd(json_out: JsonFlag = False) -> None:
    """Show each plugin, its version and the components it registered."""
    host = get_host()
    host.fill_all()
    infos = sorted(host.plugins.values(), key=lambda i: i.name)
    if json_out:
        print_json([i.as_dict() for i in infos])
        return
    table = Table(title="vadkit plugins")
    for col in ("plugin", "version", "status", "components", "source"):
        table.add_column(col)
    for info in infos:
        comps = "\n".join(
            f"{k}: {', '.join(sorted(v))}" for k, v in sorted(info.components.items()) if v
        )
        status = info.status if not info.error else f"{info.status}: {info.error}"
        cells = (info.name, info.version or "-", status, comps or "-", info.source)
        table.add_row(*(plain(cell) for cell in cells))
    console.print(table)
