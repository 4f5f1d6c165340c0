"""Style transfer end to end: images in, L-BFGS on Eq. 7 at each scale, an image out.

The arrays live on the backend (NumPy or CuPy) throughout. With scipy's L-BFGS-B (the reference,
the default on NumPy) the one host/device transfer is in `_scipy_lbfgs`, where scipy hands a
float64 vector in and takes a float64 gradient back; with minimal_nst.lbfgs (the default on
CuPy) the image stays on the device until the end.
"""

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize

from .backend import get_backend, to_numpy
from .image import deprocess, fit_shape, keep_colors, pixel_bounds, preprocess, resize
from .inputs import StylizeError, check_fits, check_loss, check_settings, load_inputs, load_masks
from .interrupt import Interrupted, StopSignals
from .lbfgs import minimize as minimize_on_device
from .losses import LossOptions
from .masks import at_scale
from .memory import memory_problem
from .objective import Objective
from .vgg import VGG19

DEFAULT_CONTENT = "grace_hopper.jpg"  # matplotlib's sample data: a public-domain photo
DEFAULT_STYLE = Path(__file__).parent / "data" / "default_style.png"  # scripts/paint_style.py
DEFAULTS = {  # what a Settings field left None means on each backend: minutes on 2 cores or a GPU
    "numpy": {"size": 256, "scales": 1, "conv": "winograd4", "optimizer": "scipy"},
    "cupy": {"size": 512, "scales": 1, "conv": "im2col", "optimizer": "lbfgs"},
}  # bench/RESULTS.md (speed), bench/QUALITY.md (looks)
ITERATIONS = {"numpy": (100, 100), "cupy": (500, 500)}  # at the first scale, at each later one
FTOL = 1e-12  # either optimiser stops early when an iteration gains less than this, relatively
NOISE_STD = 50.0  # white-noise init: Gaussian pixels around mid-grey, 0-255 scale
STOPPED = {
    "nonfinite": "the loss became NaN or infinite; kept the last finite image",
    "interrupted": "interrupted; kept the best image so far",
}


@dataclass(frozen=True)
class Settings:
    """How to run: everything but the images, the Eq. 7 options (LossOptions) and the network.

    size: the output's longer side; scales: how many sizes, coarse to fine by factors of
    sqrt(2), each starting from the last one's result; iterations: L-BFGS iterations at every
    scale, or a tuple of one per scale, coarse to fine. None: the backend's (DEFAULTS and
    ITERATIONS: 256 px, 1 scale, 100 iterations on a CPU; 512 px, 1 scale, 500 on a GPU).
    init: "content", "noise" or an image. style_scale: the style's size relative to the output.
    preserve_colors: "none", "luminance" (keep the content's colours) or "histogram" (recolour
    the styles to the content's first). conv: "plain" (layers.py), "im2col", "winograd" or
    "winograd4" (fast_layers.py): the same numbers, at different speeds; None: the fastest
    measured, "winograd4" on a CPU. optimizer: "scipy" (L-BFGS-B on the host, the reference) or
    "lbfgs" (minimal_nst.lbfgs, on the device); None: scipy on NumPy, lbfgs on CuPy.
    """

    size: int | None = None
    iterations: int | tuple | None = None
    scales: int | None = None
    init: Any = "content"
    seed: int = 0
    style_scale: float = 1.0
    preserve_colors: str = "none"
    pooling: str = "avg"
    conv: str | None = None
    optimizer: str | None = None
    backend: str | None = None
    weights_path: Any = None
    dtype: str = "float32"


@dataclass
class Result:
    image: np.ndarray = None  # uint8 RGB (H, W, 3)
    history: list = field(default_factory=list)  # one dict per L-BFGS iteration
    stopped: str = ""  # "", "interrupted" or "nonfinite"
    message: str = ""
    signum: int | None = None  # the signal that interrupted the run


