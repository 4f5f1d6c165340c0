"""Benchmark: scipy's L-BFGS-B against minimal_nst.lbfgs, their cost and how far they get.

    python bench/optimizers.py [--sizes 256 512 1024] [--iterations 30] [--repeats 3]
    python bench/optimizers.py --paper [--sizes 256 512] [--iterations 10]
    python bench/optimizers.py --study [--size 128] [--iterations 100] [--conv winograd4]

Cost: the objective is made nearly free (a weighted quadratic on an image-sized vector, with
bounds and a tenth of its optimum outside them, so both optimisers meet the box), and the time
spent inside it is subtracted: what is left is the optimiser. Both run on NumPy in this process,
alternating, the median of the repeats reported.

--paper: the same cost on the paper's objective (the demo's photo and painting, from the photo,
10 iterations): the time between the first and the last iteration less the time inside the
network, per iteration. The box is met far less than by the quadratic (about 0.5% of the
pixels at 0 or 255 against 7%), and what a gather of the pixels at a bound costs shrinks with it.

--study: the paper's objective on three photo/painting pairs (the demo's; the demo photo with
Turner's Shipwreck; matplotlib's other photo with Matisse's Woman with a Hat, from ../shared),
from the photo and from noise: each optimiser's loss after 25, 50 and 100 iterations. Another
--conv changes only the float32 rounding: against a run with the default, its scipy rows show
how far scipy moves from itself when nothing but rounding changes.
Prints Markdown tables.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minimal_nst.image import fit_shape, pixel_bounds  # noqa: E402
from minimal_nst.transfer import optimize  # noqa: E402

RESULTS_BETA_AT_256 = 1e3  # the default beta when bench/RESULTS.md's study ran, kept fixed
DEMO = (512, 600)  # the demo photo's (H, W): sizes are its longest side, like --size


class Quadratic:
    """f(x) = 1/2 sum w (x - c)^2 on the image's pixel range; counts its own seconds."""

    terms: dict = {}

    def __init__(self, shape, seed=0):
        rng = np.random.default_rng(seed)
        low, high = pixel_bounds(shape)
        self.w = rng.uniform(0.5, 2.0, shape)
        self.c = rng.uniform(low - 10, high + 10, shape)  # ~ a tenth of it out of range
        self.seconds = 0.0

    def loss_and_grad(self, x):
        start = time.perf_counter()
        r = np.asarray(x, np.float64) - self.c
        loss, grad = 0.5 * float(np.sum(self.w * r * r)), (self.w * r).astype(x.dtype)
        self.seconds += time.perf_counter() - start
        return loss, grad


def overhead(size, optimizer, iterations, seed):
    """Seconds per iteration spent outside the objective."""
    shape = (1, 3, *fit_shape(*DEMO, size))
    objective, count = Quadratic(shape, seed), []
    x0 = np.zeros(shape)
    start = time.perf_counter()
    optimize(
        objective, x0, iterations, np, "float32", lambda x, s: count.append(s), None, optimizer
    )
    spent = time.perf_counter() - start - objective.seconds
    return spent / max(len(count), 1)


def paper_overhead(size, optimizer, iterations, net):
    """Seconds per iteration outside the network on the demo pair, between the first iteration
    and the last (the setup before them is not the optimiser's)."""
    from minimal_nst import stylize
    from minimal_nst.app.api import DEFAULT_STYLE, default_content_path
    from minimal_nst.objective import Objective

    spans, marks, real = [], [], Objective.loss_and_grad

    def timed(self, x):
        start = time.perf_counter()
        result = real(self, x)
        spans.append((start, time.perf_counter()))
        return result

    Objective.loss_and_grad = timed
    mark = lambda *_: marks.append(time.perf_counter())  # noqa: E731  (after each iteration)
    try:
        stylize(default_content_path(), DEFAULT_STYLE, net=net, size=size, iterations=iterations,
                optimizer=optimizer, callback=mark)  # fmt: skip
    finally:
        Objective.loss_and_grad = real
    inside = sum(b - a for a, b in spans if marks[0] <= a and b <= marks[-1])
    return (marks[-1] - marks[0] - inside) / (len(marks) - 1)


