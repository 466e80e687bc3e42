"""Headless Chromium for the tests that look at a page as a person does (Playwright driving
Debian's ``chromium``; ``.ci/run`` installs both). Tests skip, saying why, only when either is
missing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

#: Debian's browser; Playwright's own download is not used.
CHROMIUM = os.environ.get("VADKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def launch_chromium() -> Iterator[Any]:
    """A headless browser for a test module (one start, ~1-2 s), closed at the end."""
    if not os.path.isfile(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install -e '.[dev]')"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Problems:
    """What went wrong while a page loaded and ran: console errors, uncaught exceptions and
    requests that failed or left the machine."""

    items: list[str] = field(default_factory=list)

    def watch(self, page: Any, *, allow_http: str | None = None) -> None:
        page.on(
            "console",
            lambda m: (
                self.items.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.items.append(f"failed request: {r.url}"))

        def request(r: Any) -> None:
            local = r.url.startswith(("file:", "data:", "about:", "blob:"))
            if allow_http:
                local = local or r.url.startswith(allow_http)
            if not local:
                self.items.append(f"network request: {r.url}")

        page.on("request", request)


def open_page(
    browser: Any, url: str, *, allow_http: str | None = None, **kw: Any
) -> tuple[Any, Problems]:
    """A new page at ``url`` (1200 px wide), with its problems recorded from the start."""
    page = browser.new_page(viewport={"width": 1200, "height": 900}, **kw)
    problems = Problems()
    problems.watch(page, allow_http=allow_http)
    page.goto(url, wait_until="load")
    return page, problems
