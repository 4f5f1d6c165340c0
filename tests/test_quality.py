"""bench/quality.py, the quality study: its yardstick measures what it says, and its dry run
does every step (the batch, the yardstick, the contact sheets, the report) at toy size."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import generated_photo, generated_stripes
from minimal_nst.image import fit_shape, resize

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "quality.py"


@pytest.fixture(scope="module")
def quality():
    spec = importlib.util.spec_from_file_location("quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_photo_itself_is_at_content_distance_0_and_the_painting_at_style_distance_0(
    quality, vgg_numpy
):
    """The yardstick compares an output with the photo at the output's size and with the
    painting fitted to the output's longer side: the photo is 0 from itself, the painting 0
    from itself (the same array through the same network; 1e-6 allows float32 rounding), and
    the photo is far from the painting."""
    photo, painting = generated_photo(64, 96), generated_stripes(120)
    fitted = resize(painting, fit_shape(*painting.shape[:2], 96))
    content, _, _ = quality.yardstick(vgg_numpy, photo, photo, painting)
    _, style, style_half = quality.yardstick(vgg_numpy, fitted, photo, painting)
    assert content < 1e-6 and style < 1e-6 and style_half < 1e-6
    _, style, style_half = quality.yardstick(vgg_numpy, photo, photo, painting)
    assert style > 1e-3 and style_half > 1e-3  # the photo is not the painting: 1000x rounding
    assert quality.halved(photo).shape == (32, 48, 3)  # half resolution: both sides halved


def test_each_setting_changes_only_its_own_knobs(quality):
    pairs = [(("hopper", "h.png"), ("demo", "d.png"))]  # on the diagonal: every setting runs
    rows = quality.manifest_rows(pairs, quality.SWEEP, 256)
    assert [r["name"] for r in rows] == [quality.job_name("hopper", "demo", n)
                                         for n in quality.SWEEP]  # fmt: skip
    today = rows[0]  # the defaults when the study began, each given: a new default changes none
    assert today["iterations"] == 100 and today["scales"] == 1 and today["init"] == "content"
    assert float(today["style-weight"]) == 1e3
    beta = next(r for r in rows if r["name"] == "hopper-demo-beta_x10")
    assert float(beta["style-weight"]) == pytest.approx(10 * 1e3)
    differ = lambda row: {k for k in today if row[k] != today[k]}  # noqa: E731
    assert differ(beta) == {"name", "style-weight"}  # a multiple of today's beta, nothing else
    scales = next(r for r in rows if r["name"] == "hopper-demo-beta_x10_+_2_scales")
    assert differ(scales) == {"name", "style-weight", "scales"} and set(scales) == set(today)


def test_the_long_runs_are_on_the_diagonal_only(quality):
    """Each photo once and each painting once: 3 of the 9 pairs, all 9 for the others."""
    pairs = [((photo, f"{photo}.png"), (painting, f"{painting}.png"))
             for photo in ("hopper", "minduka", "rocket")
             for painting in ("demo", "turner", "matisse")]  # fmt: skip
    settings = {name: quality.SWEEP[name] for name in ("today", "500 iterations")}
    rows = quality.manifest_rows(pairs, settings, 64)
    long = {(r["content"], r["style"]) for r in rows if r.get("iterations") == 500}
    assert len(rows) == 9 + 3 and "pairs" not in rows[-1]
    assert long == {(f"{photo}.png", f"{painting}.png") for photo, painting in quality.DIAGONAL}
    assert len({c for c, _ in long}) == len({s for _, s in long}) == 3


def test_the_study_runs_every_step_at_toy_size(quality, tmp_path, monkeypatch):
    """The machinery, not the pictures: the two paintings of ../shared are stood in for by
    generated ones of the same names, so the test needs nothing beside the checkout."""
    from PIL import Image

    shared = tmp_path / "shared"
    shared.mkdir()
    for name in quality.paintings():
        if name != "demo":
            path = shared / quality.paintings()[name].name
            Image.fromarray(generated_stripes(96)).save(path, "JPEG")
    monkeypatch.setattr(quality, "SHARED", shared)
    tmp_path = tmp_path / "study"
    gallery = tmp_path / "gallery.jpg"
    assert quality.main(["--dry-run", "--out", str(tmp_path), "--workers", "1",
                         "--gallery", str(gallery)]) == 0  # fmt: skip
    rows = json.loads((tmp_path / "quality.json").read_text())
    assert len(rows) == 9 * 2  # 3 photos x 3 paintings x the dry run's 2 settings
    assert all(np.isfinite([r["content"], r["style"], r["style_half"]]).all() for r in rows)
    assert all(r["seconds"] is not None and r["seconds"] > 0 for r in rows)
    assert len(list((tmp_path / "sheets").glob("*.png"))) == 9
    tile = 256 + 16  # the paintings along the top, the photos down the left, each labelled
    assert Image.open(gallery).size == (4 * 256, 4 * tile)
    report = (tmp_path / "QUALITY.md").read_text()
    assert "| today | 9 |" in report and "| beta x10 | 9 |" in report

    (tmp_path / "rocket-matisse-beta_x10.png").unlink()  # a study cut short, measured as it is
    batch = (tmp_path / "batch.csv").read_text()
    assert quality.main(["--dry-run", "--measure-only", "--out", str(tmp_path)]) == 0
    assert len(json.loads((tmp_path / "quality.json").read_text())) == 9 * 2 - 1
    assert (tmp_path / "batch.csv").read_text() == batch  # no job ran


def test_a_batch_that_fails_still_keeps_the_seconds_of_the_jobs_it_finished(quality, tmp_path):
    """A rerun skips the finished jobs, and its batch.csv no longer has their seconds: they must
    be kept even when the batch ends badly (here one job's photo is missing; Ctrl-C is alike)."""
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.fromarray(generated_photo()).save(photo)
    painting = tmp_path / "painting.png"
    Image.fromarray(generated_stripes(64)).save(painting)
    rows = [{"name": "ok", "content": photo, "style": painting, "size": 32, "iterations": 2},
            {"name": "lost", "content": tmp_path / "missing.png", "style": painting, "size": 32,
             "iterations": 2}]  # fmt: skip
    quality.write_manifest(tmp_path / "manifest.csv", rows)
    with pytest.raises(SystemExit):
        quality.run_batch(tmp_path / "manifest.csv", tmp_path / "out", workers=1)
    assert set(quality.known_timings(tmp_path / "out")) == {"ok"}
