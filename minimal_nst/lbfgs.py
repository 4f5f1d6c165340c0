"""L-BFGS on the backend's own arrays: the image, its gradient and the history stay on the device
(CuPy) or in this process's memory (NumPy); per iteration only scalars cross to the host.

Nocedal & Wright, *Numerical Optimization* (2nd ed., 2006): the two-loop recursion (Algorithm
7.4) with H0 = (s^T y / y^T y) I (Eq. 7.20), inside Algorithm 7.5, keeping the m most recent
pairs (s, y), and a line search with the strong Wolfe conditions (Algorithms 3.5 and 3.6).

The pixel range [low, high] is kept as L-BFGS-B keeps it (Byrd, Lu, Nocedal & Zhu 1995), in
its simplest honest form: a Cauchy point decides which pixels go to 0 or 255, the quasi-Newton
step moves the rest, and the step is projected onto the box, so the segment x + t d,
0 <= t <= 1, stays inside it and the search tries the whole step first. L-BFGS-B finds its
Cauchy point with the full limited-memory model, a sequential search over the breakpoints, and
then minimises the model over the free variables exactly; here the Cauchy point uses the
model's scalar part alone (then it is one elementwise clip), and the free variables take the
two-loop's step. Both are elementwise or dot products: nothing leaves the device.
"""

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

HISTORY = 10  # m, the pairs kept: scipy's L-BFGS-B default
C1, C2 = 1e-4, 0.9  # the Wolfe conditions' constants for quasi-Newton methods (Sec. 3.1)
MAX_TRIALS = 20  # evaluations at most while the line search narrows its interval


@dataclass
class Pairs:
    """The m most recent (s, y, rho = 1 / y^T s): steps and gradient changes (Eq. 7.16)."""

    m: int = HISTORY
    items: list = field(default_factory=list)
    sy: float = 0.0  # s^T y and y^T y of the newest pair: the scaling of Eq. 7.20, kept
    yy: float = 0.0  # so that no one computes them again

    def add(self, s, y, xp):
        """Keep (s, y) if it has positive curvature y^T s > 0 (Eq. 6.7), else skip it: the
        update would lose positive definiteness (Nocedal & Wright, Sec. 7.2)."""
        sy, yy = float(xp.vdot(y, s)), float(xp.vdot(y, y))
        if sy <= 1e-10 * yy:  # 0 up to rounding: 1/sy would blow up H
            return
        self.items.append((s, y, 1.0 / sy))
        del self.items[: -self.m]
        self.sy, self.yy = sy, yy


def two_loop(g, pairs, xp):
    """r = H g by the two-loop recursion (Algorithm 7.4), H0 = gamma I with
    gamma = s^T y / y^T y of the newest pair (Eq. 7.20)."""
    q, alphas = g.copy(), []
    for s, y, rho in reversed(pairs.items):
        alpha = rho * float(xp.vdot(s, q))
        q -= alpha * y
        alphas.append(alpha)
    r = q * (pairs.sy / pairs.yy)
    for (s, y, rho), alpha in zip(pairs.items, reversed(alphas)):
        beta = rho * float(xp.vdot(y, r))
        r += s * (alpha - beta)
    return r


def direction(x, g, pairs, low, high, xp):
    """The step d to try whole, with x + t d inside the box for 0 <= t <= 1.

    L-BFGS-B's generalised Cauchy point with the model's curvature taken as its scalar part
    theta = y^T y / s^T y (B0 = theta I, Eq. 7.20 inverted): the model is then separable, and
    its minimiser over the box along -g is x_c = P(x - g / theta). Variables at a bound there go
    to it; the others take the quasi-Newton step -H g from the two-loop, projected. With no
    history, the projected gradient step, P(x - g) - x (L-BFGS-B's first); a step that is not
    downhill drops the history. Worked as moves from x, in the gradient's dtype like the history
    (see minimize): each pixel may move down to low - x and up to high - x."""
    down, up = (low - x).astype(g.dtype), (high - x).astype(g.dtype)  # <= 0 and >= 0
    if pairs.items:
        theta = pairs.yy / pairs.sy
        cauchy = xp.clip(-g / theta, down, up)  # x_c - x
        pinned = (cauchy == down) | (cauchy == up)
        d = xp.clip(xp.where(pinned, cauchy, -two_loop(g * ~pinned, pairs, xp)), down, up)
        if float(xp.vdot(g, d)) < 0:
            return d
        pairs.items.clear()
    return xp.clip(-g, down, up)  # 0 where a bound holds a variable against -g


class Point(NamedTuple):
    """One trial of the line search: phi(t) = f(P(x + t d)), its slope phi'(t), and where."""

    t: float
    f: float
    slope: float
    x: Any
    g: Any


def trial(f, x, d, t, low, high, xp):
    """The Point at step t along d, 0 < t <= 1: inside the box (the clip only undoes rounding)."""
    x_t = x + t * d
    xp.clip(x_t, low, high, out=x_t)
    f_t, g_t = f(x_t)
    return Point(t, f_t, float(xp.vdot(g_t, d)), x_t, g_t)


