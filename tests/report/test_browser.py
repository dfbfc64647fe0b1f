"""The must-show check: the report page opened in headless Chromium (Debian's ``chromium``)
renders — the screenshot is not blank, every image loaded (the page's own script marks
``data-images-loaded="yes"`` on <body> once every <img> decoded) and the console logged nothing.
A deliberately broken page shows the checks catch a missing image and a console error."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from gpsa.report.page import SCRIPT

from .conftest import SimulatedRun

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary installed "
                                "(Debian: apt-get install chromium; .ci/run installs it)")

FLAGS = ("--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
         "--disable-dev-shm-usage", "--no-first-run")
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)")


@dataclass(frozen=True)
class Rendered:
    body: dict[str, str]  # attributes of the rendered <body>
    console: list[str]  # console messages (any level)
    screenshot: np.ndarray


def render(page: Path, folder: Path) -> Rendered:
    """Open ``page`` twice in headless Chromium: a screenshot, and the DOM after load with the
    console messages (``--enable-logging=stderr`` prints them as ``CONSOLE`` lines)."""
    assert CHROMIUM is not None
    url = page.resolve().as_uri()
    shot = folder / "screenshot.png"
    profile = folder / "profile"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                    "--window-size=1200,3000", url], capture_output=True, timeout=60,
                   check=True)
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}",
                          "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
                          "--dump-dom", url], capture_output=True, text=True, timeout=60,
                         check=True)
    body = re.search(r"<body([^>]*)>", dom.stdout)
    assert body is not None, dom.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(1)))
    console = [m.group(1) for m in map(CONSOLE.search, dom.stderr.splitlines()) if m]
    return Rendered(body=attrs, console=console, screenshot=imread(shot))


def test_report_page_renders_in_chromium(simulated_run: SimulatedRun, tmp_path: Path) -> None:
    page = simulated_run.report.page
    shown = render(page, tmp_path)
    assert shown.console == []
    n_images = len(simulated_run.report.figures)
    assert shown.body.get("data-images") == str(n_images)
    assert shown.body.get("data-images-loaded") == "yes"
    rgb = shown.screenshot[..., :3]
    assert rgb.shape[:2] == (3000, 1200)
    assert float(rgb.std()) > 0.05, "the screenshot is blank"
    # the plots are on screen: a good share of the pixels is neither white nor near-white
    assert float(np.mean(rgb.min(axis=2) < 0.9)) > 0.05


def test_the_checks_catch_a_broken_page(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(f"<!DOCTYPE html><html><head><script>{SCRIPT}</script></head><body>"
                   '<img src="missing.png"><script>console.error("boom");</script>'
                   "</body></html>")
    shown = render(bad, tmp_path)
    assert shown.body.get("data-images-loaded") == "1"
    assert any("boom" in line for line in shown.console)
    assert float(shown.screenshot[..., :3].std()) < 0.05  # a blank page is seen as blank