def default_content_path():
    import matplotlib.cbook

    return matplotlib.cbook.get_sample_data(DEFAULT_CONTENT, asfileobj=False)


def stylize(
    content,
    style,
    settings=None,
    loss=None,
    net=None,
    callback=None,
    stop=None,
    masks=None,
    temporal=None,
    **kw,
):
    """Paint `content` in the style of `style`; return a Result (image, loss history).

    content: a path, PIL image or RGB array, or None for texture synthesis (style only).
    style: one of those, or a list of them (blended by loss.style_blend_weights).
    settings: a Settings; keywords override its fields: stylize(a, b, size=256, iterations=50).
    loss: the options of Eq. 7 (LossOptions; default: the paper's); beta None: loss.beta_at(size).
    net: a VGG19 to use instead of loading one (settings.pooling and .conv are then unused).
    callback(record, image_fn) is called after every iteration; image_fn() gives the image so far.
    Ctrl-C, SIGTERM and SIGHUP stop it at a clean point with the best image so far
    (result.stopped == "interrupted"; result.image is None if no iteration had finished).
    stop: the StopSignals to watch, if the caller has them active already.
    masks: spatial control (masks.py): a list of region masks, one per style and optionally a
    last one for a background with no style (paths, PIL images or (H, W) arrays in [0, 1]), or
    a masks.Masks with masks on the style images and a per-pixel content weight too.
    temporal: a video frame's objective.Temporal terms (one, or one per earlier frame) at the
    output's shape, one scale (video/).
    """
    s = with_defaults(dataclasses.replace(settings or Settings(), **kw))
    xp = get_backend(s.backend)
    content_rgb, images, loss = _prepare(content, style, s, loss or LossOptions(), masks, xp)
    with contextlib.nullcontext(stop) if stop else StopSignals() as stop:
        net = net or load_network(s, xp)
        result = _coarse_to_fine(net, loss, images, s, xp, callback, stop, temporal)
    if s.preserve_colors == "luminance" and content_rgb is not None and result.image is not None:
        result.image = keep_colors(result.image, content_rgb)
    return result


def load_network(s, xp):
    """VGG-19 as the Settings `s` ask for it, on the backend xp."""
    from .weights import get_weights_path  # here: `python -m minimal_nst.weights` runs

    return VGG19.from_hdf5(get_weights_path(s.weights_path), s.pooling, s.dtype, xp, s.conv)


def _prepare(content, style, s, loss, masks, xp):
    """Every input checked and loaded, before any work: (the content RGB, the images
    _coarse_to_fine takes, the loss options with beta filled in)."""
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    check_settings(s)
    check_loss(loss, content is not None, len(styles), s.init)
    content_rgb, target_rgb, style_rgbs, init_rgb = load_inputs(
        content, styles, s.init, s.preserve_colors
    )
    masks = None if masks is None else load_masks(masks, len(style_rgbs))
    _check_resources(target_rgb, style_rgbs, s, loss, xp)
    if loss.beta is None:
        loss = dataclasses.replace(loss, beta=loss.beta_at(s.size))
    start = init_rgb if init_rgb is not None else target_rgb if s.init == "content" else None
    return content_rgb, (target_rgb, style_rgbs, start, masks), loss


def with_defaults(s):
    """Settings `s` with the fields left None filled in for the backend it will run on."""
    backend = get_backend(s.backend).__name__
    s = dataclasses.replace(
        s, **{k: v for k, v in DEFAULTS[backend].items() if getattr(s, k) is None}
    )
    if s.iterations is None:
        first, later = ITERATIONS[backend]
        n = s.scales if isinstance(s.scales, int) and s.scales > 1 else 1  # else: checked later
        s = dataclasses.replace(s, iterations=first if n == 1 else (first,) + (later,) * (n - 1))
    return s


def iterations_per_scale(s):
    """(L-BFGS iterations at each scale, coarse to fine) of Settings with their defaults."""
    return tuple(s.iterations) if isinstance(s.iterations, tuple) else (s.iterations,) * s.scales


