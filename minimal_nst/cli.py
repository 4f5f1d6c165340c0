"""The command line: `minimal-nst` and `python scripts/stylize.py` (the same program).

Bad input gets one line on stderr and exit code 2, before any work. Nothing is lost: no input
and no file minimal-nst did not make is ever written over (outputs.py); Ctrl-C, SIGTERM and
SIGHUP keep the best image so far (exit 130, 143, 129); an image that cannot be written where
asked is written elsewhere, and the message says where (exit 1).

Only the standard library is imported before main() runs, so that a Ctrl-C during start-up is
one line too.
"""

import argparse
import sys
import time
from pathlib import Path

from .interrupt import StopSignals, exit_code

PROG = "minimal-nst"
DESCRIPTION = (
    "Neural style transfer (Gatys, Ecker & Bethge 2015) on NumPy or CuPy. With no arguments it "
    "paints the demo: matplotlib's Grace Hopper photo in the style of scripts/paint_style.py's. "
    "Also: `minimal-nst batch --help` (many images at once, on Dask) and `minimal-nst check` "
    "(the gradient checks on this machine)."
)


class UsageError(ValueError):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(f"{message} (see --help)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    def _get_help_string(self, action):  # no "(default: None)" after a default said in words
        return action.help if action.default is None else super()._get_help_string(action)


def count(text):
    """argparse type: a whole number >= 0."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, not {text!r}")
    return int(text)


def numbers(text):
    """argparse type: comma-separated numbers."""
    try:
        return tuple(float(w) for w in split(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, not {text!r}"
        ) from None


def build_parser():
    """Every option, one line each, in the order --help shows them."""
    from .losses import CONTENT_LAYERS, STYLE_LAYERS
    from .vgg import CONVS

    p = Parser(prog=PROG, description=DESCRIPTION, formatter_class=HelpFormatter)
    a = p.add_argument_group("images").add_argument
    a("--content", help="content image (default: the demo photo; omit it, give --style: a texture)")
    a("--style", nargs="+", action="extend", help="style images (default: the demo painting)")
    a("--output", default="stylized.png", help="output .png/.jpg; NAME_history.csv, NAME_loss.png")
    a("--overwrite", action="store_true", help="replace files minimal-nst did not make")
    a("--size", type=int, help="longest side in pixels (default: 256 on a CPU, 512 on a GPU)")
    a("--style-scale", type=float, default=1.0, help="style image size relative to the output's")
    colors = ["none", "luminance", "histogram"]
    a("--preserve-colors", choices=colors, default="none", help="keep the content's colours")
    a = p.add_argument_group("where each style goes (masks: white = 1, black = 0)").add_argument
    a("--content-masks", nargs="+", metavar="M", help="one per style (+1: a background kept)")
    a("--style-masks", nargs="+", metavar="M", help="one per style: where it is sampled")
    a("--content-weight-mask", metavar="M", help="the content term's weight per pixel")
    a = p.add_argument_group("the loss (Eq. 7)").add_argument
    a("--content-weight", type=float, default=1.0, metavar="ALPHA", help="alpha")
    a("--style-weight", type=float, metavar="BETA", help="beta (default: 1e3 x (size/256)^2)")
    a("--style-blend-weights", nargs="+", type=float, metavar="W", help="weight of each style")
    a("--tv-weight", type=float, default=0.0, help="total-variation smoothing (not in the paper)")
    a("--content-layers", default=",".join(CONTENT_LAYERS), help="comma-separated")
    a("--style-layers", default=",".join(STYLE_LAYERS), help="comma-separated")
    a("--style-layer-weights", type=numbers, help="comma-separated w_l (default: equal, 1/L)")
    a = p.add_argument_group("optimisation and running").add_argument
    a("--iterations", type=int, help="L-BFGS iterations per scale (default: 100 CPU, 500 GPU)")
    a("--scales", type=int, default=1, help="coarse to fine: this many sizes, sqrt(2) apart")
    a("--init", default="content", help="content, noise, or an image path")
    a("--seed", type=count, default=0, help="seed of the noise init")
    a("--pooling", choices=["avg", "max"], default="avg", help="the paper's is avg")
    a("--backend", choices=["auto", "numpy", "cupy"], default="auto")
    a("--conv", choices=CONVS, help="plain is layers.py's (default: winograd4 CPU, im2col GPU)")
    a("--weights", dest="weights_path", help="VGG-19 weights file (default: fetched and cached)")
    a("--save-every", type=count, default=0, metavar="N", help="save NAME_<iteration> every N")
    a("--print-every", type=count, default=10, metavar="N", help="progress line every N iterations")
    a("--preview", action="store_true", help="watch it live: a page on 127.0.0.1 (address printed)")
    return p


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:
        from .check import main as check_main

        return check_main(argv[1:])
    if argv[:1] == ["batch"]:
        from .batch import main as batch_main

        return batch_main(argv[1:])
    with StopSignals() as stop:  # from the start: a signal while loading stops the run too
        return friendly_errors(PROG, lambda: run(build_parser().parse_args(argv), stop))


def friendly_errors(prog, fn, interrupted="interrupted; nothing saved"):
    """fn()'s exit code; a user's mistake becomes one line on stderr and exit code 2."""
    try:
        return fn()
    except KeyboardInterrupt:
        print(f"\n{prog}: {interrupted}", file=sys.stderr)
        return 130
    except Exception as e:
        if not isinstance(e, user_errors()):
            raise
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2


def user_errors():
    from .backend import BackendError
    from .image import ImageError
    from .weights import WeightsError

    return (UsageError, ImageError, WeightsError, BackendError, ValueError)


def options(args):
    """(content, styles, Settings, LossOptions, Masks or None) from the parsed command line;
    the Settings left None (size, iterations, conv) are the backend's defaults, filled later."""
    from .losses import LossOptions
    from .stylize import DEFAULT_STYLE, Settings, default_content_path

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
        style_layer_weights=args.style_layer_weights or None,
        style_blend_weights=tuple(args.style_blend_weights) if args.style_blend_weights else None,
        tv_weight=args.tv_weight,
    )
    return content, styles, settings, loss, mask_options(args)


