"""Optical flow between consecutive frames, and where it can be trusted (Ruder, Dosovitskiy &
Brox 2016, Sec. 3.1).

The flow comes from OpenCV's DIS (Kroeger et al., "Fast optical flow using dense inverse
search", ECCV 2016), on the host: Ruder et al. used DeepFlow, which its users found the slow part
of a run (22 s a frame at 960x540); DIS takes milliseconds and is in OpenCV itself, where
DeepFlow needs the contrib modules. bench/VIDEO.md measures its error on clips of known motion.
"""

import numpy as np

from .warp import sample_points, warp

DIS_PRESET = "medium"  # OpenCV's presets: ultrafast, fast, medium (bench/VIDEO.md)


def optical_flow(a, b, preset=DIS_PRESET):
    """The flow w from frame a to frame b, (H, W, 2) float32 of (u, v) in pixels: a(x, y) is
    b(x + u, y + v). a, b: RGB uint8 (H, W, 3) on the host."""
    import cv2

    presets = {
        "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
        "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
        "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
    }
    dis = cv2.DISOpticalFlow_create(presets[preset])
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in (a, b)]
    return dis.calc(gray[0], gray[1], None)


def disoccluded(forward, backward):
    """Where the backward flow w^ (frame i to i-1) and the forward flow w (i-1 to i), warped to
    frame i, do not undo each other (Ruder et al. Sec. 3.1): w~(x) = w(x + w^(x)), and
    |w~ + w^|^2 > 0.01 (|w~|^2 + |w^|^2) + 0.5."""
    carried = warp(forward.transpose(2, 0, 1), backward).transpose(1, 2, 0)  # w~, (H, W, 2)
    mismatch = ((carried + backward) ** 2).sum(axis=-1)
    return mismatch > 0.01 * ((carried**2).sum(axis=-1) + (backward**2).sum(axis=-1)) + 0.5


def motion_boundary(backward):
    """Where the backward flow changes fast (Ruder et al. Sec. 3.1):
    |grad u^|^2 + |grad v^|^2 > 0.01 |w^|^2 + 0.002 (central differences, one-sided at the
    frame's edge, numpy.gradient's)."""
    steep = sum(g**2 for c in (0, 1) for g in np.gradient(backward[..., c]))
    return steep > 0.01 * (backward**2).sum(axis=-1) + 0.002


def consistency(forward, backward):
    """c, the per-pixel weight of the temporal loss at frame i, (H, W) float32: 0 where frame i
    shows what frame i-1 did not (disoccluded), at motion boundaries, and where w^ points out of
    the frame (nothing there to carry over); 1 elsewhere."""
    _, _, outside = sample_points(backward, np)
    untrusted = disoccluded(forward, backward) | motion_boundary(backward) | outside
    return (~untrusted).astype(np.float32)
