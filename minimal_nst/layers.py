"""The four layers VGG-19 needs, each a forward/backward pair on arrays of shape (N, C, H, W).

`*_forward` returns `(y, cache)`; `*_backward(dy, cache)` returns dL/dx given dL/dy. The code is
written against `xp` (NumPy or CuPy), so one implementation serves the CPU and the GPU.
"""

from .backend import get_array_module

# -- convolution: 3x3 (any kh x kw), stride 1, zero padding --------------------------------------
#
# im2col turns the convolution into a matrix product: each output pixel's receptive field becomes
# a column, so y = W @ cols with W of shape (C_out, C_in*kh*kw).  The columns are built from kh*kw
# shifted views of the padded input; the backward pass folds column gradients back with the same
# kh*kw shifted adds (col2im).  The columns are 9x the input, so they are built a block of output
# rows at a time: a cache-sized block is faster than one huge buffer and keeps the peak memory low.

BLOCK_ELEMENTS = {"numpy": 1 << 21, "cupy": 1 << 26}  # cols per block: 8 MiB on a CPU (float32)


def conv2d_forward(x, w, b, pad=1):
    """y[n, f] = b[f] + sum_{c,i,j} w[f, c, i, j] * x_pad[n, c, h+i, w+j]  (cross-correlation).

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) -> y: (N, F, H + 2pad - kh + 1, W + 2pad - kw + 1)
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho, Wo = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    w_mat = w.reshape(F, C * kh * kw)
    y = xp.empty((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for r0, r1 in _row_blocks(xp, Ho, C * kh * kw * Wo):
            cols = _im2col(x_pad[n], kh, kw, r0, r1, Wo)
            y[n, :, r0:r1] = (w_mat @ cols).reshape(F, r1 - r0, Wo)
    y += b.reshape(F, 1, 1)
    return y, (x, w, pad)


def conv2d_backward(dy, cache, weight_grads=False):
    """dx = W^T @ dy folded back onto the image (col2im); dw, db only if `weight_grads`.

    dy: (N, F, Ho, Wo) -> dx: (N, C, H, W), or (dx, dw, db) when weight_grads is True.
    Style transfer never needs dw and db, so by default they are not computed.
    """
    x, w, pad = cache
    xp = get_array_module(dy)
    N, F, Ho, Wo = dy.shape
    _, C, kh, kw = w.shape
    H, W = x.shape[2:]
    w_mat = w.reshape(F, C * kh * kw)
    dx_pad = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dy.dtype)
    dw = xp.zeros_like(w_mat) if weight_grads else None
    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if weight_grads else None
    for n in range(N):
        for r0, r1 in _row_blocks(xp, Ho, C * kh * kw * Wo):
            dy_block = dy[n, :, r0:r1].reshape(F, (r1 - r0) * Wo)
            dcols = (w_mat.T @ dy_block).reshape(C, kh, kw, r1 - r0, Wo)
            for i in range(kh):  # col2im: each shifted block goes back where it came from
                for j in range(kw):
                    dx_pad[n, :, r0 + i : r1 + i, j : j + Wo] += dcols[:, i, j]
            if weight_grads:
                dw += dy_block @ _im2col(x_pad[n], kh, kw, r0, r1, Wo).T
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
    if not weight_grads:
        return dx
    return dx, dw.reshape(w.shape), dy.sum(axis=(0, 2, 3))


def _im2col(x_pad, kh, kw, r0, r1, Wo):
    """Columns of output rows r0..r1: (C*kh*kw, (r1-r0)*Wo), row (c, i, j) = x_pad[c] shifted."""
    xp = get_array_module(x_pad)
    C = x_pad.shape[0]
    cols = xp.empty((C, kh, kw, r1 - r0, Wo), dtype=x_pad.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x_pad[:, r0 + i : r1 + i, j : j + Wo]
    return cols.reshape(C * kh * kw, (r1 - r0) * Wo)


def _row_blocks(xp, rows, elements_per_row):
    """(r0, r1) ranges covering `rows`, each holding about BLOCK_ELEMENTS column elements."""
    step = max(1, BLOCK_ELEMENTS.get(xp.__name__, 1 << 21) // elements_per_row)
    return [(r0, min(r0 + step, rows)) for r0 in range(0, rows, step)]


# -- the same convolution by Winograd's F(2x2, 3x3) (Lavin & Gray 2016), opt-in ------------------
#
# A 2x2 output tile comes from a 4x4 input tile d as Y = A^T [U * (B^T d B)] A, where U = G w G^T
# is the kernel transformed once: 16 multiplications per tile and channel pair instead of 36.
# Summed over input channels, the 16 elementwise products become 16 matrix products.
# The gradient of a convolution is the convolution of dy with the kernel flipped and its channels
# swapped; flipping the kernel is the same as flipping the image before and after, so the
# backward pass reuses U with its channels swapped (a transposed view, no second copy).

_G = ((1.0, 0.0, 0.0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0.0, 0.0, 1.0))


def winograd_kernels(w):
    """w: (F, C, 3, 3) -> U: (16, F, C), U[4a + b] = (G w G^T)[a, b] for every channel pair."""
    xp = get_array_module(w)
    G = xp.asarray(_G, dtype=w.dtype)
    U = G @ w @ G.T  # (F, C, 4, 4)
    return xp.ascontiguousarray(U.transpose(2, 3, 0, 1).reshape(16, *w.shape[:2]))


def conv2d_winograd_forward(x, U, b):
    """conv2d_forward(x, w, b, pad=1) for a 3x3 w, given U = winograd_kernels(w)."""
    y = _winograd(x, U)
    y += b.reshape(-1, 1, 1)
    return y, U


def conv2d_winograd_backward(dy, U):
    """dx = flip(conv(flip(dy), w with channels swapped)), flip reversing both image axes."""
    flipped = dy[:, :, ::-1, ::-1]
    return _winograd(flipped, U.transpose(0, 2, 1))[:, :, ::-1, ::-1]


def _winograd(x, U):
    """sum_c x[:, c] (*) kernel[:, c], 3x3, pad 1, with U: (16, F, C) transformed kernels."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    F = U.shape[1]
    Th, Tw = (H + 1) // 2, (W + 1) // 2  # 2x2 output tiles; an odd side is padded by one more
    y = xp.empty((N, F, 2 * Th, 2 * Tw), dtype=x.dtype)
    for n in range(N):
        even, odd = _padded_column_planes(x[n], Th, Tw)
        for t0, t1 in _row_blocks(xp, Th, 16 * max(C, F) * Tw):
            rows = slice(2 * t0, 2 * t1 + 2)
            V = _winograd_input(even[:, rows], odd[:, rows], t1 - t0)
            M = xp.matmul(U, V.reshape(16, C, -1)).reshape(16, F, t1 - t0, Tw)
            _winograd_output(M, y[n, :, 2 * t0 : 2 * t1].reshape(F, t1 - t0, 2, Tw, 2))
    return y[:, :, :H, :W]


