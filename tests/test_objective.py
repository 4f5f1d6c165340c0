"""The paper's losses (Eqs. 1-7): each equation by finite differences, then the whole objective
against the PyTorch oracle on the real VGG-19 weights."""

import numpy as np
import pytest
import torch
from oracle import torch_total_loss

from conftest import numeric_grad, rel_error
from minimal_nst import Objective
from minimal_nst.losses import content_loss, gram_matrix, style_layer_loss, style_loss, tv_loss

# -- each equation -------------------------------------------------------------------------------


def test_gram_matrix_is_eq3():
    F = np.random.default_rng(0).standard_normal((4, 9))
    naive = [[sum(F[i, k] * F[j, k] for k in range(9)) for j in range(4)] for i in range(4)]
    assert rel_error(gram_matrix(F), np.array(naive)) < 1e-14


def test_content_loss_is_eq1_and_its_gradient_eq2():
    rng = np.random.default_rng(1)
    F, P = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    loss, dF = content_loss(F, P)
    assert loss == pytest.approx(0.5 * np.sum((F - P) ** 2), rel=1e-14)
    assert rel_error(dF.ravel(), numeric_grad(lambda F: content_loss(F, P)[0], F)) < 1e-8


def test_style_layer_loss_is_eq4_and_its_gradient_eq6():
    rng = np.random.default_rng(2)
    F, Fs = rng.random((6, 11)), rng.random((6, 11))
    A = Fs @ Fs.T
    E, dF = style_layer_loss(F, A)
    N, M = F.shape
    assert E == pytest.approx(np.sum((F @ F.T - A) ** 2) / (4 * N**2 * M**2), rel=1e-14)
    assert rel_error(dF.ravel(), numeric_grad(lambda F: style_layer_loss(F, A)[0], F)) < 1e-8
    # The paper's own form of Eq. 6: (F^T (G - A))^T / (N^2 M^2).
    assert rel_error(dF, (F.T @ (F @ F.T - A)).T / (N**2 * M**2)) < 1e-14


def test_style_loss_is_eq5_a_weighted_sum_of_layers():
    rng = np.random.default_rng(3)
    feats = {"a": rng.random((3, 5)), "b": rng.random((4, 2))}
    targets = {k: rng.random((f.shape[0], f.shape[0])) for k, f in feats.items()}
    total, grads = style_loss(feats, targets, {"a": 0.25, "b": 2.0})
    expected = 0.25 * style_layer_loss(feats["a"], targets["a"])[0]
    expected += 2.0 * style_layer_loss(feats["b"], targets["b"])[0]
    assert total == pytest.approx(expected, rel=1e-14)
    assert rel_error(grads["b"], 2.0 * style_layer_loss(feats["b"], targets["b"])[1]) < 1e-14


def test_tv_loss_gradient():
    x = np.random.default_rng(4).standard_normal((1, 3, 4, 5))
    loss, grad = tv_loss(x)
    assert rel_error(grad.ravel(), numeric_grad(lambda x: tv_loss(x)[0], x)) < 1e-8


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
    "paper": dict(
        alpha=1.0,
        beta=1e3,
        blend=[1.0],
        tv_weight=0.0,
        content_layers=["relu4_2"],
        style_layers=["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"],
    ),
    "two styles, tv, shared layer": dict(
        alpha=2.0,
        beta=50.0,
        blend=[0.7, 0.3],
        tv_weight=1e-2,
        content_layers=["relu2_2", "relu4_2"],
        style_layers=["relu1_2", "relu4_2"],
    ),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-9), (np.float32, 1e-4)])
def test_objective_agrees_with_pytorch(xp, vgg_numpy, images, case, dtype, tol):
    c = CASES[case]
    styles = images["styles"][: len(c["blend"])]
    layer_weights = list(np.linspace(0.5, 1.5, len(c["style_layers"])))
    net = vgg_numpy.to(xp, dtype)
    objective = Objective(
        net,
        xp.asarray(images["content"], dtype),
        [xp.asarray(s, dtype) for s in styles],
        alpha=c["alpha"],
        beta=c["beta"],
        content_layers=c["content_layers"],
        style_layers=c["style_layers"],
        style_layer_weights=layer_weights,
        style_blend_weights=c["blend"],
        tv_weight=c["tv_weight"],
    )
    loss, grad = objective.loss_and_grad(xp.asarray(images["x"], dtype))

    weights64 = vgg_numpy.to(np, np.float64).weights
    xt = torch.tensor(images["x"], requires_grad=True)
    ref = torch_total_loss(
        weights64,
        xt,
        torch.tensor(images["content"]),
        [torch.tensor(s) for s in styles],
        c["alpha"],
        c["beta"],
        c["content_layers"],
        c["style_layers"],
        layer_weights,
        c["blend"],
        c["tv_weight"],
    )
    ref.backward()

    assert grad.dtype == dtype and grad.shape == images["x"].shape
    assert abs(loss - ref.item()) / ref.item() < tol, "loss went wrong"
    assert rel_error(grad, xt.grad.numpy()) < tol, "gradient went wrong"


def test_objective_gradient_matches_finite_differences(vgg_numpy):
    """float64, a tiny 16x20 image, every paper layer: 60 random pixels checked."""
    rng = np.random.default_rng(6)
    net = vgg_numpy.to(np, np.float64)
    content, style, x = (rng.uniform(-100, 120, (1, 3, 16, 20)) for _ in range(3))
    objective = Objective(net, content, [style], alpha=1.0, beta=1e3, tv_weight=1e-3)
    _, grad = objective.loss_and_grad(x)
    coords = [tuple(c) for c in zip(*(rng.integers(0, n, 60) for n in x.shape))]
    numeric = numeric_grad(lambda x: objective.loss_and_grad(x)[0], x, h=1e-3, coords=coords)
    assert rel_error(np.array([grad[c] for c in coords]), numeric) < 1e-6


def test_texture_synthesis_has_no_content_term(vgg_numpy):
    rng = np.random.default_rng(7)
    style, x = rng.uniform(-100, 120, (1, 3, 32, 32)), rng.uniform(-100, 120, (1, 3, 24, 40))
    objective = Objective(vgg_numpy.to(np, np.float64), None, [style], beta=1.0)
    loss, _ = objective.loss_and_grad(x)
    assert objective.terms["content"] == 0 and loss == pytest.approx(objective.terms["style"])


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(style_layers=["relu9_1"]), "unknown layer"),
        (dict(beta=-1.0), "beta must be >= 0"),
        (dict(style_blend_weights=[1.0, 2.0]), "2 style blend weight"),
        (dict(style_layer_weights=[1.0]), "1 style layer weight"),
    ],
)
def test_objective_rejects_bad_options(vgg_numpy, kwargs, message):
    img = np.zeros((1, 3, 32, 32), np.float32)
    with pytest.raises(ValueError, match=message):
        Objective(vgg_numpy, img, [img], **kwargs)
