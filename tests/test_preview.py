"""--preview: a live page on 127.0.0.1, checked over HTTP, then in a real browser (Chromium).

The browser test needs Debian's chromium (`.ci/run` installs it) and Playwright's Python driver
(the test extra); it fails, never skips, where they are missing.
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

import numpy as np
import pytest
from PIL import Image

from conftest import STYLIZE, assert_one_line_error, generated_photo, generated_stripes
from minimal_nst.app.preview import Preview

CHROMIUM = os.environ.get("MINIMAL_NST_CHROMIUM", "/usr/bin/chromium")
FLAGS = [  # a closed network: no background connections, no sandbox as root, no GPU
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
RECORD = {"scale": 1, "of": 1, "iteration": 1, "total": 3.0, "content": 1.0, "style": 0.2,
          "tv": 0.0, "seconds": 0.5}  # fmt: skip


def get(url):
    with urlopen(url, timeout=10) as response:
        return response.read()


def test_the_page_serves_the_state_and_the_image_on_loopback(tmp_path):
    preview = Preview({"size": 64, "iterations": 3, "alpha": 1.0, "beta": 10.0})
    try:
        assert preview.url.startswith("http://127.0.0.1:")
        page = get(preview.url).decode()
        assert "<canvas" in page and not re.search(r"https?://", page), "every asset is inline"
        state = json.loads(get(preview.url + "state.json"))
        assert state["status"] == "starting" and state["history"] == []
        with pytest.raises(HTTPError, match="404"):
            get(preview.url + "image.png")  # no image before the first iteration

        first, final = generated_photo(), generated_stripes()
        preview.update(RECORD, lambda: first)
        state = json.loads(get(preview.url + "state.json"))
        assert (state["status"], state["history"], state["version"]) == ("running", [RECORD], 1)
        Path(tmp_path / "a.png").write_bytes(get(preview.url + "image.png?v=1"))
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), first)

        preview.finish(final, "")
        state = json.loads(get(preview.url + "state.json"))
        assert state["status"] == "finished" and state["version"] == 2
        Path(tmp_path / "b.png").write_bytes(get(preview.url + "image.png?v=2"))
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), final)
    finally:
        preview.close(linger=0)
    with pytest.raises(URLError):
        get(preview.url)  # gone with the run


def test_a_bad_input_with_preview_is_still_one_line_and_no_page(nst):
    proc = nst("--content missing.png --preview --size 32 --iterations 2")
    assert_one_line_error(proc, "missing.png: no such file")


def read_address(proc, seconds=120):
    """The page's address, from the run's stderr."""
    end, seen = time.time() + seconds, []
    while time.time() < end and proc.poll() is None:
        if select.select([proc.stderr], [], [], 1)[0]:
            line = proc.stderr.readline()
            seen.append(line)
            found = re.search(r"watch it at (http://127\.0\.0\.1:\d+/)", line)
            if found:
                return found.group(1)
    raise AssertionError(f"no preview address; stderr: {''.join(seen)}")


LOOK = """async () => {
  const img = document.getElementById("image");
  await img.decode();
  const c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  return { points: Number(document.getElementById("curves").dataset.points),
           status: document.getElementById("status").textContent,
           rgba: Array.from(g.getImageData(0, 0, c.width, c.height).data) };
}"""


def look(page):
    """(loss points drawn, the status line, the image shown as RGB) in the browser, now."""
    for _ in range(10):
        try:
            seen = page.evaluate(LOOK)
            break
        except Exception:  # the image changed while it was decoded: look again
            time.sleep(0.2)
    rgb = np.array(seen["rgba"], np.uint8).reshape(-1, 4)[:, :3]
    return seen["points"], seen["status"], rgb


def test_the_preview_in_a_real_browser_shows_the_run_as_it_goes(tmp_path, weights_path):
    assert Path(CHROMIUM).exists(), (
        f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium"
    )
    from playwright.sync_api import sync_playwright

    Image.fromarray(generated_photo()).save(tmp_path / "photo.png")
    Image.fromarray(generated_stripes()).save(tmp_path / "stripes.png")
    cmd = [sys.executable, str(STYLIZE), "--content", "photo.png", "--style", "stripes.png",
           "--size", "96", "--iterations", "150", "--backend", "numpy", "--preview",
           "--output", "out.png", "--weights", str(weights_path)]  # fmt: skip
    run = subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        url = read_address(run)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            page.goto(url)
            curves = "Number(document.getElementById('curves').dataset.points)"
            page.wait_for_function(f"{curves} >= 2", timeout=120_000)
            points, status, image = look(page)
            assert status.startswith("iteration ")
            page.wait_for_function(f"{curves} >= {points + 5}", timeout=120_000)
            later_points, _, later = look(page)
            assert later_points > points, "the loss curve gains points"
            # five more L-BFGS steps from the photo repaint it: any pixel changed will do
            assert (later != image).any(), "the image changes"
            page.wait_for_function("document.getElementById('status').className === 'finished'",
                                   timeout=300_000)  # fmt: skip
            _, status, final = look(page)
            assert status.startswith("finished after 150 iterations")
            page.screenshot(path=str(tmp_path / "screenshot.png"))
            browser.close()
        assert run.wait(60) == 0
        saved = np.asarray(Image.open(tmp_path / "out.png").convert("RGB")).reshape(-1, 3)
        np.testing.assert_array_equal(final, saved)  # the page ends on the saved image
    finally:
        if run.poll() is None:
            os.kill(run.pid, signal.SIGKILL)
            run.wait(30)
