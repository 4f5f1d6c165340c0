"""The convolution of `layers.py`, computed faster; nothing here is needed to understand it.

Each op here is tested equal to `layers.conv2d_forward` / `conv2d_backward`, forward and backward,
in float64 and float32 (tests/test_fast_layers.py).
"""

import ctypes

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


# -- Winograd's F(2x2, 3x3) (Lavin & Gray 2016) ----------------------------------------------------
#
# A 2x2 output tile Y comes from a 4x4 input tile d and a 3x3 kernel g as
#     Y = A^T [(G g G^T) * (B^T d B)] A
# 16 multiplications per tile and channel pair instead of 36. The kernels U = G g G^T are
# transformed once; summed over input channels, the 16 elementwise products become 16 matrix
# products. `winograd_tile` is that formula for one tile, the reference for the fast path below.

B_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))
A_T = ((1, 1, 1, 0), (0, 1, -1, -1))


def winograd_tile(d, g):
    """One 2x2 output tile of the 3x3 cross-correlation of a 4x4 tile d with g (NumPy)."""
    B_T_, G_, A_T_ = (np.array(m, dtype=float) for m in (B_T, G, A_T))
    U = G_ @ g @ G_.T  # (4, 4) the transformed kernel
    V = B_T_ @ d @ B_T_.T  # (4, 4) the transformed tile
    return A_T_ @ (U * V) @ A_T_.T  # (2, 2)


def winograd_kernels(w):
    """(F, C, 3, 3) -> U: (16, F, C), U[4a + b] = (G w G^T)[a, b] for every channel pair."""
    xp = get_array_module(w)
    G_ = xp.asarray(G, dtype=w.dtype)
    U = G_ @ w @ G_.T  # (F, C, 4, 4)
    return xp.ascontiguousarray(U.transpose(2, 3, 0, 1).reshape(16, *w.shape[:2]))


def conv2d_winograd_forward(x, U, b):
    """layers.conv2d_forward(x, w, b) for a 3x3 w, given U = winograd_kernels(w)."""
    y = _winograd(x, U)
    y += b.reshape(-1, 1, 1)
    return y, U


def conv2d_winograd_backward(dy, U):
    """dx is dy convolved with the kernels flipped and their channels swapped; flipping the
    kernels is flipping the image before and after, so U serves with its channels swapped."""
    flipped = dy[:, :, ::-1, ::-1]
    return _winograd(flipped, U.transpose(0, 2, 1))[:, :, ::-1, ::-1]


def _winograd(x, U):
    """sum_c x[:, c] (*) w[:, c] with 3x3 kernels, padding 1, for U: (16, F, C)."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    F = U.shape[1]
    Th, Tw = (H + 1) // 2, (W + 1) // 2  # 2x2 output tiles; an odd side gets one more row
    y = xp.empty((N, F, 2 * Th, 2 * Tw), dtype=x.dtype)
    for n in range(N):
        even, odd = _column_planes(x[n], Th, Tw)
        for t0, t1 in row_blocks(xp, Th, 16 * max(C, F) * Tw):
            rows = slice(2 * t0, 2 * t1 + 2)
            V = _input_transform(even[:, rows], odd[:, rows], t1 - t0)  # (4, 4, C, t, Tw)
            M = xp.matmul(U, V.reshape(16, C, -1))  # (16, F, t*Tw)
            Y = _output_transform(M)  # (2, 2, F, t*Tw)
            tile_rows = y[n, :, 2 * t0 : 2 * t1].reshape(F, t1 - t0, 2, Tw, 2)
            for i in range(2):
                for j in range(2):
                    tile_rows[:, :, i, :, j] = Y[i, j].reshape(F, t1 - t0, Tw)
    return y[:, :, :H, :W]


def _column_planes(x, Th, Tw):
    """x zero-padded to (C, 2 Th + 2, 2 Tw + 2), split into its even and odd columns: every tap
    of a stride-2 tile is then a contiguous slice of one plane."""
    xp = get_array_module(x)
    C, H, W = x.shape
    even = xp.zeros((C, 2 * Th + 2, Tw + 1), dtype=x.dtype)
    odd = xp.zeros((C, 2 * Th + 2, Tw + 1), dtype=x.dtype)
    even[:, 1 : H + 1, 1 : 1 + W // 2] = x[:, :, 1::2]  # padded column 2j is x's column 2j - 1
    odd[:, 1 : H + 1, : (W + 1) // 2] = x[:, :, 0::2]  # padded column 2j + 1 is x's column 2j
    return even, odd


def _input_transform(even, odd, rows):
    """V = B^T d B for every 4x4 tile d: (4, 4, C, rows, Tw), along the columns, then the rows."""
    xp = get_array_module(even)
    C, Tw = even.shape[0], even.shape[2] - 1
    t = xp.empty((4, C, even.shape[1], Tw), dtype=even.dtype)
    _times_b_t([even[:, :, :Tw], odd[:, :, :Tw], even[:, :, 1:], odd[:, :, 1:]], t)
    V = xp.empty((4, 4, C, rows, Tw), dtype=even.dtype)
    for b in range(4):
        _times_b_t([t[b, :, k : k + 2 * rows : 2] for k in range(4)], V[:, b])
    return V


def _times_b_t(taps, out):
    """out[i] = sum_k B_T[i][k] taps[k]. Each row of B^T holds one +1 and one other +-1, so
    each output is a single add or subtract: no multiplications."""
    xp = get_array_module(out)
    for i, row in enumerate(B_T):
        (_, first), (sign, second) = sorted(
            [(c, tap) for c, tap in zip(row, taps) if c], key=lambda term: -term[0]
        )
        (xp.add if sign > 0 else xp.subtract)(first, second, out=out[i])


def _output_transform(M):
    """Y = A^T M A for every tile as one small matrix product, (A^T kron A^T) @ M: (2, 2, ...)."""
    xp = get_array_module(M)
    A_T_ = np.array(A_T, dtype=float)
    kron = xp.asarray(np.kron(A_T_, A_T_), dtype=M.dtype)  # (4, 16): row 2i + j is output (i, j)
    return (kron @ M.reshape(16, -1)).reshape(2, 2, *M.shape[1:])
