"""The convolution of `layers.py`, computed faster; nothing here is needed to understand it.

Each op here is tested equal to `layers.conv2d_forward` / `conv2d_backward`, forward and backward,
in float64 and float32 (tests/test_fast_layers.py).
"""

import ctypes
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .backend import get_array_module


def keep_freed_memory():
    """Ask glibc's malloc to keep freed blocks up to 1 GiB instead of returning them to the OS.

    Every evaluation allocates and frees the same few hundred MB of activations and buffers;
    handed back to the OS, each page is faulted in again by the next evaluation, which cost
    10-20% of an evaluation at 256 px here (bench/RESULTS.md). The peak memory is the same.
    Process-wide and harmless elsewhere: on another C library this does nothing.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD: arrays below 1 GiB come from the heap
        libc.mallopt(-1, (1 << 31) - 1)  # M_TRIM_THRESHOLD: and freed heap memory is kept
    except (OSError, AttributeError):
        pass


# -- im2col a block of output rows at a time ------------------------------------------------------
#
# The columns are 9x the input. Built for a cache-sized block of output rows at a time, the
# matrix products run at the same speed and the peak memory stays low.

BLOCK_ELEMENTS = {"numpy": 1 << 21, "cupy": 1 << 26}  # column elements per block: 8 MiB on a CPU


def conv2d_blocked_forward(x, w, b):
    """layers.conv2d_forward(x, w, b), one block of output rows at a time."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    x_pad = xp.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    w_mat = w.reshape(F, -1)  # (F, C*kh*kw)
    y = xp.empty((N, F, H, W), dtype=x.dtype)
    for n in range(N):
        for r0, r1 in row_blocks(xp, H, C * kh * kw * W):
            cols = _im2col_rows(x_pad[n], kh, kw, r0, r1, W)  # (C*kh*kw, (r1-r0)*W)
            y[n, :, r0:r1] = (w_mat @ cols).reshape(F, r1 - r0, W)
    y += b.reshape(F, 1, 1)
    return y, (x.shape, w)


def conv2d_blocked_backward(dy, cache):
    """layers.conv2d_backward(dy, cache), one block of output rows at a time."""
    (N, C, H, W), w = cache
    xp = get_array_module(dy)
    F, _, kh, kw = w.shape
    w_t = w.reshape(F, -1).T  # (C*kh*kw, F)
    dx_pad = xp.zeros((N, C, H + kh - 1, W + kw - 1), dtype=dy.dtype)
    for n in range(N):
        for r0, r1 in row_blocks(xp, H, C * kh * kw * W):
            dcols = (w_t @ dy[n, :, r0:r1].reshape(F, -1)).reshape(C, kh, kw, r1 - r0, W)
            for i in range(kh):  # col2im of the block: output row r0 + t read input row r0 + t + i
                for j in range(kw):
                    dx_pad[n, :, r0 + i : r1 + i, j : j + W] += dcols[:, i, j]
    return dx_pad[:, :, kh // 2 : kh // 2 + H, kw // 2 : kw // 2 + W]


def _im2col_rows(x_pad, kh, kw, r0, r1, W):
    """Columns of output rows r0..r1 of one image: (C*kh*kw, (r1-r0)*W)."""
    xp = get_array_module(x_pad)
    C = x_pad.shape[0]
    cols = xp.empty((C, kh, kw, r1 - r0, W), dtype=x_pad.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x_pad[:, r0 + i : r1 + i, j : j + W]
    return cols.reshape(C * kh * kw, -1)


def row_blocks(xp, rows, elements_per_row):
    """(r0, r1) ranges covering `rows`, each holding about BLOCK_ELEMENTS elements."""
    step = max(1, BLOCK_ELEMENTS[xp.__name__] // elements_per_row)
    return [(r0, min(r0 + step, rows)) for r0 in range(0, rows, step)]


# -- Every core busy ------------------------------------------------------------------------------
#
# NumPy's elementwise passes run on one core; only the matrix products use them all (OpenBLAS).
# Blocks that write disjoint parts of the output run one per core, each with a one-thread BLAS,
# so the transforms use every core too: 12-15% faster per evaluation at 512 px in alternating
# runs here, no gain at 256 px (bench/RESULTS.md).

WORKERS = os.cpu_count() or 1
_executors = {}  # WORKERS -> its thread pool, made on first use


def for_each_block(xp, work, blocks):
    """work(*block) for every block; side by side on a CPU. The blocks must not share output."""
    if xp is not np or WORKERS == 1 or len(blocks) == 1:
        for block in blocks:
            work(*block)
        return
    from threadpoolctl import threadpool_limits  # CPU only: the GPU machine may not have it

    if WORKERS not in _executors:
        _executors[WORKERS] = ThreadPoolExecutor(WORKERS, thread_name_prefix="minimal_nst")
    with threadpool_limits(1, user_api="blas"):  # two BLAS threads per block would oversubscribe
        for _ in _executors[WORKERS].map(lambda block: work(*block), blocks):
            pass  # a worker's exception is raised here


# -- Winograd's F(m x m, 3x3) (Lavin & Gray 2016) ------------------------------------------------
#
# An m x m output tile Y comes from an n x n input tile d (n = m + 2) and a 3x3 kernel g as
#     Y = A^T [(G g G^T) * (B^T d B)] A
# n^2 multiplications per tile and channel pair instead of 9 m^2: 2.25x fewer for F(2x2), 4x for
# F(4x4). The kernels U = G g G^T are transformed once; summed over input channels, the n^2
# elementwise products become n^2 matrix products. `winograd_tile` is that formula for one tile,
# the reference for the fast path below.
#
# F(4x4) interpolates at 0, +-1, +-2 (and infinity), Lavin & Gray's points, whose transforms have
# small entries (at most 8). Its float32 error against float64 is 20x that of F(2x2): 1.1e-5
# against 5.7e-7 relative on 256 channels (tests/test_fast_layers.py).

B_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))
A_T = ((1, 1, 1, 0), (0, 1, -1, -1))

B_T_4 = (
    (4, 0, -5, 0, 1, 0),
    (0, -4, -4, 1, 1, 0),
    (0, 4, -4, -1, 1, 0),
    (0, -2, -1, 2, 1, 0),
    (0, 2, -1, -2, 1, 0),
    (0, 4, 0, -5, 0, 1),
)
G_4 = (
    (1 / 4, 0, 0),
    (-1 / 6, -1 / 6, -1 / 6),
    (-1 / 6, 1 / 6, -1 / 6),
    (1 / 24, 1 / 12, 1 / 6),
    (1 / 24, -1 / 12, 1 / 6),
    (0, 0, 1),
)
A_T_4 = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))

