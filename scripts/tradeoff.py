"""The paper's Fig. 3: style layers used (rows) against the ratio alpha/beta (columns).

    python scripts/tradeoff.py [--size 128] [--iterations 100] [--output tradeoff.png]

Rows match the style on conv1_1, conv1_1..conv2_1, ... up to conv1_1..conv5_1; columns use
alpha/beta = 1e-5, 1e-4, 1e-3, 1e-2 at the demo's 256 px scale (beta grows with the image's area,
as the content loss is a sum over pixels). Each tile starts from white noise, as in the paper.
The 20 tiles run as one batch on Dask (a local cluster, or --scheduler), like `minimal-nst batch`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, too
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figure_grid import figure_parser, label_grid, load_inputs, run_tiles, save_grid  # noqa: E402

from minimal_nst import LossOptions  # noqa: E402
from minimal_nst.app.options import friendly_errors  # noqa: E402
from minimal_nst.batch.jobs import Job  # noqa: E402
from minimal_nst.losses import default_beta  # noqa: E402

STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
RATIOS = [1e-5, 1e-4, 1e-3, 1e-2]  # alpha / beta
DEFAULT_OUTPUT = "tradeoff.png"  # in the current folder (the README's: scripts/figures/)


def main(argv=None):
    args = figure_parser(__doc__.splitlines()[0], DEFAULT_OUTPUT, tiles=True).parse_args(argv)
    settings, content, style = load_inputs(args)
    area = default_beta(args.size) / default_beta(256)  # (size / 256)^2
    jobs = []
    for k in range(1, len(STYLE_LAYERS) + 1):
        for ratio in RATIOS:
            loss = LossOptions(beta=area / ratio, style_layers=tuple(STYLE_LAYERS[:k]))
            jobs.append(Job(f"conv{k}_1-ratio-{ratio:g}", content, (style,), settings, loss))
    tiles = run_tiles(args, jobs)
    rows = [tiles[k : k + len(RATIOS)] for k in range(0, len(tiles), len(RATIOS))]
    grid = label_grid(
        rows,
        ["+".join(f"conv{i}_1" for i in range(1, k + 1)) for k in range(1, 6)],
        [f"alpha/beta = {r:g}" for r in RATIOS],
        f"Fig. 3 style layers x alpha/beta, from white noise, {args.iterations} iterations",
    )
    save_grid(grid, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(friendly_errors("tradeoff.py", main))
