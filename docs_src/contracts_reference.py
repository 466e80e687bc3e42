"""The contracts reference: the classes a plugin implements or receives, from their source.

Read with Griffe (static analysis: nothing is imported), so signatures and annotations are the
ones written in the code and docstrings are the classes' own. Google-style sections
(``Attributes:``, ``Parameters:``, ``Returns:``) become tables; reStructuredText roles and
literals become code spans, linked when the target is on the page; ``#:`` comments above an
attribute are its documentation, as Sphinx reads them.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docs_src.markdown import (
    GENERATED,
    anchor,
    cell,
    code,
    code_cell,
    inline,
    rst_literals,
    rst_roles,
    table,
)

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Contract:
    """One documented object: where it is defined and how a plugin imports it."""

    path: str  # the dotted path where it is defined, e.g. vadkit.components.task.ProxyTask
    public: str  # the module a plugin imports it from, e.g. vadkit.components

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[1]


#: The page's sections and what each documents, in order.
SECTIONS: list[tuple[str, str, list[Contract]]] = [
    (
        "Components",
        "The base classes a plugin subclasses, one per kind of component (the "
        "[hooks](../hooks.md) register them). Every constructor parameter is keyword-only, typed "
        "and has a default: the constructor is the component's configuration schema.",
        [
            Contract("vadkit.components.backbone.Backbone", "vadkit.components"),
            Contract("vadkit.components.task.ProxyTask", "vadkit.components"),
            Contract("vadkit.components.error.ErrorMeasure", "vadkit.components"),
            Contract("vadkit.components.normalizer.ScoreNormalizer", "vadkit.components"),
            Contract("vadkit.data.formats.DatasetFormat", "vadkit.data.formats"),
            Contract("vadkit.components.recipe.Recipe", "vadkit.components"),
        ],
    ),
    (
        "What components exchange",
        "A backbone's output and a batch of windows, as tasks receive them.",
        [
            Contract("vadkit.components.base.Batch", "vadkit.components"),
            Contract("vadkit.components.base.Features", "vadkit.components"),
            Contract("vadkit.components.keys.SCORE_KEY", "vadkit.components"),
        ],
    ),
    (
        "Scores",
        "The scoring core's interface (every path that scores goes through a "
        "`WindowScorer`) and the score records that `vadkit score` writes and "
        "`vadkit evaluate` reads.",
        [
            Contract("vadkit.scoring.core.WindowScorer", "vadkit.scoring.core"),
            Contract("vadkit.scoring.core.WindowScores", "vadkit.scoring.core"),
            Contract("vadkit.scoring.core.StreamKey", "vadkit.scoring.core"),
            Contract("vadkit.scoring.core.VideoScores", "vadkit.scoring.core"),
            Contract("vadkit.scoring.scoreset.ScoreSet", "vadkit.scoring.scoreset"),
        ],
    ),
]

#: Special methods that are part of a contract (the others, ``__repr__`` and the like, are not).
DUNDERS = ("__call__",)


def contracts() -> list[Contract]:
    return [c for _, _, items in SECTIONS for c in items]


def load_package() -> Any:
    """vadkit, as Griffe reads it from this repository's sources."""
    import griffe

    logging.getLogger("griffe").setLevel(logging.ERROR)  # docstring-parsing notes
    return griffe.load(
        "vadkit", search_paths=[str(ROOT)], docstring_parser="google", resolve_aliases=False
    )


