"""The Python API's front: stylize(), images in (paths, PIL images or arrays), an image out.

Everything is checked and loaded here, before any work (inputs.py: one-line errors); the
network is loaded with its weights found and verified; Ctrl-C, SIGTERM and SIGHUP stop the run
cleanly (signals.py). The transfer itself, on arrays, is the algorithm's (minimal_nst/transfer.py).
"""

import contextlib
import dataclasses
from pathlib import Path

from ..backend import get_backend
from ..image import fit_shape, keep_colors
from ..losses import LossOptions
from ..transfer import Settings, coarse_to_fine, scale_sizes, with_defaults
from ..vgg import VGG19
from ..weights import get_weights_path
from .inputs import (
    StylizeError,
    check_fits,
    check_loss,
    check_settings,
    load_inputs,
    load_masks,
    recolored,
)
from .memory import memory_problem
from .signals import StopSignals

DEFAULT_CONTENT = "grace_hopper.jpg"  # matplotlib's sample data: a public-domain photo
DEFAULT_STYLE = Path(__file__).parent / "data" / "default_style.png"  # scripts/paint_style.py


def default_content_path():
    import matplotlib.cbook

    return matplotlib.cbook.get_sample_data(DEFAULT_CONTENT, asfileobj=False)


def stylize(
    content,
    style,
    settings=None,
    loss=None,
    net=None,
    callback=None,
    stop=None,
    masks=None,
    temporal=None,
    **kw,
):
    """Paint `content` in the style of `style`; return a Result (image, loss history).

    content: a path, PIL image or RGB array, or None for texture synthesis (style only).
    style: one of those, or a list of them (blended by loss.style_blend_weights).
    settings: a Settings; keywords override its fields: stylize(a, b, size=256, iterations=50).
    loss: the options of Eq. 7 (LossOptions; default: the paper's); beta None: loss.beta_at(size).
    net: a VGG19 to use instead of loading one (settings.pooling and .conv are then unused).
    callback(record, image_fn) is called after every iteration; image_fn() gives the image so far.
    Ctrl-C, SIGTERM and SIGHUP stop it at a clean point with the best image so far
    (result.stopped == "interrupted"; result.image is None if no iteration had finished).
    stop: the StopSignals to watch, if the caller has them active already.
    masks: spatial control (masks.py): a list of region masks, one per style and optionally a
    last one for a background with no style (paths, PIL images or (H, W) arrays in [0, 1]), or
    a masks.Masks with masks on the style images and a per-pixel content weight too.
    temporal: a video frame's objective.Temporal terms (one, or one per earlier frame) at the
    output's shape, one scale (video/).
    """
    s = with_defaults(dataclasses.replace(settings or Settings(), **kw))
    xp = get_backend(s.backend)
    content_rgb, images, loss = _prepare(content, style, s, loss or LossOptions(), masks, xp)
    with contextlib.nullcontext(stop) if stop else StopSignals() as stop:
        net = net or load_network(s, xp)
        result = coarse_to_fine(net, loss, images, s, xp, callback, stop, temporal)
    if s.preserve_colors == "luminance" and content_rgb is not None and result.image is not None:
        result.image = keep_colors(result.image, content_rgb)
    return result


def check(content, style, settings=None, loss=None, masks=None, **kw):
    """Everything stylize checks before it paints, and nothing more (inputs.py's one-line
    errors): a caller that paints many images with one set of options (a video's frames) says a
    mistake once, before any work, as a single run does."""
    s = with_defaults(dataclasses.replace(settings or Settings(), **kw))
    _prepare(content, style, s, loss or LossOptions(), masks, get_backend(s.backend))


def load_network(s, xp):
    """VGG-19 as the Settings `s` ask for it, on the backend xp."""
    return VGG19.from_hdf5(get_weights_path(s.weights_path), s.pooling, s.dtype, xp, s.conv)


def _prepare(content, style, s, loss, masks, xp):
    """Every input checked and loaded, before any work: (the content RGB, the images
    coarse_to_fine takes, the loss options with beta filled in: the output size's, one beta
    for every scale, so that Objective's own default, for an image of its size, never applies)."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    check_settings(s)
    check_loss(loss, content is not None, len(styles), s.init)
    content_rgb, target_rgb, style_rgbs, init_rgb = load_inputs(
        content, styles, s.init, s.preserve_colors
    )
    masks = None if masks is None else load_masks(masks, len(style_rgbs))
    _check_resources(target_rgb, style_rgbs, s, loss, xp)
    if loss.beta is None:
        loss = dataclasses.replace(loss, beta=loss.beta_at(s.size))
    if isinstance(s.init, str) and s.init == "recolored" and target_rgb is not None:
        init_rgb = recolored(target_rgb, style_rgbs, s.size, s.preserve_colors)
    start = init_rgb if init_rgb is not None else target_rgb if s.init == "content" else None
    return content_rgb, (target_rgb, style_rgbs, start, masks), loss


def _check_resources(target_rgb, style_rgbs, s, loss, xp):
    """The smallest scale must survive the poolings; the largest must fit in memory."""
    reference = target_rgb if target_rgb is not None else style_rgbs[0]
    layers = (loss.content_layers if target_rgb is not None else ()) + loss.style_layers
    layers = layers or loss.content_layers
    check_fits(fit_shape(*reference.shape[:2], scale_sizes(s.size, s.scales)[0]), layers)
    shape = fit_shape(*reference.shape[:2], s.size)
    style_shapes = [fit_shape(*r.shape[:2], round(s.size * s.style_scale)) for r in style_rgbs]
    problem = memory_problem(shape, style_shapes, layers, xp, s.optimizer)
    if problem:
        raise StylizeError(problem)
