"""The layers of layers.py, specified three ways: float64 finite differences, naive references,
and PyTorch. The fast convolutions are held to these in test_fast_layers.py."""

import numpy as np
import pytest
from scipy.signal import correlate

from conftest import (
    FINITE_DIFF,
    FLOAT32_OP,
    SAME_SUMS_64,
    away_from_zero,
    distinct_values,
    numeric_grad,
    rel_error,
)
from minimal_nst.layers import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_backward,
    relu_forward,
)

torch = pytest.importorskip("torch")  # the oracle: a module-level skip, which CI fails
tF = pytest.importorskip("torch.nn.functional")

# (N, C_in, H, W, C_out): odd sizes, C_in = 3 as for an image, and 1x1 maps.
CONV_SHAPES = [(2, 3, 5, 4, 4), (1, 3, 7, 9, 2), (1, 4, 1, 1, 3), (2, 2, 6, 6, 5)]
POOL_SHAPES = [(2, 3, 4, 6), (1, 2, 5, 7), (1, 3, 3, 2), (2, 1, 2, 2)]


# -- finite differences, float64 -----------------------------------------------------------------


@pytest.mark.parametrize("N,C,H,W,F", CONV_SHAPES)
def test_conv2d_backward_matches_finite_differences(N, C, H, W, F):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, 3, 3)), rng.random(F)
    dy = rng.standard_normal((N, F, H, W))

    dx = conv2d_backward(dy, conv2d_forward(x, w, b)[1])
    assert (
        rel_error(dx, numeric_grad(lambda x: np.sum(conv2d_forward(x, w, b)[0] * dy), x))
        < FINITE_DIFF
    )


def test_relu_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    x, dy = away_from_zero(rng, (2, 3, 5, 7)), rng.standard_normal((2, 3, 5, 7))
    dx = relu_backward(dy, relu_forward(x)[1])
    assert rel_error(dx, numeric_grad(lambda x: np.sum(relu_forward(x)[0] * dy), x)) < FINITE_DIFF


@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("pool", ["avg", "max"])
def test_pool_backward_matches_finite_differences(pool, shape):
    forward, backward = POOLS[pool]
    rng = np.random.default_rng(2)
    x = distinct_values(rng, shape)
    dy = rng.standard_normal(forward(x)[0].shape)
    dx = backward(dy, forward(x)[1])
    assert rel_error(dx, numeric_grad(lambda x: np.sum(forward(x)[0] * dy), x)) < FINITE_DIFF


POOLS = {
    "avg": (avg_pool2d_forward, avg_pool2d_backward),
    "max": (max_pool2d_forward, max_pool2d_backward),
}


# -- naive references for every forward -----------------------------------------------------------


def conv2d_naive(x, w, b):
    """Zero-padded cross-correlation, one channel pair at a time, by scipy.signal."""
    N, C, H, W = x.shape
    y = np.zeros((N, w.shape[0], H, W)) + b[None, :, None, None]
    for n in range(N):
        for f in range(w.shape[0]):
            for c in range(C):
                y[n, f] += correlate(np.pad(x[n, c], 1), w[f, c], mode="valid")
    return y


def pool_naive(x, k, reduce):
    N, C, H, W = x.shape
    y = np.zeros((N, C, H // k, W // k))
    for i in range(H // k):
        for j in range(W // k):
            y[:, :, i, j] = reduce(x[:, :, i * k : i * k + k, j * k : j * k + k], axis=(2, 3))
    return y


@pytest.mark.parametrize("N,C,H,W,F", CONV_SHAPES)
def test_conv2d_forward_matches_naive(N, C, H, W, F):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, 3, 3)), rng.random(F)
    assert rel_error(conv2d_forward(x, w, b)[0], conv2d_naive(x, w, b)) < SAME_SUMS_64


@pytest.mark.parametrize("shape", POOL_SHAPES)
def test_pool_and_relu_forwards_match_naive(shape):
    x = np.random.default_rng(4).standard_normal(shape)
    assert rel_error(avg_pool2d_forward(x)[0], pool_naive(x, 2, np.mean)) < SAME_SUMS_64
    assert rel_error(max_pool2d_forward(x)[0], pool_naive(x, 2, np.max)) == 0
    assert np.array_equal(relu_forward(x)[0], np.where(x > 0, x, 0))


def test_pooling_a_map_smaller_than_the_window_is_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        avg_pool2d_forward(np.zeros((1, 1, 1, 3)))


# -- PyTorch oracle: forward and backward, float64 and float32, NumPy and CuPy --------------------

TOLERANCE = {np.float64: SAME_SUMS_64, np.float32: FLOAT32_OP}  # one op, K <= 54 terms


def torch_forward_backward(op, x, dy, *params):
    """The same op in PyTorch: (y, dx) for the scalar sum(y * dy)."""
    xt = torch.tensor(x, requires_grad=True)
    y = op(xt, *[torch.tensor(p) for p in params])
    y.backward(torch.tensor(dy))
    return y.detach().numpy(), xt.grad.numpy()


TORCH_OPS = {
    "relu": (relu_forward, relu_backward, tF.relu),
    "avg_pool2d": (avg_pool2d_forward, avg_pool2d_backward, lambda x: tF.avg_pool2d(x, 2)),
    "max_pool2d": (max_pool2d_forward, max_pool2d_backward, lambda x: tF.max_pool2d(x, 2)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("N,C,H,W,F", CONV_SHAPES)
def test_conv2d_agrees_with_pytorch(xp, dtype, N, C, H, W, F):
    rng = np.random.default_rng(5)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(N, C, H, W), (F, C, 3, 3), (F,)])
    dy = rng.standard_normal((N, F, H, W)).astype(dtype)
    y_ref, dx_ref = torch_forward_backward(
        lambda x, w, b: tF.conv2d(x, w, b, padding=1), x, dy, w, b
    )

    y, cache = conv2d_forward(xp.asarray(x), xp.asarray(w), xp.asarray(b))
    dx = conv2d_backward(xp.asarray(dy), cache)

    assert y.dtype == dtype and dx.dtype == dtype
    assert rel_error(y, y_ref) < TOLERANCE[dtype], "forward went wrong"
    assert rel_error(dx, dx_ref) < TOLERANCE[dtype], "backward went wrong"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("name", TORCH_OPS)
def test_relu_and_pooling_agree_with_pytorch(xp, dtype, shape, name):
    forward, backward, torch_op = TORCH_OPS[name]
    rng = np.random.default_rng(6)
    x = (distinct_values(rng, shape) - 0.05 * np.prod(shape)).astype(dtype)  # half below 0
    dy = rng.standard_normal(torch_op(torch.tensor(x)).shape).astype(dtype)
    y_ref, dx_ref = torch_forward_backward(torch_op, x, dy)

    y, cache = forward(xp.asarray(x))
    dx = backward(xp.asarray(dy), cache)

    assert y.dtype == dtype and dx.dtype == dtype
    assert rel_error(y, y_ref) < TOLERANCE[dtype], "forward went wrong"
    assert rel_error(dx, dx_ref) < TOLERANCE[dtype], "backward went wrong"
    assert type(dx) is type(xp.asarray(x)), "the result must stay on the backend"
