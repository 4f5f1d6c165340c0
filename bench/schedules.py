"""Time to a finished image: the full-size loss against wall time, single scale or coarse to fine.

    python bench/schedules.py [--size 512] [--iterations 200] [--conv winograd4]

(a) single scale: L-BFGS at full size from the content image, --iterations iterations.
(b), (c) coarse to fine: L-BFGS at sizes sqrt(2) apart up to full size, a few iterations at
    each smaller scale, each starting from the last result upsampled, then at full size until
    the loss (a) reached at its end, or as many iterations as (a).
The full-size loss of a coarse scale's result is evaluated when it is upsampled (not timed).
Writes bench/SCHEDULES.md and bench/schedules.png: the demo photo, the default style, the
paper's losses with the default weights.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from minimal_nst import VGG19, LossOptions, Objective  # noqa: E402
from minimal_nst.app.api import DEFAULT_STYLE, default_content_path  # noqa: E402
from minimal_nst.app.files import load_image  # noqa: E402
from minimal_nst.image import deprocess, fit_shape, preprocess, resize  # noqa: E402
from minimal_nst.losses import default_beta  # noqa: E402
from minimal_nst.transfer import (  # noqa: E402
    Interrupted,
    initial_image,
    optimize,  # noqa: E402
    scale_sizes,
)
from minimal_nst.weights import get_weights_path  # noqa: E402


class Reached:
    """The `stop` the optimiser checks between evaluations: it ends the run at the target."""

    done = False

    def check(self):
        if self.done:
            raise Interrupted


def run(net, content, style, sides, iterations, target=None):
    """L-BFGS at each side in turn; [(seconds, full-size loss)] at every full-size iteration."""
    loss = LossOptions(beta=default_beta(sides[-1]))
    full = fit_shape(*content.shape[:2], sides[-1])
    full_objective = Objective(net, preprocess(resize(content, full)), [preprocess(style)], loss)
    curve, spent, x_rgb = [], 0.0, content
    for k, side in enumerate(sides):
        shape = fit_shape(*content.shape[:2], side)
        styles = [preprocess(resize(style, fit_shape(*style.shape[:2], side)))]
        objective = Objective(net, preprocess(resize(content, shape)), styles, loss)
        if side == sides[-1]:
            objective = full_objective
        start, reached = time.perf_counter(), Reached()

        def record(x, seconds, objective=objective, start=start, spent=spent, reached=reached):
            if objective is full_objective:
                curve.append((spent + time.perf_counter() - start, objective.terms["total"]))
                reached.done = target is not None and curve[-1][1] <= target

        x0 = initial_image(x_rgb, shape, 0)
        x_best, _ = optimize(objective, x0, iterations[k], np, "float32", record, reached)
        spent += time.perf_counter() - start
        x_rgb = deprocess(x_best)
        if side != sides[-1]:
            L = full_objective.loss_and_grad(preprocess(resize(x_rgb, full)))[0]  # not timed
            curve.append((spent, L))
            print(f"  scale {side} px done at {spent:.0f} s, full-size loss {L:.4g}", flush=True)
    return curve


COARSE_TO_FINE = [(3, 30), (2, 50)]  # (scales, iterations at each smaller scale)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--iterations", type=int, default=200)
    p.add_argument("--conv", default="winograd4")
    p.add_argument("--output", type=Path, default=HERE)
    args = p.parse_args()
    net = VGG19.from_hdf5(get_weights_path(), conv=args.conv)
    content = load_image(default_content_path())
    style = load_image(DEFAULT_STYLE)
    print(f"(a) single scale, {args.iterations} iterations at {args.size} px", flush=True)
    curves = {"(a) single scale": run(net, content, style, [args.size], [args.iterations])}
    target = curves["(a) single scale"][-1][1]
    for letter, (scales, coarse) in zip("bc", COARSE_TO_FINE):
        sides = scale_sizes(args.size, scales)
        name = f"({letter}) {sides}, {coarse} iterations per smaller scale"
        print(f"{name}, until the loss reaches {target:.4g}", flush=True)
        iterations = [coarse] * (scales - 1) + [args.iterations]
        curves[name] = run(net, content, style, sides, iterations, target)
    report(args, curves, target)


def report(args, curves, target):
    single = next(iter(curves.values()))
    lines = [
        "# Time to a finished image (CPU)",
        "",
        f"`python bench/schedules.py --size {args.size} --iterations {args.iterations} "
        f"--conv {args.conv}`: the demo photo and style, the paper's losses with the default"
        " weights, 2 threads.",
        "",
        f"- (a) single scale: {len(single)} iterations at {args.size} px in {single[-1][0]:.0f} s,"
        f" full-size loss {target:.4g}",
    ]
    for name, curve in list(curves.items())[1:]:
        reached = next((t for t, L in curve if L <= target), None)
        ratio = f"{reached / single[-1][0]:.2f}" if reached else "not reached"
        lines.append(f"- {name}: reached it at {reached and round(reached)} s; / (a) = {ratio}")
    (args.output / "SCHEDULES.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, curve in curves.items():
        ax.semilogy(*zip(*curve), marker=".", markersize=3, label=name)
    ax.axhline(target, color="gray", linewidth=0.8, linestyle="--")
    ax.set_xlabel("seconds")
    ax.set_ylabel(f"loss at full size ({args.size} px)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output / "schedules.png", dpi=100)


if __name__ == "__main__":
    main()
