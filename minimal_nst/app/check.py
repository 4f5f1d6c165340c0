"""`minimal-nst check`: gradient checks of every op and of the objective, on this machine's backend.

Each backward pass is compared with float64 central finite differences; run it after installing
on a new GPU. Prints PASS/FAIL per check with the measured error; exits 1 if any check fails.
"""

import sys
import time
from functools import partial

import numpy as np

from .. import fast_layers, layers, losses
from ..backend import get_backend, to_numpy


def numeric_grad(f, x, h=1e-5, coords=None):
    """Central finite differences of the scalar f at x, at `coords` (every element when None)."""
    coords = list(np.ndindex(x.shape)) if coords is None else coords
    grad = []
    for i in coords:
        old = float(x[i])
        x[i] = old + h
        plus = float(f(x))
        x[i] = old - h
        minus = float(f(x))
        x[i] = old
        grad.append((plus - minus) / (2 * h))
    return np.array(grad)


def rel_error(a, b):
    """max |a - b| / max |b|."""
    a, b = np.asarray(to_numpy(a), np.float64).ravel(), np.asarray(to_numpy(b), np.float64).ravel()
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _op_check(xp, forward, backward, x, *params):
    """Error of backward against finite differences of sum(forward(x) * dy)."""
    y, cache = forward(x, *params)
    dy = xp.asarray(np.random.default_rng(1).standard_normal(y.shape))
    dx = backward(dy, cache)
    return rel_error(dx, numeric_grad(lambda x: (forward(x, *params)[0] * dy).sum(), x))


def _loss_check(loss, v):
    """Error of a loss's own gradient, loss(v) -> (value, gradient), against finite differences."""
    return rel_error(loss(v)[1], numeric_grad(lambda v: loss(v)[0], v))


def away_from_zero(rng, shape):
    """|values| >= 0.1 and no ties, so no finite-difference step crosses a ReLU or max-pool kink."""
    v = rng.permutation(np.prod(shape)).reshape(shape) * 0.1 + 0.1
    return v * rng.choice([-1.0, 1.0], size=shape)


def checks(xp, weights_path=None):
    """(name, function returning the measured error) for every check."""
    rng = np.random.default_rng(0)
    x = xp.asarray(away_from_zero(rng, (2, 3, 5, 7)))
    w, b = xp.asarray(rng.standard_normal((4, 3, 3, 3))), xp.asarray(rng.standard_normal(4))
    F, P, S = (rng.random((6, 10)) for _ in range(3))
    F, P, A = xp.asarray(F), xp.asarray(P), xp.asarray(S @ S.T)  # A: a Gram matrix, symmetric
    L, fl = layers, fast_layers  # F is the feature matrix above
    wino = (fl.conv2d_winograd_forward, fl.conv2d_winograd_backward)
    ops = [  # (name, forward, backward, parameters)
        ("conv2d_backward", L.conv2d_forward, L.conv2d_backward, (w, b)),
        ("conv2d_blocked_backward", fl.conv2d_blocked_forward, fl.conv2d_blocked_backward, (w, b)),
        ("conv2d_winograd_backward", *wino, (fl.winograd_kernels(w), b)),
        ("conv2d_winograd_backward F(4x4)", *wino, (fl.winograd_kernels(w, m=4), b)),
        ("relu_backward", L.relu_forward, L.relu_backward, ()),
        ("avg_pool2d_backward", L.avg_pool2d_forward, L.avg_pool2d_backward, ()),
        ("max_pool2d_backward", L.max_pool2d_forward, L.max_pool2d_backward, ()),
    ]
    return [(name, partial(_op_check, xp, f, b, x, *p)) for name, f, b, p in ops] + [
        ("content_loss (Eq. 2)", partial(_loss_check, partial(losses.content_loss, P=P), F)),
        (
            "style_layer_loss (Eq. 6)",
            partial(_loss_check, partial(losses.style_layer_loss, A=A), F),
        ),
        ("tv_loss", partial(_loss_check, losses.tv_loss, x)),
        ("Objective on VGG-19 (Eq. 7)", partial(_objective_check, xp, weights_path)),
    ]


TOLERANCE = {"Objective on VGG-19 (Eq. 7)": 1e-6}  # 30 pixels through 16 layers; others 1e-7


def _objective_check(xp, weights_path):
    from ..losses import LossOptions
    from ..objective import Objective
    from ..vgg import VGG19
    from ..weights import get_weights_path

    net = VGG19.from_hdf5(get_weights_path(weights_path), dtype="float64", xp=xp)
    rng = np.random.default_rng(2)
    content, style, x = (xp.asarray(rng.uniform(-100, 120, (1, 3, 16, 20))) for _ in range(3))
    objective = Objective(net, content, [style], LossOptions(beta=1e3, tv_weight=1e-3))
    grad = objective.loss_and_grad(x)[1]
    coords = [tuple(int(v) for v in c) for c in zip(*(rng.integers(0, n, 30) for n in x.shape))]
    numeric = numeric_grad(lambda x: objective.loss_and_grad(x)[0], x, h=1e-3, coords=coords)
    return rel_error(xp.stack([grad[c] for c in coords]), numeric)


def main(argv=None):
    """Bad input (an unknown option, a missing or wrong weights file, no GPU) is one line and
    exit code 2, as for the main command; exit code 1 means a gradient check failed."""
    from .options import Parser, friendly_errors

    return friendly_errors("minimal-nst check", lambda: _run(Parser, argv))


def _run(Parser, argv):
    from ..weights import get_weights_path

    parser = Parser(prog="minimal-nst check", description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["auto", "numpy", "cupy"], default="auto")
    parser.add_argument("--weights", dest="weights_path", help="VGG-19 weights file")
    args = parser.parse_args(argv)
    xp = get_backend(None if args.backend == "auto" else args.backend)
    weights_path = get_weights_path(args.weights_path)  # a bad file is bad input, not a FAIL
    print(f"gradient checks on {xp.__name__}, float64 central differences")
    failed = 0
    for name, measure in checks(xp, weights_path):
        tol = TOLERANCE.get(name, 1e-7)
        start = time.time()
        try:
            error = measure()
            ok = error < tol
            detail = f"max rel error {error:.1e} (tolerance {tol:.0e})"
        except Exception as e:  # a check that crashes is a failed check, and the others still run
            ok, detail = False, f"{type(e).__name__}: {e}"
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {name:<30} {detail}  [{time.time() - start:.1f} s]")
    print(f"{'all checks passed' if not failed else f'{failed} check(s) FAILED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
