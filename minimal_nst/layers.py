"""The four layers VGG-19 needs, written to be read: each op a forward/backward pair.

Arrays are (N, C, H, W). `*_forward(x, ...)` returns `(y, cache)`; `*_backward(dy, cache)` returns
dL/dx given dL/dy. The code is written against `xp` (NumPy or CuPy), so it runs on both.
This file is the specification; `fast_layers.py` computes the same convolution faster and is
tested equal to it.
"""

from .backend import get_array_module

# -- convolution: kh x kw kernels (3x3 in VGG), stride 1, zero padding that keeps the size --------


def conv2d_forward(x, w, b):
    """y[n, f, h, w] = b[f] + sum_{c,i,j} w[f, c, i, j] x_pad[n, c, h + i, w + j].

    im2col makes it one matrix product: each output pixel's receptive field becomes a column.
    """
    xp = get_array_module(x)
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    x_pad = xp.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    cols = im2col(x_pad, kh, kw, H, W)  # (C*kh*kw, N*H*W)
    y = w.reshape(F, -1) @ cols + b[:, None]  # (F, N*H*W)
    return y.reshape(F, N, H, W).transpose(1, 0, 2, 3), (x.shape, w)  # (N, F, H, W)


def conv2d_backward(dy, cache):
    """dx: the forward's matrix product transposed, dcols = W^T dy, folded back onto the image."""
    (N, C, H, W), w = cache
    xp = get_array_module(dy)
    F, _, kh, kw = w.shape
    dy_mat = dy.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N*H*W)
    dcols = (w.reshape(F, -1).T @ dy_mat).reshape(C, kh, kw, N, H, W)
    dx_pad = xp.zeros((N, C, H + kh - 1, W + kw - 1), dtype=dy.dtype)
    for i in range(kh):  # col2im: each shifted copy adds back where im2col took it from
        for j in range(kw):
            dx_pad[:, :, i : i + H, j : j + W] += dcols[:, i, j].transpose(1, 0, 2, 3)
    return dx_pad[:, :, kh // 2 : kh // 2 + H, kw // 2 : kw // 2 + W]


def im2col(x_pad, kh, kw, H, W):
    """(N, C, H + kh - 1, W + kw - 1) -> (C*kh*kw, N*H*W); row (c, i, j) is x_pad[:, c] shifted."""
    xp = get_array_module(x_pad)
    N, C = x_pad.shape[:2]
    cols = xp.empty((C, kh, kw, N, H, W), dtype=x_pad.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, i, j] = x_pad[:, :, i : i + H, j : j + W].transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * H * W)


# -- ReLU ----------------------------------------------------------------------------------------


def relu_forward(x):
    """y = max(x, 0). The cache is y itself: y > 0 exactly where x > 0."""
    xp = get_array_module(x)
    y = xp.maximum(x, 0)
    return y, y


def relu_backward(dy, cache):
    """dx = dy where x > 0, else 0 (the gate in the paper's Eqs. 2 and 6)."""
    return dy * (cache > 0)


# -- pooling: k x k windows, stride k, floor mode (a trailing row or column that does not fill a
# window is dropped, as in PyTorch and Caffe's VGG) ----------------------------------------------


def avg_pool2d_forward(x, k=2):
    """y = mean of each k x k window. (N, C, H, W) -> (N, C, H//k, W//k)."""
    y = sum(window_offsets(x, k)) * (1.0 / (k * k))
    return y, (x.shape, k)


def avg_pool2d_backward(dy, cache):
    """Each pixel of a window receives dy / k^2; pixels outside every window receive 0."""
    x_shape, k = cache
    xp = get_array_module(dy)
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    for view in window_offsets(dx, k):
        view[...] = dy * (1.0 / (k * k))
    return dx


def max_pool2d_forward(x, k=2):
    """y = max of each k x k window. (N, C, H, W) -> (N, C, H//k, W//k)."""
    xp = get_array_module(x)
    stacked = xp.stack(window_offsets(x, k), axis=-1)  # (N, C, H//k, W//k, k*k)
    argmax = stacked.argmax(axis=-1)  # the first maximum on ties, as in PyTorch
    return xp.take_along_axis(stacked, argmax[..., None], axis=-1)[..., 0], (x.shape, k, argmax)


def max_pool2d_backward(dy, cache):
    """All of dy goes to the pixel that was the window's maximum."""
    x_shape, k, argmax = cache
    xp = get_array_module(dy)
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    for offset, view in enumerate(window_offsets(dx, k)):
        view[...] = dy * (argmax == offset)
    return dx


def window_offsets(x, k):
    """The k*k strided views x[:, :, i::k, j::k] (floor mode): pixel (i, j) of every window."""
    N, C, H, W = x.shape
    Ho, Wo = H // k, W // k
    if Ho == 0 or Wo == 0:
        raise ValueError(f"cannot pool a {H}x{W} map with {k}x{k} windows: it is too small")
    return [x[:, :, i : Ho * k : k, j : Wo * k : k] for i in range(k) for j in range(k)]
