"""L-BFGS-B on the backend's own arrays: the image, its gradient and the history stay on the device
(CuPy) or in this process's memory (NumPy); per iteration only scalars cross to the host.

The algorithm inside scipy's L-BFGS-B (Byrd, Lu, Nocedal & Zhu, "A limited memory algorithm for
bound constrained optimization", SIAM J. Sci. Comput. 16(5), 1995: BLNZ below; with Morales &
Nocedal's 2011 remark), written as array code, one step a function:
- the limited-memory BFGS matrix in compact form, B = theta I - W M W^T (BLNZ Eqs. 3.2-3.4;
  Nocedal & Wright, *Numerical Optimization*, 2nd ed., Eq. 7.24), from the m newest pairs;
- the generalised Cauchy point, the first local minimiser of the quadratic model along the
  projected gradient path (BLNZ Sec. 4, Algorithm CP): the breakpoints sorted and their effects
  summed cumulatively, all at once, where CP visits them one by one;
- the subspace step: the model's minimiser over the variables not at a bound there, the others
  held (BLNZ Sec. 5.1, the direct primal method), projected onto the box (Morales & Nocedal);
- a line search for the strong Wolfe conditions whose trials follow Moré & Thuente's four
  cases (1994; MINPACK-2's dcstep, scipy's line search).
Each step is elementwise, a product with the history's rows (H, (2m, n)), or arithmetic on (2m, 2m)
matrices that stay on the device.

Why not the two-loop recursion (N&W Algorithm 7.4) with a simpler treatment of the bounds: that
was the first version, and it fell up to 3.3% behind scipy after 25 iterations from noise at
256 px (bench/RESULTS.md, issue 22). Followed step by step against scipy, its search direction
differed from scipy's by 2% at the second iteration; this one's differs by 1.6e-7.
"""

import math
from typing import Any, NamedTuple

import numpy

HISTORY = 10  # m, the pairs kept: scipy's L-BFGS-B default
C1, C2 = 1e-3, 0.9  # the strong Wolfe conditions' constants: L-BFGS-B's (its ftol and gtol)
MAX_TRIALS = 20  # evaluations at most while the line search narrows its interval (scipy's maxls)


