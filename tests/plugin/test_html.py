"""``--trainspec-html``: one self-contained file, rendered in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.conftest import TINY_SPECS
from trainspec.plugin.html import render_html
from trainspec.plugin.results import ResultBook

SPECS = TINY_SPECS + """
PAIR = trainspec.Pair("tiny_lr", broken=recipe(learning_rate=1e-5), fixed=recipe(),
                      cause="learning rate 1e-5 barely moves the weights", fix="use 0.1")
LR = trainspec.Sweep("lr", base=recipe(), over="learning_rate", values=[0.1, 0.001])

@trainspec.applies_to(PAIR)
def test_loss_halves(run):
    trainspec.expect(run).loss_to_fall_by(0.5)

@trainspec.applies_to(LR)
def test_finite(run):
    trainspec.expect(run).to_be_finite()
"""

SCREEN = (1100, 1500)


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _browser(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def png_size_and_colours(path: Path) -> tuple[tuple[int, int], int]:
    """Width, height and the number of distinct byte values in the decoded image data (a blank
    page has a handful)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return (width, height), len(set(zlib.decompress(idat)))


@pytest.fixture(scope="module")
def html_report(tmp_path_factory) -> Path:
    """A real session on a tiny pair and sweep, with ``--trainspec-html``."""
    folder = tmp_path_factory.mktemp("html")
    (folder / "test_specs.py").write_text(SPECS)
    env = {**os.environ, "COLUMNS": "80"}
    subprocess.run(["python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "--trainspec-cache", "off", "--trainspec-html", "out/report.html"],
                   cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    path = folder / "out" / "report.html"
    assert path.exists()
    return path


def test_the_html_file_is_self_contained(html_report):
    text = html_report.read_text()
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "@import" not in text and "url(" not in text and "<link" not in text
    # per pair: loss, accuracy, gradient norms (no validation data here); one per sweep
    for chart in ("loss", "accuracy", "gradient norm per layer", "accuracy by learning_rate"):
        assert f'aria-label="{chart}"' in text


def test_chromium_renders_the_pair_table_and_the_charts(html_report, tmp_path):
    url = html_report.resolve().as_uri()
    dom = _browser("--dump-dom", url, profile=tmp_path / "profile").stdout
    assert dom.count('class="pair-row"') == 1 and "tiny_lr" in dom
    assert "✔ caught" in dom and dom.count('class="sweep-row"') == 2
    assert len(re.findall(r"<svg[^>]*class=\"chart\"", dom)) == 4
    assert "<polyline" in dom and "learning rate 1e-5 barely moves the weights" in dom
    shot = tmp_path / "report.png"
    _browser(f"--screenshot={shot}", f"--window-size={SCREEN[0]},{SCREEN[1]}", url,
             profile=tmp_path / "profile")
    size, colours = png_size_and_colours(shot)
    assert size == SCREEN
    assert colours > 40  # text, tables and coloured curves, not a blank page
    keep = os.environ.get("TRAINSPEC_HTML_SCREENSHOT")
    if keep:  # to look at it: TRAINSPEC_HTML_SCREENSHOT=/tmp/report.png
        shutil.copy(shot, keep)


def test_an_empty_book_is_still_a_valid_page():
    text = render_html(ResultBook())
    assert text.startswith("<!DOCTYPE html>") and "</html>" in text
