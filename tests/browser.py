"""A real headless browser for the workbench: Debian's chromium (scripts/setup.sh), driven by Playwright.

Playwright's own browser download (`playwright install`) is never used: it is pointed at the system
chromium, with a fresh profile folder for every run and the flags chromium needs to run as root in a
container without reaching the network by itself.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    """The system chromium, or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextmanager
def browser_page(chromium: str, *, width: int = 1400, height: int = 900) -> Iterator[Page]:
    """A page in a headless chromium with a fresh profile, closed (and the profile removed) afterwards."""
    with tempfile.TemporaryDirectory(prefix="kgtool-chromium-") as profile, sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            Path(profile), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
            viewport={"width": width, "height": height})
        try:
            yield context.new_page()
        finally:
            context.close()
