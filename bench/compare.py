"""Before and after: this checkout's benchmark workers against another checkout's, side by side.

    git worktree add /tmp/before <commit>
    python bench/compare.py /tmp/before [--sizes 256 512] [--repeats 3]

Each figure is a fresh worker process of bench/bench_vgg.py (its own package, its own peak
memory), the two checkouts alternating within every repeat; medians are printed.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
IMPLS = ["minimal_nst im2col", "minimal_nst winograd"]
FIGURES = ["eval_s", "iteration_s", "peak_rss_mb", "working_mb"]


def worker(tree, impl, size, args):
    env = dict(
        os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads)
    )
    cmd = [sys.executable, str(tree / "bench" / "bench_vgg.py"), "--worker", impl, str(size)]
    cmd += ["cpu", str(args.evals), str(args.iterations), "--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: worker {impl} {size} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", type=Path, help="the other checkout (e.g. a git worktree)")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--evals", type=int, default=3)
    p.add_argument("--iterations", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    trees = {"before": args.before.resolve(), "after": HERE.parent}
    runs = []
    for size in args.sizes:
        for r in range(args.repeats):
            for impl in IMPLS:
                for name in ["before", "after"][:: 1 if r % 2 == 0 else -1]:
                    runs.append({**worker(trees[name], impl, size, args), "tree": name})
                    print(name, impl, size, f"{runs[-1]['eval_s']:.3f} s/eval", flush=True)
    print(
        "\n| implementation | longest side | "
        + " | ".join(f"{f} before / after" for f in FIGURES)
        + " |"
    )
    print("|---|---|" + "---|" * len(FIGURES))
    for size in args.sizes:
        for impl in IMPLS:
            cells = []
            for f in FIGURES:
                b, a = (
                    np.median(
                        [r[f] for r in runs if (r["tree"], r["impl"], r["size"]) == (t, impl, size)]
                    )
                    for t in trees
                )
                cells.append(f"{b:.3f} / {a:.3f}" if f.endswith("_s") else f"{b:.0f} / {a:.0f}")
            print(f"| {impl} | {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
