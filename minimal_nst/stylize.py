"""Style transfer end to end: images in, scipy's L-BFGS-B on the Objective, an image out.

The arrays live on the backend (NumPy or CuPy) throughout; the one host/device transfer is in
`_lbfgs`, where scipy hands a float64 vector in and takes a float64 gradient back.
"""

import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.optimize

from .backend import get_backend, to_numpy
from .image import (
    ImageError,
    deprocess,
    fit_shape,
    keep_colors,
    load_image,
    luminance,
    match_colors,
    pixel_bounds,
    preprocess,
    resize,
)
from .losses import CONTENT_LAYERS, DEFAULT_ALPHA, DEFAULT_BETA, STYLE_LAYERS, Objective
from .vgg import LAYER_NAMES, VGG19, VGG19_LAYERS, check_layer_names

DEFAULT_CONTENT = "grace_hopper.jpg"  # matplotlib's sample data: a public-domain photo
DEFAULT_STYLE = Path(__file__).parent / "data" / "default_style.png"  # scripts/paint_style.py
BETA_REFERENCE_SIZE = 256  # DEFAULT_BETA = 1e3 was chosen by eye at this size
NOISE_STD = 50.0  # white-noise init: Gaussian pixels around the mean colour, 0-255 scale


class StylizeError(ValueError):
    """Bad input to stylize: the message is one line, meant for the user."""


@dataclass
class Result:
    image: np.ndarray  # uint8 RGB (H, W, 3)
    history: list = field(default_factory=list)  # one dict per L-BFGS iteration
    stopped: str = ""  # "", "interrupted" or "nonfinite"
    message: str = ""


class _NonFinite(Exception):
    """The loss became NaN or infinite: stop and keep the best finite image."""


class _Interrupted(Exception):
    """Ctrl-C was pressed: stop at a clean point and keep the best image so far."""


def default_beta(size):
    """beta that gives the demo's balance of content and style at any output size."""
    return DEFAULT_BETA * (size / BETA_REFERENCE_SIZE) ** 2


def default_content_path():
    import matplotlib.cbook

    return matplotlib.cbook.get_sample_data(DEFAULT_CONTENT, asfileobj=False)


def stylize(
    content,
    style,
    *,
    size=512,
    iterations=500,
    alpha=DEFAULT_ALPHA,
    beta=None,
    tv_weight=0.0,
    init="content",
    pooling="avg",
    conv="im2col",
    seed=0,
    style_blend_weights=None,
    content_layers=CONTENT_LAYERS,
    style_layers=STYLE_LAYERS,
    style_layer_weights=None,
    style_scale=1.0,
    preserve_colors="none",
    scales=1,
    backend=None,
    weights=None,
    net=None,
    dtype="float32",
    callback=None,
):
    """Paint `content` in the style of `style`; return a Result (image, loss history).

    content: a path, PIL image or RGB array, or None for texture synthesis (style only).
    style: one of those, or a list of them (blended by style_blend_weights).
    size: the output's longer side. iterations: L-BFGS iterations at each of `scales` sizes,
    coarse to fine by factors of sqrt(2). init: "content", "noise" or an image (path/array).
    preserve_colors: "none", "luminance" (style the luminance only, keep the content's colours;
    Gatys et al. 2016) or "histogram" (recolour the style images to the content's colours first).
    conv: "im2col" or "winograd" (the same convolution with 2.25x fewer multiplications).
    callback(record, image_fn) is called after every iteration; image_fn() gives the image so far.
    beta: None gives DEFAULT_BETA * (size / 256)^2. The content loss (Eq. 1) is a sum over pixels
    while E_l (Eq. 4) is normalised, so beta must grow with the image's area to keep one balance.
    Ctrl-C stops early and returns the best image so far (result.stopped == "interrupted").
    """
    if beta is None:
        beta = default_beta(size)
    _check_options(size, iterations, scales, style_scale, preserve_colors, init, pooling)
    check_layer_names([*content_layers, *style_layers])
    xp = get_backend(backend)
    styles = style if isinstance(style, (list, tuple)) else [style]
    content_rgb, target_rgb, style_rgbs = _load_inputs(content, styles, preserve_colors)
    init_rgb = None if init in ("content", "noise") else load_image(init)

    reference = target_rgb if target_rgb is not None else style_rgbs[0]
    out_shape = fit_shape(*reference.shape[:2], size)
    sizes = [round(size / math.sqrt(2) ** k) for k in reversed(range(scales))]
    deepest = max(LAYER_NAMES.index(n) for n in (*content_layers, *style_layers))
    for s in sizes:
        _check_fits(fit_shape(*reference.shape[:2], s), deepest)
    style_shapes = [fit_shape(*r.shape[:2], round(size * style_scale)) for r in style_rgbs]
    check_memory(out_shape, style_shapes, deepest, xp)

    if net is None:
        from .weights import get_weights  # here, so that `python -m minimal_nst.weights` runs clean

        net = VGG19.from_hdf5(get_weights(weights), pooling, dtype, xp, conv)
    weights_eq7 = dict(
        alpha=alpha,
        beta=beta,
        content_layers=content_layers,
        style_layers=style_layers,
        style_layer_weights=style_layer_weights,
        style_blend_weights=style_blend_weights,
        tv_weight=tv_weight,
    )
    result, x_rgb = Result(image=None), init_rgb
    for k, s in enumerate(sizes):
        shape = fit_shape(*reference.shape[:2], s)
        content_x = None if target_rgb is None else preprocess(resize(target_rgb, shape), xp, dtype)
        style_xs = [
            preprocess(resize(r, fit_shape(*r.shape[:2], round(s * style_scale))), xp, dtype)
            for r in style_rgbs
        ]
        objective = Objective(net, content_x, style_xs, **weights_eq7)
        if x_rgb is None and init == "content":
            x_rgb = target_rgb
        x0 = _initial_image(x_rgb, shape, seed)
        tags = {"scale": k + 1, "of": len(sizes)}
        x_best, result.stopped = _lbfgs(
            objective, x0, iterations, xp, dtype, result.history, tags, callback
        )
        x_rgb = deprocess(x_best)  # coarse to fine: the next scale starts from it, upsampled
        if result.stopped:
            break

    result.image = resize(x_rgb, out_shape)
    if preserve_colors == "luminance" and content_rgb is not None:
        result.image = keep_colors(result.image, content_rgb)
    result.message = {
        "nonfinite": "the loss became NaN or infinite; kept the last finite image",
        "interrupted": "interrupted; kept the best image so far",
    }.get(result.stopped, "")
    return result


