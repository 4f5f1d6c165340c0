"""The command line: `minimal-nst` and `python scripts/stylize.py` (the same program).

Bad input gets one line on stderr and exit code 2; Ctrl-C saves the best image so far (exit 130);
every file is written atomically, and no input is ever overwritten.
"""

import argparse
import csv
import io
import math
import sys
import tempfile
import time
from pathlib import Path

from .backend import BackendError, get_backend
from .image import ImageError, atomic_write, save_image
from .losses import CONTENT_LAYERS, DEFAULT_ALPHA, STYLE_LAYERS
from .stylize import DEFAULT_STYLE, StylizeError, default_content_path, stylize
from .weights import WeightsError

PROG = "minimal-nst"
# Defaults by backend: a CPU run of the demo ends in minutes; a GPU gives the usual 512 px, 500 it.
DEFAULTS = {"numpy": {"size": 256, "iterations": 100}, "cupy": {"size": 512, "iterations": 500}}


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(f"{message} (see --help)")


def build_parser():
    p = Parser(
        prog=PROG,
        description="Neural style transfer (Gatys, Ecker & Bethge 2015) on "
        "NumPy or CuPy. With no arguments it paints the demo: matplotlib's Grace Hopper "
        "photo in the style of a canvas painted by scripts/paint_style.py.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    io_ = p.add_argument_group("images")
    io_.add_argument(
        "--content",
        help="content image (default: the demo photo; omit it and give "
        "--style to synthesise a texture instead)",
    )
    io_.add_argument(
        "--style", nargs="+", help="one or more style images (default: the demo painting)"
    )
    io_.add_argument(
        "--style-blend-weights",
        nargs="+",
        type=float,
        metavar="W",
        help="how much each style counts (default: equally)",
    )
    io_.add_argument(
        "--output",
        default="stylized.png",
        help="output image (.png or .jpg); the "
        "loss history is written beside it as NAME_history.csv and NAME_loss.png",
    )
    io_.add_argument(
        "--size",
        type=int,
        help="longest side of the output in pixels (default: 256 on the CPU, 512 on a GPU)",
    )
    io_.add_argument(
        "--style-scale",
        type=float,
        default=1.0,
        help="style image's size relative to the output's (1.0: the same longest side)",
    )
    io_.add_argument(
        "--preserve-colors",
        choices=["none", "luminance", "histogram"],
        default="none",
        help="keep the content's colours: luminance-only transfer, or"
        " recolour the style to the content's colour histogram first",
    )

    opt = p.add_argument_group("optimisation")
    opt.add_argument(
        "--iterations",
        type=int,
        help="L-BFGS iterations per scale (default: 100 on the CPU, 500 on a GPU)",
    )
    opt.add_argument(
        "--content-weight",
        type=float,
        default=DEFAULT_ALPHA,
        metavar="ALPHA",
        help="alpha in Eq. 7",
    )
    opt.add_argument(
        "--style-weight",
        type=float,
        metavar="BETA",
        help="beta in Eq. 7 (default: 1e3 x (size/256)^2; the content loss is a sum over pixels, "
        "so beta grows with the area to keep the same balance)",
    )
    opt.add_argument("--tv-weight", type=float, default=0.0, help="total-variation smoothing")
    opt.add_argument("--content-layers", default=",".join(CONTENT_LAYERS), help="comma-separated")
    opt.add_argument("--style-layers", default=",".join(STYLE_LAYERS), help="comma-separated")
    opt.add_argument("--style-layer-weights", help="comma-separated w_l (default: equal, 1/L)")
    opt.add_argument(
        "--pooling", choices=["avg", "max"], default="avg", help="the paper uses average pooling"
    )
    opt.add_argument("--init", default="content", help="content, noise, or an image path")
    opt.add_argument("--seed", type=int, default=0, help="seed of the noise init")
    opt.add_argument(
        "--scales",
        type=int,
        default=1,
        help="coarse-to-fine: optimise at this "
        "many sizes, sqrt(2) apart, each starting from the last one upsampled",
    )

    run = p.add_argument_group("running")
    run.add_argument("--backend", choices=["auto", "numpy", "cupy"], default="auto")
    run.add_argument(
        "--conv",
        choices=["im2col", "winograd"],
        default="im2col",
        help="convolution algorithm: winograd does 2.25x fewer multiplications (faster on a CPU)",
    )
    run.add_argument("--weights", help="VGG-19 weights file (default: fetched and cached)")
    run.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="N",
        help="also save NAME_<iteration> every N iterations",
    )
    run.add_argument(
        "--print-every",
        type=int,
        default=10,
        metavar="N",
        help="progress line every N iterations (redrawn every one on a terminal)",
    )
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:
        from .check import main as check_main

        return check_main(argv[1:])
    return friendly_errors(PROG, lambda: run(build_parser().parse_args(argv)))


USER_ERRORS = (UsageError, ImageError, StylizeError, WeightsError, BackendError, ValueError)


def friendly_errors(prog, fn):
    """fn()'s exit code; a user's mistake becomes one line on stderr and exit code 2."""
    try:
        return fn()
    except USER_ERRORS as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; nothing saved", file=sys.stderr)
        return 130