class History:
    """The m newest pairs s = x_k+1 - x_k, y = g_k+1 - g_k (N&W Eq. 7.16): y as row k mod m of
    H, s as row m + k mod m (a ring: nothing moves when the oldest is dropped; one (2m, n) array,
    so that a product with W is one pass over it), and their inner products SS (s_i^T s_j), SY
    (s_i^T y_j) and YY (y_i^T y_j), (m, m) in float64, each new row and column computed once.
    theta = y^T y / s^T y of the newest pair: B0 = theta I."""

    def __init__(self, m, xp):
        self.m, self.xp, self.count, self.theta = m, xp, 0, 1.0
        self.held, self.written = None, set()  # see held_columns
        self.H = self.SS = self.SY = self.YY = self.Hg = None  # at the first pair: n known then

    def __len__(self):
        return min(self.count, self.m)

    def clear(self):
        self.count = 0

    def add(self, s, y, g):
        """Keep (s, y) if y^T s > 0 (Eq. 6.7), else skip it: the update would lose positive
        definiteness (N&W Sec. 7.2); 0 up to rounding is skipped too (1/s^T y would blow up).
        g, the gradient y ends at: H g, for w_g, follows from H y, which the pair needs anyway
        (H g = H g_old + H y, the two new rows by their own dot products): no pass of its own."""
        xp, m, s, y, g = self.xp, self.m, s.ravel(), y.ravel(), g.ravel()
        sy, yy = float(xp.vdot(y, s)), float(xp.vdot(y, y))
        if sy <= 1e-10 * yy:
            if self.H is not None:
                self.Hg = (self.H @ g).astype("f8")
            return
        if self.H is None:  # rows left unused hold zeros or old pairs, times 0 below
            self.H = xp.zeros((2 * m, s.size), s.dtype)
            self.SS, self.SY, self.YY = (xp.zeros((m, m)) for _ in range(3))
            self.Hg = xp.zeros(2 * m)  # H g_old, H being 0
        i = self.count % m
        self.H[i], self.H[m + i] = y, s
        self.written |= {i, m + i}
        Hs, Hy = self.H @ s, self.H @ y  # (Y s; S s) and (Y y; S y)
        self.SS[i, :] = self.SS[:, i] = Hs[m:]
        self.SY[i, :], self.SY[:, i] = Hs[:m], Hy[m:]
        self.YY[i, :] = self.YY[:, i] = Hy[:m]
        self.Hg += Hy
        self.Hg[i], self.Hg[m + i] = xp.vdot(y, g), xp.vdot(s, g)
        self.count, self.theta = self.count + 1, yy / sy

    def middle(self):
        """M = [[-D, L^T], [L, theta S^T S]]^-1 (BLNZ Eq. 3.4), in the order of W = [Y, theta S]:
        D = diag(s_i^T y_i), L_ij = s_i^T y_j where pair i is newer than pair j, else 0."""
        xp, k = self.xp, len(self)
        age = (xp.arange(k) - self.count) % self.m  # 0 for the oldest pair
        SY = self.SY[:k, :k]
        D, L = SY * xp.eye(k), SY * (age[:, None] > age[None, :])
        top = xp.concatenate([-D, L.T], axis=1)
        bottom = xp.concatenate([L, self.theta * self.SS[:k, :k]], axis=1)
        return xp.linalg.inv(xp.concatenate([top, bottom]))

    def gram(self):
        """W^T W, (2k, 2k): [[Y^T Y, theta Y^T S], [theta S^T Y, theta^2 S^T S]]."""
        xp, k, theta = self.xp, len(self), self.theta
        SY = self.SY[:k, :k]
        top = xp.concatenate([self.YY[:k, :k], theta * SY.T], axis=1)
        bottom = xp.concatenate([theta * SY, theta**2 * self.SS[:k, :k]], axis=1)
        return xp.concatenate([top, bottom])

    def w_order(self, Hv):
        """Products with H's rows put in W = [Y, theta S]'s order along the first axis, float64:
        the k rows in use of each half, S's times theta. Hv: H v (2m,), or H's columns at some
        variables (2m, n); a product with both sides, (2m, 2m), takes it twice (w_gram)."""
        k, m, xp = len(self), self.m, self.xp
        rows = xp.concatenate([xp.arange(k), m + xp.arange(k)])
        scale = xp.concatenate([xp.ones(k), xp.full(k, self.theta)])
        picked = Hv[rows].astype("f8")
        return picked * (scale if picked.ndim == 1 else scale[:, None])

    def w_gram(self, HH):
        """W_A^T W_A from H_A H_A^T (2m, 2m, symmetric): w_order on both sides."""
        return self.w_order(self.w_order(HH).T)

    def w_dot(self, v):
        """W^T v, (2k,) in float64, for an image-shaped v: one pass over H."""
        return self.w_order(self.H @ v.ravel().astype(self.H.dtype, copy=False))

    def w_g(self):
        """W^T g, (2k,) in float64, for g the gradient of the newest pair (see add)."""
        return self.w_order(self.Hg)

    def w_times(self, u, shape):
        """W u, image-shaped, for u of length 2k: one pass over H."""
        k, m = len(self), self.m
        full = self.xp.zeros(2 * m, self.H.dtype)
        full[:k], full[m : m + k] = u[:k], self.theta * u[k:]
        return (full @ self.H).reshape(shape)

    def columns(self, index):
        """H's columns at the variables `index`, (2m, len(index)), in H's dtype: W's rows there,
        raw (see w_order)."""
        return self.xp.take(self.H, index, axis=1)

    def held_columns(self, index):
        """columns(index) for the variables held at a bound, and their Gram matrix (2m, 2m), kept
        from the call before when `index` is the same: near a solution the bound variables
        settle, and then only the rows written since are gathered and multiplied again.
        (L-BFGS-B's own code updates its products by the variables entering and leaving the
        free set, formk; this is the case of none.) On the CPU a gather costs more per element
        than a pass over H (bench/RESULTS.md)."""
        xp, same = self.xp, self.held is not None and len(self.held[0]) == len(index)
        if not (same and bool(xp.array_equal(self.held[0], index))):
            columns = self.columns(index)
            self.held, self.written = (index, columns, columns @ columns.T), set()
        _, columns, gram = self.held
        for row in self.written:
            columns[row] = xp.take(self.H[row], index)
        for row in self.written:  # after all rows are fresh: a Gram row needs every column row
            gram[row, :] = gram[:, row] = columns @ columns[row]
        self.written = set()
        return columns, gram

    def w_rows(self, index):
        """The rows of W at the variables `index`, transposed: (2k, len(index)), float64."""
        return self.w_order(self.columns(index))


