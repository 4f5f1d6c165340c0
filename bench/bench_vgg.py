"""Benchmark: minimal_nst (im2col and Winograd) against PyTorch on the same objective.

    python bench/bench_vgg.py                       # CPU: sizes 256 and 512, 2 threads
    python bench/bench_vgg.py --device gpu          # CuPy against PyTorch CUDA, up to 1024

Each figure comes from a fresh worker process (so its peak memory is its own), the
implementations alternating A/B/C within every repeat; the median over repeats is reported.
A worker loads the weights, builds the paper's objective (content relu4_2, style relu1_1..relu5_1,
Gram targets precomputed), warms up, then times evaluations (forward to relu5_1, losses,
backward to the image) and L-BFGS-B iterations. Writes bench/RESULTS.md and bench/results.png.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))  # the PyTorch oracle lives with the tests

IMPLS = [
    "minimal_nst im2col",
    "minimal_nst winograd",
    "minimal_nst winograd4",  # the CPU default
    "pytorch",
]
# Also: the specification, and F(4x4) with its row blocks one at a time (fast_layers.WORKERS = 1).
EXTRA = ["minimal_nst plain", "minimal_nst winograd4-serial"]


def conv_gflop(h, w):
    """Multiply-adds x 2 of the convolutions up to relu5_1, forward plus input gradient."""
    from minimal_nst import VGG19_LAYERS

    flop = 0
    for name, kind, c_in, c_out in VGG19_LAYERS:
        if kind == "pool":
            h, w = h // 2, w // 2
        if kind == "conv":
            flop += 2 * 9 * c_in * c_out * h * w
        if name == "relu5_1":
            break
    return 2 * flop / 1e9


# -- the worker: one implementation, one size, in its own process ---------------------------------


def peak_rss_reset():
    """Reset the kernel's peak-RSS mark (VmHWM) so that it measures from now on."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def rss(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def build(impl, size, device):
    """(objective, x to evaluate at, array module for L-BFGS, synchronize) of one implementation."""
    from minimal_nst import VGG19, LossOptions, Objective
    from minimal_nst.app.api import DEFAULT_STYLE, default_content_path
    from minimal_nst.app.files import load_image
    from minimal_nst.image import fit_shape, preprocess, resize
    from minimal_nst.losses import default_beta
    from minimal_nst.weights import get_weights_path

    content_rgb, style_rgb = load_image(default_content_path()), load_image(DEFAULT_STYLE)
    content = preprocess(resize(content_rgb, fit_shape(*content_rgb.shape[:2], size)))
    style = preprocess(resize(style_rgb, fit_shape(*style_rgb.shape[:2], size)))
    x = content + np.random.default_rng(0).normal(0, 10, content.shape).astype(np.float32)
    conv, _, serial = impl.split()[-1].partition("-") if "minimal" in impl else ("plain", 0, 0)
    if serial:
        from minimal_nst import fast_layers

        fast_layers.WORKERS = 1
    net = VGG19.from_hdf5(get_weights_path(), conv=conv)
    w_l = tuple(LossOptions().layer_weights().values())  # the default's, as numbers (the oracle's)
    loss = LossOptions(beta=default_beta(size), style_layer_weights=w_l)
    if impl == "pytorch":  # only this worker imports torch, so the others' memory is their own
        import torch
        from oracle import TorchObjective

        torch_device = "cuda" if device == "gpu" else "cpu"
        sync = torch.cuda.synchronize if device == "gpu" else (lambda: None)
        return TorchObjective(net.weights, content, [style], loss, torch_device), x, np, sync
    xp = np
    if device == "gpu":
        import cupy as xp

        net = net.to(xp)
    objective = Objective(net, xp.asarray(content), [xp.asarray(style)], loss)
    sync = xp.cuda.Device().synchronize if device == "gpu" else (lambda: None)
    return objective, xp.asarray(x), xp, sync


