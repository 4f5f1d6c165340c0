"""Shared test helpers: rel_error, the NumPy/CuPy parametrisation, and the weights fixture.

The only tests allowed to skip are the CuPy ones (marked `gpu`) on a machine without a GPU: any
other skip makes the session fail, so a missing piece can never hide behind a skip.
"""

import pytest

from minimal_nst.backend import cupy_unavailable_reason, get_backend
from minimal_nst.check import numeric_grad, rel_error  # noqa: F401  (shared with the tests)

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
    from minimal_nst.weights import get_weights

    return get_weights()


@pytest.fixture(scope="session")
def vgg_numpy(weights_path):
    from minimal_nst import VGG19

    return VGG19.from_hdf5(weights_path)


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs CuPy and a CUDA device (skipped elsewhere)")
    config.addinivalue_line("markers", "slow: runs the optimizer end to end")


_bad_skips = []


def pytest_runtest_logreport(report):
    if report.skipped and "gpu" not in report.keywords:
        _bad_skips.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _bad_skips and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter):
    if _bad_skips:
        terminalreporter.write_line(
            f"FAILED: {len(_bad_skips)} non-GPU test(s) skipped: " + ", ".join(_bad_skips),
            red=True,
        )