def breakpoints(g, down, up, xp):
    """t_i where variable i reaches its bound along x - t g (BLNZ Eq. 4.1): (x_i - u_i) / g_i
    for g_i < 0, (x_i - l_i) / g_i for g_i > 0; 0 if it is already there; for g_i = 0 infinity
    or NaN (never below a finite T, never <= 0: a variable that does not move). down = l - x,
    up = u - x. Of -up / g and -down / g the one of the bound -g points at is >= 0, the other
    <= 0: the larger (four passes; choosing by g's sign, eight; NumPy's where is slower still).
    """
    with numpy.errstate(divide="ignore", invalid="ignore"):  # g_i = 0, as said
        t = xp.minimum(up / g, down / g)
    return xp.negative(t, out=t)


def segments(tau, g_i, w_i, dd, p, theta, M, xp):
    """The model along the path, on segment j, from breakpoint tau_j (tau_0 = 0) to the next,
    with the first j variables of `tau` (sorted) held at their bounds: its slope f'_j and
    curvature f''_j at tau_j, and q_j = W^T e_j, pa_j = W^T a_j, where z(t) = a_j + t e_j there.
    g_i, w_i: those variables' gradients and rows of W ((2k, K)); dd = d^T d, p = W^T d.

    m(z) = g^T z + theta/2 z^T z - 1/2 (W^T z)^T M (W^T z), so on segment j (a_j and e_j apart):
    f' = g^T e + theta t e^T e - q^T M (pa + t q) and f'' = theta e^T e - q^T M q (BLNZ Sec. 4).
    """
    zero = xp.zeros(1)
    tau0 = xp.concatenate([zero, tau])  # (K + 1,)
    ee = dd - xp.concatenate([zero, xp.cumsum(g_i * g_i)])  # e^T e = -g^T e
    moved = w_i * -g_i  # w_i d_i: each variable's part of W^T d
    q = p[:, None] - xp.concatenate([xp.zeros((len(p), 1)), xp.cumsum(moved, axis=1)], axis=1)
    pa = xp.concatenate([xp.zeros((len(p), 1)), xp.cumsum(moved * tau, axis=1)], axis=1)
    Mq = M @ q
    qMq, qMpa = (Mq * q).sum(axis=0), (Mq * pa).sum(axis=0)
    return tau0, -ee + theta * tau0 * ee - qMpa - tau0 * qMq, theta * ee - qMq, q, pa


class CauchyPoint(NamedTuple):
    """x_c = x + z = P(x - t g) (BLNZ Algorithm CP), and what the subspace step needs of it."""

    z: Any  # x_c - x, image-shaped
    c: Any  # W^T z, (2k,)
    t: float
    at_bound: Any  # the variables at a bound at x_c (A), image-shaped
    WA_g: Any  # W^T Z_A Z_A^T g, over A, (2k,)
    WA_WA: Any  # W^T Z_A Z_A^T W, (2k, 2k)


