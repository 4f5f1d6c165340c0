"""minimal_nst.lbfgs, the L-BFGS that runs on the device: each piece against its textbook form,
then the whole against scipy's L-BFGS-B on a bounded problem whose answer is known and on the
paper's objective."""

import numpy as np
import pytest
import scipy.optimize

from minimal_nst import LossOptions, stylize
from minimal_nst.app.api import DEFAULT_STYLE, default_content_path
from minimal_nst.lbfgs import (
    C1,
    C2,
    History,
    Point,
    cauchy_point,
    cubic_minimiser,
    interpolate,
    minimize,
    next_trial,
    quadratic_minimiser,
    subspace_step,
    wolfe_search,
)


def random_history(rng, n=12, m=4):
    """m curvature pairs of a convex quadratic, y = Q s with Q symmetric positive definite; two
    more than m added, so the ring has wrapped and the oldest two are gone."""
    A = rng.standard_normal((n, n))
    Q = A @ A.T + n * np.eye(n)
    history, pairs, g = History(m, np), [], rng.standard_normal(n)
    for _ in range(m + 2):
        s = rng.standard_normal(n)
        g = g + Q @ s  # the gradient each pair's y ends at
        history.add(s, Q @ s, g)
        pairs.append((s, Q @ s))
    return history, pairs[-m:]


def dense_model(history, n):
    """B = theta I - W M W^T as an n x n matrix, from the history's own pieces."""
    W = history.w_rows(np.arange(n)).T  # (n, 2k)
    return history.theta * np.eye(n) - W @ history.middle() @ W.T


def test_the_compact_form_is_the_bfgs_update_applied_m_times():
    """B_{k+1} = B_k - B_k s s^T B_k / s^T B_k s + y y^T / y^T s (N&W Eq. 6.19) from B0 = theta I
    (theta = y^T y / s^T y of the newest pair), oldest pair first: the compact form never forms
    it (BLNZ Eqs. 3.2-3.4). Which pair is newer decides L in M: the ring's order must be kept."""
    rng = np.random.default_rng(0)
    history, pairs = random_history(rng)
    assert len(history) == 4
    s_new, y_new = pairs[-1]
    B = (y_new @ y_new) / (s_new @ y_new) * np.eye(12)
    for s, y in pairs:
        Bs = B @ s
        B = B - np.outer(Bs, Bs) / (s @ Bs) + np.outer(y, y) / (y @ s)
    # float64 through a (2m, 2m) inverse: rounding of 1e-16 times its condition number
    # (below 1e4 here) on entries of B's size; a wrong sign or order would be O(1) apart.
    assert np.abs(dense_model(history, 12) - B).max() < 1e-11 * np.abs(B).max()


@pytest.mark.parametrize("dtype", ["f8", "f4"])
def test_the_history_keeps_w_transpose_g_equal_to_a_fresh_product(dtype):
    """add keeps H g from H y (H g_new = H g_old + H y), the two rows it replaces by their own
    dot products; after the ring has wrapped, a pair skipped and the history cleared, W^T g is
    still W^T g of the newest gradient, to the rounding of float32 products: each entry a sum
    of 50 terms, within 50 float32 roundings of |w_i| |g| (Cauchy-Schwarz), 3e-6 of it."""
    rng, n = np.random.default_rng(1), 50
    history, g = History(3, np), rng.standard_normal(n).astype(dtype)
    for step in range(9):
        s = rng.standard_normal(n).astype(dtype)
        y = -s if step == 4 else s + 0.1 * rng.standard_normal(n).astype(dtype)  # 4: skipped
        g = g + y
        history.add(s, y, g)
        if step == 6:
            history.clear()
        size = np.linalg.norm(history.w_rows(np.arange(n)), axis=1) * np.linalg.norm(g)
        assert (np.abs(history.w_g() - history.w_dot(g)) <= 1e-5 * size).all(), step
    assert len(history) == 2 and history.count == 2


