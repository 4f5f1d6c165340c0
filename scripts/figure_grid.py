"""What the figure scripts share: labelled image grids, their options, their inputs.

Used by scripts/reconstruct.py (Fig. 1) and scripts/tradeoff.py (Fig. 3).

Labels use Pillow's own default font (scalable where Pillow has FreeType), no extra dependency.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PAD = 6  # between tiles
LEFT = 150  # row labels
TOP = 72  # title and column labels (two lines)


def tile_origin(row, col, tile_shape):
    """(x, y) of the top-left pixel of tile (row, col) in the grid."""
    h, w = tile_shape[:2]
    return LEFT + col * (w + PAD), TOP + row * (h + PAD)


def label_grid(tiles, row_labels, col_labels, title):
    """tiles: rows of uint8 RGB arrays, all one shape -> a PIL image with labels and a title."""
    h, w = tiles[0][0].shape[:2]
    rows, cols = len(tiles), len(tiles[0])
    width, height = tile_origin(rows, cols, (h, w))
    grid = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(grid)
    font, small = _font(16), _font(13)
    draw.text((PAD, PAD), title, fill="black", font=font)
    for c, label in enumerate(col_labels):
        x, _ = tile_origin(0, c, (h, w))
        _multiline(draw, (x, TOP - 38), label, small, w)
    for r, row in enumerate(tiles):
        _, y = tile_origin(r, 0, (h, w))
        _multiline(draw, (PAD, y + 4), row_labels[r], small, LEFT - 2 * PAD)
        for c, tile in enumerate(row):
            grid.paste(Image.fromarray(np.asarray(tile, np.uint8)), tile_origin(r, c, (h, w)))
    return grid


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font, one size
        return ImageFont.load_default()


def _multiline(draw, xy, text, font, max_width):
    """Draw text wrapped at '+' or spaces so that each line fits max_width."""
    words, lines = text.replace("+", "+ ").split(), [""]
    for word in words:
        trial = (lines[-1] + word) if lines[-1].endswith("+") else (lines[-1] + " " + word).strip()
        if draw.textlength(trial, font=font) <= max_width or not lines[-1]:
            lines[-1] = trial
        else:
            lines.append(word)
    draw.multiline_text(xy, "\n".join(lines), fill="black", font=font, spacing=2)


def figure_parser(description, output, tiles=False):
    """The options every figure script shares with scripts/stylize.py."""
    import argparse

    from minimal_nst.app.options import Parser

    p = Parser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--content", help="content photo (default: the demo photo)")
    p.add_argument("--style", help="style image (default: the demo painting)")
    p.add_argument("--size", type=int, default=128, help="longest side of each tile")
    p.add_argument("--iterations", type=int, default=100, help="L-BFGS iterations per tile")
    p.add_argument("--output", default=output, help="the figure (.png)")
    p.add_argument("--seed", type=int, default=0, help="seed of the white-noise start")
    p.add_argument("--pooling", choices=["avg", "max"], default="avg")
    convs = ["plain", "im2col", "winograd", "winograd4"]
    p.add_argument("--conv", choices=convs, help="default: winograd4 on a CPU, im2col on a GPU")
    p.add_argument("--backend", choices=["auto", "numpy", "cupy"], default="auto")
    p.add_argument("--weights", dest="weights_path", help="VGG-19 weights file (default: fetched)")
    if tiles:  # the tiles run as one batch (run_tiles)
        p.add_argument(
            "--tiles-dir", help="each tile's image (default: beside --output, NAME_tiles)"
        )
        p.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler (default: local)")
        p.add_argument("--workers", type=int, help="worker processes of the local cluster")
    return p


def run_tiles(args, jobs):
    """Every tile's optimisation as one batch (minimal-nst batch's engine): their images, in
    order. A rerun reuses the tiles already made. Without Dask (the batch extra), the tiles run
    here, one after another, into the same files."""
    from minimal_nst.app.files import load_image
    from minimal_nst.app.options import UsageError
    from minimal_nst.batch.engine import INSTALL, Engine, dask_installed, run_batch

    engine = Engine(args.scheduler, args.workers, in_process=not dask_installed())
    if engine.in_process and (args.scheduler or args.workers):
        raise UsageError(f"--scheduler and --workers run the tiles on Dask: {INSTALL}")
    output = Path(args.output)
    tiles = Path(args.tiles_dir or output.with_name(f"{output.stem}_tiles"))
    rows = run_batch(jobs, tiles, engine, overwrite=False)
    failed = [row for row in rows if row["status"] not in ("done", "skipped")]
    if failed:
        raise UsageError(f"tile {failed[0]['job']}: {failed[0].get('error') or 'not finished'}")
    return [load_image(row["output"]) for row in rows]


def load_inputs(args):
    """(Settings, content RGB, style RGB cropped to the content's aspect) for a figure."""
    from minimal_nst import Settings
    from minimal_nst.app.api import DEFAULT_STYLE, default_content_path
    from minimal_nst.app.files import load_image
    from minimal_nst.app.options import UsageError
    from minimal_nst.app.outputs import check_outputs
    from minimal_nst.backend import get_backend

    if args.size < 1 or args.iterations < 1:
        raise UsageError("--size and --iterations must be positive integers")
    check_outputs([Path(args.output)], [args.content, args.style], overwrite=True)
    xp = get_backend(None if args.backend == "auto" else args.backend)
    content = load_image(args.content or default_content_path())
    style = crop_to_aspect(load_image(args.style or DEFAULT_STYLE), content.shape[:2])
    settings = Settings(
        size=args.size,
        iterations=args.iterations,
        init="noise",
        seed=args.seed,
        pooling=args.pooling,
        conv=args.conv,
        backend=xp.__name__,
        weights_path=args.weights_path,
    )
    return settings, content, style


def crop_to_aspect(rgb, shape):
    """The largest centred crop of rgb with the aspect ratio of `shape` (H, W)."""
    h, w = rgb.shape[:2]
    if h * shape[1] > w * shape[0]:  # too tall
        new_h = round(w * shape[0] / shape[1])
        return rgb[(h - new_h) // 2 : (h - new_h) // 2 + new_h]
    new_w = round(h * shape[1] / shape[0])
    return rgb[:, (w - new_w) // 2 : (w - new_w) // 2 + new_w]


def save_grid(grid, path):
    from minimal_nst.app.files import atomic_write

    atomic_write(Path(path), lambda f: grid.save(f, format="PNG", optimize=True))
    print(f"wrote {path}")