def _load_inputs(content, styles, preserve_colors):
    """(content RGB, the RGB to optimise toward, style RGBs), colours handled as asked."""
    content_rgb = None if content is None else load_image(content)
    style_rgbs = [load_image(s) for s in styles]
    if content_rgb is None and not style_rgbs:
        raise StylizeError("give a content image, a style image, or both")
    target_rgb = content_rgb
    if preserve_colors == "histogram" and content_rgb is not None:
        style_rgbs = [match_colors(s, content_rgb) for s in style_rgbs]
    if preserve_colors == "luminance":
        style_rgbs = [luminance(s) for s in style_rgbs]
        target_rgb = None if content_rgb is None else luminance(content_rgb)
    return content_rgb, target_rgb, style_rgbs


def _initial_image(rgb, shape, seed):
    """The start of L-BFGS, host float64: `rgb` resized, or white noise around mid-grey."""
    if rgb is not None:
        return preprocess(resize(rgb, shape), np, np.float64)
    noise = np.random.default_rng(seed).normal(0.0, NOISE_STD, (1, 3, *shape))
    x0 = noise + preprocess(np.full((*shape, 3), 128, np.uint8), np, np.float64)
    return np.clip(x0, *pixel_bounds(x0.shape))


def _lbfgs(objective, x0, iterations, xp, dtype, history, tags, callback):
    """Minimise objective from x0 (host float64) with L-BFGS-B within the pixel range.

    Returns (the best finite image seen, as host float64 (1, 3, H, W); how it stopped).
    """
    shape, start = x0.shape, time.time()
    best = {"loss": math.inf, "x": x0}

    def loss_and_grad(v):
        ctrl_c.check()
        x = xp.asarray(v.reshape(shape), dtype=dtype)  # host -> device
        loss, grad = objective.loss_and_grad(x)
        if not math.isfinite(loss):
            raise _NonFinite
        if loss < best["loss"]:
            best["loss"], best["x"] = loss, v.reshape(shape).copy()
        return loss, to_numpy(grad).astype(np.float64).ravel()  # device -> host

    def on_iteration(intermediate_result):
        record = {
            **tags,
            "iteration": len(history) + 1,
            **objective.terms,
            "seconds": round(time.time() - start, 3),
        }
        record["total"] = float(intermediate_result.fun)
        history.append(record)
        if callback:
            callback(record, lambda: deprocess(intermediate_result.x.reshape(shape)))
        ctrl_c.check()

    low, high = pixel_bounds(shape)
    try:
        with _CtrlC() as ctrl_c:
            scipy.optimize.minimize(
                loss_and_grad,
                x0.ravel(),
                jac=True,
                method="L-BFGS-B",
                bounds=scipy.optimize.Bounds(low.ravel(), high.ravel()),
                callback=on_iteration,
                options={
                    "maxiter": iterations,
                    "maxfun": 2 * iterations + 20,
                    "ftol": 1e-12,
                    "gtol": 1e-12,
                },
            )
    except _NonFinite:
        return best["x"], "nonfinite"
    except (_Interrupted, KeyboardInterrupt):
        return best["x"], "interrupted"
    return best["x"], ""