def test_the_bound_variables_columns_kept_between_calls_are_those_of_a_fresh_gather():
    """held_columns keeps the bound variables' columns of H and their Gram matrix while the same
    variables stay bound; the rows a new pair writes are gathered again (float64: exact up to
    the products' rounding)."""
    rng = np.random.default_rng(2)
    history, _ = random_history(rng)
    for index in ([1, 4, 7], [1, 4, 7], [0, 4, 7], [0, 4, 7]):
        index = np.array(index)
        columns, gram = history.held_columns(index)
        np.testing.assert_array_equal(columns, history.H[:, index])
        assert np.abs(gram - columns @ columns.T).max() < 1e-12 * np.abs(gram).max()
        s = rng.standard_normal(12)
        history.add(s, 2 * s, s)  # writes two rows (the gradient: any)


def test_a_pair_without_positive_curvature_is_skipped():
    """y^T s <= 0 would make B indefinite (Eq. 6.7): the pair is not kept."""
    history = History(3, np)
    history.add(np.array([1.0, 0.0]), np.array([-1.0, 0.0]), np.zeros(2))
    assert len(history) == 0


def box_problem(seed, n=12):
    """A history, and a point in [-1, 1]^n with a gradient large enough that the path from it
    crosses several breakpoints before the model's minimum along it; two variables at a bound
    that -g points past (their breakpoints are 0)."""
    rng = np.random.default_rng(seed)
    history, _ = random_history(rng, n)
    x, g = rng.uniform(-1, 1, n), 20 * rng.standard_normal(n)
    x[:2], g[:2] = (1.0, -1.0), (-abs(g[0]), abs(g[1]))
    return history, x, g, -np.ones(n), np.ones(n)


