"""A clip stylised frame by frame (Ruder, Dosovitskiy & Brox 2016): the first frame a single run,
each later one started from the stylised frame before it carried along the optical flow, and
held to it (and, with the long-term loss, to earlier ones) by the temporal loss wherever the
flow can be trusted.

Nothing is lost on a long run: each frame is written (atomically) as it finishes, marked with a
key of the options and the inputs; a rerun with the same key starts at the first frame not
written, from the earlier frames as read from their files, as an unstopped run does too.
"""

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..app import keys
from ..app.api import load_network, stylize
from ..app.files import save_image
from ..backend import get_backend
from ..image import deprocess, fit_shape, preprocess, resize
from ..losses import LossOptions, long_term_weights
from ..masks import Masks
from ..objective import Temporal
from ..transfer import Settings, with_defaults
from .clip import frames
from .flow import DIS_PRESET, consistency, optical_flow
from .warp import warp

MODES = ("independent", "warped", "temporal")  # the paper's comparison: (a), (b), (c)
TEMPORAL_PER_PIXEL = 800.0  # see VideoOptions


@dataclass(frozen=True)
class VideoOptions:
    """How the frames hold together. mode: "independent" (each frame alone, from its own
    content), "warped" (each from the previous stylised frame, warped) or "temporal" (that, and
    the temporal loss). temporal_weight: lambda of the temporal loss; None: TEMPORAL_PER_PIXEL x
    H x W, Ruder et al.'s ratio to the content weight (1e3 to 5, their losses means where ours
    are sums: 1/2 sum over relu4_2's 8 H W values) carried over. later_iterations: L-BFGS
    iterations of each frame after the first, which starts near its answer; None: half the
    first's (Ruder et al.: 2000, then 1000). Mode independent runs every frame as the first.
    earlier: J, the earlier frames each frame is held to, counted back from it: (1,), the
    short-term loss; Ruder et al.'s long-term loss (1, 10, 20, 40) holds a pixel to the nearest
    of them that saw it, so that what an occlusion uncovers comes back as it was painted."""

    mode: str = "temporal"
    temporal_weight: float | None = None
    later_iterations: int | None = None
    flow: str = DIS_PRESET
    earlier: tuple = (1,)

    def weight_at(self, shape):
        h, w = shape
        return TEMPORAL_PER_PIXEL * h * w if self.temporal_weight is None else self.temporal_weight

    def later_at(self, first):
        """The iterations of a later frame, given the first frame's."""
        return self.later_iterations or max(1, first // 2)


def video_defaults(s):
    """with_defaults for a clip: one scale unless asked (each frame starts from the last, at the
    size painted), where a single image's default may be coarse to fine."""
    return with_defaults(s if s.scales is not None else dataclasses.replace(s, scales=1))


# What a frames folder may hold: our frames, and our temporary file while one is written.
FRAMES_FOLDER_HOLDS = re.compile(r"frame_\d{5,}\.png|\.minimal-nst-.*\.part")


def frame_path(folder, k):
    return Path(folder) / f"frame_{k + 1:05d}.png"


def run_key(clip, style_paths, settings, loss, video, masks=None):
    """What decides the frames (app/keys.py: the options, every input by its bytes, the masks'
    too, this version's defaults), as the batch keys its jobs."""
    masks = masks if masks is None or isinstance(masks, Masks) else Masks(tuple(masks))
    inputs = [clip.video, *clip.images, *style_paths, settings.init]
    inputs += [*masks.regions, *masks.style_regions, masks.content_weight] if masks else []
    known = {}  # a painting given twice is read once
    digests = [keys.input_digest(v, known) for v in inputs]
    return keys.run_key(settings, loss, video, clip.source, clip.count, digests)


def finished(path, key):
    """The frame at `path` as RGB if a run with this key wrote it, else None."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB")) if im.info.get(keys.FRAME_KEY) == key else None
    except OSError:  # not there, or not an image: to be painted
        return None


def finished_count(clip, folder, key):
    """How many frames from the first a run with this key has written."""
    k = 0
    while k < clip.count and finished(frame_path(folder, k), key) is not None:
        k += 1
    return k


def stylize_video(clip, style, folder, settings=None, loss=None, video=None, *, net=None,
                  stop=None, masks=None, style_paths=(), on_frame=None):  # fmt: skip
    """Paint each frame of `clip` (a clip.Clip) in the style of `style` (as stylize() takes it)
    into folder/frame_00001.png, ...; frames a run with the same options finished are kept.

    net: a VGG19 to reuse; stop: a StopSignals; masks: as stylize takes them; style_paths: the
    style files, for the key; on_frame(k, path, result, or None for a frame kept).
    Returns the frames' paths; None if a frame was interrupted (that frame is not written)."""
    s, loss = video_defaults(settings or Settings()), loss or LossOptions()
    video, xp = video or VideoOptions(), get_backend(s.backend)
    key = run_key(clip, style_paths, s, loss, video, masks)
    history, paths = {}, []  # history: {k: (frame k at the size painted, stylised)}
    Path(folder).mkdir(parents=True, exist_ok=True)
    for k, frame in enumerate(frames(clip)):
        path, result = frame_path(folder, k), None
        painted = finished(path, key)
        if painted is None:
            net = net or load_network(s, xp)
            earlier = earlier_frames(history, k, video)
            result = stylize_frame(frame, style, earlier, net, s, loss, video, xp, stop, masks)
            if result.stopped == "interrupted" or result.image is None:
                return None
            painted = result.image
            save_image(path, painted, text={keys.FRAME_KEY: key})
        remember(history, k, resize(frame, painted.shape[:2]), painted, video)
        paths.append(path)
        if on_frame:
            on_frame(k, path, result)
    return paths


def earlier_frames(history, k, video):
    """{j: (frame k - j, stylised)} for each j in J the clip has before frame k."""
    return {j: history[k - j] for j in video.earlier if k - j in history}


def remember(history, k, frame, painted, video):
    """Keep frame k and its stylised frame; forget the one no later frame is held to."""
    history[k] = (frame, painted)
    history.pop(k - max(video.earlier), None)


def stylize_frame(frame, style, earlier, net, s, loss, video, xp, stop, masks=None):
    """One frame: alone (the first, or mode "independent"), or from the stylised frame before it
    warped to this one along the backward flow, held (mode "temporal") to it and to each earlier
    frame of J by the temporal loss. earlier: earlier_frames's {j: (frame, stylised)}."""
    if not earlier or video.mode == "independent":
        return stylize(frame, style, s, loss, net=net, stop=stop, masks=masks)
    now = resize(frame, fit_shape(*frame.shape[:2], s.size))
    carried = {j: carry(now, *earlier[j], video.flow, xp, s.dtype) for j in sorted(earlier)}
    temporal = None
    if video.mode == "temporal":
        cs = long_term_weights([c for _, c in carried.values()])
        weight = video.weight_at(now.shape[:2])
        temporal = [Temporal(w, xp.asarray(c, dtype=s.dtype), weight)
                    for (w, _), c in zip(carried.values(), cs)]  # fmt: skip
    init = deprocess(carried[min(carried)][0])  # the nearest earlier frame, warped
    later = dataclasses.replace(s, init=init, iterations=video.later_at(s.iterations))
    return stylize(frame, style, later, loss, net=net, stop=stop, masks=masks, temporal=temporal)


def carry(now, before, painted, flow, xp, dtype):
    """(w, c): the stylised frame `painted` of the frame `before` carried to the frame `now`
    along the backward flow, preprocessed (1, 3, H, W); and c (H, W), where that is trusted."""
    before, painted = resize(before, now.shape[:2]), resize(painted, now.shape[:2])
    backward = optical_flow(now, before, flow)  # now(x) is before(x + w^(x))
    w = warp(preprocess(painted, xp, dtype), xp.asarray(backward))
    return w, consistency(optical_flow(before, now, flow), backward)
