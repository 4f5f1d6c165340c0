"""Spatial control (Gatys et al. 2017): guided Gram matrices, each style in its own region.

Each new equation by finite differences, its special case (one all-ones mask) against the
paper's, the whole masked objective against the PyTorch oracle on the real weights, then a run
end to end and every bad mask through the command line.
"""

import numpy as np
import pytest
from oracle import TorchGuidedObjective
from PIL import Image

from conftest import (
    FINITE_DIFF,
    FINITE_DIFF_NET,
    FLOAT32_NET,
    SAME_SUMS_64,
    TORCH_64,
    assert_one_line_error,
    files_in,
    generated_photo,
    generated_stripes,
    numeric_grad,
    rel_error,
)
from minimal_nst import LossOptions, Objective, stylize
from minimal_nst.losses import (
    content_loss,
    gram_matrix,
    guided_gram_matrix,
    guided_style_layer_loss,
    style_layer_loss,
    weighted_content_loss,
)
from minimal_nst.masks import Masks, mask_at_layers

# -- each equation -------------------------------------------------------------------------------


def test_guided_gram_matrix_is_the_mean_over_the_region():
    """G^r_ij = sum_k T_k^2 F_ik F_jk / sum_k T_k^2; a binary mask: the region's mean."""
    rng = np.random.default_rng(0)
    F, T = rng.standard_normal((4, 30)), (np.arange(30) < 12).astype(float)
    inside = F[:, :12]
    assert rel_error(guided_gram_matrix(F, T), inside @ inside.T / 12) < SAME_SUMS_64
    soft = rng.random(30)
    naive = [
        [sum(soft[k] ** 2 * F[i, k] * F[j, k] for k in range(30)) for j in range(4)]
        for i in range(4)
    ]
    assert rel_error(guided_gram_matrix(F, soft), np.array(naive) / np.sum(soft**2)) < SAME_SUMS_64


def test_one_all_ones_mask_is_the_papers_style_loss():
    """With T = 1 and A_l = M_l A: Eq. 4 and its gradient Eq. 6, to float64 rounding."""
    rng = np.random.default_rng(1)
    F, Fs = rng.random((6, 11)), rng.random((6, 11))
    A_per_pixel = Fs @ Fs.T / 11
    E, dF = guided_style_layer_loss(F, np.ones(11), A_per_pixel)
    E_paper, dF_paper = style_layer_loss(F, A_per_pixel * 11)
    assert E == pytest.approx(E_paper, rel=SAME_SUMS_64)
    assert rel_error(dF, dF_paper) < SAME_SUMS_64


def test_guided_style_layer_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    F, T, Fs = rng.random((5, 13)), rng.random(13), rng.random((5, 13))
    A = guided_gram_matrix(Fs, rng.random(13))
    _, dF = guided_style_layer_loss(F, T, A)
    numeric = numeric_grad(lambda F: guided_style_layer_loss(F, T, A)[0], F)
    assert rel_error(dF.ravel(), numeric) < FINITE_DIFF


def test_a_region_gone_at_a_depth_adds_nothing():
    E, dF = guided_style_layer_loss(np.ones((3, 4)), np.zeros(4), np.eye(3))
    assert E == 0.0 and not dF.any()


def test_weighted_content_loss_and_its_gradient():
    rng = np.random.default_rng(3)
    F, P, c = rng.standard_normal((5, 7)), rng.standard_normal((5, 7)), rng.random(7)
    loss, dF = weighted_content_loss(F, P, c)
    assert loss == pytest.approx(0.5 * np.sum(c * (F - P) ** 2), rel=SAME_SUMS_64)
    assert (
        rel_error(dF.ravel(), numeric_grad(lambda F: weighted_content_loss(F, P, c)[0], F))
        < FINITE_DIFF
    )
    assert weighted_content_loss(F, P, np.ones(7))[0] == pytest.approx(content_loss(F, P)[0])


def test_a_mask_follows_the_feature_map_cell_for_cell(vgg_numpy):
    """Odd sizes: each pooling drops a row or column; the mask loses the same ones. At a layer
    after k poolings a cell is the mean of the mask's 2^k x 2^k block."""
    mask = np.random.default_rng(4).random((37, 51))
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    T = mask_at_layers(mask, layers, np, np.float64)
    feats = vgg_numpy.to(np, np.float64).forward(np.zeros((1, 3, 37, 51)), layers)[0]
    for k, name in enumerate(layers):
        h, w = feats[name].shape[2:]
        assert T[name].shape == (h * w,), name
        blocks = mask[: h * 2**k, : w * 2**k].reshape(h, 2**k, w, 2**k).mean(axis=(1, 3))
        assert rel_error(T[name], blocks.ravel()) < SAME_SUMS_64, name


# -- the whole objective, against the oracle ------------------------------------------------------


