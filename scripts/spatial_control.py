"""Spatial control (Gatys et al. 2017): each region of the photo in its own style, the face kept.

    python scripts/spatial_control.py [--size 256] [--iterations 100] [--output spatial_control.png]

The masks are made here from the demo photo's geometry: a soft ellipse over the face (a
background region with no style, and the full content weight), the rest split into a left half
(the flag: the demo painting) and a right half (the sky: diagonal stripes painted here). Writes
the photo, the masks (red: painting, blue: stripes, white: kept) and the result side by side.
"""

import dataclasses
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from figure_grid import figure_parser, label_grid, save_grid  # noqa: E402

from minimal_nst import LossOptions, Masks, Settings, stylize  # noqa: E402
from minimal_nst.app.api import DEFAULT_STYLE, default_content_path  # noqa: E402
from minimal_nst.app.files import load_image
from minimal_nst.app.options import friendly_errors  # noqa: E402
from minimal_nst.image import fit_shape, resize  # noqa: E402

DEFAULT_OUTPUT = "spatial_control.png"  # in the current folder (the README's: scripts/figures/)
FACE = (0.42, 0.51, 0.16, 0.14)  # the demo photo's face: centre (y, x) and radii, as fractions


def soft_step(t, width):
    """0 below -width, 1 above +width, smooth between: a soft mask edge."""
    return 1.0 / (1.0 + np.exp(-t / width))


def make_masks(h, w):
    """(painting, stripes, kept face) region masks and a content weight, (h, w) in [0, 1]."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    cy, cx, ry, rx = FACE
    r = np.sqrt(((yy - cy * h / max(h, w)) / ry) ** 2 + ((xx - cx * w / max(h, w)) / rx) ** 2)
    face = soft_step(1.0 - r, 0.05)
    left = soft_step(0.5 * w / max(h, w) - xx, 0.02)
    regions = ((1 - face) * left, (1 - face) * (1 - left), face)
    return regions, 0.2 + 0.8 * face  # with alpha = 5: 1 (the paper's) outside, 5 on the face


def stripes(side=256):
    """A second 'painting': warm diagonal stripes with a little texture."""
    yy, xx = np.mgrid[0:side, 0:side]
    band = ((xx + yy) // 12 % 3)[..., None]
    colours = np.array([[232, 160, 48], [200, 64, 40], [250, 226, 170]])[band[..., 0]]
    noise = np.random.default_rng(0).normal(0, 12, (side, side, 1))
    return np.clip(colours + noise, 0, 255).astype(np.uint8)


def mask_picture(regions):
    """The masks as one RGB picture: red the painting, blue the stripes, white the face."""
    painting, striped, face = (m[..., None] for m in regions)
    rgb = painting * [220, 60, 60] + striped * [60, 90, 220] + face * [255, 255, 255]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def main(argv=None):
    p = figure_parser(__doc__.splitlines()[0], DEFAULT_OUTPUT)
    p.set_defaults(size=256)
    args = p.parse_args(argv)
    photo = load_image(args.content or default_content_path())
    shape = fit_shape(*photo.shape[:2], args.size)
    regions, content_weight = make_masks(*shape)
    backend = None if args.backend == "auto" else args.backend
    # from the photo itself: the face region keeps the photo's own colours, not two styles' mix
    settings = Settings(size=args.size, iterations=args.iterations, pooling=args.pooling,
                        init="content")  # fmt: skip
    settings = dataclasses.replace(
        settings, conv=args.conv, backend=backend, weights_path=args.weights_path
    )
    styles = [load_image(args.style or DEFAULT_STYLE), stripes()]
    start = time.time()
    # The figure's balance: alpha 5 against a tenth of the default beta (the default when it
    # was made; bench/QUALITY.md chose 10x since), so the face stays sharp under the stripes.
    loss = LossOptions(alpha=5.0, strength=0.1)
    result = stylize(photo, styles, settings, loss, masks=Masks(regions, (), content_weight))
    print(f"{len(result.history)} iterations, {time.time() - start:.0f} s", flush=True)
    tiles = [resize(photo, shape), mask_picture(regions), result.image]
    grid = label_grid(
        [tiles],
        ["spatial control"],
        ["the photo", "the masks", "the result"],
        f"Each region its own style, the face kept ({args.iterations} L-BFGS iterations)",
    )
    save_grid(grid, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(friendly_errors("spatial_control.py", main))