def mask_options(args):
    """The masks of the command line as a masks.Masks, or None."""
    from .masks import Masks

    if not (args.content_masks or args.style_masks or args.content_weight_mask):
        return None
    regions, style_regions = tuple(args.content_masks or ()), tuple(args.style_masks or ())
    return Masks(regions, style_regions, args.content_weight_mask)


def run(args, stop):
    """Plan and check every file, paint, then save whatever arrives meanwhile."""
    from .outputs import check_outputs, side_files
    from .progress import Progress
    from .stylize import stylize, with_defaults

    content, styles, settings, loss, masks = options(args)
    settings = with_defaults(settings)
    output = Path(args.output).expanduser().absolute()
    planned = side_files(output, settings.iterations * settings.scales, args.save_every)
    inputs = [content, *styles, settings.init, args.weights_path]
    inputs += [*(args.content_masks or ()), *(args.style_masks or ()), args.content_weight_mask]
    check_outputs(planned, [p for p in inputs if isinstance(p, (str, Path))], args.overwrite)
    progress = Progress(output, settings, args.print_every, args.save_every)
    if args.content is None and args.style is not None:
        progress.note = f"{PROG}: no --content: synthesising a texture from the style"
    preview = []  # --preview starts at the first iteration: a bad input stays a one-line error

    def callback(record, image_fn):
        progress(record, image_fn)
        if args.preview and not preview:
            preview.append(start_preview(content, styles, settings, loss, output))
        if preview:
            preview[0].update(record, image_fn)

    start = time.time()
    try:
        result = stylize(content, styles, settings, loss, callback=callback, stop=stop, masks=masks)
        progress.close()
        stop.finish = True  # from here on a signal waits: the save in hand always completes
        code = save(output, result, time.time() - start)
        if preview:
            ending = result.message or (f"saved as {output}" if code == 0 else "see the terminal")
            preview[0].finish(result.image, f"the final image; {ending}")
    finally:
        if preview:
            preview[0].close()
    return exit_code(stop.signum) if stop.signum is not None else code


def start_preview(content, styles, settings, loss, output):
    """--preview: serve the page, say where."""
    from .losses import default_beta
    from .preview import Preview

    name = lambda p: Path(p).name if isinstance(p, (str, Path)) else "the demo"  # noqa: E731
    shown = {
        "content": name(content) if content is not None else "none (a texture)",
        "style": [name(s) for s in styles],
        "output": str(output),
        "size": settings.size,
        "iterations": settings.iterations,
        "scales": settings.scales,
        "init": str(settings.init),
        "alpha": loss.alpha,
        "beta": loss.beta if loss.beta is not None else default_beta(settings.size),
        "content layers": list(loss.content_layers),
        "style layers": list(loss.style_layers),
        "conv": settings.conv,
        "backend": settings.backend or "auto",
    }
    preview = Preview(shown)
    print(f"{PROG}: watch it at {preview.url} (until the run ends)", file=sys.stderr, flush=True)
    return preview


def save(output, result, seconds):
    """Write the image and its history; say what is on disk. Returns the exit code."""
    from .outputs import save_rescued, write_history

    if result.image is None:
        print(
            f"{PROG}: {result.message} before the first iteration; nothing saved", file=sys.stderr
        )
        return 1
    path, error = save_rescued(output, result.image)
    if error is not None:
        reason = error.strerror or error
        print(
            f"{PROG}: error: could not write {output} ({reason}); saved it as {path}",
            file=sys.stderr,
        )
        return 1
    h, w = result.image.shape[:2]
    done = f"{w}x{h}, {len(result.history)} iterations, {seconds:.0f} s"
    print(
        f"{PROG}: saved {output} ({done}){'; ' + result.message if result.stopped else ''}",
        file=sys.stderr,
    )
    try:
        write_history(output, result.history)
    except OSError as e:
        print(f"{PROG}: error: the image is saved, but not its history ({e})", file=sys.stderr)
        return 1
    return 2 if result.stopped == "nonfinite" else 0


def split(text):
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())


if __name__ == "__main__":
    sys.exit(main())