def cauchy_point(g, down, up, Wg, history, M, xp):
    """BLNZ Algorithm CP: the first local minimiser x_c = x + z_c of the model m(z) = g^T z +
    1/2 z^T B z along the projected gradient path z(t) = P(x - t g) - x, t >= 0, which bends at
    each breakpoint; down = l - x, up = u - x, Wg = W^T g.

    Only the breakpoints before x_c matter: first those before T, the first segment's minimiser,
    then, while the minimiser lies past them, those before 4 T, 16 T, ..."""
    t = breakpoints(g, down, up, xp)
    at_bound = t <= 0  # held at the bound -g points past: d_i = 0, else d_i = -g_i
    held = xp.nonzero(at_bound.ravel())[0]
    (H_held, gram), g_held = history.held_columns(held), g.ravel()[held]  # (2m, |held|)
    Wh_g, Wh_Wh = history.w_order(H_held @ g_held), history.w_gram(gram)
    gg = float(xp.vdot(g, g))
    dd = gg - float(xp.vdot(g_held, g_held))  # d^T d
    p, theta = Wh_g - Wg, history.theta  # W^T d
    if dd <= 1e-4 * gg:  # every variable held, up to float32's rounding of g^T g: x is x_c
        return CauchyPoint(xp.zeros_like(g), xp.zeros_like(p), 0.0, at_bound, Wh_g, Wh_Wh)
    T = dd / max(theta * dd - float(p @ M @ p), 1e-300)  # -f'_0 / f''_0 (f''_0 > 0: B is SPD)
    largest = float(numpy.finfo(t.dtype).max)  # a T past it: all of them
    T = T if T < largest else math.inf
    while True:
        index = xp.nonzero(((t > 0) & (t < T)).ravel())[0]
        index = index[xp.argsort(t.ravel()[index])]
        W_i = history.w_rows(index)
        tau, g_i = t.ravel()[index].astype("f8"), g.ravel()[index].astype("f8")
        tau0, f1, f2, q, pa = segments(tau, g_i, W_i, dd, p, theta, M, xp)
        length = xp.concatenate([tau0[1:] - tau0[:-1], xp.full(1, T) - tau0[-1:]])
        stop = (f1 >= 0) | (f2 <= 0) | (-f1 <= length * f2)  # the minimum is on segment j
        if bool(stop.any()) or T == math.inf:  # (all of them in: it is there, barring NaN)
            break
        T = T * 4 if T * 4 < largest else math.inf
    j = int(xp.argmax(stop))  # the first j breakpoints passed
    f1_j, f2_j = float(f1[j]), float(f2[j])
    t_c = float(tau0[j]) + (-f1_j / f2_j if f1_j < 0 and f2_j > 0 else 0.0)
    at_bound.ravel()[index[:j]] = True
    z = xp.clip(-t_c * g, down, up)  # P(x - t_c g) - x
    W_j, c = W_i[:, :j], pa[:, j] + t_c * q[:, j]
    return CauchyPoint(z, c, t_c, at_bound, Wh_g + W_j @ g_i[:j], Wh_Wh + W_j @ W_j.T)


def subspace_step(g, cauchy, Wg, history, M):
    """BLNZ Sec. 5.1, the direct primal method: the step du of the free variables (those not at a
    bound at x_c, Z) that minimises the model from x_c, the others held:
    r = Z^T (g + theta z_c - W M c), the model's reduced gradient at x_c (Eq. 5.4), and
    du = -r / theta - Z^T W (I - M W^T Z Z^T W / theta)^-1 M W^T Z r / theta^2 (Eq. 5.11).
    The free variables have not reached a bound, z_c = -t_c g there, so r = Z^T ((1 - theta t_c)
    g - W M c), and W^T Z r and W^T Z Z^T W follow from W^T g and W^T W less the bound
    variables' part (gathered by cauchy_point): the one pass over W here is W u, for du."""
    xp, theta, (_, c, t_c, at_bound, WA_g, WA_WA) = history.xp, history.theta, cauchy
    WZZW = history.gram() - WA_WA
    Mc, shrink = M @ c, 1 - theta * t_c
    WZr = shrink * (Wg - WA_g) - WZZW @ Mc
    N = xp.eye(len(c)) - (M @ WZZW) / theta
    v = xp.linalg.solve(N, M @ WZr)
    du = history.w_times(Mc - v / theta, g.shape)  # in place from here: a pass each, no copy
    du -= shrink * g
    du *= ~at_bound
    du /= theta
    return du


