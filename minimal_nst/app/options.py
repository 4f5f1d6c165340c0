"""The single run's command line, below every command that uses it (cli, batch, check).

`build_parser` lists every option; `options` turns the parsed line into what stylize() takes;
`friendly_errors` makes a user's mistake one line on stderr and exit code 2, for every command
and figure script alike.
"""

import argparse
import sys
from dataclasses import dataclass

PROG = "minimal-nst"
DESCRIPTION = (
    "Neural style transfer (Gatys, Ecker & Bethge 2015) on NumPy or CuPy. With no arguments it "
    "paints the demo: matplotlib's Grace Hopper photo in the style of scripts/paint_style.py's. "
    "Also: `minimal-nst batch --help` (many images at once, on Dask), `minimal-nst video --help` "
    "(a clip, frame by frame, held still) and `minimal-nst check` (the gradient checks here)."
)


class UsageError(ValueError):
    pass


@dataclass(frozen=True)
class Preset:
    """A named set of options' values (argparse dests) that stand in for the options not given;
    `what` says what it changes and what it costs (bench/QUALITY.md has the measurements)."""

    what: str
    values: dict


PRESETS = {  # each measured in bench/QUALITY.md
    "subtle": Preset(
        "a tenth of the default style strength (the first default)", {"style_strength": 0.1}
    ),
    "strong": Preset(
        "coarse to fine over 3 scales at the same cost: more of the painting's large shapes, "
        "and faces and small objects may dissolve",
        {"scales": 3},
    ),
    "paper": Preset(
        "the paper's letter: a white-noise start, 500 iterations at one scale",
        {"init": "noise", "iterations": 500, "scales": 1},
    ),
}


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


