"""MkDocs hooks: parts of pages generated from the code at build time, so that they cannot go stale.

The reference pages a reader of the repository also needs (commands, config keys, contracts)
are committed files written by ``python -m docs_src.generate`` (see :mod:`docs_src.generate`).
A line ``<!-- vadkit: NAME -->`` on a page is replaced by generated Markdown:

* ``builtin-components``: the components registered by the vadkit distribution, per kind, linked
  to their pages;
* ``benchmarks-index``: the result pages under ``docs/benchmarks/``;
* ``benchmark-summary NAME [HEADING]``: the leading paragraph and first table of
  ``docs/benchmarks/NAME.md``, for a tutorial that quotes a result.
"""

from __future__ import annotations

import re
from typing import Any

MARKERS: dict[str, Any] = {}


#: The contract class of each component kind (documented on reference/api.md).
CONTRACTS = {
    "backbones": "vadkit.components.Backbone",
    "tasks": "vadkit.components.ProxyTask",
    "errors": "vadkit.components.ErrorMeasure",
    "normalizers": "vadkit.components.ScoreNormalizer",
    "datasets": "vadkit.data.formats.DatasetFormat",
    "recipes": "vadkit.components.Recipe",
    "trackers": "vadkit.tracking.Tracker",
    "pseudo_anomalies": "vadkit.components.PseudoAnomaly",
}


def builtin_components(page: str = "index.md") -> str:
    """A table of the components registered by the vadkit distribution, linked to their pages.

    ``page`` is the path of the page the table goes on, relative to ``docs/`` (links are relative).
    """
    import posixpath

    from vadkit.plugins import KINDS, PluginHost

    host = PluginHost(autoload=False)  # only the vadkit distribution's own entry points
    base = posixpath.dirname(page)
    rows = ["| kind | built-in components | contract | hook |", "|---|---|---|---|"]
    for kind in KINDS:
        entries = host.registry(kind).entries()
        if kind not in CONTRACTS:
            raise ValueError(f"docs_src/mkdocs_hooks.py CONTRACTS has no entry for kind {kind!r}.")
        links = ", ".join(
            f"[`{e.name}`]({posixpath.relpath(f'reference/components/{kind}/{e.name}.md', base)})"
            for e in entries
        )
        hooks = posixpath.relpath("reference/hooks.md", base)
        contract = CONTRACTS[kind]
        short = contract.rsplit(".", 1)[1]
        rows.append(
            f"| {kind} | {links} | [`{short}`][{contract}] | "
            f"[`register_{kind}`]({hooks}#vadkit.hookspecs.register_{kind}) |"
        )
    return "\n".join(rows) + "\n"


def benchmarks_index() -> str:
    """A list of the result pages under docs/benchmarks/, with their titles and first sentences."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "docs" / "benchmarks"
    pages = sorted(folder.glob("*.md")) if folder.is_dir() else []
    if not pages:
        return (
            "No result page has been written yet: each script under `benchmarks/` writes its "
            "page into `docs/benchmarks/` when run with `--write`.\n"
        )
    out = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        heading = re.search(r"^# (.+)$", text, re.MULTILINE)
        title = heading.group(1).strip() if heading else page.stem
        body = text[heading.end() :] if heading else text
        paragraph = next(
            (p.strip() for p in re.split(r"\n\s*\n", body) if p.strip() and p.strip()[0].isalpha()),
            "",
        )
        sentence = " ".join(re.split(r"(?<=[.!?])\s", " ".join(paragraph.split()))[:1])
        # the sentence moves from docs/benchmarks/ to docs/: its relative links follow
        sentence = re.sub(r"\]\((?![a-z]+:|/|\.\./|#)", "](benchmarks/", sentence)
        sentence = re.sub(r"\]\(\.\./", "](", sentence)
        out.append(
            f"- [{title}](benchmarks/{page.name}): {sentence}"
            if sentence
            else f"- [{title}](benchmarks/{page.name})"
        )
    return "\n".join(out) + "\n"


def benchmark_summary(page: str, name: str, heading: str = "") -> str:
    """The first paragraph and the first table of ``docs/benchmarks/NAME.md``, with a link to it.

    Lets a tutorial quote a result page that a benchmark script rewrites, without a copy that
    could go stale. With ``heading`` (words joined by ``_``) the quote comes under a ``##``
    heading of that title, and a page that does not exist yet quotes nothing at all (the
    tutorial reads the same without it); without, a missing page fails the build.
    """
    import posixpath
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / f"{name}.md"
    if not source.is_file():
        if heading:
            return ""
        raise ValueError(f"{page} quotes docs/benchmarks/{name}.md, which does not exist.")
    text = source.read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    paragraph = next((b for b in blocks if b[0].isalpha() or b.startswith("**")), None)
    table = next((b for b in blocks if b.startswith("|")), None)
    if paragraph is None or table is None:
        raise ValueError(
            f"docs/benchmarks/{name}.md has no leading paragraph or no table to quote."
        )
    title = re.search(r"^# (.+)$", text, re.MULTILINE)
    link = posixpath.relpath(f"benchmarks/{name}.md", posixpath.dirname(page))
    quote = (
        f"{paragraph}\n\n{table}\n\nFrom [{title.group(1).strip() if title else name}]({link}), "
        "which says how it was produced.\n"
    )
    return f"## {heading.replace('_', ' ')}\n\n{quote}" if heading else quote


MARKERS["benchmarks-index"] = benchmarks_index
MARKERS["benchmark-summary"] = benchmark_summary
MARKERS["builtin-components"] = builtin_components
MARKER = re.compile(r"^<!-- vadkit: ([a-z-]+)((?: [\w.-]+)*) -->$", re.MULTILINE)


#: Generators that take the page's path (relative to docs/), for relative links.
PAGE_AWARE = {"builtin-components", "benchmark-summary"}


def expand(markdown: str, page: str = "index.md") -> str:
    """Replace every ``<!-- vadkit: NAME -->`` line by its generated Markdown."""

    def replace(match: re.Match[str]) -> str:
        name, args = match.group(1), match.group(2).split()
        if name not in MARKERS:
            raise ValueError(f"Unknown docs marker '{name}'; known: {', '.join(sorted(MARKERS))}.")
        generate = MARKERS[name]
        return str(generate(page, *args) if name in PAGE_AWARE else generate(*args))

    return MARKER.sub(replace, markdown)


LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s#]+)(?:#[^)\s]*)?\)")


def repository_links(markdown: str, page: str) -> str:
    """Links to files of the repository outside ``docs/`` (a script, a config) become plain text.

    The site does not host the sources, so such a link cannot work on it; its text (usually the
    file's path in code) stays. A link to a file that does not exist is left alone, so that the
    strict build still reports it.
    """
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    docs = root / "docs"
    here = (docs / page).parent

    def replace(match: re.Match[str]) -> str:
        target = match.group("target")
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("/"):
            return match.group(0)
        resolved = (here / target).resolve()
        inside_repo = resolved.is_relative_to(root) and not resolved.is_relative_to(docs)
        return match.group("text") if inside_repo and resolved.exists() else match.group(0)

    return LINK.sub(replace, markdown)


def on_page_markdown(markdown: str, *, page: Any, **kwargs: Any) -> str:
    return repository_links(expand(markdown, page.file.src_uri), page.file.src_uri)