def cauchy_point_by_segments(B, x, g, low, high):
    """Algorithm CP the plain way: visit the path's segments in order, on each solve the
    model's slope (g + B z(t))^T z'(t) = 0 for t, stop at the first minimum."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(g < 0, (x - high) / g, np.where(g > 0, (x - low) / g, np.inf))
    ends = sorted({0.0, *t[(t > 0) & np.isfinite(t)], np.inf})
    for a, b in zip(ends, ends[1:]):
        moving = t > a  # the variables still moving on (a, b)
        e = np.where(moving, -g, 0.0)  # z'(t)
        z_a = np.clip(x - a * g, low, high) - x
        slope, curvature = (g + B @ z_a) @ e, e @ B @ e
        if slope >= 0:
            return z_a
        if a - slope / curvature <= b:
            return np.clip(x - (a - slope / curvature) * g, low, high) - x
    raise AssertionError("the model is bounded below on the box")


@pytest.mark.parametrize("seed", range(5))
def test_the_cauchy_point_is_the_first_minimum_along_the_projected_path(seed):
    history, x, g, low, high = box_problem(seed)
    B = dense_model(history, 12)
    M, Wg = history.middle(), history.w_dot(g)
    z, c, _, at_bound, _, _ = cauchy_point(g, low - x, high - x, Wg, history, M, np)
    expected = cauchy_point_by_segments(B, x, g, low, high)
    assert at_bound[:2].all() and 3 <= at_bound.sum() <= 10  # the test crosses breakpoints
    # Two float64 routes to one piecewise-quadratic minimum: rounding only (1e-12 of 1-20).
    assert np.abs(z - expected).max() < 1e-10
    assert np.abs(c - history.w_rows(np.arange(12)) @ z).max() < 1e-10 * np.abs(c).max()
    np.testing.assert_array_equal(at_bound, (x + z == low) | (x + z == high))


@pytest.mark.parametrize("seed", range(5))
def test_the_subspace_step_minimises_the_model_over_the_free_variables(seed):
    """From x_c, the variables at a bound held, the others minimise g^T z + 1/2 z^T B z:
    B_FF z_F = -(g_F + B_FA z_A), solved densely."""
    history, x, g, low, high = box_problem(seed)
    B, M = dense_model(history, 12), history.middle()
    Wg = history.w_dot(g)
    cauchy = cauchy_point(g, low - x, high - x, Wg, history, M, np)
    du, z, at_bound = subspace_step(g, cauchy, Wg, history, M), cauchy.z, cauchy.at_bound
    F, A = ~at_bound, at_bound
    expected = z.copy()
    expected[F] = np.linalg.solve(B[np.ix_(F, F)], -(g[F] + B[np.ix_(F, A)] @ z[A]))
    assert (du[A] == 0).all()
    assert np.abs(z + du - expected).max() < 1e-10 * np.abs(expected).max()


def test_the_line_search_step_meets_both_strong_wolfe_conditions():
    """phi(t) = f(x + t d) on a quartic where the whole step overshoots: zoom finds a t with
    sufficient decrease (Eq. 3.7a) and a flat enough slope (Eq. 3.7b)."""

    def f(x):
        return float(np.sum(x**4) + np.sum(x**2)), 4 * x**3 + 2 * x

    x = np.array([1.0, -2.0, 0.5])
    fx, g = f(x)
    d = -3 * g  # far too long: phi(1) > phi(0)
    start = Point(0.0, fx, float(g @ d), x, g)
    low, high = np.full(3, -100.0), np.full(3, 100.0)
    p = wolfe_search(f, start, d, low, high, np)
    assert 0 < p.t < 1 and p.f == f(x + p.t * d)[0]
    assert p.f <= fx + C1 * p.t * start.slope
    assert abs(p.slope) <= C2 * abs(start.slope)


def test_on_a_parabola_the_interpolation_lands_on_its_minimum():
    """phi(t) = (t - 0.3)^2 between lo = 0 and hi = 1: the quadratic through phi(lo), phi'(lo)
    and phi(hi), and the cubic through phi and phi' at both ends, are phi itself, so each
    minimiser, and the next trial, is 0.3 to rounding; a wrong sign or term moves it away."""
    lo = Point(0.0, 0.09, -0.6, None, None)
    hi = Point(1.0, 0.49, 1.4, None, None)
    for t in (quadratic_minimiser(lo, hi), cubic_minimiser(lo, hi), interpolate(lo, hi)):
        assert abs(t - 0.3) < 1e-12
    assert abs(quadratic_minimiser(hi, lo) - 0.3) < 1e-12  # about the other end
    bends_down = Point(1.0, -2.0, 0.0, None, None)  # phi(1) below the tangent at lo: c < 0
    assert quadratic_minimiser(lo, bends_down) is None


def test_a_lower_whole_step_past_the_minimum_is_followed_by_the_secant_step():
    """Moré & Thuente's case 2 on the numbers of scipy's own second iteration from noise (the
    Hopper/Turner pair at 128 px, bench/RESULTS.md): the whole step is lower but past the
    minimum (the slope changed sign). The secant's zero, 0.408, lies farther from it than the
    cubic's minimiser, 0.580, so it is the next trial: the step scipy's search took."""
    start = Point(0.0, 5.22256e10, -2.875417e10, None, None)
    whole = Point(1.0, 5.04086e10, 4.169833e10, None, None)
    t = next_trial(start, start, whole, higher=False)
    assert abs(t - (1 - 4.169833 / (4.169833 + 2.875417))) < 1e-12 and abs(t - 0.4081) < 1e-4


def test_a_lower_flatter_trial_moves_on_but_not_to_the_far_end():
    """Case 3: lower than the best, still downhill but flatter: the next trial lies past it,
    at the nearer of the cubic's and the secant's minimisers (0.761 and 1.0 here), and at most
    0.66 of the way to the interval's far end, 0.632, so the interval keeps shrinking."""
    best, latest = Point(0.0, 1.0, -1.0, None, None), Point(0.5, 0.6, -0.5, None, None)
    assert abs(next_trial(best, Point(1.0, 2.0, 3.0, None, None), latest, False) - 0.7613) < 1e-4
    assert abs(next_trial(best, Point(0.7, 2.0, 3.0, None, None), latest, False) - 0.632) < 1e-12


