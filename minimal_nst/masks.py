"""Spatial control: each region of the output painted with its own style.

Gatys, Ecker, Bethge, Hertzmann & Shechtman, "Controlling Perceptual Factors in Neural Style
Transfer" (CVPR 2017), guided Gram matrices. A mask is an (H, W) float array in [0, 1] over an
image: 1 inside its region, 0 outside, soft in between. The losses are in losses.py
(`guided_gram_matrix`, `guided_style_layer_loss`, `weighted_content_loss`); reading a mask file
is the application's (app/files.py, load_mask).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from .layers import avg_pool2d_forward
from .vgg import VGG19_LAYERS


@dataclass(frozen=True)
class Masks:
    """Where each style goes.

    regions: one mask per style on the output; one more, last, is a background with no style,
        held to the photo by the content term alone.
    style_regions: empty, or one mask per style on that style image: where its statistics come
        from (without one, the whole style image).
    content_weight: None, or the content term's weight per pixel (1 everywhere: the paper's).
    """

    regions: tuple
    style_regions: tuple = ()
    content_weight: Any | None = None


def at_scale(masks, shape, style_shapes):
    """The masks resized for one scale: the regions and content weight to the output's (H, W),
    each style's mask to its style image's."""
    return Masks(
        tuple(resize_mask(m, shape) for m in masks.regions),
        tuple(resize_mask(m, s) for m, s in zip(masks.style_regions, style_shapes)),
        None if masks.content_weight is None else resize_mask(masks.content_weight, shape),
    )


def resize_mask(mask, shape):
    """A float mask resized to (H, W), bilinear: a soft edge stays soft."""
    h, w = shape
    if mask.shape == (h, w):
        return mask
    image = Image.fromarray(np.asarray(mask, np.float32))  # mode F
    return np.asarray(image.resize((w, h), Image.BILINEAR), np.float64).clip(0.0, 1.0)


def mask_at_layers(mask, layers, xp=np, dtype=np.float32):
    """{layer: T^l of shape (M_l,)}: the mask brought to each layer's resolution.

    The image reaches a layer through the poolings before it, so the mask goes through the same
    2x2 windows (the row or column an odd size drops included) and follows the feature map cell
    for cell. The windows are averaged whatever the network's pooling: a cell's value is the
    share of its window inside the region, so a soft edge stays soft. (The paper also discusses
    following the receptive fields through the convolutions; not done here.)
    """
    T, wanted, out = xp.asarray(mask, dtype=dtype)[None, None], set(layers), {}  # (1, 1, H, W)
    for name, kind, *_ in VGG19_LAYERS:
        if not wanted - out.keys():
            break
        if kind == "pool":
            T = avg_pool2d_forward(T)[0]
        if name in wanted:
            out[name] = T.reshape(-1)
    return out