def _padded_column_planes(x, Th, Tw):
    """The even and odd columns of x zero-padded to (2 Th + 2, 2 Tw + 2), as two contiguous
    (C, 2 Th + 2, Tw + 1) arrays: every tap of a stride-2 tile is then a contiguous slice."""
    xp = get_array_module(x)
    C, H, W = x.shape
    even = xp.zeros((C, 2 * Th + 2, Tw + 1), dtype=x.dtype)
    odd = xp.zeros((C, 2 * Th + 2, Tw + 1), dtype=x.dtype)
    even[:, 1 : H + 1, 1 : 1 + W // 2] = x[:, :, 1::2]  # padded column 2j is x's column 2j - 1
    odd[:, 1 : H + 1, : (W + 1) // 2] = x[:, :, 0::2]  # padded column 2j + 1 is x's column 2j
    return even, odd


def _winograd_input(even, odd, rows):
    """V = B^T d B for every 4x4 tile d (stride 2): (4, 4, C, rows, Tw), from the column planes."""
    xp = get_array_module(even)
    C, Tw = even.shape[0], even.shape[2] - 1
    V = xp.empty((4, 4, C, rows, Tw), dtype=even.dtype)
    t = xp.empty((4, C, even.shape[1], Tw), dtype=even.dtype)
    _bt([even[:, :, :Tw], odd[:, :, :Tw], even[:, :, 1:], odd[:, :, 1:]], t)  # along columns
    for b in range(4):  # ... then along the rows
        _bt([t[b, :, k : k + 2 * rows : 2] for k in range(4)], V[:, b])
    return V


def _bt(taps, out):
    """out[i] = (row i of B^T) . taps, with B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0],
    [0, 1, 0, -1]]."""
    xp = get_array_module(out)
    d0, d1, d2, d3 = taps
    xp.subtract(d0, d2, out=out[0])
    xp.add(d1, d2, out=out[1])
    xp.subtract(d2, d1, out=out[2])
    xp.subtract(d1, d3, out=out[3])


def _winograd_output(M, out):
    """Y = A^T M A for every tile, as one small matrix product: (A^T kron A^T) @ M.

    M: (16, F, rows, Tw) -> out: (F, rows, 2, Tw, 2). A^T = [[1, 1, 1, 0], [0, 1, -1, -1]].
    """
    xp = get_array_module(M)
    F, rows, Tw = M.shape[1:]
    Y = (xp.asarray(_AT_KRON_AT, dtype=M.dtype) @ M.reshape(16, -1)).reshape(2, 2, F, rows, Tw)
    for i in range(2):
        for j in range(2):
            out[:, :, i, :, j] = Y[i, j]


_AT = ((1.0, 1.0, 1.0, 0.0), (0.0, 1.0, -1.0, -1.0))
_AT_KRON_AT = tuple(  # row 2i + j: output pixel (i, j) of a tile as a sum of its 16 products
    tuple(a * b for a in _AT[i] for b in _AT[j]) for i in range(2) for j in range(2)
)


# -- ReLU ----------------------------------------------------------------------------------------


def relu_forward(x):
    """y = max(x, 0). The cache is y itself: y > 0 exactly where x > 0, and y is kept anyway."""
    xp = get_array_module(x)
    y = xp.maximum(x, 0)
    return y, y


def relu_backward(dy, cache):
    """dx = dy where x > 0, else 0 (the gate in the paper's Eqs. 2 and 6)."""
    return dy * (cache > 0)


# -- pooling: k x k windows, stride k, floor mode (a trailing row/column that does not fill a
# window is dropped, as in PyTorch and Caffe's VGG) ----------------------------------------------


def _windows(x, k):
    """(N, C, H, W) -> view (N, C, H//k, k, W//k, k) over the part of x that the windows cover."""
    N, C, H, W = x.shape
    Ho, Wo = H // k, W // k
    if Ho == 0 or Wo == 0:
        raise ValueError(f"cannot pool a {H}x{W} map with {k}x{k} windows: it is too small")
    return x[:, :, : Ho * k, : Wo * k].reshape(N, C, Ho, k, Wo, k)


def _offsets(x, k):
    """The k*k strided views x[:, :, i::k, j::k] (floor mode): pixel (i, j) of every window."""
    Ho, Wo = _windows(x, k).shape[2], _windows(x, k).shape[4]
    return [x[:, :, i : Ho * k : k, j : Wo * k : k] for i in range(k) for j in range(k)]


def avg_pool2d_forward(x, k=2):
    """y = mean of each k x k window. x: (N, C, H, W) -> y: (N, C, H//k, W//k)."""
    views = _offsets(x, k)
    y = views[0] * (1.0 / (k * k))
    for v in views[1:]:
        y += v * (1.0 / (k * k))
    return y, (x.shape, k)


def avg_pool2d_backward(dy, cache):
    """Each input pixel of a window receives dy / k^2; pixels outside every window receive 0."""
    x_shape, k = cache
    xp = get_array_module(dy)
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    share = dy * (1.0 / (k * k))
    for view in _offsets(dx, k):
        view[...] = share
    return dx


def max_pool2d_forward(x, k=2):
    """y = max of each k x k window. x: (N, C, H, W) -> y: (N, C, H//k, W//k)."""
    xp = get_array_module(x)
    N, C = x.shape[:2]
    win = _windows(x, k)
    Ho, Wo = win.shape[2], win.shape[4]
    flat = win.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, Ho, Wo, k * k)
    argmax = flat.argmax(axis=-1)
    y = xp.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return y, (x.shape, k, argmax)


def max_pool2d_backward(dy, cache):
    """The whole of dy goes to the window's maximum (the first one, on ties, as PyTorch does)."""
    x_shape, k, argmax = cache
    xp = get_array_module(dy)
    N, C, Ho, Wo = dy.shape
    onehot = argmax[..., None] == xp.arange(k * k)
    dflat = onehot * dy[..., None]
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    _windows(dx, k)[...] = dflat.reshape(N, C, Ho, Wo, k, k).transpose(0, 1, 2, 4, 3, 5)
    return dx
