"""One prepared run for the next lent GPU: every check and measurement in one go, each step in
its own process with its own time limit, logged into one folder with one summary table.

    python bench/gpu_check.py [--out bench/out/gpu_check] [--dry-run]

The GPU machine receives at most 64 MiB of files a run and has no package registry: carry
weights/vgg19_weights_float16.h5 (made here by bench/half_weights.py; verified on arrival and
loaded as float32, by both sides of every comparison) and put the project on PYTHONPATH.

Steps, with the seconds planned on an H200. The plan is an estimate, not a measurement: about
10 s to start a Python process with CuPy, CUDA and the weights; CuPy compiling each elementwise
kernel once on first use (a second or so each); one evaluation at 512 px about 15 ms (a few
hundred GFLOP at fp32), growing with the pixels; scipy's host side 0.2 s an iteration at 512 px
(measured on the CPU machine):
  weights    the float16 copy is there and verified                                         5
  device     GPU, driver, CUDA, CuPy, PyTorch, NumPy; one kernel of each kind the package
             launches (NVRTC, cuBLAS, cuSOLVER, CUB) checked against NumPy; the tests
             step's imports (one line naming what is missing)                             10
  tests      the 167 GPU-marked tests on real CuPy (44 s on the stand-in, plus compiling);
             a skipped GPU test or none passed fails it (tests/conftest.py)                120
  check      minimal-nst check --backend cupy: every gradient by finite differences        20
  bench      bench_vgg.py --device gpu, 512/1024/2048 px, CuPy im2col and PyTorch: 7
             worker processes (10 s each, and their evaluations)                           90
  cli lbfgs  minimal-nst, 512 px x 500 iterations, the device L-BFGS (500 x 15 ms + 10)     20
  cli scipy  the same with scipy's L-BFGS-B (500 x 0.2 s on the host + 10)                 120
  video      a clip on CuPy (minimal_nst.video: the warp and the temporal loss on the device;
             the Python API, PyAV being absent there): 8 frames of a pan at 256 px, 100
             then 50 iterations, the device L-BFGS (450 x 5 ms, 7 x 2 flows, + 10)          30
  largest    the largest longest side that fits, the memory estimate beside the peak        60
in all about 8 minutes. Each step stops at its own limit and the whole run at --budget
(540 s), and the summary is rewritten after every step, so a run cut short keeps what it did.

--dry-run runs every step at toy sizes on the CuPy stand-in (tests/fake_cupy.py, NumPy underneath)
and makes the float16 copy if it is missing: CI runs it, so the script cannot rot.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HALF = ROOT / "weights" / "vgg19_weights_float16.h5"
NST = [sys.executable, str(ROOT / "scripts" / "stylize.py")]


def steps(out, dry):
    """(name, command, seconds allowed, what to pick from its output) for every step."""
    py, here = sys.executable, __file__
    size, iters = ("32", "3") if dry else ("512", "500")
    sizes = ["32"] if dry else ["512", "1024", "2048"]
    impls = ["minimal_nst im2col"] + ([] if dry else ["pytorch"])  # no CUDA PyTorch when dry
    peak = ["--peak-n", "256"] if dry else []  # the stand-in's matrix product runs on the CPU
    bench = [
        py,
        str(ROOT / "bench" / "bench_vgg.py"),
        "--device",
        "gpu",
        "--sizes",
        *sizes,
        "--repeats",
        "1",
        "--impls",
        *impls,
        *peak,
        "--output",
        str(out),
    ]
    tests = [py, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", str(ROOT / "tests")]
    cli = {
        opt: [
            *NST,
            "--size",
            size,
            "--iterations",
            iters,
            "--optimizer",
            opt,
            "--backend",
            "cupy",
            "--weights",
            str(HALF),
            "--print-every",
            "0",
            "--output",
            str(out / f"cli_{opt}.png"),
        ]
        for opt in ("lbfgs", "scipy")
    }
    largest = ["48", "64"] if dry else ["2048", "4096", "8192", "11585"]
    return [
        ("weights", [py, here, "--weights", *(["make"] if dry else [])], 60, r"verified.*"),
        ("device", [py, here, "--device-info"], 60, r"GPU: .*|device: .*"),
        ("tests", tests, 300, r"\d+ passed.*|\d+ failed.*"),
        ("check", [*NST, "check", "--backend", "cupy", "--weights", str(HALF)], 120,
         r"all checks passed|\d+ check\(s\) FAILED"),
        ("bench", bench, 240, r"wrote .*"),
        ("cli lbfgs", cli["lbfgs"], 120, r"saved .*"),
        ("cli scipy", cli["scipy"], 150, r"saved .*"),
        ("video", [py, here, "--video", str(out / "video"), *(["dry"] if dry else [])], 90,
         r"video: .*"),
        ("largest", [py, here, "--largest", *largest], 120, r"largest: .*"),
    ]  # fmt: skip


def run_step(name, command, seconds, pick, out, env):
    """Run one step, its output into OUT/NAME.log: (status, seconds, the line it picked)."""
    if seconds < 1:
        return "not run (budget spent)", 0.0, ""
    start = time.time()
    log = out / f"{name.replace(' ', '_')}.log"
    try:
        proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=seconds)  # fmt: skip
        text, status = proc.stdout + proc.stderr, "ok" if proc.returncode == 0 else "failed"
    except subprocess.TimeoutExpired as e:  # what it printed so far may come back as bytes
        parts = [p.decode(errors="replace") if isinstance(p, bytes) else p or "" for p in
                 (e.stdout, e.stderr)]  # fmt: skip
        text, status = "".join(parts), f"timeout ({seconds:.0f} s)"
    log.write_text(text)
    found = re.findall(pick, text)
    return status, time.time() - start, found[-1].strip() if found else ""


def weights(make):
    """The float16 copy verified (made first where it is missing and `make` says so)."""
    from minimal_nst.weights import VGG19_HALF, verify

    if make and not HALF.exists():
        sys.path.insert(0, str(ROOT / "bench"))
        from half_weights import main as make_half

        make_half([])
    problem = verify(HALF, VGG19_HALF) if HALF.exists() else "missing: bench/half_weights.py"
    print(f"{HALF.name}: {problem or 'verified'}")
    return 1 if problem else 0


# One small kernel of each kind the package launches, and the library CuPy loads for it on
# first use (so a machine that lacks one fails here, in one line, not in the first test).
KERNELS = (
    ("elementwise op", "NVRTC", lambda xp, a: xp.maximum(a * 2 - 1, 0)),
    ("matrix product", "cuBLAS", lambda xp, a: a @ a.T),
    ("linalg.solve", "cuSOLVER", lambda xp, a: xp.linalg.solve(a @ a.T + 8 * xp.eye(8), a[:, 0])),
    ("linalg.inv", "cuSOLVER", lambda xp, a: xp.linalg.inv(a @ a.T + 8 * xp.eye(8))),
    ("argsort", "CUB/Thrust", lambda xp, a: xp.argsort(a.ravel())),
    ("cumsum", "CUB", lambda xp, a: xp.cumsum(a, axis=1)),
)
# What the tests step imports (the oracle, the figures, the clips), and what it may do without:
# a test module whose dependency is missing skips whole there, its reason listed.
NEEDED = ("pytest", "scipy", "h5py", "PIL", "matplotlib", "tqdm", "torch", "cv2")
OPTIONAL = ("nbformat", "nbclient", "av", "distributed", "playwright", "skimage")


def device_info():
    """The GPU, its driver and the libraries, one line each; then each kind of kernel run once
    and checked against NumPy. The first failure ends it in one line naming what is missing."""
    import cupy
    import numpy

    missing = [m for m in NEEDED if not importable(m)]
    if missing:
        print(f"device: missing for the tests step: {', '.join(missing)}")
        return 1
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print(f"GPU: {props['name'].decode()}, {props['totalGlobalMem'] / 2**30:.0f} GiB")
    print(f"CuPy {cupy.__version__}, NumPy {numpy.__version__}, Python {sys.version.split()[0]}")
    import torch

    print(f"PyTorch {torch.__version__}, CUDA {torch.version.cuda}")
    a = numpy.random.default_rng(0).permutation(64).reshape(8, 8).astype(numpy.float32) / 64
    for kind, library, kernel in KERNELS:
        try:
            got = cupy.asnumpy(kernel(cupy, cupy.asarray(a)))
        except Exception as e:  # a library missing or broken: its own message, on one line
            print(f"device: {kind} failed ({library}): {' '.join(str(e).split()) or type(e)}")
            return 1
        if not numpy.allclose(got, kernel(numpy, a), rtol=1e-4, atol=1e-6):  # 8 float32 terms
            print(f"device: {kind} ({library}) disagrees with NumPy")
            return 1
    print(f"kernels: {', '.join(k for k, *_ in KERNELS)}: ok")
    absent = [m for m in OPTIONAL if not importable(m)]
    print(f"absent here, their tests skip: {', '.join(absent) or 'none'}")
    return 0


def importable(module):
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def largest(sides):
    """One evaluation at each longest side in turn: the memory estimate beside the pool's peak,
    until one does not fit. Prints the largest that fitted."""
    import cupy

    from minimal_nst import VGG19, LossOptions, Objective
    from minimal_nst.app.api import DEFAULT_STYLE, default_content_path
    from minimal_nst.app.files import load_image
    from minimal_nst.app.memory import estimate_memory
    from minimal_nst.image import fit_shape, preprocess, resize

    net = VGG19.from_hdf5(HALF, xp=cupy)
    photo, painting = load_image(default_content_path()), load_image(DEFAULT_STYLE)
    fitted = None
    for side in map(int, sides):
        shape = fit_shape(*photo.shape[:2], side)
        pool = cupy.get_default_memory_pool()
        pool.free_all_blocks() if hasattr(pool, "free_all_blocks") else None
        estimate, _ = estimate_memory(shape, [shape], 29, optimizer="lbfgs")
        try:
            content = preprocess(resize(photo, shape), cupy)
            style = preprocess(resize(painting, shape), cupy)
            objective = Objective(net, content, [style], LossOptions(beta=1e3))
            objective.loss_and_grad(content)
        except Exception as e:  # out of memory: the one before was the largest
            print(f"{side} px: does not fit ({type(e).__name__}); estimate {gib(estimate)}")
            break
        print(f"{side} px: fits; estimate {gib(estimate)}, pool peak {gib(pool.total_bytes())}")
        fitted = side
        del content, style, objective
    print(f"largest: {fitted} px")
    return 0


def video(folder, dry):
    """A pan over the demo photo, painted on CuPy with the temporal loss: seconds a frame."""
    import cupy
    from PIL import Image

    from minimal_nst import Settings
    from minimal_nst.app.api import DEFAULT_STYLE, default_content_path
    from minimal_nst.video import VideoOptions, open_clip, stylize_video

    count, size, first = (3, 32, 3) if dry else (8, 256, 100)
    photo, clip = Image.open(default_content_path()).convert("RGB"), folder / "in"
    clip.mkdir(parents=True, exist_ok=True)
    w, h = photo.size
    for k in range(count):  # a window sliding 2 px a frame
        photo.crop((2 * k, 0, 2 * k + w * 4 // 5, h)).save(clip / f"{k:03d}.png")
    settings = Settings(size=size, iterations=first, backend="cupy", optimizer="lbfgs",
                        weights_path=HALF)  # fmt: skip
    stamps = []
    on_frame = lambda k, path, result: stamps.append(time.perf_counter())  # noqa: E731
    start = time.perf_counter()
    stylize_video(open_clip(str(clip)), str(DEFAULT_STYLE), folder / "out", settings,
                  video=VideoOptions(), on_frame=on_frame)  # fmt: skip
    cupy.cuda.Device().synchronize()
    later = (stamps[-1] - stamps[0]) / (count - 1)
    print(f"video: {count} frames at {size} px, the first {stamps[0] - start:.1f} s (VGG-19 "
          f"loaded), a later one {later:.2f} s")  # fmt: skip
    return 0


def gib(n):
    return f"{n / 2**30:.2f} GiB"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "gpu_check")
    p.add_argument("--dry-run", action="store_true", help="toy sizes, on the CuPy stand-in")
    p.add_argument("--budget", type=float, default=540, help="seconds for the whole run")
    p.add_argument("--weights", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--device-info", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--largest", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--video", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.weights is not None:
        return weights("make" in args.weights)
    if args.device_info:
        return device_info()
    if args.largest:
        return largest(args.largest)
    if args.video:
        return video(Path(args.video[0]), "dry" in args.video[1:])
    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MINIMAL_NST_WEIGHTS=str(HALF), PYTHONUNBUFFERED="1")
    env["MINIMAL_NST_GPU_RUN"] = "1"  # tests/conftest.py: a skipped GPU test, or none passed, fails
    path = [str(ROOT)] + ([str(ROOT / "tests")] if args.dry_run else [])
    env["PYTHONPATH"] = os.pathsep.join(path + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if args.dry_run:
        env["MINIMAL_NST_FAKE_CUPY"] = "1"  # tests/sitecustomize.py installs it everywhere
    rows, end = (
        ["| step | status | seconds | result |", "|---|---|---|---|"],
        time.time() + args.budget,
    )
    for name, command, seconds, pick in steps(args.out, args.dry_run):
        limit = min(seconds, end - time.time())
        status, spent, found = run_step(name, command, limit, pick, args.out, env)
        rows.append(f"| {name} | {status} | {spent:.0f} | {found} |")
        print(rows[-1], flush=True)
        (args.out / "summary.md").write_text("\n".join(rows) + "\n")  # kept if the run is cut
    print(f"wrote {args.out / 'summary.md'}")
    return 0 if all("| ok |" in row for row in rows[2:]) else 1


if __name__ == "__main__":
    sys.exit(main())
