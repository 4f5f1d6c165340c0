"""Every fast convolution equals the specification, layers.conv2d_forward / conv2d_backward.

Forward and backward, float64 and float32, on odd sizes, on 3 input channels, and on images
that span several row blocks (the blocks are made small, so every block boundary is crossed),
computed one block at a time and side by side on threads.
"""

import threading

import numpy as np
import pytest
from scipy.signal import correlate

from conftest import FINITE_DIFF, FLOAT32_NET, FLOAT32_OP, SAME_SUMS_64, numeric_grad, rel_error
from minimal_nst import fast_layers
from minimal_nst.fast_layers import (
    conv2d_blocked_backward,
    conv2d_blocked_forward,
    conv2d_winograd_backward,
    conv2d_winograd_forward,
    winograd_kernels,
    winograd_tile,
)
from minimal_nst.layers import conv2d_backward, conv2d_forward

torch = pytest.importorskip("torch")  # the oracle: a module-level skip, which CI fails
tF = pytest.importorskip("torch.nn.functional")

# (N, C_in, H, W, C_out): odd sizes, C_in = 3 as for an image, 1x1 maps, a tall and a wide one.
SHAPES = [(2, 3, 5, 4, 4), (1, 3, 7, 9, 2), (1, 4, 1, 1, 3), (2, 2, 6, 6, 5), (1, 5, 23, 3, 6)]
SHAPES += [(1, 6, 4, 29, 3)]


def blocked(x, w, b):
    return conv2d_blocked_forward(x, w, b), conv2d_blocked_backward


def winograd(x, w, b):
    return conv2d_winograd_forward(x, winograd_kernels(w), b), conv2d_winograd_backward


def winograd4(x, w, b):
    return conv2d_winograd_forward(x, winograd_kernels(w, m=4), b), conv2d_winograd_backward


FAST = {"im2col": blocked, "winograd": winograd, "winograd4": winograd4}
TOLERANCE = {np.float64: SAME_SUMS_64, np.float32: FLOAT32_OP}


@pytest.fixture(params=["one block", "many blocks", "many blocks side by side"])
def block_size(request, monkeypatch):
    """Row blocks as large as usual, or so small that each holds one or two rows, computed one
    after the other or on three threads (more than this machine's cores: any order happens)."""
    if request.param.startswith("many blocks"):
        monkeypatch.setitem(fast_layers.BLOCK_ELEMENTS, "numpy", 250)
        monkeypatch.setitem(fast_layers.BLOCK_ELEMENTS, "cupy", 250)
    monkeypatch.setattr(fast_layers, "WORKERS", 3 if request.param.endswith("side") else 1)
    return request.param


@pytest.mark.parametrize("fast", FAST)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("N,C,H,W,F", SHAPES)
def test_fast_conv_equals_the_specification(xp, block_size, fast, dtype, N, C, H, W, F):
    rng = np.random.default_rng(0)
    x, w, b, dy = (
        xp.asarray(rng.standard_normal(s).astype(dtype))
        for s in [(N, C, H, W), (F, C, 3, 3), (F,), (N, F, H, W)]
    )
    y_spec, cache = conv2d_forward(x, w, b)
    dx_spec = conv2d_backward(dy, cache)

    (y, fast_cache), backward = FAST[fast](x, w, b)
    dx = backward(dy, fast_cache)

    assert y.dtype == dtype and dx.dtype == dtype
    assert y.shape == y_spec.shape and dx.shape == x.shape
    assert rel_error(y, y_spec) < TOLERANCE[dtype], "forward went wrong"
    assert rel_error(dx, dx_spec) < TOLERANCE[dtype], "backward went wrong"


def test_small_blocks_really_split_the_rows(monkeypatch):
    monkeypatch.setitem(fast_layers.BLOCK_ELEMENTS, "numpy", 250)
    assert len(fast_layers.row_blocks(np, 23, 5 * 9 * 3)) == 23  # one row a block
    assert fast_layers.row_blocks(np, 5, 100) == [(0, 2), (2, 4), (4, 5)]


def test_blocks_run_side_by_side_with_one_blas_thread_each(monkeypatch):
    from threadpoolctl import threadpool_info

    monkeypatch.setattr(fast_layers, "WORKERS", 2)
    seen, both = [], threading.Barrier(2, timeout=30)

    def work(r0, r1):
        blas_threads = [
            lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"
        ]
        seen.append((r0, threading.current_thread().name, blas_threads))
        if r0 < 2:  # the first two blocks wait for each other: only two threads at once get past
            both.wait()

    before = threadpool_info()
    fast_layers.for_each_block(np, work, [(0, 1), (1, 2), (2, 3), (3, 4)])
    assert sorted(r0 for r0, _, _ in seen) == [0, 1, 2, 3], "every block once"
    assert len({name for _, name, _ in seen}) == 2, "on two threads"
    assert all(set(blas) == {1} for _, _, blas in seen), "BLAS on one thread inside"
    assert threadpool_info() == before, "BLAS threads as they were afterwards"


