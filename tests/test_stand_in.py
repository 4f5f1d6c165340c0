"""The CuPy stand-in (tests/fake_cupy.py) is as strict as CuPy where it matters, and on it the
device path's traffic is counted: scipy's L-BFGS-B moves the image up and the gradient down at
every evaluation; minimal_nst.lbfgs moves no array at all."""

import sys

import fake_cupy
import numpy as np
import pytest

from conftest import generated_photo, generated_stripes
from minimal_nst import stylize
from minimal_nst.objective import Objective


def test_device_arrays_are_their_own_type_and_the_host_cannot_take_them():
    a = fake_cupy.asarray(np.ones(3))
    assert type(a).__module__ == "cupy" and fake_cupy.__name__ == "cupy"
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError, match="host array in a device operation"):
        a + np.ones(3)
    with pytest.raises(TypeError):
        np.ones(3) + a  # NumPy hands the operator over, and the device array refuses
    with pytest.raises(TypeError):
        np.maximum(a, 0)  # a NumPy-only call on the device path
    assert (a * 2.0 + np.float32(1)).get().tolist() == [3.0, 3.0, 3.0]  # scalars are fine
    np.testing.assert_array_equal(fake_cupy.asnumpy(a), np.ones(3))


def test_what_the_stand_in_lacks_fails_loudly():
    with pytest.raises(AttributeError, match="stand-in has no 'ElementwiseKernel'"):
        fake_cupy.ElementwiseKernel  # noqa: B018


def test_every_array_crossing_is_counted():
    before = dict(fake_cupy.COPIES)
    a = fake_cupy.asarray(np.arange(6.0))  # up
    float(a.sum())  # a scalar read: not an array
    a.get()  # down
    assert fake_cupy.COPIES["to_device"] - before["to_device"] == 1
    assert fake_cupy.COPIES["to_host"] - before["to_host"] == 1


@pytest.mark.gpu
@pytest.mark.parametrize("optimizer,per_evaluation", [("scipy", 1), ("lbfgs", 0)])
def test_host_device_traffic_per_iteration(vgg_numpy, monkeypatch, optimizer, per_evaluation):
    cupy = sys.modules.get("cupy")
    if not hasattr(cupy, "COPIES"):
        pytest.skip("GPU-only: the CuPy stand-in counts copies (MINIMAL_NST_FAKE_CUPY=1)")
    evaluations, seen = [0], []
    real = Objective.loss_and_grad

    def counted(self, x):
        evaluations[0] += 1
        return real(self, x)

    monkeypatch.setattr(Objective, "loss_and_grad", counted)
    record = lambda *_: seen.append((evaluations[0], dict(cupy.COPIES)))  # noqa: E731
    stylize(generated_photo(), generated_stripes(), net=vgg_numpy.to(cupy, np.float32), size=32,
            iterations=6, backend="cupy", optimizer=optimizer, callback=record)  # fmt: skip
    assert len(seen) == 6
    for (n0, copies0), (n1, copies1) in zip(seen, seen[1:]):  # between two iterations
        for way in ("to_device", "to_host"):
            assert copies1[way] - copies0[way] == per_evaluation * (n1 - n0), way
