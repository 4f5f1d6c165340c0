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
    content, *_ = quality.yardstick(vgg_numpy, photo, photo, painting)
    _, style, style_half, palette = quality.yardstick(vgg_numpy, fitted, photo, painting)
    assert content < 1e-6 and style < 1e-6 and style_half < 1e-6
    # the painting's pixels are its own Gaussian fit's: 0 but for float64 rounding of sums of
    # squares in the thousands (a square root of ~1e-9 of them)
    assert palette < 1e-3
    _, style, style_half, palette = quality.yardstick(vgg_numpy, photo, photo, painting)
    assert style > 1e-3 and style_half > 1e-3  # the photo is not the painting: 1000x rounding
    assert palette > 10  # their colour means alone are tens of levels apart
    assert quality.halved(photo).shape == (32, 48, 3)  # half resolution: both sides halved


def test_the_palette_distance_is_the_wasserstein_distance_of_two_gaussians(quality):
    """W2 between N(m, s^2 I) and N(m', s'^2 I) in 3 dimensions: sqrt(|m - m'|^2 + 3 (s - s')^2);
    and for one covariance, the distance of the means alone."""
    rng = np.random.default_rng(0)
    m, m2 = np.array([100.0, 50, 20]), np.array([90.0, 70, 20])
    fit = lambda mean, s: (mean, s**2 * np.eye(3))  # noqa: E731
    expected = np.sqrt(np.sum((m - m2) ** 2) + 3 * (30 - 10) ** 2)
    assert quality.palette_distance(fit(m, 30.0), fit(m2, 10.0)) == pytest.approx(expected)
    # one covariance, not isotropic: the covariance terms cancel
    A = rng.standard_normal((3, 3))
    S = A @ A.T * 100
    assert quality.palette_distance((m, S), (m2, S)) == pytest.approx(np.linalg.norm(m - m2))
    # symmetric, and 0 from itself
    S2 = np.diag([400.0, 100, 25])
    one, other = (
        quality.palette_distance((m, S), (m2, S2)),
        quality.palette_distance((m2, S2), (m, S)),
    )
    # (1e-3: the square root of float64 rounding in traces of hundreds)
    assert one == pytest.approx(other) and quality.palette_distance((m, S), (m, S)) < 1e-3


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


def test_the_palette_study_gives_each_job_its_first_default_explicitly(quality):
    """Each job carries the strength study's default (beta 1e4 at 256 px, one scale of 100 from
    the photo, average pooling), so a new default of the package changes no job."""
    pairs = [(("hopper", "h.png"), ("demo", "d.png"))]
    settings, baseline = quality.chosen_settings("palette")
    rows = {r["name"]: r for r in quality.manifest_rows(pairs, settings, 256, baseline=baseline)}
    default = rows["hopper-demo-default"]
    assert (default["init"], default["scales"], default["iterations"]) == ("content", 1, 100)
    assert float(default["style-weight"]) == 1e4 and default["pooling"] == "avg"
    differ = lambda row: {k for k in row if row[k] != default.get(k)}  # noqa: E731
    classic = rows["hopper-demo-classic_weights"]
    assert differ(classic) == {"name", "style-layer-weights"}
    weights = [float(w) for w in classic["style-layer-weights"].split(",")]
    assert weights == pytest.approx([0.512, 0.128, 0.032, 0.008, 0.008])  # 64 : 16 : 4 : 1 : 1
    chosen = rows["hopper-demo-recolored_+_2_scales_100_50"]
    assert differ(chosen) == {"name", "init", "scales", "iterations"}
    assert (chosen["init"], chosen["scales"], chosen["iterations"]) == ("recolored", 2, "100,50")


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
    gallery, before_after = tmp_path / "gallery.jpg", tmp_path / "before_after.jpg"
    figures = ["--gallery", str(gallery), "--before-after", str(before_after)]
    assert quality.main(["--dry-run", "--out", str(tmp_path), "--workers", "1", *figures]) == 0
    rows = json.loads((tmp_path / "quality.json").read_text())
    assert len(rows) == 9 * 2  # 3 photos x 3 paintings x the dry run's 2 settings
    figures = [[r["content"], r["style"], r["style_half"], r["palette"]] for r in rows]
    assert np.isfinite(figures).all()
    assert all(r["seconds"] is not None and r["seconds"] > 0 for r in rows)
    assert len(list((tmp_path / "sheets").glob("*.png"))) == 9
    tile = 256 + 16  # the paintings along the top, the photos down the left, each labelled
    assert Image.open(gallery).size == (4 * 256, 4 * tile)
    assert Image.open(before_after).size == (4 * 256, tile)  # photo, painting, before, after
    report = (tmp_path / "QUALITY.md").read_text()
    assert "| today | 9 |" in report and "| beta x10 | 9 |" in report
    assert "| palette |" in report and "| palette / today's |" in report

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
