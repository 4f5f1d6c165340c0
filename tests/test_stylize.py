"""stylize() end to end on small generated images, and the image helpers it stands on."""

import numpy as np
import pytest
from PIL import Image

from conftest import generated_photo, generated_stripes
from minimal_nst import LossOptions, Objective, Settings, stylize
from minimal_nst.app.files import load_image
from minimal_nst.app.inputs import StylizeError, load_inputs, recolored
from minimal_nst.app.memory import estimate_memory
from minimal_nst.image import (
    deprocess,
    fit_shape,
    keep_colors,
    luminance,
    match_colors,
    preprocess,
    resize,
)
from minimal_nst.losses import default_beta
from minimal_nst.transfer import optimize


def style_distance(net, image, style):
    """The style term of Eq. 7 of `image` with respect to `style`."""
    objective = Objective(net, None, [preprocess(style)], LossOptions(beta=1.0))
    objective.loss_and_grad(preprocess(image))
    return objective.terms["style"]


@pytest.fixture(scope="module", params=["scipy", "lbfgs"])
def run(vgg_numpy, request):
    """The same run with each optimiser: scipy's L-BFGS-B and minimal_nst.lbfgs."""
    photo, stripes = generated_photo(), generated_stripes()
    result = stylize(photo, stripes, net=vgg_numpy, size=64, iterations=15, optimizer=request.param)
    return photo, stripes, result


def test_loss_decreases_and_each_record_is_its_iterate(run):
    history = run[2].history
    assert len(history) == 15
    totals = [r["total"] for r in history]
    # L-BFGS-B accepts a step only where Eq. 7 falls (its line search's sufficient decrease).
    assert all(b <= a for a, b in zip(totals, totals[1:])), totals
    # Fifteen iterations on a smooth 64 px objective: any working quasi-Newton descent more than
    # halves it (this one falls about 14x); a wrong gradient stalls it within a step or two.
    assert totals[-1] < 0.5 * totals[0]
    beta = default_beta(64)  # beta left None: the default at the run's size
    for r in history:  # the terms recorded belong to the same evaluation as the total
        # float32 terms, summed again in float64 here: 1e-6 is 16 float32 roundings
        assert r["total"] == pytest.approx(r["content"] + beta * r["style"], rel=1e-6)


def test_output_leaves_the_content_and_moves_toward_the_style(run, vgg_numpy):
    photo, stripes, result = run
    assert result.image.shape == (48, 64, 3) and result.image.dtype == np.uint8
    # It left the photo: a mean change of 5 grey levels is far above the 0.5 of rounding to
    # uint8 that an unmoved image shows (this one moves about 80).
    assert np.abs(result.image.astype(int) - photo).mean() > 5
    # Toward the style: L-BFGS starts at the photo, where Eq. 7 is beta x style alone (content 0),
    # and only ever lowers Eq. 7, so every later style term is below the photo's. (Measured on
    # the style as the run saw it, 64 px; rounding the result to uint8 moves it by far less.)
    style = resize(stripes, (64, 64))
    assert style_distance(vgg_numpy, result.image, style) < style_distance(vgg_numpy, photo, style)


@pytest.mark.parametrize("optimizer", ["scipy", "lbfgs"])
def test_texture_synthesis_from_noise(vgg_numpy, optimizer):
    stripes = generated_stripes()
    run = dict(net=vgg_numpy, size=40, init="noise", optimizer=optimizer)
    result = stylize(None, stripes, iterations=20, **run)
    noise = stylize(None, stripes, iterations=1, **run)
    assert result.image.shape == (40, 40, 3)
    # The style term is the whole objective here: 19 more descent steps more than halve it
    # (about 35x in fact); a synthesis that did not descend would not move it at all.
    assert style_distance(vgg_numpy, result.image, stripes) < 0.5 * style_distance(
        vgg_numpy, noise.image, stripes
    )


def test_noise_init_is_reproducible_by_seed(vgg_numpy):
    photo, stripes = generated_photo(), generated_stripes()
    a, b, c = (
        stylize(photo, stripes, net=vgg_numpy, size=32, iterations=3, init="noise", seed=s)
        for s in (1, 1, 2)
    )
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)


