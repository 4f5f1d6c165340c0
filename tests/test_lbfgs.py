"""minimal_nst.lbfgs, the L-BFGS that runs on the device: each piece against its textbook form,
then the whole against scipy's L-BFGS-B on a bounded problem whose answer is known and on the
paper's objective."""

import numpy as np
import pytest
import scipy.optimize

from conftest import SAME_SUMS_64
from minimal_nst import LossOptions, stylize
from minimal_nst.lbfgs import (
    C1,
    C2,
    Pairs,
    Point,
    cubic_minimiser,
    interpolate,
    minimize,
    quadratic_minimiser,
    two_loop,
    wolfe_search,
)
from minimal_nst.stylize import DEFAULT_STYLE, default_content_path


def random_pairs(rng, n=12, m=4):
    """m curvature pairs of a convex quadratic: y = Q s with Q symmetric positive definite."""
    A = rng.standard_normal((n, n))
    Q = A @ A.T + n * np.eye(n)
    pairs = Pairs(m)
    for _ in range(m + 2):  # two more than m: the oldest are dropped
        s = rng.standard_normal(n)
        pairs.add(s, Q @ s, np)
    return pairs


def test_two_loop_is_the_bfgs_inverse_update_applied_m_times():
    """H_{k+1} = (I - rho s y^T) H_k (I - rho y s^T) + rho s s^T (Eq. 6.17) from
    H0 = (s^T y / y^T y) I of the newest pair (Eq. 7.20): the two-loop never forms it."""
    rng = np.random.default_rng(0)
    pairs, g = random_pairs(rng), rng.standard_normal(12)
    assert len(pairs.items) == 4
    s_new, y_new, _ = pairs.items[-1]
    H = (s_new @ y_new) / (y_new @ y_new) * np.eye(12)
    for s, y, rho in pairs.items:
        V = np.eye(12) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    assert np.abs(two_loop(g, pairs, np) - H @ g).max() < SAME_SUMS_64 * np.abs(H @ g).max()


def test_a_pair_without_positive_curvature_is_skipped():
    """y^T s <= 0 would make H indefinite (Eq. 6.7): the pair is not kept."""
    pairs = Pairs(3)
    pairs.add(np.array([1.0, 0.0]), np.array([-1.0, 0.0]), np)
    assert pairs.items == []


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
        totals[optimizer] = np.array([run.history[k - 1]["total"] for k in (25, 50, 100)])
    assert (totals["lbfgs"] <= 1.02 * totals["scipy"]).all(), totals


def test_the_optimiser_benchmark_runs_at_toy_size(capsys):
    """bench/optimizers.py, the overhead of each optimiser per iteration, cannot rot."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "bench" / "optimizers.py"
    spec = importlib.util.spec_from_file_location("optimizers", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--sizes", "32", "--iterations", "3", "--repeats", "1"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[-1]
    assert row.startswith("| 32 | ") and row.count("|") == 5
