"""A strict stand-in for CuPy on a machine with no GPU: NumPy underneath, CuPy's rules on top.

`MINIMAL_NST_FAKE_CUPY=1 pytest -m gpu` (tests/conftest.py installs it as the module `cupy`)
runs every GPU-marked test on it, so the CuPy path cannot rot between the rare days a GPU is
lent. Strict where CuPy is strict:
- device arrays are their own type, from a module named cupy (`get_array_module` sees CuPy);
- `numpy.asarray(device_array)` raises TypeError, and so does an operation that mixes a host
  array with a device array; `.get()` and `cupy.asnumpy` are the only ways back;
- an attribute CuPy has but the stand-in does not provide raises, so a NumPy-only call on the
  device path fails loudly instead of quietly running on the host.
Every array copied between host and device is counted in COPIES (a scalar read with float() is
not an array: CuPy allows it, and the device L-BFGS reads its dot products so).

What it cannot show: that a kernel compiles or is fast, how the memory pool behaves, anything
about speed. Those need the real GPU (bench/gpu_check.py).
"""

import importlib.machinery

import numpy

__name__ = "cupy"  # noqa: A001  (xp.__name__ chooses the device's settings)
__spec__ = importlib.machinery.ModuleSpec("cupy", None)  # noqa: F811  (importlib finds "cupy")
__version__ = "0.0-stand-in"
COPIES = {"to_device": 0, "to_host": 0}
MIXED = "Unsupported type <class 'numpy.ndarray'>: a host array in a device operation"
IMPLICIT = "Implicit conversion to a NumPy array is not allowed. Please use `.get()`"

# dtypes and constants are NumPy's own in CuPy too
float16, float32, float64 = numpy.float16, numpy.float32, numpy.float64
int32, int64, uint8, bool_ = numpy.int32, numpy.int64, numpy.uint8, numpy.bool_
dtype, newaxis, inf, nan, pi = numpy.dtype, numpy.newaxis, numpy.inf, numpy.nan, numpy.pi


def _unwrap(value):
    """The NumPy array under a device array; a host array here is CuPy's TypeError."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, numpy.ndarray):
        raise TypeError(MIXED)
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v) for v in value)
    return value


def _wrap(value):
    """Results stay on the device; a reduction is a 0-d device array, as in CuPy."""
    if isinstance(value, (numpy.ndarray, numpy.generic)):
        return ndarray(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


def _call(fn):
    def device_fn(*args, **kwargs):
        args = [_unwrap(a) for a in args]
        return _wrap(fn(*args, **{k: _unwrap(v) for k, v in kwargs.items()}))

    device_fn.__name__ = fn.__name__
    return device_fn


class ndarray:  # noqa: N801  (CuPy's name)
    """A device array: NumPy's array inside, reachable only through .get()."""

    __array_ufunc__ = None  # NumPy's operators hand over to ours, which refuse host arrays
    __slots__ = ("_a",)

    def __init__(self, a):
        self._a = a

    def __array__(self, *args, **kwargs):
        raise TypeError(IMPLICIT)

    def get(self):
        COPIES["to_host"] += 1
        return self._a.copy()

    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray(self._a.T))

    def __float__(self):  # a scalar read: CuPy allows it for one element
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)

    def __len__(self):
        return len(self._a)

    def __repr__(self):
        return f"cupy stand-in {self._a!r}"

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap(key)])

    def __setitem__(self, key, value):
        self._a[_unwrap(key)] = _unwrap(value)


_METHODS = """reshape transpose sum astype copy ravel max min mean argmax any all prod clip dot
squeeze swapaxes fill item view flatten cumsum std var""".split()
_OPERATORS = """add radd sub rsub mul rmul truediv rtruediv floordiv rfloordiv mod pow rpow matmul
rmatmul neg pos abs invert and rand or ror xor lt le gt ge eq ne iadd isub imul itruediv ipow
iand ior""".split()


def _method(name):
    def method(self, *args, **kwargs):
        args = [_unwrap(a) for a in args]
        return _wrap(getattr(self._a, name)(*args, **{k: _unwrap(v) for k, v in kwargs.items()}))

    return method


def _operator(name):
    dunder = f"__{name}__"

    def op(self, *other):
        result = getattr(self._a, dunder)(*[_unwrap(o) for o in other])
        if name.startswith("i"):  # in place: the same device array
            return self
        return _wrap(result)

    return op


for _name in _METHODS:
    setattr(ndarray, _name, _method(_name))
for _name in _OPERATORS:
    setattr(ndarray, f"__{_name}__", _operator(_name))
ndarray.__hash__ = None


# -- the module's functions --------------------------------------------------------------------


def asarray(a, dtype=None):
    """To the device (a counted copy), or the device array itself (cast if dtype says so)."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    if isinstance(a, numpy.ndarray) and a.size > 1:
        COPIES["to_device"] += 1
    return ndarray(numpy.array(a, dtype=dtype))


array = asarray


def asnumpy(a):
    return a.get() if isinstance(a, ndarray) else numpy.asarray(a)


def get_array_module(*arrays):
    import sys

    return sys.modules[__name__] if any(isinstance(a, ndarray) for a in arrays) else numpy


_FUNCTIONS = """zeros ones empty full zeros_like ones_like empty_like full_like arange maximum
minimum clip where stack concatenate pad take_along_axis matmul vdot dot einsum subtract add
multiply divide sqrt exp log abs sum mean ascontiguousarray broadcast_to isfinite
allclose array_equal tensordot eye nonzero argsort argmax cumsum take negative floor""".split()
for _name in _FUNCTIONS:
    globals()[_name] = _call(getattr(numpy, _name))


class linalg:  # noqa: N801  (cupy.linalg: the device L-BFGS's (2m, 2m) systems)
    inv = staticmethod(_call(numpy.linalg.inv))
    solve = staticmethod(_call(numpy.linalg.solve))


class _Runtime:
    @staticmethod
    def getDeviceCount():  # noqa: N802  (CUDA's name)
        return 1

    @staticmethod
    def getDeviceProperties(device):  # noqa: N802
        return {"name": b"CuPy stand-in (NumPy)", "totalGlobalMem": _Runtime.memGetInfo()[1]}

    @staticmethod
    def memGetInfo():  # noqa: N802
        with open("/proc/meminfo") as f:
            free = next(int(line.split()[1]) * 1024 for line in f if "MemAvailable" in line)
        return free, free


class _Device:
    def __init__(self, device=0):
        pass

    def synchronize(self):
        pass


class cuda:  # noqa: N801
    runtime = _Runtime
    Device = _Device


class _Pool:
    def free_bytes(self):
        return 0

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0


_POOL = _Pool()


def get_default_memory_pool():
    return _POOL


def __getattr__(name):
    raise AttributeError(
        f"the CuPy stand-in has no {name!r}: add it to tests/fake_cupy.py if CuPy has it"
    )