def scale_sizes(size, scales):
    """The longer side at each scale, coarse to fine: factors of sqrt(2) up to `size`."""
    return [round(size / math.sqrt(2) ** k) for k in reversed(range(scales))]


def _check_resources(target_rgb, style_rgbs, s, loss, xp):
    """The smallest scale must survive the poolings; the largest must fit in memory."""
    reference = target_rgb if target_rgb is not None else style_rgbs[0]
    layers = (loss.content_layers if target_rgb is not None else ()) + loss.style_layers
    layers = layers or loss.content_layers
    check_fits(fit_shape(*reference.shape[:2], scale_sizes(s.size, s.scales)[0]), layers)
    shape = fit_shape(*reference.shape[:2], s.size)
    style_shapes = [fit_shape(*r.shape[:2], round(s.size * s.style_scale)) for r in style_rgbs]
    problem = memory_problem(shape, style_shapes, layers, xp, s.optimizer)
    if problem:
        raise StylizeError(problem)


def _coarse_to_fine(net, loss, images, s, xp, callback, stop, temporal=None):
    """L-BFGS at each scale in turn, each starting from the last one's result, upsampled."""
    target_rgb, style_rgbs, x_rgb, masks = images
    reference = target_rgb if target_rgb is not None else style_rgbs[0]
    result, sizes = Result(), scale_sizes(s.size, s.scales)
    for k, (side, iterations) in enumerate(zip(sizes, iterations_per_scale(s))):
        if stop.signum is not None:  # between two scales: keep the last one's result
            result.stopped = "interrupted"
            break
        shape = fit_shape(*reference.shape[:2], side)
        content_x = _network_input(target_rgb, shape, xp, s.dtype)
        style_shapes = [fit_shape(*r.shape[:2], round(side * s.style_scale)) for r in style_rgbs]
        style_xs = [_network_input(r, t, xp, s.dtype) for r, t in zip(style_rgbs, style_shapes)]
        scale_masks = masks and at_scale(masks, shape, style_shapes)
        objective = Objective(net, content_x, style_xs, loss, scale_masks, temporal)
        tags = {"scale": k + 1, "of": len(sizes)}
        record = _recorder(result.history, objective, tags, shape, callback)
        x0 = initial_image(x_rgb, shape, s.seed)
        x_best, result.stopped = lbfgs(
            objective, x0, iterations, xp, s.dtype, record, stop, s.optimizer
        )
        x_rgb = deprocess(x_best)
        if result.stopped:
            break
    result.signum, result.message = stop.signum, STOPPED.get(result.stopped, "")
    if result.stopped == "interrupted" and not result.history:
        return result  # stopped before any iteration finished: no image worth keeping
    result.image = resize(x_rgb, fit_shape(*reference.shape[:2], s.size))
    return result


def _network_input(rgb, shape, xp, dtype):
    return None if rgb is None else preprocess(resize(rgb, shape), xp, dtype)


def initial_image(rgb, shape, seed):
    """The start of L-BFGS, host float64: `rgb` resized, or white noise around mid-grey."""
    if rgb is not None:
        return preprocess(resize(rgb, shape), np, np.float64)
    noise = np.random.default_rng(seed).normal(0.0, NOISE_STD, (1, 3, *shape))
    x0 = noise + preprocess(np.full((*shape, 3), 128, np.uint8), np, np.float64)
    return np.clip(x0, *pixel_bounds(x0.shape))


def _recorder(history, objective, tags, shape, callback):
    """on_iteration(x, seconds) for lbfgs: append the iteration's record, call the callback."""

    def on_iteration(x, seconds):
        record = {**tags, "iteration": len(history) + 1, **objective.terms, "seconds": seconds}
        history.append(record)
        if callback:
            callback(record, lambda: deprocess(x.reshape(1, 3, *shape)))

    return on_iteration