def wolfe_search(f, start, d, low, high, xp):
    """A step t in (0, 1] along d with the strong Wolfe conditions (Algorithm 3.5):
    phi(t) <= phi(0) + c1 t phi'(0) (Eq. 3.7a) and |phi'(t)| <= c2 |phi'(0)| (Eq. 3.7b).
    The whole step, t = 1, is tried first; Algorithm 3.5 would grow it while phi stays steep,
    but beyond 1 lies the box's edge, so a step still downhill there is taken as it is."""
    p = trial(f, start.x, d, 1.0, low, high, xp)
    if p.f > start.f + C1 * start.slope:
        return zoom(f, start, start, p, d, low, high, xp)
    if abs(p.slope) > -C2 * start.slope and p.slope >= 0:
        return zoom(f, start, p, start, d, low, high, xp)
    return p


def zoom(f, start, lo, hi, d, low, high, xp):
    """Algorithm 3.6: shrink the interval between lo (the lowest Point with sufficient
    decrease) and hi until a Point meets both conditions; lo if none does in MAX_TRIALS."""
    for _ in range(MAX_TRIALS):
        p = trial(f, start.x, d, interpolate(lo, hi), low, high, xp)
        if p.f > start.f + C1 * p.t * start.slope or p.f >= lo.f:
            hi = p
            continue
        if abs(p.slope) <= -C2 * start.slope:
            return p
        if p.slope * (hi.t - lo.t) >= 0:
            hi = lo
        lo = p
    return lo if lo.t > 0 else None


def interpolate(lo, hi):
    """The next trial between lo and hi, phi(hi) >= phi(lo): Moré & Thuente's rule for a trial
    above the best (1994, case 1; MINPACK's dcstep, inside scipy's L-BFGS-B): the cubic's
    minimiser if it is nearer lo than the quadratic's, else halfway between the two (the cubic
    alone may jump too far from the best point); the midpoint where neither lies inside."""
    a, b = sorted((lo.t, hi.t))
    inside = lambda t: t is not None and a < t < b  # noqa: E731
    cubic, quadratic = cubic_minimiser(lo, hi), quadratic_minimiser(lo, hi)
    if not inside(cubic):
        return quadratic if inside(quadratic) else 0.5 * (a + b)
    if not inside(quadratic) or abs(cubic - lo.t) < abs(quadratic - lo.t):
        return cubic
    return cubic + 0.5 * (quadratic - cubic)


def cubic_minimiser(lo, hi):
    """The minimiser of the cubic through phi and phi' at lo and hi (Eq. 3.59), or None."""
    d1 = lo.slope + hi.slope - 3 * (lo.f - hi.f) / (lo.t - hi.t)
    root = d1 * d1 - lo.slope * hi.slope
    if root <= 0:
        return None
    d2 = math.copysign(math.sqrt(root), hi.t - lo.t)
    denominator = hi.slope - lo.slope + 2 * d2
    if denominator == 0:
        return None
    return hi.t - (hi.t - lo.t) * (hi.slope + d2 - d1) / denominator


def quadratic_minimiser(lo, hi):
    """The minimiser of the quadratic through phi(lo), phi'(lo) and phi(hi) (Eq. 3.57's, about
    lo), or None: q(t) = phi(lo) + phi'(lo) (t - lo) + c (t - lo)^2 with q(hi) = phi(hi)."""
    span = hi.t - lo.t
    c = (hi.f - lo.f - lo.slope * span) / (span * span)
    return lo.t - lo.slope / (2 * c) if c > 0 else None


def minimize(f, x0, iterations, low, high, callback=None, m=HISTORY):
    """Minimise f (x -> (value, gradient), both on x's device) from x0 within [low, high] for
    `iterations` L-BFGS iterations, or until no step decreases f. callback(x) after each one.

    Returns (x, f(x)) of the last iterate: each accepted step lowers f (sufficient decrease).
    The iterates keep x0's dtype, everything else the gradient's: with a float32 network, x0
    in float64, as scipy's are, because the pairs' s = x_k+1 - x_k is a difference of nearby
    iterates, of which float32 would keep few digits (bench/RESULTS.md: 2-3% behind scipy after
    50 iterations from noise; with float64 iterates, within 1%), while s and y themselves, the
    search direction and the two-loop are as good in float32, at half the memory traffic.
    """
    from .backend import get_array_module

    xp = get_array_module(x0)
    x = xp.clip(x0, low, high)
    fx, g = f(x)
    pairs = Pairs(m)
    for _ in range(iterations):
        d = direction(x, g, pairs, low, high, xp)
        start = Point(0.0, fx, float(xp.vdot(g, d)), x, g)
        if start.slope >= 0:
            break  # a stationary point of the box-constrained problem
        p = wolfe_search(f, start, d, low, high, xp)
        if p is None:
            break
        pairs.add((p.x - x).astype(g.dtype, copy=False), p.g - g, xp)
        x, fx, g = p.x, p.f, p.g
        if callback:
            callback(x)
    return x, fx
