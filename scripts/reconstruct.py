"""The paper's Fig. 1: what each layer of VGG-19 keeps of a photo and of a painting.

    python scripts/reconstruct.py [--size 128] [--iterations 100] [--output reconstruct.png]

Top row: the photo reconstructed from white noise by matching one layer's responses (content
loss only) at conv1_2, conv2_2, conv3_2, conv4_2 and conv5_2. Bottom row: the painting's style
reconstructed from white noise by matching Gram matrices (style loss only) at conv1_1, then
conv1_1 + conv2_1, ... up to all five. Every tile is its own L-BFGS optimisation; the ten run
as one batch on Dask (a local cluster, or --scheduler), like `minimal-nst batch`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figure_grid import figure_parser, label_grid, load_inputs, run_tiles, save_grid  # noqa: E402

from minimal_nst import LossOptions  # noqa: E402
from minimal_nst.app.options import friendly_errors  # noqa: E402
from minimal_nst.batch.jobs import Job  # noqa: E402

CONTENT_ROW = ["relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2"]
STYLE_ROW = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
DEFAULT_OUTPUT = "reconstruct.png"  # in the current folder (the README's: scripts/figures/)


def paper_name(layer):
    return layer.replace("relu", "conv")  # the paper's convX_Y is the response after its ReLU


def main(argv=None):
    args = figure_parser(__doc__.splitlines()[0], DEFAULT_OUTPUT, tiles=True).parse_args(argv)
    settings, content, style = load_inputs(args)
    jobs = []
    for layer in CONTENT_ROW:
        loss = LossOptions(beta=1.0, content_layers=(layer,), style_layers=())
        jobs.append(Job(f"content-{paper_name(layer)}", content, (), settings, loss))
    for k in range(1, len(STYLE_ROW) + 1):
        loss = LossOptions(beta=1.0, content_layers=(), style_layers=tuple(STYLE_ROW[:k]))
        jobs.append(Job(f"style-to-{paper_name(STYLE_ROW[k - 1])}", None, (style,), settings, loss))
    tiles = run_tiles(args, jobs)
    content_row, style_row = tiles[: len(CONTENT_ROW)], tiles[len(CONTENT_ROW) :]
    grid = label_grid(
        [content_row, style_row],
        ["content, one layer", "style, layers up to"],
        [f"{paper_name(c)} / {paper_name(s)}" for c, s in zip(CONTENT_ROW, STYLE_ROW)],
        f"Fig. 1 reconstructions from white noise, {args.iterations} L-BFGS iterations each",
    )
    save_grid(grid, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(friendly_errors("reconstruct.py", main))
