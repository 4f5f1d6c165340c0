"""The image as the network sees it: (1, 3, H, W) arrays, BGR, 0-255, minus the VGG mean (how
Caffe's VGG was trained), to and from the uint8 RGB arrays (H, W, 3) people see; resizing; and
the colour transforms of Gatys et al. 2016 (luminance-only transfer, colour matching).

Reading and writing image files is the application's (app/files.py): here are arrays only.
"""

import numpy as np
from PIL import Image

from .backend import to_numpy
from .vgg import VGG_MEAN_BGR


def fit_shape(h, w, max_side):
    """(H, W) scaled so that the longer side is `max_side`, aspect kept."""
    scale = max_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize(rgb, shape):
    """uint8 RGB resized to (H, W) with a Lanczos filter."""
    h, w = shape
    if rgb.shape[:2] == (h, w):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((w, h), Image.LANCZOS))


def preprocess(rgb, xp=np, dtype=np.float32):
    """uint8 RGB (H, W, 3) -> the network's input (1, 3, H, W): BGR, 0-255, minus the mean."""
    bgr = rgb[:, :, ::-1].astype(np.float64) - np.array(VGG_MEAN_BGR)
    return xp.asarray(bgr.transpose(2, 0, 1)[None], dtype=dtype)


def deprocess(x):
    """The inverse of preprocess, rounded and clipped to uint8 RGB (H, W, 3)."""
    x = to_numpy(x)[0].transpose(1, 2, 0).astype(np.float64) + np.array(VGG_MEAN_BGR)
    return np.clip(np.rint(x[:, :, ::-1]), 0, 255).astype(np.uint8)


def pixel_bounds(shape):
    """Per-channel (low, high) of a preprocessed image: the values of pixels 0 and 255."""
    mean = np.asarray(VGG_MEAN_BGR).reshape(1, 3, 1, 1)
    return np.broadcast_to(-mean, shape), np.broadcast_to(255.0 - mean, shape)


# -- colour --------------------------------------------------------------------------------------

_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def luminance(rgb):
    """The Y of YIQ, as a gray uint8 RGB image: what luminance-only transfer optimises."""
    y = rgb.astype(np.float64) @ _RGB_TO_YIQ[0]
    return np.repeat(np.clip(np.rint(y), 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def keep_colors(stylized, content):
    """Gatys et al. 2016, luminance-only transfer: the stylized Y with the content's I and Q."""
    yiq_s = stylized.astype(np.float64) @ _RGB_TO_YIQ.T
    yiq_c = resize(content, stylized.shape[:2]).astype(np.float64) @ _RGB_TO_YIQ.T
    yiq = np.concatenate([yiq_s[:, :, :1], yiq_c[:, :, 1:]], axis=2)
    return np.clip(np.rint(yiq @ np.linalg.inv(_RGB_TO_YIQ).T), 0, 255).astype(np.uint8)


def match_colors(source, target):
    """Recolour `source` so its pixels have the mean and covariance of `target`'s (linear map)."""
    s = source.reshape(-1, 3).astype(np.float64)
    t = target.reshape(-1, 3).astype(np.float64)
    cov_s = np.cov(s, rowvar=False) + 1e-5 * np.eye(3)
    cov_t = np.cov(t, rowvar=False) + 1e-5 * np.eye(3)
    # A = cov_t^1/2 cov_s^-1/2 maps whitened source colours onto the target's covariance.
    a = _sqrtm(cov_t) @ np.linalg.inv(_sqrtm(cov_s))
    out = (s - s.mean(0)) @ a.T + t.mean(0)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(source.shape)


def _sqrtm(c):
    vals, vecs = np.linalg.eigh(c)
    return vecs @ np.diag(np.sqrt(np.maximum(vals, 0))) @ vecs.T