def bounded_quadratic(n=200, seed=0):
    """f(x) = 1/2 (x - c)^T Q (x - c) on [-1, 1]^n with a known minimiser x*: a third of its
    coordinates free, a third at each bound, and the gradient at x* pointing outward there
    (the KKT conditions), so x* is the one answer; c = x* - Q^-1 g*."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    Q = A @ A.T / n + np.diag(rng.uniform(0.1, 10, n))  # eigenvalues >= 0.1
    where = rng.integers(0, 3, n)  # 0: free, 1: at -1, 2: at +1
    x_star = np.where(where == 1, -1.0, np.where(where == 2, 1.0, rng.uniform(-0.9, 0.9, n)))
    g_star = np.where(where == 1, 1.0, np.where(where == 2, -1.0, 0.0)) * rng.uniform(0.5, 2, n)
    c = x_star - np.linalg.solve(Q, g_star)
    return (lambda x: (0.5 * (x - c) @ Q @ (x - c), Q @ (x - c))), x_star


@pytest.mark.parametrize("optimizer", ["lbfgs", "scipy"])
def test_both_optimisers_find_the_known_minimiser_of_a_bounded_convex_problem(optimizer):
    f, x_star = bounded_quadratic()
    low, high, x0 = -np.ones(200), np.ones(200), np.zeros(200)
    if optimizer == "lbfgs":
        x, _ = minimize(f, x0, 100, low, high)
    else:
        bounds = scipy.optimize.Bounds(low, high)
        options = {"maxiter": 100, "ftol": 1e-15, "gtol": 1e-15}
        x = scipy.optimize.minimize(f, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                    options=options).x  # fmt: skip
    # Strictly convex (eigenvalues >= 0.1): |x - x*|^2 <= 2 (f(x) - f*) / 0.1, and f(x) - f*
    # ends near float64 rounding of f (1e-14 here): |x - x*| ~ 5e-7. A wrong direction or a
    # bound crossed would leave it 0.1 or more away.
    assert np.abs(x - x_star).max() < 1e-5
    assert (x >= low).all() and (x <= high).all()


def test_every_iterate_lies_in_the_box_and_lowers_the_loss():
    f, _ = bounded_quadratic(seed=1)
    seen = []
    minimize(f, np.zeros(200), 30, -np.ones(200), np.ones(200), callback=lambda x: seen.append(x))
    losses = [f(x)[0] for x in seen]
    assert len(seen) == 30 and all(np.abs(x).max() <= 1 for x in seen)
    assert all(b < a for a, b in zip(losses, losses[1:]))  # sufficient decrease at every step


# The objective bench/RESULTS.md measured both optimisers on: beta as the default was then, 1e3 at
# 256 px (x (size/256)^2), kept fixed so that a new default style strength leaves the bar as set.
RESULTS_LOSS = LossOptions(beta=1e3 * (128 / 256) ** 2)


@pytest.mark.parametrize("init", ["content", "noise"])
def test_on_the_papers_objective_it_gets_as_far_as_scipy(vgg_numpy, init):
    """The demo's photo and painting at 128 px: after 25, 50 and 100 iterations the device
    L-BFGS's loss is within 2% of scipy's (the bar issue 22 set: more than that after the same
    iterations would be an optimiser that lags). On a nonconvex loss the two take different
    paths and either may end lower, so only the upper side is held; bench/RESULTS.md has this
    pair and two others, at 128 and 256 px."""
    totals = {}
    for optimizer in ("scipy", "lbfgs"):
        run = stylize(default_content_path(), DEFAULT_STYLE, loss=RESULTS_LOSS, net=vgg_numpy,
                      size=128, iterations=100, init=init, optimizer=optimizer)  # fmt: skip
        assert len(run.history) == 100 and not run.stopped
        totals[optimizer] = np.array([r["total"] for r in run.history])
    marks = np.array([25, 50, 100]) - 1
    assert (totals["lbfgs"][marks] <= 1.02 * totals["scipy"][marks]).all(), totals
    # The same algorithm on the same float32 gradients follows the same path at first: only
    # rounding differs (the history in float32 here, float64 in scipy), about 1e-6 of the loss
    # at the first iteration. A nonconvex path then amplifies any difference, by a factor that
    # the BLAS kernel's rounding decides (1.1e-3 apart by the tenth iteration on one machine,
    # 2e-4 on another), so only the first three iterations are held, where a difference of
    # rounding would have to grow a thousandfold in two steps to reach the bar. A different
    # algorithm shows at once: on Hopper/Turner from noise the first version was 2.7% off
    # scipy's loss at the second iteration, and with L-BFGS-B's direction but its own line
    # search still 2.3% off, 20x the bar.
    first = np.abs(totals["lbfgs"][:3] / totals["scipy"][:3] - 1)
    assert first.max() < 1e-3, first


def test_no_iterate_is_written_to_once_evaluated():
    """stylize keeps the best iterate without a copy (Watch.copies), so minimize must make each
    trial point anew and leave it alone: every point f saw is still what it was then."""
    f, _ = bounded_quadratic()
    seen = []

    def recording(x):
        seen.append((x, x.copy()))
        return f(x)

    minimize(recording, np.zeros(200), 30, -np.ones(200), np.ones(200))
    assert len(seen) > 30 and all(np.array_equal(x, then) for x, then in seen)


def test_the_optimiser_benchmark_runs_at_toy_size(capsys):
    """bench/optimizers.py, the overhead of each optimiser per iteration, cannot rot."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "optimizers.py"
    spec = importlib.util.spec_from_file_location("optimizers", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for paper in ([], ["--paper"]):  # the quadratic, and the paper's objective
        assert bench.main([*paper, "--sizes", "32", "--iterations", "3", "--repeats", "1"]) == 0
        row = capsys.readouterr().out.strip().splitlines()[-1]
        assert row.startswith("| 32 | ") and row.count("|") == 5
        scipy_ms, ours_ms, _ = (float(cell) for cell in row.strip("| ").split(" | ")[1:])
        assert 0 < scipy_ms < np.inf and 0 < ours_ms < np.inf  # a time, not NaN or nothing


# -- each step against its definition, where the cases above would not tell --------------------


def small_step_problem(seed, n=12):
    """box_problem with the gradient scaled down until the model's minimum along the path lies
    before the first breakpoint: the Cauchy point is inside the first segment, where it is the
    first segment's minimiser t* = d^T d / d^T B d (d = -g, the held variables' entries 0)."""
    history, x, g, low, high = box_problem(seed, n)
    return history, x, g / 1e4, low, high


@pytest.mark.parametrize("seed", range(3))
def test_inside_the_first_segment_the_cauchy_point_is_its_minimiser(seed):
    """Where the minimum comes before any breakpoint, x_c depends on the model's curvature along
    -g (f''_0 = d^T B d): a wrong sign there sends t_c elsewhere, where the several-breakpoint
    case above stops at a breakpoint and never divides by it."""
    history, x, g, low, high = small_step_problem(seed)
    B, M, Wg = dense_model(history, 12), history.middle(), history.w_dot(g)
    z, *_ = cauchy_point(g, low - x, high - x, Wg, history, M, np)
    d = np.where(np.arange(12) < 2, 0.0, -g)  # the two variables at a bound are held
    t_star = (d @ d) / (d @ B @ d)
    assert np.all(np.abs(x + t_star * d)[2:] < 1)  # no free variable reaches its bound first
    # float64, two routes to one quotient: rounding only, on a step of size |t* d|
    assert np.abs(z - t_star * d).max() < 1e-10 * np.abs(t_star * d).max()
    assert np.abs(z - cauchy_point_by_segments(B, x, g, low, high)).max() < 1e-10 * np.abs(z).max()


@pytest.mark.parametrize("seed", range(5))
def test_each_segment_has_the_models_slope_and_curvature(seed):
    """segments() against the dense model: on segment j, with the first j breakpoints' variables
    held, f'_j = (g + B z(tau_j))^T e_j and f''_j = e_j^T B e_j, e_j the path's direction
    there. Every segment of the path, not only the one that holds the minimum."""
    from minimal_nst.lbfgs import breakpoints, segments

    history, x, g, low, high = box_problem(seed)
    B, M = dense_model(history, 12), history.middle()
    t = breakpoints(g, low - x, high - x, np)
    held = t <= 0
    index = np.flatnonzero((t > 0) & np.isfinite(t))
    index = index[np.argsort(t[index])]
    W_i = history.w_rows(index)
    d = np.where(held, 0.0, -g)
    p = history.w_rows(np.arange(12)) @ d
    tau0, f1, f2, _, _ = segments(t[index], g[index], W_i, d @ d, p, history.theta, M, np)
    for j, tau in enumerate(tau0):
        e = d.copy()
        e[index[:j]] = 0  # the variables whose breakpoints are passed stop
        z = np.clip(x - tau * g, low, high) - x
        z[held] = 0
        slope, curvature = (g + B @ z) @ e, e @ B @ e
        # float64 sums of terms as large as |g|^2 |B|: rounding of 1e-12 of that scale
        scale = (g @ g) * np.abs(B).max()
        assert abs(f1[j] - slope) < 1e-10 * scale and abs(f2[j] - curvature) < 1e-10 * scale, j


@pytest.mark.parametrize("seed", range(5))
def test_the_step_tried_whole_stays_inside_the_box(seed):
    """direction's d: x + d inside [low, high] (Morales & Nocedal's projection), so the line
    search's whole step is a point of the problem. The problems are made so that the subspace
    step alone leaves the box in some, or the test would prove nothing."""
    from minimal_nst.lbfgs import direction

    history, x, g, low, high = box_problem(seed)
    d = direction(x, g, history, low, high, np)
    assert np.all(x + d >= low - 1e-12) and np.all(x + d <= high + 1e-12)
    assert float(g @ d) < 0  # downhill
    M, Wg = history.middle(), history.w_dot(g)
    cauchy = cauchy_point(g, low - x, high - x, Wg, history, M, np)
    unprojected = x + cauchy.z + subspace_step(g, cauchy, Wg, history, M)
    leaves[seed] = bool(np.any((unprojected < low) | (unprojected > high)))


leaves = {}  # seed: whether the unprojected step left the box


def test_some_of_those_subspace_steps_left_the_box():
    """What makes test_the_step_tried_whole_stays_inside_the_box a test (run after it)."""
    assert len(leaves) == 5 and any(leaves.values()), leaves


def test_a_real_cubic_has_its_minimiser_found_from_either_end():
    """phi(t) = t^3 / 3 - t / 4: minimum at 0.5, maximum at -0.5. The cubic through phi and phi'
    at two points is phi itself, so the minimiser is 0.5 from (0, 1), (1, 0) and (0.2, 0.9)
    alike; a wrong sign of the root or the step picks the maximum or leaves the interval. (The
    parabola's test cannot tell: its cubic term is 0.)"""
    phi = lambda t: Point(t, t**3 / 3 - t / 4, t * t - 0.25, None, None)  # noqa: E731
    for a, b in [(0.0, 1.0), (1.0, 0.0), (0.2, 0.9), (0.9, 0.2)]:
        assert abs(cubic_minimiser(phi(a), phi(b)) - 0.5) < 1e-12, (a, b)


def armijo_decides():
    """phi(t) = -t + 1.9985 t^2 - 0.999 t^3 along d = 1 from x = 0: phi(0) = 0, phi'(0) = -1;
    the whole step is lower (phi(1) = -0.0005) and flat (phi'(1) = 0), but not lower by
    c1 t |phi'(0)| = 0.001: only sufficient decrease rejects it. The minimum is at t = 0.3336."""
    a, b = 1.9985, -0.999

    def f(x):
        t = float(x[0])
        return -t + a * t * t + b * t**3, np.array([-1 + 2 * a * t + 3 * b * t * t])

    return f, Point(0.0, 0.0, -1.0, np.zeros(1), np.array([-1.0]))


def test_the_line_search_rejects_a_step_without_sufficient_decrease():
    f, start = armijo_decides()
    low, high = np.full(1, -100.0), np.full(1, 100.0)
    whole = f(np.ones(1))
    assert start.f + C1 * start.slope < whole[0] < start.f and whole[1][0] == pytest.approx(0)
    p = wolfe_search(f, start, np.ones(1), low, high, np)
    assert p.t < 1 and p.f <= start.f + C1 * p.t * start.slope
    assert abs(p.slope) <= C2 * abs(start.slope)


@pytest.mark.parametrize("offset", [1e8, 0.0])
def test_ftol_stops_at_the_first_gain_below_ftol_times_the_loss(offset):
    """scipy's ftol: stop once (f_k - f_k+1) <= ftol max(|f_k|, |f_k+1|, 1). On an
    ill-conditioned quadratic (eigenvalues 1 to 100: many iterations to converge) lifted by
    1e8, ftol = 1e-7 stops where a gain falls to about 10, long before the gains reach 1e-7
    (an absolute ftol would run on); unlifted, the floor 1 makes it stop where a gain is 1e-7."""
    n, ftol = 50, 1e-7
    q = np.linspace(1, 100, n)
    c = np.full(n, 0.5)

    def f(x):
        return offset + 0.5 * float(q @ (x - c) ** 2), q * (x - c)

    seen = [f(np.zeros(n))[0]]
    minimize(
        f, np.zeros(n), 500, -np.ones(n), np.ones(n), lambda x: seen.append(f(x)[0]), ftol=ftol
    )
    gains = -np.diff(seen)
    bars = ftol * np.maximum(np.maximum(np.abs(seen[:-1]), np.abs(seen[1:])), 1)
    assert len(gains) < 500  # it stopped on ftol, not on the count
    assert (gains[:-1] > bars[:-1]).all() and gains[-1] <= bars[-1]


def test_inside_the_zoom_a_trial_without_sufficient_decrease_is_not_taken():
    """The whole step is higher (phi(1) = 1, phi'(1) = 3), so the zoom's first trial is the
    interpolation's, t = 0.25. phi is the quintic with phi(0) = 0, phi'(0) = -1, those values at
    1, and at 0.25 a flat point lower than the start by half of c1 t |phi'(0)|: the curvature
    condition holds there and only sufficient decrease (Eq. 3.7a) rejects it."""
    from minimal_nst.lbfgs import interpolate

    t1 = interpolate(Point(0.0, 0.0, -1.0, None, None), Point(1.0, 1.0, 3.0, None, None))
    assert t1 == pytest.approx(0.25)
    value = lambda t: [t**k for k in range(6)]  # noqa: E731  (phi = sum a_k t^k)
    slope = lambda t: [k * t ** (k - 1) if k else 0.0 for k in range(6)]  # noqa: E731
    rows = [value(0), slope(0), value(1), slope(1), value(t1), slope(t1)]
    a = np.linalg.solve(np.array(rows), [0, -1, 1, 3, -0.5 * C1 * t1, 0])

    def f(x):
        return float(a @ value(x[0])), np.array([a @ slope(x[0])])

    start = Point(0.0, 0.0, -1.0, np.zeros(1), np.array([-1.0]))
    p = wolfe_search(f, start, np.ones(1), np.full(1, -100.0), np.full(1, 100.0), np)
    assert p.f <= start.f + C1 * p.t * start.slope and p.t != pytest.approx(t1)