class _CtrlC:
    """While optimising, Ctrl-C only raises a flag, checked between evaluations, so that the
    run stops at a clean point with its best image; a second Ctrl-C interrupts at once."""

    requested = False

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self):
        if self.requested:
            raise _Interrupted

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def _check_options(size, iterations, scales, style_scale, preserve_colors, init, pooling):
    for name, value in [("size", size), ("iterations", iterations), ("scales", scales)]:
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise StylizeError(f"{name} must be a positive integer, got {value!r}")
    if not style_scale > 0:
        raise StylizeError(f"style scale must be > 0, got {style_scale}")
    if preserve_colors not in ("none", "luminance", "histogram"):
        raise StylizeError(
            f"preserve_colors must be none, luminance or histogram, not {preserve_colors!r}"
        )
    if pooling not in ("avg", "max"):
        raise StylizeError(f"pooling must be avg or max, not {pooling!r}")
    if isinstance(init, str) and init not in ("content", "noise") and not Path(init).exists():
        raise StylizeError(f"init must be content, noise or an image path; {init}: no such file")


def _check_fits(shape, deepest):
    pools = sum(1 for name, kind, *_ in VGG19_LAYERS[: deepest + 1] if kind == "pool")
    if min(shape) < 2**pools:
        raise StylizeError(
            f"a {shape[1]}x{shape[0]} image is too small for {LAYER_NAMES[deepest]}"
            f" (needs at least {2**pools} px on each side): raise --size"
        )


def estimate_memory(shape, style_shapes, deepest, itemsize=4):
    """Bytes needed to optimise an image of `shape` (H, W), a careful upper estimate.

    What is held: each layer's output up to `deepest` (the backward pass needs them), the
    largest im2col buffer and its result, the weights, and L-BFGS-B's history on the host.
    """

    def activations(h, w):
        kept, transient = 3 * h * w, 0
        for _, kind, c_in, c_out in VGG19_LAYERS[: deepest + 1]:
            if kind == "pool":
                h, w = h // 2, w // 2
            if kind == "conv":
                transient = max(transient, (9 * c_in + 2 * c_out) * h * w)
            kept += c_out * h * w
        return kept, transient

    kept, transient = activations(*shape)
    style_peak = max((sum(activations(*s)) for s in style_shapes), default=0)
    device = itemsize * (2 * kept + 2 * transient + max(style_peak - kept, 0)) + 80_000_000
    host = 8 * 3 * shape[0] * shape[1] * (2 * 10 + 8)  # L-BFGS-B: 10 (s, y) pairs + work arrays
    return device, host


def available_memory(xp):
    """(device bytes free, host bytes free): MemAvailable, and the GPU's free memory on CuPy."""
    host = os_available_memory()
    if xp.__name__ == "cupy":
        free, _ = xp.cuda.runtime.memGetInfo()
        return free + xp.get_default_memory_pool().free_bytes(), host
    return host, host


def os_available_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return math.inf


def check_memory(shape, style_shapes, deepest, xp):
    device, host = estimate_memory(shape, style_shapes, deepest)
    free_device, free_host = available_memory(xp)
    need_host = host + (device if xp.__name__ == "numpy" else 0)
    if need_host > free_host or (xp.__name__ != "numpy" and device > free_device):
        raise StylizeError(
            f"a {shape[1]}x{shape[0]} output needs about {_gib(device)} on the "
            f"{'GPU' if xp.__name__ == 'cupy' else 'CPU'} and {_gib(host)} host memory; "
            f"{_gib(free_device)} free: lower --size"
        )


def _gib(n):
    return f"{n / 2**30:.1f} GiB"


__all__ = ["stylize", "Result", "StylizeError", "ImageError", "estimate_memory"]