def worker(impl, size, device, evals, iterations, threads):
    """Time evaluations and L-BFGS iterations of one implementation; print one JSON line.

    Only the PyTorch worker imports torch, so the others' memory is their own; NumPy's BLAS
    threads are set through the environment by the driver.
    """
    from minimal_nst.transfer import optimize

    if impl == "pytorch":
        import torch

        torch.set_num_threads(threads)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # fp32
    objective, x, xp, sync = build(impl, size, device)
    objective.loss_and_grad(x)  # warm-up
    sync()
    if device == "gpu" and impl == "pytorch":
        torch.cuda.reset_peak_memory_stats()
    baseline = rss("VmRSS")
    peak_rss_reset()
    times = []
    for _ in range(evals):
        start = time.perf_counter()
        objective.loss_and_grad(x)
        sync()
        times.append(time.perf_counter() - start)
    history, start = [], time.perf_counter()
    x0 = np.asarray(x.get() if hasattr(x, "get") else x, np.float64)
    optimizer = "lbfgs" if device == "gpu" else "scipy"  # each device's default optimiser
    record = lambda x, seconds: history.append(seconds)  # noqa: E731
    optimize(objective, x0, iterations, xp, "float32", record, None, optimizer)
    sync()
    result = {
        "impl": impl,
        "size": size,
        "shape": list(x.shape[2:]),
        "eval_s": float(np.median(times)),
        "iteration_s": (time.perf_counter() - start) / max(len(history), 1),
        "peak_rss_mb": rss("VmHWM") / 2**20,
        "working_mb": (rss("VmHWM") - baseline) / 2**20,
    }
    if device == "gpu":
        import cupy

        if impl == "pytorch":
            result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        else:  # the pool keeps every block it ever held: its size is the peak
            result["gpu_peak_mb"] = cupy.get_default_memory_pool().total_bytes() / 2**20
    print(json.dumps(result))


def matmul_peak(threads, device, n=None):
    """The best float32 GFLOP/s of an n x n matrix product on this machine (NumPy or CuPy)."""
    n = n or (2048 if device == "cpu" else 8192)
    if device == "gpu":
        import cupy as xp

        sync = xp.cuda.Device().synchronize
    else:
        xp, sync = np, (lambda: None)
    a = xp.asarray(np.random.default_rng(0).random((n, n), np.float32))
    best = 0.0
    for _ in range(5):
        sync()
        start = time.perf_counter()
        a @ a
        sync()
        best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    print(json.dumps({"peak_gflops": best}))


# -- the driver ---------------------------------------------------------------------------------


def run_worker(args, *worker_args):
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(args.threads),
        OPENBLAS_NUM_THREADS=str(args.threads),
        MKL_NUM_THREADS=str(args.threads),
        PYTHONUNBUFFERED="1",
    )
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        *map(str, worker_args),
        "--threads",
        str(args.threads),
        *(["--peak-n", str(args.peak_n)] if args.peak_n else []),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"worker {worker_args} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine(device):
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    text = f"{cpu}, {os.cpu_count()} cores"
    if device == "gpu":
        import cupy

        text += f"; GPU {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}"
    return text


def versions():
    import scipy
    import torch

    python, numpy, scipy_, torch_ = (
        platform.python_version(),
        np.__version__,
        scipy.__version__,
        torch.__version__,
    )
    return f"Python {python}, NumPy {numpy}, SciPy {scipy_}, PyTorch {torch_}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--sizes", type=int, nargs="+")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--evals", type=int, default=3, help="timed evaluations per worker")
    p.add_argument("--iterations", type=int, default=5, help="timed L-BFGS iterations per worker")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--impls", nargs="+", default=IMPLS, help="which implementations to time")
    p.add_argument("--output", type=Path, default=HERE)
    p.add_argument("--peak-n", type=int, help="side of the peak's matrix product (2048 / 8192)")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        if args.worker[0] == "peak":
            return matmul_peak(args.threads, args.worker[1], args.peak_n)
        impl, size, device, evals, iterations = args.worker
        return worker(impl, int(size), device, int(evals), int(iterations), args.threads)

    sizes = args.sizes or ([256, 512] if args.device == "cpu" else [256, 512, 1024])
    peak = run_worker(args, "peak", args.device)["peak_gflops"]
    print(f"matrix-product peak: {peak:.0f} GFLOP/s (float32, {args.threads} threads)")
    runs = []
    for size in sizes:
        for r in range(args.repeats):
            k = r % len(args.impls)
            order = args.impls[k:] + args.impls[:k]  # alternate who goes first
            for impl in order:
                runs.append(run_worker(args, impl, size, args.device, args.evals, args.iterations))
                print(f"  {impl:<22} {size:>5} px  {runs[-1]['eval_s']:.3f} s/eval", flush=True)
    rows = summarize(runs, peak, args.device)
    table = format_table(rows, args.device)
    print(table)
    write_results(args, table, rows, peak)