def lbfgs(objective, x0, iterations, xp, dtype, on_iteration=None, stop=None, optimizer="scipy"):
    """Minimise objective from x0 (host float64, (1, 3, H, W)) within the pixel range: scipy's
    L-BFGS-B on the host ("scipy"), or minimal_nst.lbfgs on the backend's arrays ("lbfgs").

    Returns (the best image evaluated, where it lives; "" or how it stopped early).
    on_iteration(x, seconds) after each iteration. stop: a StopSignals whose flag is checked
    between evaluations (None: never stops).
    """
    watch = Watch(objective, stop or StopSignals(), x0)
    run = _scipy_lbfgs if optimizer == "scipy" else _device_lbfgs
    try:
        run(watch, x0, iterations, xp, dtype, on_iteration)
    except NonFinite:
        return watch.best_x, "nonfinite"
    except (Interrupted, KeyboardInterrupt):
        return watch.best_x, "interrupted"
    return watch.best_x, ""


class NonFinite(Exception):
    """The loss became NaN or infinite: stop and keep the best finite image."""


class Watch:
    """The objective as an optimiser calls it: the stop flag checked before each evaluation, a
    NaN or infinite loss ends the run, and the best image evaluated is kept where it lives."""

    def __init__(self, objective, stop, x0):
        self.objective, self.stop = objective, stop
        self.best_loss, self.best_x, self.start = math.inf, x0, time.time()
        self.copies = True  # False: the optimiser never writes to an array once evaluated

    def __call__(self, x, keep=None):
        """(loss, gradient) at x; keep: what to keep if x is the best so far (default: x), a
        copy unless the optimiser leaves it as it is (`copies`)."""
        self.stop.check()
        with np.errstate(over="ignore", invalid="ignore"):  # a NaN is reported, not warned
            loss, grad = self.objective.loss_and_grad(x)
        if not math.isfinite(loss):
            raise NonFinite
        if loss < self.best_loss:
            best = x if keep is None else keep
            self.best_loss, self.best_x = loss, best.copy() if self.copies else best
        return loss, grad

    def iteration(self, x, on_iteration):
        if on_iteration:
            on_iteration(x, round(time.time() - self.start, 3))
        self.stop.check()


def _scipy_lbfgs(watch, x0, iterations, xp, dtype, on_iteration):
    """scipy's L-BFGS-B on the host: each evaluation moves the image to the device and its
    gradient back, in float64."""
    shape = x0.shape

    def loss_and_grad(v):
        loss, grad = watch(xp.asarray(v.reshape(shape), dtype=dtype), keep=v.reshape(shape))
        return loss, to_numpy(grad).astype(np.float64).ravel()

    low, high = pixel_bounds(shape)
    scipy.optimize.minimize(
        loss_and_grad,
        x0.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=scipy.optimize.Bounds(low.ravel(), high.ravel()),
        callback=lambda x: watch.iteration(x, on_iteration),  # scipy passes a copy of x
        options={
            "maxiter": iterations,
            "maxfun": 2 * iterations + 20,
            "ftol": FTOL,
            "gtol": 1e-12,
        },
    )


def _device_lbfgs(watch, x0, iterations, xp, dtype, on_iteration):
    """minimal_nst.lbfgs on the backend's arrays: the image moves to the device once, and back
    only when a callback asks to see it. The iterates are float64, as scipy's (why: lbfgs.
    minimize); the network, its gradient and the optimiser's history are in `dtype`."""
    low, high = (xp.asarray(bound[:, :, :1, :1]) for bound in pixel_bounds(x0.shape))
    loss_and_grad = lambda x: watch(x.astype(dtype, copy=False), keep=x)  # noqa: E731
    callback = lambda x: watch.iteration(x, on_iteration)  # noqa: E731
    x0 = xp.asarray(x0, xp.float64)
    watch.copies = False  # lbfgs.minimize makes each iterate anew and never writes to it again
    minimize_on_device(loss_and_grad, x0, iterations, low, high, callback, ftol=FTOL)
