"""A real headless browser (Debian's Chromium) for rendering the project's HTML reports in tests.

Reports are checked as a reader sees them: after their JavaScript (plotly) has run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserUnavailable(RuntimeError):
    pass


def chromium_path() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserUnavailable(
        "no Chromium found on PATH; install it (Debian: apt-get install chromium)"
    )


def _base_args(budget_ms: int) -> list[str]:
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    return [chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu",
            "--hide-scrollbars", f"--virtual-time-budget={budget_ms}"]


def _url(page: Path | str) -> str:
    return page.resolve().as_uri() if isinstance(page, Path) else page


def rendered_dom(page: Path | str, budget_ms: int = 5000, timeout: float = 60) -> str:
    """The page's DOM after its scripts ran (file path or URL)."""
    done = subprocess.run([*_base_args(budget_ms), "--dump-dom", _url(page)],
                          capture_output=True, text=True, timeout=timeout, check=True)
    return done.stdout


def screenshot(page: Path | str, out: Path, width: int = 1280, height: int = 2000,
               budget_ms: int = 5000, timeout: float = 60) -> Path:
    """A PNG of the rendered page."""
    subprocess.run([*_base_args(budget_ms), f"--window-size={width},{height}",
                    f"--screenshot={out}", _url(page)],
                   capture_output=True, text=True, timeout=timeout, check=True)
    if not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no screenshot for {_url(page)}")
    return out


def print_pdf(page: Path | str, out: Path, budget_ms: int = 5000, timeout: float = 120) -> Path:
    """The rendered page printed to PDF (Chromium's own print, A4 by default)."""
    subprocess.run([*_base_args(budget_ms), "--no-pdf-header-footer", f"--print-to-pdf={out}", _url(page)],
                   capture_output=True, text=True, timeout=timeout, check=True)
    if not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no PDF for {_url(page)}")
    return out
