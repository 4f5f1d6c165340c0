"""The paper's losses (Eqs. 1-7): each equation by finite differences, then the whole objective
against the PyTorch oracle on the real VGG-19 weights."""

import numpy as np
import pytest
from oracle import TorchObjective

from conftest import (
    FINITE_DIFF,
    FINITE_DIFF_NET,
    FLOAT32_NET,
    SAME_SUMS_64,
    TORCH_64,
    numeric_grad,
    rel_error,
)
from minimal_nst import LossOptions, Objective
from minimal_nst.losses import (
    DEFAULT_LAYER_WEIGHTS,
    content_loss,
    gram_matrix,
    style_layer_loss,
    style_loss,
    style_target,
    total_loss,
    tv_loss,
)

# -- each equation -------------------------------------------------------------------------------


def test_gram_matrix_is_eq3():
    F = np.random.default_rng(0).standard_normal((4, 9))
    naive = [[sum(F[i, k] * F[j, k] for k in range(9)) for j in range(4)] for i in range(4)]
    assert rel_error(gram_matrix(F), np.array(naive)) < SAME_SUMS_64


def test_content_loss_is_eq1_and_its_gradient_eq2():
    rng = np.random.default_rng(1)
    F, P = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    loss, dF = content_loss(F, P)
    assert loss == pytest.approx(0.5 * np.sum((F - P) ** 2), rel=SAME_SUMS_64)
    assert rel_error(dF.ravel(), numeric_grad(lambda F: content_loss(F, P)[0], F)) < FINITE_DIFF


def test_style_layer_loss_is_eq4_and_its_gradient_eq6():
    rng = np.random.default_rng(2)
    F, Fs = rng.random((6, 11)), rng.random((6, 11))
    A = Fs @ Fs.T
    E, dF = style_layer_loss(F, A)
    N, M = F.shape
    assert E == pytest.approx(np.sum((F @ F.T - A) ** 2) / (4 * N**2 * M**2), rel=SAME_SUMS_64)
    assert rel_error(dF.ravel(), numeric_grad(lambda F: style_layer_loss(F, A)[0], F)) < FINITE_DIFF
    # The paper's own form of Eq. 6: (F^T (G - A))^T / (N^2 M^2).
    assert rel_error(dF, (F.T @ (F @ F.T - A)).T / (N**2 * M**2)) < SAME_SUMS_64


def test_style_loss_is_eq5_a_weighted_sum_of_layers():
    rng = np.random.default_rng(3)
    feats = {"a": rng.random((3, 5)), "b": rng.random((4, 2))}
    targets = {k: rng.random((f.shape[0], f.shape[0])) for k, f in feats.items()}
    total, grads = style_loss(feats, targets, {"a": 0.25, "b": 2.0})
    expected = 0.25 * style_layer_loss(feats["a"], targets["a"])[0]
    expected += 2.0 * style_layer_loss(feats["b"], targets["b"])[0]
    assert total == pytest.approx(expected, rel=SAME_SUMS_64)
    assert rel_error(grads["b"], 2.0 * style_layer_loss(feats["b"], targets["b"])[1]) < SAME_SUMS_64


def test_total_loss_is_eq7_and_a_shared_layer_gets_both_gradients():
    g = {"a": np.ones(3), "b": np.full(3, 2.0)}
    L, grads = total_loss((4.0, {"a": g["a"]}), (5.0, {"a": g["a"], "b": g["b"]}), 2.0, 10.0)
    assert L == 2.0 * 4.0 + 10.0 * 5.0
    assert np.array_equal(grads["a"], np.full(3, 12.0)) and np.array_equal(grads["b"], 20 * g["a"])


def test_style_target_normalises_the_blend_weights_and_each_styles_size():
    rng = np.random.default_rng(8)
    F1, F2 = rng.random((4, 30)), rng.random((4, 70))
    per_pixel = [gram_matrix(F1) / 30, gram_matrix(F2) / 70]
    assert (
        rel_error(style_target([F1, F2], [2.0, 6.0]), 0.25 * per_pixel[0] + 0.75 * per_pixel[1])
        < SAME_SUMS_64
    )
    assert rel_error(style_target([F1, F2], [0.0, 3.0]), per_pixel[1]) < SAME_SUMS_64
    assert rel_error(style_target([F1], [5.0]), per_pixel[0]) < SAME_SUMS_64


def test_the_layers_are_the_papers_and_its_weights_one_word_away():
    """Content on relu4_2 (the paper's conv4_2, after the ReLU), style on relu1_1 .. relu5_1,
    alpha = 1; w_l = 1/5 by the word "equal" (the default: bench/QUALITY.md's choice)."""
    assert LossOptions().style_layer_weights == DEFAULT_LAYER_WEIGHTS
    paper = LossOptions(style_layer_weights="equal")
    assert paper.content_layers == ("relu4_2",)
    assert paper.style_layers == ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    assert paper.layer_weights() == {name: 0.2 for name in paper.style_layers}
    assert paper.alpha == 1.0 and paper.tv_weight == 0.0