def test_an_error_in_a_block_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(fast_layers, "WORKERS", 2)

    def work(r0, r1):
        if r0 == 2:
            raise MemoryError("block 2")

    with pytest.raises(MemoryError, match="block 2"):
        fast_layers.for_each_block(np, work, [(0, 1), (1, 2), (2, 3), (3, 4)])


@pytest.mark.parametrize("fast", FAST)
def test_fast_backward_matches_finite_differences(fast):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.random(4)
    dy = rng.standard_normal((2, 4, 7, 6))
    (_, cache), backward = FAST[fast](x, w, b)
    numeric = numeric_grad(lambda x: np.sum(FAST[fast](x, w, b)[0][0] * dy), x)
    assert rel_error(backward(dy, cache), numeric) < FINITE_DIFF


@pytest.mark.parametrize("fast", FAST)
def test_fast_conv_agrees_with_pytorch_in_float32(fast):
    rng = np.random.default_rng(2)
    x, w, b = (
        rng.standard_normal(s).astype(np.float32) for s in [(1, 64, 19, 26), (32, 64, 3, 3), (32,)]
    )
    xt = torch.tensor(x, requires_grad=True)
    yt = tF.conv2d(xt, torch.tensor(w), torch.tensor(b), padding=1)
    dy = rng.standard_normal(yt.shape).astype(np.float32)
    yt.backward(torch.tensor(dy))
    (y, cache), backward = FAST[fast](x, w, b)
    assert rel_error(y, yt.detach().numpy()) < FLOAT32_OP, "forward went wrong"
    assert rel_error(backward(dy, cache), xt.grad.numpy()) < FLOAT32_OP, "backward went wrong"


@pytest.mark.parametrize("m", [2, 4])
def test_winograd_tile_is_the_textbook_formula(m):
    """Y = A^T [(G g G^T) * (B^T d B)] A is the m x m 'valid' cross-correlation of d with g."""
    rng = np.random.default_rng(3)
    for _ in range(5):
        d, g = rng.standard_normal((m + 2, m + 2)), rng.standard_normal((3, 3))
        assert rel_error(winograd_tile(d, g, m), correlate(d, g, mode="valid")) < SAME_SUMS_64


@pytest.mark.parametrize("m", [2, 4])
def test_winograd_fast_path_equals_its_per_tile_reference(m):
    """The fast path, tile by tile, is winograd_tile on the zero-padded input."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((1, 1, 3 * m, 2 * m)), rng.standard_normal((1, 1, 3, 3))
    y = conv2d_winograd_forward(x, winograd_kernels(w, m), np.zeros(1))[0][0, 0]
    x_pad = np.pad(x[0, 0], 1)
    for i in range(0, 3 * m, m):
        for j in range(0, 2 * m, m):
            tile = winograd_tile(x_pad[i : i + m + 2, j : j + m + 2], w[0, 0], m)
            assert rel_error(y[i : i + m, j : j + m], tile) < SAME_SUMS_64


def test_winograd_float32_error_against_float64():
    """On a layer of VGG's size (K = 2304 terms an output), measured against the exact float64
    result: F(2x2) is as accurate as the direct float32 product, give or take its few extra
    additions; F(4x4)'s larger transforms (values up to 8x, A^T's) cost more, yet stay inside
    the float32 bound the network tests hold (about 1e-5 here, against 5e-7 for F(2x2))."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((1, 256, 28, 28)), rng.standard_normal((64, 256, 3, 3)) * 0.05
    exact = conv2d_forward(x, w, np.zeros(64))[0]
    x32, w32, b32 = x.astype(np.float32), w.astype(np.float32), np.zeros(64, np.float32)
    errors = {"direct": rel_error(conv2d_forward(x32, w32, b32)[0], exact)}
    for m in (2, 4):
        errors[m] = rel_error(conv2d_winograd_forward(x32, winograd_kernels(w32, m), b32)[0], exact)
    assert errors[2] < 4 * errors["direct"], errors  # B^T, A^T of F(2x2): entries 0 and +-1
    assert errors[4] < FLOAT32_NET, errors