def counts(text):
    """argparse type: a whole number, or comma-separated ones (a tuple); checked by stylize."""
    try:
        values = tuple(int(w) for w in split(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number or comma-separated ones, not {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def numbers(text):
    """argparse type: comma-separated numbers."""
    try:
        return tuple(float(w) for w in split(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, not {text!r}"
        ) from None


def layer_weights(text):
    """argparse type: comma-separated numbers, or a name from losses.LAYER_WEIGHTINGS."""
    from ..losses import LAYER_WEIGHTINGS

    if text.strip() in LAYER_WEIGHTINGS:
        return text.strip()
    try:
        return numbers(text)
    except argparse.ArgumentTypeError:  # the same complaint, naming the words too
        words = ", ".join(LAYER_WEIGHTINGS)
        raise argparse.ArgumentTypeError(
            f"expected numbers, comma-separated, or {words}, not {text!r}"
        ) from None


def build_parser():
    """Every option, one line each, in the order --help shows them."""
    from ..losses import BETA_AT_256, CONTENT_LAYERS, DEFAULT_LAYER_WEIGHTS, STYLE_LAYERS

    p = Parser(prog=PROG, description=DESCRIPTION, formatter_class=HelpFormatter)
    presets = "; ".join(f"{name}: {preset.what}" for name, preset in PRESETS.items())
    p.add_argument("--preset", choices=list(PRESETS), help=f"{presets} (an option given wins)")
    a = p.add_argument_group("images").add_argument
    a("--content", help="content image (default: the demo photo; omit it, give --style: a texture)")
    a("--style", nargs="+", action="extend", help="style images (default: the demo painting)")
    a("--output", default="stylized.png", help="any format Pillow writes; NAME_history.csv beside")
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
    a("--style-weight", type=float, metavar="BETA", help="beta (default: --style-strength's)")
    strength = f"more or less style: beta = this x {BETA_AT_256:g} x (size/256)^2"
    a("--style-strength", type=float, default=1.0, metavar="S", help=strength)
    a("--style-blend-weights", nargs="+", type=float, metavar="W", help="weight of each style")
    a("--tv-weight", type=float, default=0.0, help="total-variation smoothing (not in the paper)")
    a("--content-layers", default=",".join(CONTENT_LAYERS), help="comma-separated")
    a("--style-layers", default=",".join(STYLE_LAYERS), help="comma-separated")
    a("--style-layer-weights", type=layer_weights, default=DEFAULT_LAYER_WEIGHTS, metavar="W",
      help="w_l, comma-separated, or equal (the paper's 1/L) or classic (neural-style's, "
      "64:16:4:1:1 by the layers' feature maps)")  # fmt: skip
    running_options(p.add_argument_group("optimisation and running").add_argument)
    return p


def parse_args(argv, parser=None):
    """The command line read, a --preset's values standing in for the options not given."""
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    if args.preset is None:
        return args
    values = dict(PRESETS[args.preset].values)
    if args.style_weight is not None:  # beta given: the preset's multiple of the default goes
        values.pop("style_strength", None)
    parser.set_defaults(**values)
    return parser.parse_args(argv)


def running_options(a):
    """The last group of build_parser: how to optimise, where to compute, what to show."""
    from ..transfer import Settings
    from ..vgg import CONVS
    from .inputs import OPTIMIZERS

    a("--iterations", type=counts, help="L-BFGS iterations at every scale, or one per scale "
      "coarse to fine: 100,50 (default: 100,50 CPU, 500 GPU)")  # fmt: skip
    a("--scales", type=int, help="coarse to fine: this many sizes, sqrt(2) apart (default: 2 CPU, "
      "1 GPU; one per count of --iterations)")  # fmt: skip
    a("--init", default=Settings.init, help="recolored (the content in the style's colours), "
      "content (the paper's), noise, or an image path")  # fmt: skip
    a("--seed", type=count, default=0, help="seed of the noise init")
    a("--pooling", choices=["avg", "max"], default="avg", help="the paper's is avg")
    a("--backend", choices=["auto", "numpy", "cupy"], default="auto")
    a("--conv", choices=CONVS, help="plain is layers.py's (default: winograd4 CPU, im2col GPU)")
    a("--optimizer", choices=OPTIMIZERS, help="scipy: on the host (NumPy); lbfgs: device (CuPy)")
    a("--weights", dest="weights_path", help="VGG-19 weights file (default: fetched and cached)")
    a("--save-every", type=count, default=0, metavar="N", help="save NAME_<iteration> every N")
    a("--print-every", type=count, default=10, metavar="N", help="progress line every N iterations")
    a("--preview", action="store_true", help="watch it live: a page on 127.0.0.1 (address printed)")


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
    """The errors the boundary raises on purpose, each a one-line reason meant for the user (a
    clip's VideoError is an ImageError). Anything else is a bug, and keeps its traceback."""
    from ..backend import BackendError
    from ..weights import WeightsError
    from .files import ImageError
    from .inputs import StylizeError
    from .outputs import OutputError

    return (UsageError, ImageError, OutputError, StylizeError, WeightsError, BackendError)


def options(args):
    """(content, styles, Settings, LossOptions, Masks or None) from the parsed command line;
    the Settings left None (size, iterations, conv) are the backend's defaults, filled later."""
    from ..losses import LossOptions
    from ..transfer import Settings
    from .api import DEFAULT_STYLE, default_content_path

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
        optimizer=args.optimizer,
        backend=None if args.backend == "auto" else args.backend,
        weights_path=args.weights_path,
    )
    loss = LossOptions(
        alpha=args.content_weight,
        beta=args.style_weight,
        content_layers=split(args.content_layers),
        style_layers=split(args.style_layers),
        style_layer_weights=args.style_layer_weights,
        style_blend_weights=tuple(args.style_blend_weights) if args.style_blend_weights else None,
        tv_weight=args.tv_weight,
        strength=args.style_strength,
    )
    return content, styles, settings, loss, mask_options(args)


def mask_options(args):
    """The masks of the command line as a masks.Masks, or None."""
    from ..masks import Masks

    if not (args.content_masks or args.style_masks or args.content_weight_mask):
        return None
    regions, style_regions = tuple(args.content_masks or ()), tuple(args.style_masks or ())
    return Masks(regions, style_regions, args.content_weight_mask)


def split(text):
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())