def direction(x, g, history, low, high, xp):
    """The step d to try whole from x: to x_c, then the subspace step, projected onto the box
    (Morales & Nocedal 2011), so x + t d stays inside for 0 <= t <= 1; if that is not downhill,
    the subspace step cut where it leaves the box (BLNZ's own). With no history (B = I), the
    projected gradient step P(x - g) - x, BLNZ's first; a step still not downhill (rounding)
    drops the history. In the gradient's dtype, like the history (see minimize); g is the
    gradient the newest pair ends at (History.add)."""
    down, up = xp.subtract(low, x, dtype=g.dtype), xp.subtract(high, x, dtype=g.dtype)
    if len(history):
        M, Wg = history.middle(), history.w_g()
        cauchy = cauchy_point(g, down, up, Wg, history, M, xp)
        du, z = subspace_step(g, cauchy, Wg, history, M), cauchy.z
        d = z + du
        xp.clip(d, down, up, out=d)
        if float(xp.vdot(g, d)) >= 0:
            d = z + largest_step(z, du, down, up, xp) * du
        if float(xp.vdot(g, d)) < 0:
            return d
        history.clear()
    return xp.clip(-g, down, up)


def largest_step(z, du, down, up, xp):
    """The largest a in [0, 1] with z + a du inside [down, up]."""
    room = xp.where(du > 0, (up - z) / xp.where(du > 0, du, 1), math.inf)
    room = xp.minimum(room, xp.where(du < 0, (down - z) / xp.where(du < 0, du, -1), math.inf))
    return min(1.0, float(room.min()))


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
    """A step t in (0, 1] along d with the strong Wolfe conditions (N&W Sec. 3.1):
    phi(t) <= phi(0) + c1 t phi'(0) (Eq. 3.7a) and |phi'(t)| <= c2 |phi'(0)| (Eq. 3.7b).
    The whole step, t = 1, is tried first; a line search would grow it while phi stays steep,
    but beyond 1 lies the box's edge, so a step still downhill there is taken as it is."""
    p = trial(f, start.x, d, 1.0, low, high, xp)
    if p.f <= start.f + C1 * start.slope and (p.slope < 0 or p.slope <= -C2 * start.slope):
        return p
    return zoom(f, start, start, start, p, d, low, high, xp)


def zoom(f, start, best, other, latest, d, low, high, xp):
    """Narrow the interval between best (the lowest trial so far) and other, which brackets a
    step with both conditions, until a trial meets them; best if none does in MAX_TRIALS.
    Each next trial from the latest one by Moré & Thuente's cases (next_trial), the interval
    then updated as theirs is (dcstep): a higher trial becomes its far end; a lower one its
    best, the old best the far end if the slope changed sign between them. Higher and lower
    in psi(t) = phi(t) - c1 t phi'(0), as in their first stage: without sufficient decrease
    a trial is higher than the start."""
    psi = lambda p: p.f - C1 * p.t * start.slope  # noqa: E731
    for _ in range(MAX_TRIALS):
        higher = psi(latest) > psi(best)
        t = next_trial(best, other, latest, higher)
        if higher:
            other = latest
        else:
            other, best = (best if latest.slope * best.slope < 0 else other), latest
        a, b = sorted((best.t, other.t))
        p = trial(f, start.x, d, t if a < t < b else 0.5 * (a + b), low, high, xp)
        if psi(p) <= start.f and abs(p.slope) <= -C2 * start.slope:
            return p
        latest = p
    best = latest if psi(latest) <= psi(best) else best
    return best if best.t > 0 else None