class Renderer:
    """Markdown for the objects of :data:`SECTIONS`, with links between them."""

    def __init__(self, package: Any) -> None:
        self.package = package
        self.anchors: dict[str, str] = {}
        for item in contracts():
            target = anchor(item.name)
            self.anchors[item.path] = self.anchors[item.name] = target
            self.anchors[f"{item.public}.{item.name}"] = target

    def get(self, path: str) -> Any:
        return self.package[path.removeprefix("vadkit.")]

    # -- text --------------------------------------------------------------------------------
    def text(self, value: str) -> str:
        """A docstring's prose as Markdown (roles linked, literals as code, ``::`` blocks)."""
        return inline(rst_literals(rst_roles(_literal_blocks(value), self.anchors)))

    def one_line(self, value: str) -> str:
        return cell(rst_literals(rst_roles(value, self.anchors)))

    def sections(self, obj: Any, attributes: list[list[str]] | None = None) -> list[str]:
        """The docstring of ``obj`` as Markdown blocks; an ``Attributes:`` section goes into
        ``attributes`` (rows of the object's attribute table) when given."""
        if obj.docstring is None:
            return []
        out: list[str] = []
        for section in obj.docstring.parsed:
            kind = section.kind.value
            if kind == "text":
                out.append(self.text(section.value))
            elif kind == "attributes" and attributes is not None:
                for item in section.value:
                    row = _find(attributes, item.name)
                    if row is None:
                        attributes.append([code(item.name), _annotation(item.annotation), "", ""])
                        row = attributes[-1]
                    row[3] = self.one_line(item.description)
            elif kind in ("parameters", "other parameters", "attributes"):
                title = {"attributes": "Attributes"}.get(kind, "Parameters")
                rows = [
                    [code(p.name), _annotation(p.annotation), self.one_line(p.description)]
                    for p in section.value
                ]
                out.append(f"{title}:\n\n" + table(["name", "type", "meaning"], rows))
            elif kind in ("returns", "yields"):
                parts = [
                    f"{_annotation(r.annotation)} {self.one_line(r.description)}".strip()
                    for r in section.value
                ]
                out.append(f"{kind.capitalize()}: " + "; ".join(parts))
            elif kind == "raises":
                parts = [
                    f"{_annotation(r.annotation)}: {self.one_line(r.description)}"
                    for r in section.value
                ]
                out.append("Raises " + "; ".join(parts))
            elif kind == "examples":
                for sub_kind, value in section.value:
                    out.append(f"```text\n{value}\n```" if sub_kind.value == "examples" else value)
            else:  # admonitions and the like: their text
                value = getattr(section.value, "contents", section.value)
                out.append(self.text(str(value)))
        return out

    # -- objects -----------------------------------------------------------------------------
    def contract(self, item: Contract) -> str:
        obj = self.get(item.path)
        source = Path(obj.filepath).relative_to(ROOT).as_posix()
        where = (
            f"`from {item.public} import {item.name}`, defined in [`{source}`](../../../{source})"
        )
        if obj.kind.value == "attribute":
            value = code(" ".join(str(obj.value).split()))
            out = [f"### `{item.name}`", f"{where}. Value: {value}."]
            out += [self.text(d) for d in [_attribute_doc(obj)] if d]
            return "\n\n".join(out)
        bases = ", ".join(code(str(b)) for b in obj.bases)
        labels = sorted(obj.labels & {"dataclass"})
        kind = "dataclass" if labels else ("protocol" if "Protocol" in bases else "class")
        head = f"{where}; a {kind}" + (f", subclass of {bases}" if bases else "") + "."
        attributes: list[list[str]] = []
        methods: list[Any] = []
        for name, member in obj.members.items():
            if member.is_alias or (name.startswith("_") and name not in DUNDERS):
                continue
            if member.kind.value == "attribute":
                attributes.append(self.attribute_row(name, member, bool(labels)))
            elif member.kind.value == "function" and "property" in member.labels:
                doc = self.one_line(member.docstring.value if member.docstring else "")
                attributes.append([code(name), _annotation(member.returns), "property", doc])
            elif member.kind.value == "function":
                methods.append(member)
        body = self.sections(obj, attributes)
        out = [f"### `{item.name}`", head, *body]
        if attributes:
            out.append(table(["attribute", "type", "value", "meaning"], attributes))
        for method in methods:
            out.append(f"#### `{item.name}.{method.name}`")
            out.append(f"```text\n{_signature(method)}\n```")
            out.extend(self.sections(method) or ["(No description.)"])
        return "\n\n".join(out)

    def attribute_row(self, name: str, member: Any, dataclass: bool) -> list[str]:
        doc = self.one_line(_attribute_doc(member))
        return [code(name), _annotation(member.annotation), _value(member, dataclass), doc]

    def page(self) -> str:
        out = [
            GENERATED,
            "# Contracts",
            "The classes a plugin implements or receives, with every public member, as their "
            "source code writes them. The [Python API](../api.md) page documents the same "
            "classes on the site, and the tutorial [Your first plugin]"
            "(../../tutorials/first-plugin.md) implements each component contract.",
        ]
        for title, intro, items in SECTIONS:
            out.append(f"## {title}")
            out.append(intro)
            out.append(", ".join(f"[{code(i.name)}](#{anchor(i.name)})" for i in items) + ".")
            out.extend(self.contract(i) for i in items)
        return "\n\n".join(out) + "\n"


def _find(rows: list[list[str]], name: str) -> list[str] | None:
    return next((r for r in rows if r[0] == code(name)), None)


def _annotation(value: Any) -> str:
    return code_cell(str(value)) if value is not None else ""


def _value(member: Any, dataclass: bool) -> str:
    """The value cell of an attribute: ``property``, ``required`` (a dataclass field without a
    default), a default factory as what it makes, or the value as written."""
    if "property" in member.labels:
        return "property"
    if member.value is None:
        return "required" if dataclass and "instance-attribute" in member.labels else ""
    text = " ".join(str(member.value).split())
    factory = re.fullmatch(r"field\(default_factory=(\w+)\)", text)
    if factory:
        text = {"dict": "{}", "list": "[]"}.get(factory.group(1), f"{factory.group(1)}()")
    return code_cell(text)


def _signature(function: Any) -> str:
    """``name(params) -> returns`` without ``self``, as the source writes it."""
    parts: list[str] = []
    star = False
    for p in function.parameters:
        if p.name in ("self", "cls"):
            continue
        kind = p.kind.value
        if kind == "keyword-only" and not star:
            parts.append("*")
            star = True
        text = {"variadic positional": "*", "variadic keyword": "**"}.get(kind, "") + p.name
        if kind == "variadic positional":
            star = True
        if p.annotation is not None:
            text += f": {p.annotation}"
        if p.default is not None:
            text += f" = {p.default}" if p.annotation is not None else f"={p.default}"
        parts.append(text)
    returns = f" -> {function.returns}" if function.returns is not None else ""
    return f"{function.name}({', '.join(parts)}){returns}"


def _attribute_doc(member: Any) -> str:
    """An attribute's docstring, or the ``#:`` comment lines right above it."""
    if member.docstring is not None:
        return str(member.docstring.value)
    lines = Path(member.filepath).read_text(encoding="utf-8").splitlines()
    i = int(member.lineno) - 2
    found: list[str] = []
    while i >= 0 and lines[i].strip().startswith("#:"):
        found.insert(0, lines[i].strip()[2:].strip())
        i -= 1
    return " ".join(found)


def _literal_blocks(text: str) -> str:
    """``Intro::`` and an indented block -> ``Intro:`` and a fenced text block."""
    import importlib

    griffe_rst = importlib.import_module("docs_src.griffe_rst")
    converted = griffe_rst._literal_blocks(text)
    return converted.replace("```python", "```text")


def page() -> str:
    """``docs/reference/generated/contracts.md``."""
    return Renderer(load_package()).page()