MATRICES = {2: (B_T, G, A_T), 4: (B_T_4, G_4, A_T_4)}  # tile size m -> (B^T, G, A^T)
# The output transform Y = A^T M A of every tile as one matrix: row m a + b gives Y[a, b].
A_T_KRON = {
    m: np.kron(np.array(A_T_, float), np.array(A_T_, float)) for m, (_, _, A_T_) in MATRICES.items()
}


def winograd_tile(d, g, m=2):
    """One m x m output tile of the 3x3 cross-correlation of an (m+2)^2 tile d with g (NumPy)."""
    B_T_, G_, A_T_ = (np.array(M, dtype=float) for M in MATRICES[m])
    U = G_ @ g @ G_.T  # (n, n) the transformed kernel
    V = B_T_ @ d @ B_T_.T  # (n, n) the transformed tile
    return A_T_ @ (U * V) @ A_T_.T  # (m, m)


def winograd_kernels(w, m=2):
    """(F, C, 3, 3) -> U: (n^2, F, C), U[n a + b] = (G w G^T)[a, b] for every channel pair."""
    xp = get_array_module(w)
    G_ = xp.asarray(MATRICES[m][1], dtype=w.dtype)
    U = G_ @ w @ G_.T  # (F, C, n, n)
    return xp.ascontiguousarray(U.transpose(2, 3, 0, 1).reshape(-1, *w.shape[:2]))


def conv2d_winograd_forward(x, U, b):
    """layers.conv2d_forward(x, w, b) for a 3x3 w, given U = winograd_kernels(w, m)."""
    y = _winograd(x, U)
    y += b.reshape(-1, 1, 1)
    return y, U


def conv2d_winograd_backward(dy, U):
    """dx is dy convolved with the kernels flipped and their channels swapped; flipping the
    kernels is flipping the image before and after, so U serves with its channels swapped."""
    flipped = dy[:, :, ::-1, ::-1]
    return _winograd(flipped, U.transpose(0, 2, 1))[:, :, ::-1, ::-1]


