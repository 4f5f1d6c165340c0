"""What a user gives `stylize()`: checked once, here, before any work, then loaded.

Messages are one line and name the command-line flag, since most users meet them there.
"""

import math
from pathlib import Path

import numpy as np

from ..image import fit_shape, luminance, match_colors, resize
from ..losses import LAYER_WEIGHTINGS
from ..transfer import STARTS
from ..vgg import CONVS, LAYER_NAMES, VGG19_LAYERS
from .files import load_image
from .probes import probing

OPTIMIZERS = ("scipy", "lbfgs")  # L-BFGS-B on the host; minimal_nst.lbfgs on the device


class StylizeError(ValueError):
    """Bad input to stylize: the message is one line, meant for the user."""


def check_settings(s):
    """Raise StylizeError for the first of the Settings `s` that cannot work."""
    counts = s.iterations if isinstance(s.iterations, tuple) else (s.iterations,)
    numbers = [("--size", s.size), ("--scales", s.scales), *[("--iterations", n) for n in counts]]
    for flag, value in numbers:
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise StylizeError(f"{flag} must be a positive integer, got {value!r}")
    if isinstance(s.iterations, tuple) and len(counts) != s.scales:
        raise StylizeError(f"--iterations: {len(counts)} counts for {s.scales} scales (one each)")
    if not 0 < s.style_scale < math.inf:
        raise StylizeError(f"--style-scale must be > 0, got {s.style_scale}")
    choices = {
        "--preserve-colors": (s.preserve_colors, ("none", "luminance", "histogram")),
        "--pooling": (s.pooling, ("avg", "max")),
        "--conv": (s.conv, tuple(CONVS)),
        "--optimizer": (s.optimizer, OPTIMIZERS),
    }
    for flag, (value, allowed) in choices.items():
        if value not in allowed:
            raise StylizeError(f"{flag} must be one of {', '.join(allowed)}, not {value!r}")
    if isinstance(s.init, (str, Path)) and s.init not in STARTS:
        with probing(StylizeError, f"--init {s.init}"):
            if not Path(s.init).exists():
                raise StylizeError(
                    f"--init must be {', '.join(STARTS)} or an image path; {s.init}: no such file"
                )


def check_loss(loss, has_content, n_styles, init):
    """The Eq. 7 options: known layers, weights >= 0 and finite, one weight per layer or style,
    and something to optimise: a term that counts, and with the content term alone a start
    other than the content image (its optimum) or the content recoloured (which goes back to it)."""
    unknown = sorted(set(loss.content_layers + loss.style_layers) - set(LAYER_NAMES))
    if unknown:
        raise StylizeError(
            f"unknown layer(s) {', '.join(unknown)}; valid: {', '.join(LAYER_NAMES)}"
        )
    for flag, value in [
        ("--content-weight", loss.alpha),
        ("--style-weight", 0.0 if loss.beta is None else loss.beta),
        ("--style-strength", loss.strength),
        ("--tv-weight", loss.tv_weight),
    ]:
        if not 0 <= value < math.inf:
            raise StylizeError(f"{flag} must be >= 0, got {value}")
    for flag, weights, count, what in [
        ("--style-layer-weights", layer_numbers(loss), len(loss.style_layers), "style layer"),
        ("--style-blend-weights", loss.style_blend_weights, n_styles, "style image"),
    ]:
        if weights is not None and len(weights) != count:
            raise StylizeError(f"{len(weights)} {flag} for {count} {what}(s)")
        if weights is not None and not all(0 <= w < math.inf for w in weights):
            raise StylizeError(f"{flag} must be >= 0, got {list(weights)}")
    content_counts = has_content and loss.content_layers and loss.alpha > 0
    if loss.beta is not None and loss.strength != 1.0:  # a multiple of the default, or a value
        raise StylizeError("give --style-weight or --style-strength, not both")
    style_counts = n_styles and loss.style_layers and loss.beta_at(1) > 0
    style_counts = style_counts and any(loss.layer_weights().values())
    style_counts = style_counts and any(loss.style_blend_weights or [1.0])
    if not (content_counts or style_counts):
        raise StylizeError("nothing to optimise: every term of Eq. 7 is off (no layers or weights)")
    if not style_counts and isinstance(init, str) and init in ("content", "recolored"):
        raise StylizeError("nothing to optimise: with no style term the content is the answer")


