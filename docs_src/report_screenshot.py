"""Take the report page's screenshot for the docs (docs/images/report.png).

Usage (after ``vadkit demo --out runs/demo``)::

    python docs_src/report_screenshot.py runs/demo/report.html docs/images/report.png

The page is opened in headless Chromium (Debian's ``chromium`` driven by Playwright, as in the
tests); to keep the picture short it shows the metrics, the first video's curves with the task
scores on and the cursor over the peak frame of the video's first segment, and the first
``--segments`` segments; the provenance section is left out of the picture.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--segments", type=int, default=2)
    parser.add_argument("--width", type=int, default=1100)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(args.report.resolve().as_uri())
        page.wait_for_selector("body[data-charts-ready]")
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
                document.getElementById("provenance").remove();
            }""",
            [first, args.segments],
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
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