def _winograd(x, U):
    """sum_c x[:, c] (*) w[:, c] with 3x3 kernels, padding 1, for U: (n^2, F, C)."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    n = math.isqrt(U.shape[0])
    m, F = n - 2, U.shape[1]
    Th, Tw = -(-H // m), -(-W // m)  # m x m output tiles; a ragged edge is computed and cut
    y = xp.empty((N, F, m * Th, m * Tw), dtype=x.dtype)
    for i in range(N):
        planes = _phase_planes(x[i], m, Th, Tw)

        def tile_rows(t0, t1, planes=planes, i=i):  # output rows m t0 .. m t1 of image i
            rows = slice(m * t0, m * t1 + 2)
            taps = [planes[k % m, :, rows, k // m : k // m + Tw] for k in range(n)]
            V = _input_transform(taps, t1 - t0, m)  # (n, n, C, t, Tw)
            M = xp.matmul(U, V.reshape(n * n, C, -1))  # (n^2, F, t*Tw)
            Y = _output_transform(M, m)  # (m, m, F, t*Tw)
            out = y[i, :, m * t0 : m * t1].reshape(F, t1 - t0, m, Tw, m)
            for a in range(m):
                for b in range(m):
                    out[:, :, a, :, b] = Y[a, b].reshape(F, t1 - t0, Tw)

        for_each_block(xp, tile_rows, row_blocks(xp, Th, n * n * max(C, F) * Tw))
    return y[:, :, :H, :W]


def _phase_planes(x, m, Th, Tw):
    """x zero-padded (one row and column before, up to whole tiles after), split by column
    phase: plane p holds padded columns p, p + m, p + 2m, ..., so every tap of a stride-m tile
    is a contiguous slice of one plane. (m, C, m Th + 2, Tw + 1)."""
    xp = get_array_module(x)
    C, H, W = x.shape
    planes = xp.zeros((m, C, m * Th + 2, Tw + 1), dtype=x.dtype)
    for p in range(m):
        cols = x[:, :, (p - 1) % m :: m]  # x's column c is padded column c + 1
        start = 1 if p == 0 else 0
        planes[p, :, 1 : H + 1, start : start + cols.shape[2]] = cols
    return planes


def _input_transform(taps, rows, m):
    """V = B^T d B for every tile d: (n, n, C, rows, Tw), along the columns, then the rows."""
    xp = get_array_module(taps[0])
    n, (C, R, Tw) = m + 2, taps[0].shape
    times_b_t = _times_b_t if m == 2 else _times_b_t_4
    t = xp.empty((n, C, R, Tw), dtype=taps[0].dtype)
    times_b_t(taps, t)
    V = xp.empty((n, n, C, rows, Tw), dtype=t.dtype)
    for b in range(n):
        times_b_t([t[b, :, k : k + m * rows : m] for k in range(n)], V[:, b])
    return V


def _times_b_t(taps, out):
    """out[i] = sum_k B_T[i][k] taps[k] for F(2x2). Each row of B^T holds one +1 and one other
    +-1, so each output is a single add or subtract: no multiplications."""
    xp = get_array_module(out)
    for i, row in enumerate(B_T):
        (_, first), (sign, second) = sorted(
            [(c, tap) for c, tap in zip(row, taps) if c], key=lambda term: -term[0]
        )
        (xp.add if sign > 0 else xp.subtract)(first, second, out=out[i])


def _times_b_t_4(taps, out):
    """out[i] = sum_k B_T_4[i][k] taps[k] for F(4x4), factored so that rows share their sums:
    rows 1-2 are (d3 + d4) -+ 4 (d1 + d2) and (d4 - d3) + 4 (d1 - d2), rows 3-4 are
    (d4 - d2) +- 2 (d3 - d1): 21 passes over the data for the six rows."""
    xp = get_array_module(out)
    d0, d1, d2, d3, d4, d5 = taps
    s, u = xp.empty_like(out[0]), xp.empty_like(out[0])
    for i, (a, b, c) in enumerate([(d0, d2, d4), (d1, d3, d5)]):  # rows 0 and 5: 4a - 5b + c
        row = out[5 * i]
        xp.multiply(b, 5, out=s)
        xp.multiply(a, 4, out=row)
        row -= s
        row += c
    xp.add(d1, d2, out=s)
    s *= 4
    xp.add(d3, d4, out=out[1])
    out[1] -= s
    xp.subtract(d1, d2, out=s)
    s *= 4
    xp.subtract(d4, d3, out=out[2])
    out[2] += s
    xp.subtract(d4, d2, out=s)
    xp.subtract(d3, d1, out=u)
    u *= 2
    xp.add(s, u, out=out[3])
    xp.subtract(s, u, out=out[4])


def _output_transform(M, m):
    """Y = A^T M A for every tile, as one small matrix product (A^T kron A^T) @ M: (m, m, ...)."""
    xp = get_array_module(M)
    kron = xp.asarray(A_T_KRON[m], dtype=M.dtype)  # (m^2, n^2)
    return (kron @ M.reshape(kron.shape[1], -1)).reshape(m, m, *M.shape[1:])