def next_trial(best, other, latest, higher):
    """Moré & Thuente's next step (1994, Sec. 4; dcstep in MINPACK-2, in scipy's L-BFGS-B) from
    the latest trial, the best before it, and the interval's far end `other`:
    1. latest higher than best (`higher`): `interpolate` between them;
    2. lower, the slope changed sign: the cubic's minimiser if farther from latest than the
       secant's (the zero of the slope's line), else the secant's;
    3. lower, the same sign, the slope flatter: the nearer to latest of the cubic's and the
       secant's minimisers past it, at most 0.66 of the way to `other`;
    4. lower, the same sign, no flatter: the minimiser of the cubic through latest and other."""
    if higher:
        return interpolate(best, latest)
    cubic, secant = cubic_minimiser(best, latest), secant_minimiser(best, latest)
    if latest.slope * best.slope < 0:
        if cubic is None or abs(cubic - latest.t) <= abs(secant - latest.t):
            return secant
        return cubic
    if abs(latest.slope) < abs(best.slope):
        beyond = [s for s in (cubic, secant) if s is not None]
        beyond = [s for s in beyond if (s - latest.t) * (latest.t - best.t) > 0]  # past latest
        step = min(beyond, key=lambda s: abs(s - latest.t)) if beyond else other.t
        cap = latest.t + 0.66 * (other.t - latest.t)
        return min(step, cap) if latest.t < other.t else max(step, cap)
    cubic = cubic_minimiser(latest, other)
    return cubic if cubic is not None else 0.5 * (latest.t + other.t)


def interpolate(lo, hi):
    """The next trial between lo and hi, phi(hi) >= phi(lo): Moré & Thuente's rule for a trial
    above the best (case 1): the cubic's minimiser if it is nearer lo than the quadratic's, else
    halfway between the two (the cubic alone may jump too far from the best point); the
    midpoint where neither lies inside."""
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


def secant_minimiser(a, b):
    """The zero of the line through phi'(a) and phi'(b) (the secant step), or None if parallel."""
    if a.slope == b.slope:
        return None
    return b.t + b.slope / (b.slope - a.slope) * (a.t - b.t)


def minimize(f, x0, iterations, low, high, callback=None, m=HISTORY, ftol=0.0):
    """Minimise f (x -> (value, gradient), both on x's device) from x0 within [low, high] for
    `iterations` L-BFGS-B iterations, or until no step decreases f, or one decreases it by at
    most ftol max(|f|, |f_new|, 1) (scipy's ftol). callback(x) after each iteration.

    Returns (x, f(x)) of the last iterate: each accepted step lowers f (sufficient decrease).
    The iterates keep x0's dtype, everything else the gradient's: with a float32 network, x0
    in float64, as scipy's are, because the pairs' s = x_k+1 - x_k is a difference of nearby
    iterates, of which float32 would keep few digits (bench/RESULTS.md: 2-3% behind scipy after
    50 iterations from noise; with float64 iterates, within 1%), while s and y themselves, the
    search direction and the history are as good in float32, at half the memory traffic.
    """
    from .backend import get_array_module

    xp = get_array_module(x0)
    x = xp.clip(x0, low, high)
    fx, g = f(x)
    history = History(m, xp)
    for _ in range(iterations):
        d = direction(x, g, history, low, high, xp)
        start = Point(0.0, fx, float(xp.vdot(g, d)), x, g)
        if start.slope >= 0:
            break  # a stationary point of the box-constrained problem
        p = wolfe_search(f, start, d, low, high, xp)
        if p is None:
            break
        history.add((p.x - x).astype(g.dtype, copy=False), p.g - g, p.g)
        x, fx, g, gain = p.x, p.f, p.g, fx - p.f
        if callback:
            callback(x)
        if gain <= ftol * max(abs(fx), abs(fx + gain), 1.0):
            break
    return x, fx