def test_coarse_to_fine_runs_each_scale_and_ends_at_full_size(vgg_numpy):
    photo, stripes = generated_photo(), generated_stripes()
    records = []

    def callback(record, image):
        records.append((record, image().shape))

    result = stylize(
        photo, stripes, net=vgg_numpy, callback=callback, size=64, iterations=3, scales=2
    )
    assert [r["scale"] for r, _ in records] == [1, 1, 1, 2, 2, 2]
    assert records[0][1] == (34, 45, 3) and records[-1][1] == (48, 64, 3)
    assert result.image.shape == (48, 64, 3)
    # One count per scale, coarse to fine: the cheap coarse scale may take more.
    result = stylize(photo, stripes, net=vgg_numpy, size=64, iterations=(4, 2), scales=2)
    assert [r["scale"] for r in result.history] == [1, 1, 1, 1, 2, 2]


def test_left_to_the_defaults_the_iterations_follow_the_scales(monkeypatch):
    """The backend's count at the first scale and its count at each later one (ITERATIONS)."""
    from minimal_nst.transfer import ITERATIONS, iterations_per_scale, with_defaults

    # Unequal counts, so that first and later swapped, or one of them used for both, shows.
    monkeypatch.setitem(ITERATIONS, "numpy", (100, 30))
    for scales, counts in ((1, 100), (2, (100, 30)), (3, (100, 30, 30))):
        s = with_defaults(Settings(backend="numpy", scales=scales))
        assert s.iterations == counts
        assert iterations_per_scale(s) == (100,) + (30,) * (scales - 1)
    s = with_defaults(Settings(backend="numpy", scales=3, iterations=7))  # given: at every scale
    assert iterations_per_scale(s) == (7, 7, 7)


def test_the_default_schedule_is_coarse_to_fine_on_a_cpu_and_a_count_given_is_one_scale():
    """Neither given: the palette study's 2 scales, 100 then 50 (bench/QUALITY.md); a count
    given: one scale for it, or one per count."""
    from minimal_nst.transfer import iterations_per_scale, with_defaults

    s = with_defaults(Settings(backend="numpy"))
    assert (s.scales, iterations_per_scale(s), s.init) == (2, (100, 50), "recolored")
    assert with_defaults(Settings(backend="numpy", iterations=30)).scales == 1
    assert with_defaults(Settings(backend="numpy", iterations=(30, 10, 5))).scales == 3
    s = with_defaults(Settings(backend="numpy", scales=1))  # the single scale one option away
    assert iterations_per_scale(s) == (100,)