def summarize(runs, peak, device):
    rows = []
    for size in sorted({r["size"] for r in runs}):
        refs = [r["eval_s"] for r in runs if r["size"] == size and r["impl"] == "pytorch"]
        ref = float(np.median(refs)) if refs else float("nan")  # no PyTorch timed: no ratio
        for impl in [i for i in IMPLS + EXTRA if any(r["impl"] == i for r in runs)]:
            mine = [r for r in runs if r["size"] == size and r["impl"] == impl]
            med = {
                k: float(np.median([r[k] for r in mine]))
                for k in mine[0]
                if k not in ("impl", "shape", "size", "iterations")
            }
            h, w = mine[0]["shape"]
            rows.append(
                {
                    "impl": impl,
                    "size": size,
                    "shape": f"{w}x{h}",
                    **med,
                    "ratio": med["eval_s"] / ref,
                    "gflops": conv_gflop(h, w) / med["eval_s"],
                    "peak_fraction": conv_gflop(h, w) / med["eval_s"] / peak,
                }
            )
    return rows


COLUMNS = [  # (heading, how a row shows it)
    ("implementation", lambda r: r["impl"]),
    ("image", lambda r: r["shape"]),
    ("s / evaluation", lambda r: f"{r['eval_s']:.3f}"),
    ("vs PyTorch", lambda r: f"{r['ratio']:.2f}"),
    ("s / L-BFGS iteration", lambda r: f"{r['iteration_s']:.3f}"),
    ("GFLOP/s (of peak)", lambda r: f"{r['gflops']:.1f} ({100 * r['peak_fraction']:.0f}%)"),
    ("peak RSS MB", lambda r: f"{r['peak_rss_mb']:.0f}"),
    ("working MB", lambda r: f"{r['working_mb']:.0f}"),
]
GPU_COLUMNS = [("GPU peak MB", lambda r: f"{r['gpu_peak_mb']:.0f}")]


def format_table(rows, device):
    columns = COLUMNS + (GPU_COLUMNS if device == "gpu" else [])
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(show(r) for _, show in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_results(args, table, rows, peak):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "RESULTS.md" if args.device == "cpu" else "RESULTS_GPU.md"
    command = "python bench/bench_vgg.py" + (" --device gpu" if args.device == "gpu" else "")
    if args.impls != IMPLS:
        command += " --impls " + " ".join(f'"{i}"' if " " in i else i for i in args.impls)
    side = 2048 if args.device == "cpu" else 8192
    text = f"""# Benchmark results ({args.device.upper()})

Measured {date.today()} by `{command}` on
{machine(args.device)}; {versions()}; {args.threads} threads for every implementation.

One evaluation = forward to relu5_1, the paper's losses (content relu4_2, style relu1_1..relu5_1),
backward to the image. Medians of {args.repeats} alternating runs, {args.evals} evaluations and
{args.iterations} L-BFGS-B iterations each. GFLOP/s counts the convolutions as im2col does (forward
plus input gradient), so Winograd's figure is an effective rate; the peak is a {side}^2
float32 matrix product here: {peak:.0f} GFLOP/s. Peak RSS is the whole process (PyTorch's
includes its library); working MB is the growth of the peak over the resident size after set-up.

{table}
"""
    (args.output / name).write_text(text)
    fig, ax = plt.subplots(figsize=(7, 4))
    sizes = sorted({r["size"] for r in rows})
    for i, impl in enumerate(args.impls):
        vals = [
            next(r["eval_s"] for r in rows if r["size"] == s and r["impl"] == impl) for s in sizes
        ]
        width = 0.8 / len(args.impls)
        ax.bar(
            np.arange(len(sizes)) + (i - (len(args.impls) - 1) / 2) * width, vals, width, label=impl
        )
    ax.set_xticks(range(len(sizes)), [f"{s} px" for s in sizes])
    ax.set_ylabel("seconds per objective evaluation")
    ax.set_title(f"minimal_nst vs PyTorch ({args.device.upper()}, lower is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(
        args.output / ("results.png" if args.device == "cpu" else "results_gpu.png"), dpi=100
    )
    print(f"wrote {args.output / name}")


if __name__ == "__main__":
    main()