def pairs():
    """(name, photo, painting) of the study: paths, or None for the demo's own."""
    import matplotlib.cbook

    from minimal_nst.app.api import DEFAULT_STYLE, default_content_path

    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "images"
    other = matplotlib.cbook.get_sample_data("Minduka_Present_Blue_Pack.png", asfileobj=False)
    return [
        ("demo", default_content_path(), DEFAULT_STYLE),
        ("hopper/turner", default_content_path(), shared / "turner_the_shipwreck_1805.jpg"),
        ("minduka/matisse", other, shared / "matisse_woman_with_a_hat_1905.jpg"),
    ]


def study(size, iterations, conv="winograd4"):
    """Each pair, each start, each optimiser: the loss at 25, 50 and 100 iterations."""
    from minimal_nst import VGG19, LossOptions, stylize
    from minimal_nst.weights import get_weights_path

    net = VGG19.from_hdf5(get_weights_path(), conv=conv)
    marks = [k for k in (25, 50, 100) if k <= iterations]
    print(f"\n| pair | start | optimiser | {' | '.join(f'loss at {k}' for k in marks)} |")
    print("|---|---|---|" + "---|" * len(marks))
    ratios = []
    loss = LossOptions(beta=RESULTS_BETA_AT_256 * (size / 256) ** 2)
    for name, photo, painting in pairs():
        for init in ("content", "noise"):
            totals = {}
            for optimizer in ("scipy", "lbfgs"):
                run = stylize(photo, painting, loss=loss, net=net, size=size,
                              iterations=iterations, init=init, optimizer=optimizer)  # fmt: skip
                totals[optimizer] = [run.history[k - 1]["total"] for k in marks]
                shown = " | ".join(f"{t:.4g}" for t in totals[optimizer])
                print(f"| {name} | {init} | {optimizer} | {shown} |", flush=True)
            ratios.append([b / a for a, b in zip(totals["scipy"], totals["lbfgs"])])
    geomean = np.exp(np.log(np.array(ratios)).mean(axis=0))
    print(f"\nlbfgs / scipy, geometric mean over the {len(ratios)} runs: "
          + ", ".join(f"{r:.3f} at {k}" for r, k in zip(geomean, marks)))  # fmt: skip
    low, high = np.array(ratios).min(axis=0), np.array(ratios).max(axis=0)
    ranges = [f"{a:.2f}..{b:.2f} at {k}" for a, b, k in zip(low, high, marks)]
    print("lbfgs / scipy, each run: " + ", ".join(ranges))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--paper", action="store_true", help="the cost on the paper's objective")
    p.add_argument("--study", action="store_true", help="the paper's objective, 3 pairs")
    p.add_argument("--size", type=int, default=128, help="--study: longest side")
    p.add_argument("--conv", default="winograd4", help="--study: the network's convolution")
    args = p.parse_args(argv)
    if args.study:
        return study(args.size, args.iterations, args.conv) or 0
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    runs = f"{args.iterations} iterations, median of {args.repeats}"
    print(f"{machine}; NumPy {np.__version__}; {runs}")
    print("\n| longest side | scipy L-BFGS-B ms / iteration | minimal_nst.lbfgs | ratio |")
    print("|---|---|---|---|")
    if args.paper:
        from minimal_nst import VGG19
        from minimal_nst.weights import get_weights_path

        net = VGG19.from_hdf5(get_weights_path())
        cost = lambda size, optimizer, r: paper_overhead(size, optimizer, args.iterations, net)  # noqa: E731
    else:
        cost = lambda size, optimizer, r: overhead(size, optimizer, args.iterations, r)  # noqa: E731
    for size in args.sizes:
        times = {"scipy": [], "lbfgs": []}
        for r in range(args.repeats):
            for optimizer in times:  # alternating
                times[optimizer].append(cost(size, optimizer, r))
        scipy_ms, ours_ms = (1e3 * statistics.median(times[o]) for o in ("scipy", "lbfgs"))
        print(f"| {size} | {scipy_ms:.1f} | {ours_ms:.1f} | {ours_ms / scipy_ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
