"""Where one objective evaluation's time goes, layer by layer and, inside Winograd, part by part.

    python bench/profile_eval.py [--size 512] [--conv winograd4] [--repeats 5]

Times every layer's forward and backward in the network's own table, then, with the row blocks
one at a time (fast_layers.WORKERS = 1, so the parts add up), Winograd's phase planes, input
transforms and output transforms; the matrix products and the tile scatter are the rest of the
convolution's time. Medians over --repeats evaluations after a warm-up, one line per figure.
"""

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from minimal_nst import VGG19, LossOptions, Objective, fast_layers  # noqa: E402
from minimal_nst.app.api import DEFAULT_STYLE, default_content_path  # noqa: E402
from minimal_nst.app.files import load_image  # noqa: E402
from minimal_nst.image import fit_shape, preprocess, resize  # noqa: E402
from minimal_nst.losses import default_beta  # noqa: E402
from minimal_nst.weights import get_weights_path  # noqa: E402

PARTS = ["_phase_planes", "_input_transform", "_output_transform"]


def timed(table, key, fn):
    def wrapper(*args):
        start = time.perf_counter()
        out = fn(*args)
        table[key] += time.perf_counter() - start
        return out

    return wrapper


def profile(objective, x, repeats, table):
    """Median seconds per evaluation of every key of `table` (filled by the timed wrappers)."""
    objective.loss_and_grad(x)  # warm-up
    runs = []
    for _ in range(repeats):
        table.clear()
        start = time.perf_counter()
        objective.loss_and_grad(x)
        runs.append({**table, "evaluation": time.perf_counter() - start})
    return {k: float(np.median([r.get(k, 0.0) for r in runs])) for k in runs[-1]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--conv", default="winograd4")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    content_rgb, style_rgb = load_image(default_content_path()), load_image(DEFAULT_STYLE)
    content = preprocess(resize(content_rgb, fit_shape(*content_rgb.shape[:2], args.size)))
    style = preprocess(resize(style_rgb, fit_shape(*style_rgb.shape[:2], args.size)))
    net = VGG19.from_hdf5(get_weights_path(), conv=args.conv)
    table = collections.defaultdict(float)
    net.layers = [
        (name, timed(table, name + " f", f), timed(table, name + " b", b), params)
        for name, f, b, params in net.layers
    ]
    objective = Objective(net, content, [style], LossOptions(beta=default_beta(args.size)))
    x = content + np.random.default_rng(0).normal(0, 10, content.shape).astype(np.float32)

    whole = profile(objective, x, args.repeats, table)
    workers = fast_layers.WORKERS
    print(f"{args.conv}, {args.size} px, {workers} workers: {whole['evaluation']:.3f} s")
    kinds = collections.defaultdict(float)
    for key, seconds in whole.items():
        if key != "evaluation":
            print(f"  {key:<10} {1000 * seconds:7.1f} ms")
            kinds[key.rstrip("0123456789_ fb")] += seconds
    for kind, seconds in kinds.items():
        print(f"{kind:<5} layers, forward + backward: {seconds:.3f} s")
    print(f"losses and the rest: {whole['evaluation'] - sum(kinds.values()):.3f} s")

    fast_layers.WORKERS = 1  # the parts of the convolution, one block at a time
    for part in PARTS:
        setattr(fast_layers, part, timed(table, part, getattr(fast_layers, part)))
    serial = profile(objective, x, args.repeats, table)
    convs = sum(v for k, v in serial.items() if k.startswith("conv"))
    print(f"one block at a time: {serial['evaluation']:.3f} s, convolutions {convs:.3f} s")
    for part in PARTS:
        print(f"  {part.strip('_'):<17} {serial[part]:.3f} s")
    products = convs - sum(serial[part] for part in PARTS)
    print(f"  matrix products, tile scatter and conv1_1 (im2col): {products:.3f} s")


if __name__ == "__main__":
    main()
