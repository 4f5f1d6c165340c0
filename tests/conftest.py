"""Shared test helpers: the NumPy/CuPy parametrisation, the real weights, generated images.

The only tests allowed to skip are the CuPy ones (marked `gpu`) on a machine without a GPU: any
other skip makes the session fail, so a missing piece can never hide behind a skip. A module
whose dependency is missing skips whole (pytest.importorskip), and that fails the session too.

On a GPU machine (MINIMAL_NST_GPU_RUN=1, set by bench/gpu_check.py's tests step) it is the
other way round: a skipped GPU test fails the session (CuPy there but no device reached), and
so does a session that passed nothing; a module whose dependency that machine lacks (nbformat,
Dask, ...) may skip, its reason listed, so that it cannot stop the GPU tests from running.
"""

import os
import subprocess
import sys
from pathlib import Path

if os.environ.get("MINIMAL_NST_FAKE_CUPY") == "1":  # the strict stand-in, before anything asks
    import fake_cupy

    sys.modules["cupy"] = fake_cupy

import numpy as np
import pytest
from PIL import Image

from minimal_nst.app.check import away_from_zero, numeric_grad, rel_error  # noqa: F401  (shared)
from minimal_nst.backend import cupy_unavailable_reason, get_backend

# -- tolerances: each from what the tests set up, never from one run's output --------------------
# rel_error is max |a - b| / max |b|. One rounding costs eps (float64 1.1e-16, float32 6.0e-8); a
# sum of K terms drifts by about sqrt(K) eps of its size, K eps at worst. A wrong formula or
# gradient is off by O(1): every bound below is far from that, and far above the rounding.
SAME_SUMS_64 = 1e-12  # float64, one quantity two ways: K <= 1e4 terms a value here, K eps = 1e-12
FINITE_DIFF = 1e-7  # float64 central differences, h = 1e-5, O(1) values: h^2 = 1e-10, eps/h = 1e-11
FINITE_DIFF_NET = 1e-6  # through VGG-19, h = 1e-3 on pixels of ~100: (h/100)^2 = 1e-10, x16 layers
TORCH_64 = 1e-9  # float64 against PyTorch through 16 layers of K <= 4608 terms: 16 K eps = 8e-12
FLOAT32_OP = 1e-5  # one float32 op, K <= 576 terms: sqrt(K) eps = 1.4e-6, F(4x4)'s transforms x4
FLOAT32_NET = 1e-4  # 16 float32 layers of K <= 4608 terms: sqrt(K) eps = 4e-6 each, 6.5e-5 summed

BACKENDS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
]


@pytest.fixture(params=BACKENDS)
def xp(request):
    """The array module under test; the CuPy case skips where no GPU can run it."""
    if request.param == "cupy":
        reason = cupy_unavailable_reason()
        if reason:
            pytest.skip(f"GPU-only: {reason}")
    return get_backend(request.param)


@pytest.fixture(scope="session")
def weights_path():
    """The real VGG-19 weights, fetched and hash-checked by the package's own fetcher."""
    from minimal_nst.weights import get_weights_path

    return get_weights_path()


@pytest.fixture(scope="session")
def vgg_numpy(weights_path):
    from minimal_nst import VGG19

    return VGG19.from_hdf5(weights_path)


def distinct_values(rng, shape):
    """A random permutation of well-spaced values: no ties inside any max-pool window."""
    return rng.permutation(np.arange(np.prod(shape), dtype=np.float64)).reshape(shape) * 0.1


def generated_photo(h=48, w=64):
    """A small 'photo': smooth colour gradients and a yellow disc."""
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx * 255 // w, yy * 255 // h, 255 - xx * 200 // w], axis=2)
    rgb[(yy - h // 2) ** 2 + (xx - w // 2) ** 2 < (h // 4) ** 2] = (250, 240, 40)
    return rgb.astype(np.uint8)


def generated_stripes(side=40):
    """A small 'painting': red and blue diagonal stripes."""
    yy, xx = np.mgrid[0:side, 0:side]
    stripes = ((xx + yy) // 5 % 2)[..., None] == 1
    return np.where(stripes, [200, 30, 30], [20, 20, 120]).astype(np.uint8)


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(generated_photo()).save(path)
    return path


@pytest.fixture
def stripes(tmp_path):
    path = tmp_path / "stripes.png"
    Image.fromarray(generated_stripes()).save(path)
    return path


STYLIZE = Path(__file__).resolve().parent.parent / "scripts" / "stylize.py"


@pytest.fixture
def nst(tmp_path, weights_path):
    """nst("--content a.png ...", *more) runs scripts/stylize.py in tmp_path as a user would,
    with the real weights unless the command names its own --weights."""

    def run(command, *more, timeout=300):
        args = command.split() + [str(m) for m in more]
        if "--weights" not in args:
            args += ["--weights", str(weights_path)]
        cmd = [sys.executable, str(STYLIZE), *args]
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)

    return run


def assert_one_line_error(proc, *fragments):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1 and lines[0].startswith("minimal-nst: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


GPU_RUN = os.environ.get("MINIMAL_NST_GPU_RUN") == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs CuPy and a CUDA device (skipped elsewhere)")


def pytest_report_header(config):
    """Which BLAS kernel this pass runs (.ci/run runs the suite under two: they round apart)."""
    from threadpoolctl import threadpool_info

    blas = [f"{b['internal_api']} {b.get('architecture')} x{b['num_threads']}"
            for b in threadpool_info() if b["user_api"] == "blas"]  # fmt: skip
    return "BLAS: " + (", ".join(sorted(set(blas))) or "none loaded")


_bad_skips, _allowed_skips, _passed = [], [], []


def pytest_collectreport(report):
    if report.skipped:  # a whole module: pytest.importorskip found a dependency missing
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        (_allowed_skips if GPU_RUN else _bad_skips).append(f"{report.nodeid} ({reason})")


def pytest_runtest_logreport(report):
    gpu = "gpu" in report.keywords
    if report.skipped and (GPU_RUN or not gpu):
        _bad_skips.append(report.nodeid)
    if report.passed and report.when == "call":
        _passed.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if exitstatus in (0, 5) and (_bad_skips or (GPU_RUN and not _passed)):  # 5: none collected
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _allowed_skips:
        missing = ", ".join(_allowed_skips)
        terminalreporter.write_line(f"skipped here, a dependency missing: {missing}")
    if _bad_skips:
        what = "test(s) skipped on a GPU run" if GPU_RUN else "non-GPU test(s) skipped"
        terminalreporter.write_line(f"FAILED: {len(_bad_skips)} {what}: " + ", ".join(_bad_skips),
                                    red=True)  # fmt: skip
    if GPU_RUN and not _passed:
        terminalreporter.write_line("FAILED: a GPU run that passed no test", red=True)