@pytest.fixture
def scene():
    """A 45x61 content, two styles of other sizes, soft region masks, a mask on style 1 and a
    content weight: every part of spatial control at once."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:45, 0:61]
    left = np.clip((40 - xx) / 20, 0, 1)  # a soft edge between x = 20 and 40
    return {
        "content": rng.uniform(-110, 130, (1, 3, 45, 61)),
        "x": rng.uniform(-110, 130, (1, 3, 45, 61)),
        "styles": [rng.uniform(-110, 130, (1, 3, 40, 40)), rng.uniform(-110, 130, (1, 3, 33, 50))],
        "masks": Masks(
            regions=(left, 1 - left),
            style_regions=((np.mgrid[0:40, 0:40][0] < 25).astype(float), np.ones((33, 50))),
            content_weight=np.exp(-((yy - 22) ** 2 + (xx - 30) ** 2) / 200.0),
        ),
    }


@pytest.mark.parametrize("dtype,tol", [(np.float64, TORCH_64), (np.float32, FLOAT32_NET)])
def test_masked_objective_agrees_with_pytorch(xp, vgg_numpy, scene, dtype, tol):
    loss = LossOptions(
        alpha=2.0, beta=1e3, style_blend_weights=(0.5, 2.0), style_layer_weights=(0.2,) * 5
    )
    objective = Objective(
        vgg_numpy.to(xp, dtype),
        xp.asarray(scene["content"], dtype),
        [xp.asarray(s, dtype) for s in scene["styles"]],
        loss,
        scene["masks"],
    )
    L, grad = objective.loss_and_grad(xp.asarray(scene["x"], dtype))

    weights64 = vgg_numpy.to(np, np.float64).weights
    oracle = TorchGuidedObjective(
        weights64, scene["content"], scene["styles"], loss, scene["masks"]
    )
    L_ref, grad_ref = oracle.loss_and_grad(scene["x"])

    assert grad.dtype == dtype
    assert abs(L - L_ref) / L_ref < tol, "loss went wrong"
    assert rel_error(grad, grad_ref) < tol, "gradient went wrong"


def test_masked_objective_gradient_matches_finite_differences(vgg_numpy, scene):
    rng = np.random.default_rng(6)
    net = vgg_numpy.to(np, np.float64)
    small = Masks(
        tuple(m[:16, :20] for m in scene["masks"].regions),
        scene["masks"].style_regions,
        scene["masks"].content_weight[:16, :20],
    )
    content, x = scene["content"][..., :16, :20], scene["x"][..., :16, :20].copy()
    objective = Objective(net, content, scene["styles"], LossOptions(beta=1e3), small)
    _, grad = objective.loss_and_grad(x)
    coords = [tuple(c) for c in zip(*(rng.integers(0, n, 40) for n in x.shape))]
    numeric = numeric_grad(lambda x: objective.loss_and_grad(x)[0], x, h=1e-3, coords=coords)
    assert rel_error(np.array([grad[c] for c in coords]), numeric) < FINITE_DIFF_NET


def test_one_all_ones_mask_is_todays_objective(vgg_numpy, scene):
    net = vgg_numpy.to(np, np.float64)
    content, style, x = scene["content"], scene["styles"][:1], scene["x"]
    loss = LossOptions(beta=1e3)
    L, grad = Objective(net, content, style, loss).loss_and_grad(x)
    ones = Masks((np.ones((45, 61)),), content_weight=np.ones((45, 61)))
    L_masked, grad_masked = Objective(net, content, style, loss, ones).loss_and_grad(x)
    assert L_masked == pytest.approx(L, rel=SAME_SUMS_64)
    assert rel_error(grad_masked, grad) < SAME_SUMS_64


# -- end to end ------------------------------------------------------------------------------------


def green_dots(side=40):
    """A second small 'painting': green dots on off-white."""
    yy, xx = np.mgrid[0:side, 0:side]
    dots = ((yy % 8 - 4) ** 2 + (xx % 8 - 4) ** 2 < 6)[..., None]
    return np.where(dots, [30, 200, 60], [240, 240, 220]).astype(np.uint8)


def region_distances(rgb, masks, styles, net):
    """{(region, style): ||G^r(rgb) - G(style)|| / ||G(style)||} at relu2_1, a texture layer."""
    from minimal_nst.image import preprocess

    F = net.forward(preprocess(rgb, np, np.float64), ["relu2_1"])[0]["relu2_1"]
    F = F.reshape(F.shape[1], -1)
    out = {}
    for s, style in enumerate(styles):
        Fs = net.forward(preprocess(style, np, np.float64), ["relu2_1"])[0]["relu2_1"]
        A = gram_matrix(Fs.reshape(Fs.shape[1], -1)) / (Fs.shape[2] * Fs.shape[3])
        for r, mask in enumerate(masks):
            T = mask_at_layers(mask, ["relu2_1"], np, np.float64)["relu2_1"]
            out[r, s] = np.linalg.norm(guided_gram_matrix(F, T) - A) / np.linalg.norm(A)
    return out


def test_each_region_takes_its_own_style(vgg_numpy):
    """Stripes on the left half, green dots on the right: measured at relu2_1, each half's
    statistics move toward its own style and away from the other's, and end nearer its own.
    (Here: left 0.71 -> 0.59 from the stripes, 0.83 -> 0.99 from the dots; right 0.83 -> 0.35
    from the dots, 0.70 -> 0.90 from the stripes.)"""
    photo = generated_photo(48, 64)
    styles = [generated_stripes(), green_dots()]
    left = (np.mgrid[0:48, 0:64][1] < 32).astype(float)
    masks = [left, 1 - left]
    result = stylize(
        photo, styles, size=64, iterations=40, backend="numpy", net=vgg_numpy, masks=masks
    )
    net = vgg_numpy.to(np, np.float64)
    before = region_distances(photo, masks, styles, net)
    after = region_distances(result.image, masks, styles, net)
    # Every bound is a distance of the setup itself (the photo's, or the other style's), and the
    # margins (0.12 and more, of distances near 1) are far beyond what rounding shifts.
    for r, other in [(0, 1), (1, 0)]:
        assert after[r, r] < before[r, r], f"region {r} did not move toward its style"
        assert after[r, other] > before[r, other], f"region {r} moved toward the other style"
        assert after[r, r] < after[r, other], f"region {r} is nearer the other style"


def test_masks_work_with_the_other_options(vgg_numpy):
    """A texture with two regions, coarse to fine, from masks of another size: each half of the
    texture ends nearer its own style. With colours kept and a noise start it simply runs."""
    yy = np.mgrid[0:40, 0:40][0]
    styles = [generated_stripes(), green_dots()]
    top = (np.mgrid[0:100, 0:100][0] < 50).astype(float)  # resized to the 40x40 output
    run = dict(size=40, iterations=30, backend="numpy", net=vgg_numpy, masks=[top, 1 - top])
    texture = stylize(None, styles, scales=2, **run)
    assert texture.image.shape == (40, 40, 3) and not texture.stopped
    halves = [(yy < 20).astype(float), (yy >= 20).astype(float)]
    after = region_distances(texture.image, halves, styles, vgg_numpy.to(np, np.float64))
    # each half nearer its own style than the other's: stripes and dots differ by O(1) here
    assert after[0, 0] < after[0, 1] and after[1, 1] < after[1, 0], after
    photo = generated_photo(40, 40)
    kept = stylize(photo, styles, preserve_colors="luminance", init="noise", **run)
    assert kept.image.shape == (40, 40, 3) and not kept.stopped


# -- through the command line ---------------------------------------------------------------------


@pytest.fixture
def mask_files(tmp_path):
    """Mask images beside the generated photo (48x64): halves, an empty one, a negative one."""
    left = (np.mgrid[0:48, 0:64][1] < 32).astype(np.uint8) * 255
    files = {
        "left.png": left,
        "right.png": 255 - left,
        "empty.png": np.zeros((48, 64), np.uint8),
        "center.png": (np.mgrid[0:24, 0:32].sum(axis=0) % 2 * 255).astype(np.uint8),  # resized
    }
    for name, a in files.items():
        Image.fromarray(a).save(tmp_path / name)
    Image.fromarray(np.full((48, 64), -0.5, np.float32)).save(tmp_path / "negative.tif")  # mode F
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.mark.parametrize(
    "options,fragments",
    [
        ("--content-masks left.png right.png empty.png", ["3 --content-masks for 1 style"]),
        ("--content-masks empty.png", ["cover none of the image"]),
        ("--style photo.png --content-masks left.png empty.png", ["empty.png is empty", "style 2"]),
        ("--content-masks notes.txt", ["notes.txt: not an image"]),
        ("--content-masks negative.tif", ["negative.tif", "values must lie in 0..1", "-0.5"]),
        ("--content-masks left.png --style-masks left.png right.png", ["2 --style-masks for 1"]),
        ("--content-masks left.png --style-masks empty.png", ["--style-masks", "is empty"]),
        ("--content-weight-mask negative.tif", ["values must lie in 0..1"]),
    ],
)
def test_bad_masks_are_one_line_errors_and_nothing_is_written(
    nst, mask_files, photo, stripes, options, fragments
):
    before = files_in(mask_files)
    proc = nst(f"--content {photo} --style {stripes} --size 32 --iterations 2 {options}")
    assert_one_line_error(proc, *fragments)
    assert files_in(mask_files) == before


def test_masks_through_the_command_line(nst, mask_files, photo, stripes):
    """One style on the left, a background kept on the right, the middle held to the photo."""
    proc = nst(
        f"--content {photo} --style {stripes} --size 32 --iterations 3 --print-every 0 "
        "--content-masks left.png right.png --content-weight-mask center.png --output out.png"
    )
    assert proc.returncode == 0, proc.stderr
    assert Image.open(mask_files / "out.png").size == (32, 24)