def run(args):
    xp = get_backend(None if args.backend == "auto" else args.backend)
    defaults = DEFAULTS[xp.__name__]
    size = defaults["size"] if args.size is None else args.size
    iterations = defaults["iterations"] if args.iterations is None else args.iterations
    if args.content is None and args.style is None:
        content, styles = default_content_path(), [str(DEFAULT_STYLE)]
    else:
        content, styles = args.content, args.style or [str(DEFAULT_STYLE)]
    if args.content is None and args.style is not None:
        print(f"{PROG}: no --content: synthesising a texture from the style", file=sys.stderr)
    for name, value in [("size", size), ("iterations", iterations), ("scales", args.scales)]:
        if value < 1:
            raise UsageError(f"--{name} must be a positive integer, got {value}")
    for name in ("content_weight", "style_weight", "tv_weight"):
        value = getattr(args, name)
        if value is not None and not (value >= 0 and math.isfinite(value)):
            raise UsageError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    if args.style_blend_weights and len(args.style_blend_weights) != len(styles):
        raise UsageError(
            f"{len(args.style_blend_weights)} --style-blend-weights for "
            f"{len(styles)} style image(s)"
        )
    inputs = [p for p in [content, *styles, args.init, args.weights] if p]
    output = check_output(Path(args.output), inputs)

    saver = Progress(output, iterations * args.scales, args.print_every, args.save_every)
    start = time.time()
    result = stylize(
        content,
        styles,
        size=size,
        iterations=iterations,
        alpha=args.content_weight,
        beta=args.style_weight,
        tv_weight=args.tv_weight,
        init=args.init,
        pooling=args.pooling,
        conv=args.conv,
        seed=args.seed,
        style_blend_weights=args.style_blend_weights,
        content_layers=split(args.content_layers),
        style_layers=split(args.style_layers),
        style_layer_weights=[float(w) for w in split(args.style_layer_weights)] or None,
        style_scale=args.style_scale,
        preserve_colors=args.preserve_colors,
        scales=args.scales,
        backend=xp.__name__,
        weights=args.weights,
        callback=saver,
    )
    saver.finish()
    save_image(output, result.image)
    write_history(output, result.history)
    h, w = result.image.shape[:2]
    print(
        f"{PROG}: saved {output} ({w}x{h}, {len(result.history)} iterations, "
        f"{time.time() - start:.0f} s, backend {xp.__name__})",
        file=sys.stderr,
    )
    if result.stopped == "nonfinite":
        print(f"{PROG}: error: {result.message} ({output})", file=sys.stderr)
        return 2
    if result.stopped == "interrupted":
        print(f"{PROG}: {result.message} ({output})", file=sys.stderr)
        return 130
    return 0


def split(text):
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def check_output(output, inputs):
    """Refuse, before any work, an output that is an input or that cannot be written."""
    out = output.expanduser().resolve()
    for p in inputs:
        if Path(p).expanduser().exists() and Path(p).expanduser().resolve() == out:
            raise UsageError(f"--output {output} is also an input; refusing to overwrite it")
    if out.is_dir():
        raise UsageError(f"--output {output} is a directory")
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"):
        raise UsageError(f"--output {output}: use a .png or .jpg name")
    try:
        with tempfile.TemporaryFile(dir=out.parent):
            pass
    except OSError as e:
        raise UsageError(f"cannot write to {out.parent}: {e.strerror or e}") from None
    return out


def write_history(output, history):
    """NAME_history.csv and, where matplotlib is installed, NAME_loss.png beside the output."""
    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    stem = output.with_suffix("")
    atomic_write(Path(f"{stem}_history.csv"), lambda f: f.write(buf.getvalue().encode()))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    steps = range(1, len(history) + 1)
    for key in ("total", "content", "style"):
        ax.semilogy(steps, [max(r[key], 1e-30) for r in history], label=key)
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("loss (weighted total, raw terms)")
    ax.legend()
    fig.tight_layout()
    atomic_write(Path(f"{stem}_loss.png"), lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


class Progress:
    """Called after each iteration: a progress bar with ETA and loss terms; periodic saves."""

    def __init__(self, output, total, print_every, save_every, stream=sys.stderr):
        self.output, self.total, self.stream = output, total, stream
        self.print_every, self.save_every = max(print_every, 0), save_every
        self.tty = stream.isatty()
        self.start, self.done = time.time(), 0

    def __call__(self, record, image_fn):
        self.done += 1
        if self.save_every and self.done % self.save_every == 0:
            stem = self.output.with_suffix("")
            save_image(Path(f"{stem}_{self.done:04d}{self.output.suffix}"), image_fn())
        if self.print_every and (self.tty or self.done % self.print_every == 0):
            elapsed = time.time() - self.start
            eta = elapsed / self.done * (self.total - self.done)
            filled = int(20 * self.done / self.total)
            line = (
                f"[{'#' * filled}{'.' * (20 - filled)}] {self.done}/{self.total} "
                f"{elapsed:4.0f}s ETA {eta:4.0f}s  total {record['total']:.3e}  content "
                f"{record['content']:.3e}  style {record['style']:.3e}"
            )
            if record.get("of", 1) > 1:
                line += f"  scale {record['scale']}/{record['of']}"
            print(
                ("\r" + line) if self.tty else line,
                end="" if self.tty else "\n",
                file=self.stream,
                flush=True,
            )

    def finish(self):
        if self.tty and self.print_every:
            print(file=self.stream)


if __name__ == "__main__":
    sys.exit(main())
