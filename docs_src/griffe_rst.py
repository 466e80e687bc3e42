"""A Griffe extension that lets mkdocstrings render vadkit's reStructuredText-flavoured docstrings.

vadkit's docstrings are read by three audiences: ``help()``, ``vadkit describe`` and this site.
They use two bits of reStructuredText that Markdown does not know:

* roles such as ``:class:`vadkit.components.Backbone``` become cross-references (optional ones:
  an object that is not documented on the site renders as plain code instead of failing the
  strict build);
* a paragraph ending in ``::`` followed by an indented block becomes a fenced Python block.

Loaded by ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|obj|exc):`~?([^`]+)`")
LITERAL_INTRO = re.compile(r"::[ \t]*$")


def _role(match: re.Match[str]) -> str:
    target = match.group(1).strip()
    shown = target.rsplit(".", 1)[-1] if match.group(0).count("`~") else target
    if "." not in target:  # relative names (":meth:`build`") cannot be resolved from here
        return f"`{shown}`"
    return f'<autoref identifier="{target}" optional><code>{shown}</code></autoref>'


def _literal_blocks(text: str) -> str:
    """``Intro::`` + blank line + indented block -> ``Intro:`` + fenced block."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if LITERAL_INTRO.search(line) and i + 1 < len(lines) and not lines[i + 1].strip():
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            base = len(line) - len(line.lstrip())
            block: list[str] = []
            while j < len(lines) and (
                not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > base
            ):
                block.append(lines[j])
                j += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                head = LITERAL_INTRO.sub(":", line).rstrip()
                if head.strip() == ":":
                    head = ""
                pad = " " * base
                out.extend([head, "", f"{pad}```python"])
                out.extend(pad + b[indent:] if b.strip() else "" for b in block)
                out.extend([f"{pad}```", ""])
                i = j
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def convert(text: str) -> str:
    """The Markdown that mkdocstrings should see for one docstring."""
    return ROLE.sub(_role, _literal_blocks(text))


class RstToMarkdown(griffe.Extension):
    """Rewrite roles and literal blocks in every docstring Griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
