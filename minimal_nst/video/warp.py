"""Bilinear warping on the backend's arrays (NumPy or CuPy): a stylised frame carried along the
optical flow to the next frame's pixels (Ruder, Dosovitskiy & Brox 2016, "omega" in their
notation). Written as array code, four gathers and their weights, so that it runs on the device
beside the network; tests/test_video.py holds it to OpenCV's remap."""

from ..backend import get_array_module


def sample_points(flow, xp):
    """(X, Y), where each pixel (x, y) looks: (x + u, y + v), clamped to the frame (the border's
    values continue outward, OpenCV's BORDER_REPLICATE), and whether it had to be clamped."""
    H, W = flow.shape[:2]
    X = xp.arange(W, dtype=flow.dtype)[None, :] + flow[..., 0]  # (H, W)
    Y = xp.arange(H, dtype=flow.dtype)[:, None] + flow[..., 1]
    outside = (X < 0) | (X > W - 1) | (Y < 0) | (Y > H - 1)
    return xp.clip(X, 0, W - 1), xp.clip(Y, 0, H - 1), outside


def warp(image, flow):
    """omega(image)(x, y) = image(x + u(x, y), y + v(x, y)), bilinear between the four pixels
    around that point: image (..., H, W) (channels first, any leading axes), flow (H, W, 2) of
    (u, v) in pixels. Points outside the frame take the nearest border value."""
    xp = get_array_module(image, flow)
    H, W = image.shape[-2:]
    X, Y, _ = sample_points(flow, xp)
    x0 = xp.minimum(xp.floor(X).astype(xp.int64), max(W - 2, 0))  # so x0 + 1 is in the frame
    y0 = xp.minimum(xp.floor(Y).astype(xp.int64), max(H - 2, 0))
    wx, wy = (X - x0).astype(image.dtype), (Y - y0).astype(image.dtype)  # in [0, 1]
    x1, y1 = xp.minimum(x0 + 1, W - 1), xp.minimum(y0 + 1, H - 1)
    flat = image.reshape(*image.shape[:-2], H * W)
    at = lambda yy, xx: flat[..., yy * W + xx]  # noqa: E731  (..., H, W)
    top = (1 - wx) * at(y0, x0) + wx * at(y0, x1)
    bottom = (1 - wx) * at(y1, x0) + wx * at(y1, x1)
    return (1 - wy) * top + wy * bottom
