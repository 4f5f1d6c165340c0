"""The transfer end to end, on arrays: L-BFGS on Eq. 7 at each scale, coarse to fine, each
scale starting from the last one's result; the optimiser's boundary (scipy's or ours); a stop
flag checked between evaluations, so that a run stops cleanly with its best image.

The arrays live on the backend (NumPy or CuPy) throughout. With scipy's L-BFGS-B (the reference,
the default on NumPy) the one host/device transfer is in `_scipy_lbfgs`, where scipy hands a
float64 vector in and takes a float64 gradient back; with minimal_nst.lbfgs (the default on
CuPy) the image stays on the device until the end. Files, signals and checks of the user's
input are the application's (app/api.py: stylize()).
"""

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.optimize

from .backend import get_backend, to_numpy
from .image import deprocess, fit_shape, pixel_bounds, preprocess, resize
from .lbfgs import minimize as minimize_on_device
from .masks import at_scale
from .objective import Objective

DEFAULTS = {  # what a Settings field left None means on each backend: minutes on 2 cores or a GPU
    "numpy": {"size": 256, "conv": "winograd4", "optimizer": "scipy"},
    "cupy": {"size": 512, "conv": "im2col", "optimizer": "lbfgs"},
}  # bench/RESULTS.md (speed), bench/QUALITY.md (looks)
ITERATIONS = {"numpy": (100, 50), "cupy": (500, 500)}  # at the first scale, at each later one
# Scales with neither scales nor iterations given (iterations given: one scale unless asked).
# On a CPU coarse to fine at one scale's cost: 100 iterations at half the pixels, then 50 (the
# palette study, bench/QUALITY.md); a GPU's cost of more scales has not been measured.
SCALES = {"numpy": 2, "cupy": 1}
FTOL = 1e-12  # either optimiser stops early when an iteration gains less than this, relatively
NOISE_STD = 50.0  # white-noise init: Gaussian pixels around mid-grey, 0-255 scale
# The starts named by a word (any other init is an image): the photo; the photo in the painting's
# colours (its pixels mapped to the style's colour mean and covariance); white noise.
STARTS = ("content", "recolored", "noise")
STOPPED = {
    "nonfinite": "the loss became NaN or infinite; kept the last finite image",
    "interrupted": "interrupted; kept the best image so far",
}


@dataclass(frozen=True)
class Settings:
    """How to run: everything but the images, the Eq. 7 options (LossOptions) and the network.

    size: the output's longer side; scales: how many sizes, coarse to fine by factors of
    sqrt(2), each starting from the last one's result; iterations: L-BFGS iterations at every
    scale, or a tuple of one per scale, coarse to fine. None: the backend's (DEFAULTS, SCALES and
    ITERATIONS: 256 px, 2 scales, 100 then 50 iterations on a CPU; 512 px, 1 scale, 500 on a GPU;
    iterations given and scales None: a scale for each count given).
    init: one of STARTS ("content", "recolored", "noise") or an image (with no content,
    "recolored" is noise). style_scale: the style's size relative to the output.
    preserve_colors: "none", "luminance" (keep the content's colours) or "histogram" (recolour
    the styles to the content's first). conv: "plain" (layers.py), "im2col", "winograd" or
    "winograd4" (fast_layers.py): the same numbers, at different speeds; None: the fastest
    measured, "winograd4" on a CPU. optimizer: "scipy" (L-BFGS-B on the host, the reference) or
    "lbfgs" (minimal_nst.lbfgs, on the device); None: scipy on NumPy, lbfgs on CuPy.
    """

    size: int | None = None
    iterations: int | tuple | None = None
    scales: int | None = None
    init: Any = "recolored"  # bench/QUALITY.md: the painting's palette; "content": the paper's
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


def with_defaults(s):
    """Settings `s` with the fields left None filled in for the backend it will run on."""
    backend = get_backend(s.backend).__name__
    s = dataclasses.replace(
        s, **{k: v for k, v in DEFAULTS[backend].items() if getattr(s, k) is None}
    )
    if s.scales is None:  # the default schedule's, else one a count given (one scale each)
        counts = s.iterations
        n = SCALES[backend] if counts is None else len(counts) if isinstance(counts, tuple) else 1
        s = dataclasses.replace(s, scales=n)
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


def coarse_to_fine(net, loss, images, s, xp, callback, stop, temporal=None):
    """L-BFGS at each scale in turn, each starting from the last one's result, upsampled.

    images: (the content's uint8 RGB or None, the styles' RGBs, the start's RGB or None for
    noise, Masks or None), every input checked. stop: a Stop, checked between evaluations.
    """
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
        x_best, result.stopped = optimize(
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


def optimize(objective, x0, iterations, xp, dtype, on_iteration=None, stop=None, optimizer="scipy"):
    """Minimise objective from x0 (host float64, (1, 3, H, W)) within the pixel range: scipy's
    L-BFGS-B on the host ("scipy"), or minimal_nst.lbfgs on the backend's arrays ("lbfgs").

    Returns (the best image evaluated, where it lives; "" or how it stopped early).
    on_iteration(x, seconds) after each iteration. stop: a Stop whose flag is checked between
    evaluations (None: never stops).
    """
    watch = Watch(objective, stop or Stop(), x0)
    run = _scipy_lbfgs if optimizer == "scipy" else _device_lbfgs
    try:
        run(watch, x0, iterations, xp, dtype, on_iteration)
    except NonFinite:
        return watch.best_x, "nonfinite"
    except (Interrupted, KeyboardInterrupt):
        return watch.best_x, "interrupted"
    return watch.best_x, ""


class Interrupted(Exception):
    """A stop was asked for: the optimisation ends and keeps its best image."""


class Stop:
    """The flag the optimiser checks between two evaluations, so that no evaluation is cut in
    half: `signum` names what asked for the stop (app/signals.py raises it on Ctrl-C, SIGTERM
    and SIGHUP), None while the run goes on."""

    def __init__(self):
        self.signum = None

    def check(self):
        if self.signum is not None:
            raise Interrupted


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
