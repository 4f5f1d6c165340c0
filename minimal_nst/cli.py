"""The command line: `minimal-nst` and `python scripts/stylize.py` (the same program).

Bad input gets one line on stderr and exit code 2; Ctrl-C saves the best image so far (exit 130);
every file is written atomically, and no input is ever overwritten.
"""

import argparse
import csv
import io
import sys
import tempfile
import time
from pathlib import Path

from .backend import BackendError
from .image import ImageError, atomic_write, save_image
from .inputs import StylizeError
from .losses import CONTENT_LAYERS, STYLE_LAYERS, LossOptions
from .progress import Progress
from .stylize import DEFAULT_STYLE, Settings, default_content_path, stylize, with_defaults
from .vgg import CONVS
from .weights import WeightsError

PROG = "minimal-nst"
USER_ERRORS = (ImageError, StylizeError, WeightsError, BackendError, ValueError)


DESCRIPTION = (
    "Neural style transfer (Gatys, Ecker & Bethge 2015) on NumPy or CuPy. With no arguments it "
    "paints the demo: matplotlib's Grace Hopper photo in the style of scripts/paint_style.py's."
)


class UsageError(ValueError):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(f"{message} (see --help)")


def build_parser():
    """Every option, one line each, in the order --help shows them."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    p = Parser(prog=PROG, description=DESCRIPTION, formatter_class=fmt)
    a = p.add_argument_group("images").add_argument
    a("--content", help="content image (default: the demo photo; omit it, give --style: a texture)")
    a("--style", nargs="+", help="one or more style images (default: the demo painting)")
    a("--output", default="stylized.png", help="output .png/.jpg; NAME_history.csv, NAME_loss.png")
    a("--size", type=int, help="longest side in pixels (default: 256 on a CPU, 512 on a GPU)")
    a("--style-scale", type=float, default=1.0, help="style image size relative to the output's")
    colors = ["none", "luminance", "histogram"]
    a("--preserve-colors", choices=colors, default="none", help="keep the content's colours")
    a = p.add_argument_group("the loss (Eq. 7)").add_argument
    a("--content-weight", type=float, default=1.0, metavar="ALPHA", help="alpha")
    a("--style-weight", type=float, metavar="BETA", help="beta (default: 1e3 x (size/256)^2)")
    a("--style-blend-weights", nargs="+", type=float, metavar="W", help="weight of each style")
    a("--tv-weight", type=float, default=0.0, help="total-variation smoothing (not in the paper)")
    a("--content-layers", default=",".join(CONTENT_LAYERS), help="comma-separated")
    a("--style-layers", default=",".join(STYLE_LAYERS), help="comma-separated")
    a("--style-layer-weights", help="comma-separated w_l (default: equal, 1/L)")
    a = p.add_argument_group("optimisation and running").add_argument
    a("--iterations", type=int, help="L-BFGS iterations per scale (default: 100 CPU, 500 GPU)")
    a("--scales", type=int, default=1, help="coarse to fine: this many sizes, sqrt(2) apart")
    a("--init", default="content", help="content, noise, or an image path")
    a("--seed", type=int, default=0, help="seed of the noise init")
    a("--pooling", choices=["avg", "max"], default="avg", help="the paper's is avg")
    a("--backend", choices=["auto", "numpy", "cupy"], default="auto")
    a("--conv", choices=CONVS, default="im2col", help="plain is layers.py's; the others are faster")
    a("--weights", dest="weights_path", help="VGG-19 weights file (default: fetched and cached)")
    a("--save-every", type=int, default=0, metavar="N", help="save NAME_<iteration> every N")
    a("--print-every", type=int, default=10, metavar="N", help="progress line every N iterations")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:
        from .check import main as check_main

        return check_main(argv[1:])
    return friendly_errors(PROG, lambda: run(build_parser().parse_args(argv)))


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


def options(args):
    """(content, styles, Settings, LossOptions) from the parsed command line."""
    content, styles = args.content, args.style or [str(DEFAULT_STYLE)]
    if args.content is None and args.style is None:
        content = default_content_path()
    settings = Settings(
        size=args.size,
        iterations=args.iterations,
        scales=args.scales,
        init=args.init,
        seed=args.seed,
        style_scale=args.style_scale,
        preserve_colors=args.preserve_colors,
        pooling=args.pooling,
        conv=args.conv,
        backend=None if args.backend == "auto" else args.backend,
        weights_path=args.weights_path,
    )
    loss = LossOptions(
        alpha=args.content_weight,
        beta=args.style_weight,
        content_layers=split(args.content_layers),
        style_layers=split(args.style_layers),
        style_layer_weights=tuple(float(w) for w in split(args.style_layer_weights)) or None,
        style_blend_weights=tuple(args.style_blend_weights) if args.style_blend_weights else None,
        tv_weight=args.tv_weight,
    )
    return content, styles, with_defaults(settings), loss


def run(args):
    content, styles, settings, loss = options(args)
    if args.content is None and args.style is not None:
        print(f"{PROG}: no --content: synthesising a texture from the style", file=sys.stderr)
    inputs = [p for p in [content, *styles, args.init, args.weights_path] if p]
    output = check_output(Path(args.output), inputs)
    progress = Progress(output, settings, args.print_every, args.save_every)
    start = time.time()
    result = stylize(content, styles, settings, loss, callback=progress)
    progress.close()
    save_image(output, result.image)
    write_history(output, result.history)
    h, w = result.image.shape[:2]
    print(
        f"{PROG}: saved {output} ({w}x{h}, {len(result.history)} iterations, "
        f"{time.time() - start:.0f} s)",
        file=sys.stderr,
    )
    if result.stopped:
        print(f"{PROG}: {result.message} ({output})", file=sys.stderr)
    return {"": 0, "nonfinite": 2, "interrupted": 130}[result.stopped]


def split(text):
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())


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
    """NAME_history.csv and NAME_loss.png (the loss curves) beside the output."""
    if not history:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    stem = output.with_suffix("")
    atomic_write(Path(f"{stem}_history.csv"), lambda f: f.write(buf.getvalue().encode()))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key in ("total", "content", "style"):
        ax.semilogy(range(1, len(history) + 1), [max(r[key], 1e-30) for r in history], label=key)
    ax.set_xlabel("L-BFGS iteration")
    ax.set_ylabel("loss (weighted total, raw terms)")
    ax.legend()
    fig.tight_layout()
    atomic_write(Path(f"{stem}_loss.png"), lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