def test_the_classic_weights_go_as_one_over_the_square_of_the_feature_maps():
    """jcjohnson/neural-style's balance: 0.512 at 64 maps (relu1_1), so 64 : 16 : 4 : 1 : 1."""
    classic = LossOptions(style_layer_weights="classic").layer_weights()
    assert list(classic.values()) == pytest.approx([0.512, 0.128, 0.032, 0.008, 0.008], rel=1e-12)
    # any layer, by its own number of maps: relu1_2 has 64, relu3_3 256
    other = LossOptions(style_layers=("relu1_2", "relu3_3"), style_layer_weights="classic")
    assert list(other.layer_weights().values()) == pytest.approx([0.512, 0.032], rel=1e-12)


def test_tv_loss_gradient():
    x = np.random.default_rng(4).standard_normal((1, 3, 4, 5))
    loss, grad = tv_loss(x)
    assert rel_error(grad.ravel(), numeric_grad(lambda x: tv_loss(x)[0], x)) < FINITE_DIFF


# -- the whole objective on the real network ------------------------------------------------


@pytest.fixture(scope="module")
def images():
    """Non-square content (odd sides) and two style images of other sizes, preprocessed-like."""
    rng = np.random.default_rng(5)
    return {
        "content": rng.uniform(-110, 130, (1, 3, 45, 61)),
        "x": rng.uniform(-110, 130, (1, 3, 45, 61)),
        "styles": [rng.uniform(-110, 130, (1, 3, 40, 40)), rng.uniform(-110, 130, (1, 3, 33, 50))],
    }


CASES = {
    "paper": LossOptions(beta=1e3, style_blend_weights=(1.0,), style_layer_weights=(0.2,) * 5),
    "two styles, tv, shared layer": LossOptions(
        alpha=2.0,
        beta=50.0,
        style_blend_weights=(0.7, 0.3),
        tv_weight=1e-2,
        content_layers=("relu2_2", "relu4_2"),
        style_layers=("relu1_2", "relu4_2"),
        style_layer_weights=(0.5, 1.5),
    ),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype,tol", [(np.float64, TORCH_64), (np.float32, FLOAT32_NET)])
def test_objective_agrees_with_pytorch(xp, vgg_numpy, images, case, dtype, tol):
    loss = CASES[case]
    styles = images["styles"][: len(loss.style_blend_weights)]
    objective = Objective(
        vgg_numpy.to(xp, dtype),
        xp.asarray(images["content"], dtype),
        [xp.asarray(s, dtype) for s in styles],
        loss,
    )
    L, grad = objective.loss_and_grad(xp.asarray(images["x"], dtype))

    weights64 = vgg_numpy.to(np, np.float64).weights
    L_ref, grad_ref = TorchObjective(weights64, images["content"], styles, loss).loss_and_grad(
        images["x"]
    )

    assert grad.dtype == dtype and grad.shape == images["x"].shape
    assert abs(L - L_ref) / L_ref < tol, "loss went wrong"
    assert rel_error(grad, grad_ref) < tol, "gradient went wrong"


def test_blend_weights_count_relative_to_each_other(vgg_numpy, images):
    """Blend weights 2 and 6 are 1/4 and 3/4: scaling them all changes nothing."""
    net = vgg_numpy.to(np, np.float64)
    x, content, styles = images["x"], images["content"], images["styles"]

    def loss_at_x(blend):
        return Objective(
            net, content, styles, LossOptions(style_blend_weights=blend)
        ).loss_and_grad(x)[0]

    assert loss_at_x((2.0, 6.0)) == pytest.approx(loss_at_x((0.25, 0.75)), rel=SAME_SUMS_64)
    # swapped, they weigh two unlike styles the other way: an O(1) change, not rounding
    assert loss_at_x((2.0, 6.0)) != pytest.approx(loss_at_x((0.75, 0.25)), rel=1e-3)


def test_objective_gradient_matches_finite_differences(vgg_numpy):
    """float64, a tiny 16x20 image, every paper layer: 60 random pixels checked."""
    rng = np.random.default_rng(6)
    net = vgg_numpy.to(np, np.float64)
    content, style, x = (rng.uniform(-100, 120, (1, 3, 16, 20)) for _ in range(3))
    objective = Objective(net, content, [style], LossOptions(beta=1e3, tv_weight=1e-3))
    _, grad = objective.loss_and_grad(x)
    coords = [tuple(c) for c in zip(*(rng.integers(0, n, 60) for n in x.shape))]
    numeric = numeric_grad(lambda x: objective.loss_and_grad(x)[0], x, h=1e-3, coords=coords)
    assert rel_error(np.array([grad[c] for c in coords]), numeric) < FINITE_DIFF_NET


def test_texture_synthesis_has_no_content_term(vgg_numpy):
    rng = np.random.default_rng(7)
    style, x = rng.uniform(-100, 120, (1, 3, 32, 32)), rng.uniform(-100, 120, (1, 3, 24, 40))
    objective = Objective(vgg_numpy.to(np, np.float64), None, [style], LossOptions(beta=1.0))
    loss, _ = objective.loss_and_grad(x)
    assert objective.terms["content"] == 0 and loss == pytest.approx(objective.terms["style"])