def layer_numbers(loss):
    """The w_l given as numbers, or None for a weighting's name (which must be one)."""
    weights = loss.style_layer_weights
    if isinstance(weights, str) and weights not in LAYER_WEIGHTINGS:
        raise StylizeError(
            f"--style-layer-weights must be numbers or one of {', '.join(LAYER_WEIGHTINGS)}, "
            f"not {weights!r}"
        )
    return None if isinstance(weights, str) else weights


def check_fits(shape, layers):
    """An image of `shape` (H, W) must survive the poolings before the deepest of `layers`."""
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    pools = sum(kind == "pool" for _, kind, *_ in VGG19_LAYERS[: deepest + 1])
    if min(shape) < 2**pools:
        raise StylizeError(
            f"a {shape[1]}x{shape[0]} image is too small for {LAYER_NAMES[deepest]}"
            f" (needs at least {2**pools} px on each side): raise --size"
        )


def load_masks(masks, n_styles):
    """masks (a masks.Masks, or a list: the regions) loaded and checked against the styles."""
    from ..masks import Masks
    from .files import load_mask

    masks = masks if isinstance(masks, Masks) else Masks(tuple(masks))
    regions, style_regions = [load_mask(m) for m in masks.regions], masks.style_regions
    if regions and len(regions) not in (n_styles, n_styles + 1):
        raise StylizeError(
            f"{len(regions)} --content-masks for {n_styles} style image(s): give one per style,"
            " or one more (last) for a background that keeps the content"
        )
    if style_regions and len(style_regions) != n_styles:
        raise StylizeError(f"{len(style_regions)} --style-masks for {n_styles} style image(s)")
    if regions and not any(m.any() for m in regions):
        raise StylizeError("--content-masks cover none of the image: every mask is all zero")
    style_regions = [load_mask(m) for m in style_regions]
    for flag, group, sources in [
        ("--content-masks", regions[:n_styles], masks.regions),
        ("--style-masks", style_regions, masks.style_regions),
    ]:
        for k, (mask, source) in enumerate(zip(group, sources)):
            if not mask.any():
                name = getattr(source, "name", source)  # a path, or FileBytes from a batch
                name = name if isinstance(name, (str, Path)) else f"mask {k + 1}"
                raise StylizeError(
                    f"{flag}: {name} is empty (all zero): style {k + 1} paints nowhere"
                )
    weight = None if masks.content_weight is None else load_mask(masks.content_weight)
    return Masks(tuple(regions), tuple(style_regions), weight)


def load_inputs(content, styles, init, preserve_colors):
    """(content RGB, RGB to optimise toward, style RGBs, init RGB or None) as uint8 arrays.

    preserve_colors "histogram" recolours each style to the content's colours (never the
    reverse); "luminance" keeps only the luminance of both (Gatys et al. 2016). init
    "recolored": None here (recolored() makes it, once the sizes are checked).
    """
    content_rgb = None if content is None else load_image(content)
    style_rgbs = [load_image(s) for s in styles]
    if content_rgb is None and not style_rgbs:
        raise StylizeError("give a content image, a style image, or both")
    init_rgb = None if isinstance(init, str) and init in STARTS else load_image(init)
    target_rgb = content_rgb
    if preserve_colors == "histogram" and content_rgb is not None:
        style_rgbs = [match_colors(s, content_rgb) for s in style_rgbs]
    if preserve_colors == "luminance":
        style_rgbs = [luminance(s) for s in style_rgbs]
        target_rgb = None if content_rgb is None else luminance(content_rgb)
    return content_rgb, target_rgb, style_rgbs, init_rgb


def recolored(rgb, style_rgbs, size, preserve_colors="none"):
    """The start "recolored": the content at the output's longer side `size` (its colour
    statistics as painted, so that a frame sent at that size and one sent whole start alike) in
    the colours of palette(style_rgbs); with preserve_colors, whose point is the content's own
    colours, the content itself."""
    rgb = resize(rgb, fit_shape(*rgb.shape[:2], size))
    return rgb if preserve_colors != "none" else match_colors(rgb, palette(style_rgbs))


def palette(style_rgbs):
    """Every style's pixels as one (K, 1, 3) image: what a recoloured start takes its colours
    from (each style image counts by its number of pixels)."""
    return np.concatenate([s.reshape(-1, 1, 3) for s in style_rgbs])
