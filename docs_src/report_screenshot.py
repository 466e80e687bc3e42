"""Take the report page's screenshots for the docs (docs/images/report.png, report-runs.png).

Usage (after ``vadkit demo --out runs/demo``)::

    python docs_src/report_screenshot.py runs/demo/report.html docs/images/report.png
    python docs_src/report_screenshot.py runs/report-of-3-runs.html docs/images/report-runs.png \\
        --study

The page is opened in headless Chromium (Debian's ``chromium`` driven by Playwright, as in the
tests). To keep the picture short, a report of one run shows the metrics, the first video's
curves with the task scores on and the cursor over the peak frame of the video's first segment,
and the first ``--segments`` segments; the paper table and the provenance section are left out.
With ``--study`` (a report of several runs) it shows the spread over runs, each run's numbers and
the paper table, and leaves out the per-video details, curves, segments and provenance.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any


def one_run(page: Any, segments: int) -> None:
    """The metrics, the first video's curves with the cursor on a peak, the first segments."""
    page.check("#show-tasks")
    first = page.locator(".chart").first.get_attribute("data-video")
    page.evaluate(
        """([first, keep]) => {
            document.querySelectorAll(".chart").forEach((c) => {
                if (c.dataset.video !== first) c.remove();
            });
            document.querySelectorAll(".segment").forEach((s, i) => {
                if (i >= keep) s.remove();
            });
            for (const id of ["provenance", "paper"]) document.getElementById(id)?.remove();
        }""",
        [first, segments],
    )
    segment = page.locator(f'.segment[data-video="{first}"]').first
    chart = page.locator(".chart svg").first
    box = chart.bounding_box()
    x0, x1 = int(chart.get_attribute("data-x0")), int(chart.get_attribute("data-x1"))
    peak = int(segment.get_attribute("data-peak")) if segment.count() else (x0 + x1) // 2
    # report.js draws the plot from x = 52 to 946 of its 960-unit-wide view box
    x = box["x"] + box["width"] * (52 + (peak - x0) / (x1 - x0) * 894) / 960
    page.mouse.move(x - 2, box["y"] + box["height"] * 0.6)
    page.mouse.move(x, box["y"] + box["height"] * 0.6, steps=3)
    page.locator(".chart .tooltip").first.wait_for(state="visible")


def several_runs(page: Any) -> None:
    """The spread over runs, each run's numbers and the paper table."""
    page.evaluate(
        """() => {
            for (const id of ["curves", "segments", "provenance"]) {
                document.getElementById(id)?.remove();
            }
            document.querySelectorAll("#metrics details, #metrics h3, #metrics h3 ~ *")
                .forEach((e) => e.remove());
        }"""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--segments", type=int, default=2)
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--study", action="store_true", help="a report of several runs")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(args.report.resolve().as_uri())
        page.wait_for_selector("body[data-charts-ready]")
        if args.study:
            several_runs(page)
        else:
            one_run(page, args.segments)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