def test_luminance_transfer_keeps_the_content_colours(vgg_numpy):
    photo, stripes = generated_photo(), generated_stripes()
    result = stylize(
        photo, stripes, net=vgg_numpy, size=64, iterations=5, preserve_colors="luminance"
    )
    to_iq = np.array([[0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]).T
    # I and Q are the photo's exactly before the result is rounded to uint8 (at most 0.6 of a
    # level: half a level times the rows' sums 1.19 and 1.05) and clipped to 0..255 where the
    # new luminance is extreme; the style's own colours would be tens of levels away.
    assert np.abs(result.image @ to_iq - photo @ to_iq).mean() < 3.0


def test_luminance_is_itu_r_601_luma_as_pillow_computes_it():
    rgb = np.random.default_rng(1).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    pillow = np.asarray(Image.fromarray(rgb).convert("L")).astype(int)
    y = luminance(rgb)
    assert np.abs(y[:, :, 0].astype(int) - pillow).max() <= 1  # Pillow rounds fixed-point weights
    assert (y[:, :, 0] == y[:, :, 1]).all() and (y[:, :, 1] == y[:, :, 2]).all()


def test_histogram_preservation_recolours_the_style_toward_the_content():
    photo, stripes = generated_photo(), generated_stripes()
    content, target, (style,), _ = load_inputs(photo, [stripes], "content", "histogram")
    assert np.array_equal(content, photo) and np.array_equal(target, photo)
    means = [a.reshape(-1, 3).mean(0) for a in (style, photo, stripes)]
    # The linear map gives the photo's mean exactly, but for rounding (0.5) and clipping at 0 and
    # 255; the stripes' own mean is more than 20 levels away in some channel.
    assert np.abs(means[0] - means[1]).max() < 2 and np.abs(means[0] - means[2]).max() > 20


def test_a_recolored_start_is_the_photo_in_the_paintings_colours():
    photo = generated_photo()
    stripes = (generated_stripes() // 2 + 60).astype(np.uint8)  # mid-range: no clipping
    start = recolored(photo, [stripes], 64, "none")  # at the photo's own size (48 x 64)
    assert start.shape == photo.shape  # the photo's pixels, moved ...
    means = [a.reshape(-1, 3).mean(0) for a in (start, stripes, photo)]
    # ... to the painting's colour mean, but for rounding (0.5) and clipping at 0 and 255; the
    # photo's own mean is more than 20 levels away in some channel.
    assert np.abs(means[0] - means[1]).max() < 2 and np.abs(means[2] - means[1]).max() > 20
    # Its layout is the photo's: every pixel moved by one affine colour map, which a least-squares
    # fit finds again but for rounding to uint8 (0.29 levels RMS; a per-pixel change: ~10).
    X = np.c_[photo.reshape(-1, 3), np.ones(photo.size // 3)].astype(float)
    y = start.reshape(-1, 3).astype(float)
    residual = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    assert np.sqrt((residual**2).mean()) < 1
    # Two paintings: their pixels pooled, so the start's mean lies between theirs.
    other = (stripes[::-1] // 2 + 40).astype(np.uint8)  # the same size: each counts half
    both = recolored(photo, [stripes, other], 64)
    pooled = (means[1] + other.reshape(-1, 3).mean(0)) / 2
    assert np.abs(both.reshape(-1, 3).mean(0) - pooled).max() < 2
    # With --preserve-colors the point is the photo's own colours: the start is the photo.
    assert np.array_equal(recolored(photo, [stripes], 64, "luminance"), photo)


@pytest.mark.parametrize("optimizer", ["scipy", "lbfgs"])
def test_optimiser_returns_the_best_image_it_evaluated_not_the_last(optimizer):
    """Ctrl-C lands right after an evaluation that went badly: the best one is kept."""

    class WorseThenCtrlC:
        terms, evaluated = {}, []

        def loss_and_grad(self, x):
            if len(self.evaluated) == 6:
                raise KeyboardInterrupt
            loss = float(((x - 3.0) ** 4).sum()) + (1e9 if len(self.evaluated) == 5 else 0)
            self.evaluated.append((loss, x.copy()))
            return loss, 4 * (x - 3.0) ** 3

    x0 = np.random.default_rng(2).normal(0, 20, (1, 3, 4, 5))
    objective = WorseThenCtrlC()
    x_best, stopped = optimize(objective, x0, 50, np, np.float64, optimizer=optimizer)
    losses = [loss for loss, _ in objective.evaluated]
    assert stopped == "interrupted" and losses[-1] > min(losses)
    assert np.array_equal(x_best, objective.evaluated[int(np.argmin(losses))][1])


def test_colour_matching_gives_the_targets_mean_and_covariance():
    rng = np.random.default_rng(0)
    source = rng.integers(60, 200, (30, 30, 3)).astype(np.uint8)
    target = (generated_photo() * 0.5 + 60).astype(np.uint8)  # mid-range: no clipping at 0 or 255
    out = match_colors(source, target).reshape(-1, 3).astype(float)
    t = target.reshape(-1, 3).astype(float)
    # Exact but for rounding to uint8: 0.5 of a level on the mean, and uniform rounding noise of
    # variance 1/12 against covariances in the thousands (5% is ~100x that).
    assert np.abs(out.mean(0) - t.mean(0)).max() < 2
    assert np.abs(np.cov(out.T) - np.cov(t.T)).max() < 0.05 * np.abs(np.cov(t.T)).max()


def test_keep_colors_takes_luma_from_one_and_chroma_from_the_other():
    photo = generated_photo()
    gray = np.repeat(photo.mean(2, keepdims=True), 3, axis=2).astype(np.uint8)
    # To YIQ and back is the identity but for two roundings (at most 1 level each).
    assert np.abs(keep_colors(photo, photo).astype(int) - photo).max() <= 2
    assert keep_colors(gray, photo).std(axis=2).mean() > 10  # the colours came back (gray: 0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(size=0), "size must be a positive integer"),
        (dict(iterations=2.5), "iterations must be a positive integer"),
        (dict(preserve_colors="sepia"), "--preserve-colors must be one of"),
        (dict(conv="fft"), "--conv must be one of"),
        (dict(loss=LossOptions(beta=-1.0)), "--style-weight must be >= 0"),
        (dict(loss=LossOptions(style_blend_weights=(1.0, 2.0))), "2 --style-blend-weights for 1"),
        (dict(loss=LossOptions(style_layer_weights=(1.0,))), "1 --style-layer-weights for 5"),
        (dict(loss=LossOptions(style_layer_weights="loud")), "--style-layer-weights must be num"),
        (dict(loss=LossOptions(style_layers=("relu6_1",))), "unknown layer"),
        (dict(size=12), "too small for relu5_1"),
    ],
)
def test_bad_arguments_are_clear_errors(vgg_numpy, kwargs, message):
    with pytest.raises(ValueError, match=message):
        stylize(generated_photo(), generated_stripes(), net=vgg_numpy, **kwargs)


def test_bad_arguments_are_refused_before_the_network_runs():
    with pytest.raises(StylizeError, match="unknown layer"):
        loss = LossOptions(style_layers=("relu6_1",))
        stylize(generated_photo(), generated_stripes(), net="never used", loss=loss)


def test_memory_estimate_grows_with_the_image_and_refuses_the_impossible(vgg_numpy):
    small, _ = estimate_memory((256, 256), [(256, 256)], deepest=29)
    large, _ = estimate_memory((512, 512), [(512, 512)], deepest=29)
    # Activations grow with the pixels, 4x for twice the side; only the pools' floor rounding
    # and the fixed weights (80 MB, taken off) keep it from exactly 4.
    assert 3.5 < (large - 80e6) / (small - 80e6) < 4.5
    with pytest.raises(StylizeError, match="needs about"):
        stylize(generated_photo(), generated_stripes(), net=vgg_numpy, size=60000)


# -- images ---------------------------------------------------------------------------------------


def test_preprocess_is_bgr_minus_the_mean_and_deprocess_inverts_it():
    rgb = generated_photo()
    x = preprocess(rgb)
    assert x.shape == (1, 3, 48, 64) and x.dtype == np.float32
    # float32 values up to 255 hold 1.5e-5 of rounding: abs=1e-4 (B first)
    assert x[0, 0, 5, 7] == pytest.approx(rgb[5, 7, 2] - 103.939, abs=1e-4)
    assert x[0, 2, 5, 7] == pytest.approx(rgb[5, 7, 0] - 123.68, abs=1e-4)
    assert np.array_equal(deprocess(x), rgb)


def test_load_applies_exif_orientation(tmp_path):
    rgb = generated_photo()
    im = Image.fromarray(rgb)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    im.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").shape == (64, 48, 3)


def test_load_handles_alpha_16_bit_and_arrays(tmp_path):
    transparent = np.zeros((20, 20, 4), np.uint8)
    Image.fromarray(transparent).save(tmp_path / "clear.png")
    assert (load_image(tmp_path / "clear.png") == 255).all()  # composited on white
    gray16 = np.full((20, 30), 65535, np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    assert (load_image(tmp_path / "g16.png") == 255).all()
    assert load_image(np.ones((20, 20), np.float32)).max() == 255
    assert load_image(Image.new("L", (20, 18), 7)).shape == (18, 20, 3)


def test_fit_shape_and_resize_keep_the_aspect():
    assert fit_shape(48, 64, 32) == (24, 32)
    assert resize(generated_photo(), (24, 32)).shape == (24, 32, 3)
