"""Where the array module (`xp`) is chosen: CuPy on a GPU, NumPy otherwise.

Every op asks its input which module it belongs to (`get_array_module(x)`), so the same code runs
on both. The choice of where the arrays live is made once, here. Host/device transfers happen
only at the optimiser's boundary (`minimal_nst.stylize`): an image up and a gradient down per
evaluation with scipy's L-BFGS-B, none with minimal_nst.lbfgs until the result comes back.
"""

import importlib.util
import os

import numpy


class BackendError(RuntimeError):
    """The requested array backend cannot run on this machine."""


def _cupy():
    if importlib.util.find_spec("cupy") is None:
        return None
    import cupy

    return cupy


def get_array_module(*arrays):
    """numpy or cupy, whichever the arrays belong to (as `cupy.get_array_module`)."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            import cupy

            return cupy
    return numpy


def cupy_unavailable_reason():
    """None if CuPy can run here, else a one-line reason."""
    cupy = _cupy()
    if cupy is None:
        return "CuPy is not installed (pip install 'minimal_nst[cuda12]' or '[cuda13]')"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy sees no CUDA device"
    except Exception as e:  # CUDA driver missing, wrong version, ...
        return f"CuPy cannot reach a CUDA device ({str(e).splitlines()[0]})"
    return None


def get_backend(name=None):
    """The array module: `name`, else $MINIMAL_NST_BACKEND, else CuPy if it can run, else NumPy.

    Asking for "cupy" where it cannot run raises BackendError rather than falling back silently.
    """
    name = (name or os.environ.get("MINIMAL_NST_BACKEND") or "auto").lower()
    if name == "numpy":
        return numpy
    if name not in ("cupy", "auto"):
        raise BackendError(f"unknown backend {name!r}: choose numpy, cupy or auto")
    reason = cupy_unavailable_reason()
    if reason is None:
        return _cupy()
    if name == "cupy":
        raise BackendError(f"backend 'cupy' requested but {reason}")
    return numpy


def to_numpy(a):
    """A NumPy copy of `a` (a no-op for NumPy arrays)."""
    return a.get() if hasattr(a, "get") else numpy.asarray(a)
