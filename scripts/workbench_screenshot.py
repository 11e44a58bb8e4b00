#!/usr/bin/env python3
"""Regenerate docs/images/workbench.png, the README's picture of `kgtool serve`'s workbench.

    python scripts/workbench_screenshot.py [--output docs/images/workbench.png] [--query reserve-figures]
                                           [--param subject=Russia] [--width 1600] [--height 1000]

Serves the shipped graph (built from the project's data, as `kgtool serve` does) on a free loopback
port, opens the workbench in Debian's headless chromium (scripts/setup.sh installs it), runs the saved
query with the given parameters typed into its fields, and writes the screenshot atomically.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kgtool.config import Project
from kgtool.rdfio import write_atomic
from kgtool.serve import make_app, running_server
from tests.browser import browser_page, find_chromium


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "images" / "workbench.png")
    parser.add_argument("--query", default="reserve-figures", help="the saved query whose tab is shown")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a value typed into the query's parameter field (repeatable)")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args()
    params = dict(item.partition("=")[::2] for item in args.param) or {"subject": "Russia"}
    chromium = find_chromium()
    if chromium is None:
        parser.error("no chromium on this machine: scripts/setup.sh installs Debian's chromium")
    app = make_app(Project(ROOT))
    with running_server(app) as url, browser_page(chromium, width=args.width, height=args.height) as page:
        page.goto(f"{url}/#{args.query}")
        panel = page.locator(f"#panel-{args.query}")
        panel.wait_for()
        for name, value in params.items():
            panel.locator(f"input[name={name}]").fill(value)
        panel.locator("button.run").click()
        panel.locator("table.results tbody tr, .boolean, pre.turtle, [role=alert]").first.wait_for()
        if panel.locator("[role=alert]").count():
            parser.error("the query failed: " + panel.locator("[role=alert]").inner_text())
        image = page.screenshot()
    write_atomic(args.output, image)
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
