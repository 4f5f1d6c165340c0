"""The four layers VGG-19 needs, each a forward/backward pair on arrays of shape (N, C, H, W).

`*_forward` returns `(y, cache)`; `*_backward(dy, cache)` returns dL/dx given dL/dy. The code is
written against `xp` (NumPy or CuPy), so one implementation serves the CPU and the GPU.
"""

from .backend import get_array_module

# -- convolution: 3x3 (any kh x kw), stride 1, zero padding --------------------------------------
#
# im2col turns the convolution into one matrix product: each output pixel's receptive field
# becomes a column, so y = W @ cols with W of shape (C_out, C_in*kh*kw).  The columns are built
# from kh*kw shifted views of the padded input (one contiguous copy), and the backward pass folds
# the column gradients back with the same kh*kw shifted adds.


def conv2d_forward(x, w, b, pad=1):
    """y[n, f] = b[f] + sum_{c,i,j} w[f, c, i, j] * x_pad[n, c, h+i, w+j]  (cross-correlation).

    x: (N, C, H, W), w: (F, C, kh, kw), b: (F,) -> y: (N, F, H + 2pad - kh + 1, W + 2pad - kw + 1)
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho, Wo = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    cols = _im2col(x, kh, kw, pad)
    y = xp.matmul(w.reshape(F, C * kh * kw), cols.reshape(N, C * kh * kw, Ho * Wo))
    y += b.reshape(F, 1)
    return y.reshape(N, F, Ho, Wo), (x, w, pad)


def conv2d_backward(dy, cache, weight_grads=False):
    """dx = W^T @ dy folded back onto the image (col2im); dw, db only if `weight_grads`.

    dy: (N, F, Ho, Wo) -> dx: (N, C, H, W), or (dx, dw, db) when weight_grads is True.
    Style transfer never needs dw and db, so by default they are not computed.
    """
    x, w, pad = cache
    xp = get_array_module(dy)
    N, F, Ho, Wo = dy.shape
    _, C, kh, kw = w.shape
    dy_mat = dy.reshape(N, F, Ho * Wo)
    dcols = xp.matmul(w.reshape(F, C * kh * kw).T, dy_mat)
    dx = _col2im(dcols.reshape(N, C, kh, kw, Ho, Wo), x.shape, pad)
    if not weight_grads:
        return dx
    cols = _im2col(x, kh, kw, pad).reshape(N, C * kh * kw, Ho * Wo)
    dw = xp.matmul(dy_mat, cols.transpose(0, 2, 1)).sum(axis=0).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3))
    return dx, dw, db


def _im2col(x, kh, kw, pad):
    """(N, C, H, W) -> cols (N, C, kh, kw, Ho, Wo): cols[:, :, i, j] is x_pad shifted by (i, j)."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    Ho, Wo = H + 2 * pad - kh + 1, W + 2 * pad - kw + 1
    x_pad = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = xp.empty((N, C, kh, kw, Ho, Wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x_pad[:, :, i : i + Ho, j : j + Wo]
    return cols


def _col2im(dcols, x_shape, pad):
    """The adjoint of _im2col: add each shifted column block back where it came from."""
    xp = get_array_module(dcols)
    N, C, kh, kw, Ho, Wo = dcols.shape
    H, W = x_shape[2:]
    dx_pad = xp.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx_pad[:, :, i : i + Ho, j : j + Wo] += dcols[:, :, i, j]
    return dx_pad[:, :, pad : pad + H, pad : pad + W]


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


def avg_pool2d_forward(x, k=2):
    """y = mean of each k x k window. x: (N, C, H, W) -> y: (N, C, H//k, W//k)."""
    return _windows(x, k).mean(axis=(3, 5)), (x.shape, k)


def avg_pool2d_backward(dy, cache):
    """Each input pixel of a window receives dy / k^2; pixels outside every window receive 0."""
    x_shape, k = cache
    xp = get_array_module(dy)
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    _windows(dx, k)[...] = (dy / (k * k))[:, :, :, None, :, None]
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
