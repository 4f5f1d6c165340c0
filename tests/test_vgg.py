"""VGG-19 on the real weights, against the same network written with torch.nn.functional."""

import h5py
import numpy as np
import pytest
from oracle import torch_vgg_features

from conftest import FLOAT32_NET, SAME_SUMS_64, TORCH_64, rel_error
from minimal_nst import VGG19, VGG19_LAYERS

torch = pytest.importorskip("torch")  # the oracle: a module-level skip, which CI fails

RELUS = [name for name, kind, *_ in VGG19_LAYERS if kind == "relu"]
GRAD_LAYERS = {"relu1_1": 1.0, "relu2_1": 0.5, "relu3_1": 0.25, "relu4_2": 2.0, "relu5_1": 1.0}


@pytest.fixture(scope="module")
def image():
    """A non-square image with odd sides (floor-mode pooling at every stage), preprocessed-like."""
    return np.random.default_rng(0).uniform(-120, 130, (1, 3, 37, 53))


@pytest.mark.parametrize("conv", ["plain", "im2col", "winograd", "winograd4"])
@pytest.mark.parametrize("pooling", ["avg", "max"])
@pytest.mark.parametrize("dtype,tol", [(np.float64, TORCH_64), (np.float32, FLOAT32_NET)])
def test_features_and_gradient_agree_with_pytorch(xp, vgg_numpy, image, pooling, dtype, tol, conv):
    net = VGG19(vgg_numpy.weights, pooling, conv).to(xp, dtype)
    x = image.astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    weights = {k: tuple(torch.tensor(p) for p in wb) for k, wb in net.to(np, dtype).weights.items()}
    ref = torch_vgg_features(weights, xt, pooling)

    feats, _ = net.forward(xp.asarray(x), RELUS)
    for name in RELUS:
        assert feats[name].dtype == dtype
        assert rel_error(feats[name], ref[name].detach().numpy()) < tol, (
            f"forward {name} went wrong"
        )

    # d/dx of sum_l c_l * sum(feature_l * r_l): gradients entering at five depths at once.
    rng = np.random.default_rng(1)
    grads = {n: c * rng.standard_normal(ref[n].shape).astype(dtype) for n, c in GRAD_LAYERS.items()}
    sum(torch.sum(ref[n] * torch.tensor(g)) for n, g in grads.items()).backward()
    _, tape = net.forward(xp.asarray(x), grads)
    dx = net.backward({n: xp.asarray(g) for n, g in grads.items()}, tape)
    assert dx.dtype == dtype
    assert rel_error(dx, xt.grad.numpy()) < tol, "backward went wrong"


def test_forward_stops_at_the_deepest_requested_layer(vgg_numpy, image):
    out, tape = vgg_numpy.forward(image.astype(np.float32), ["relu2_1", "relu1_1"])
    assert set(out) == {"relu1_1", "relu2_1"}
    assert [name for name, *_ in tape][-1] == "relu2_1"
    assert out["relu2_1"].shape == (1, 128, 18, 26)


def test_backward_sums_gradients_entering_at_different_depths(vgg_numpy, image):
    x = image.astype(np.float64)
    net = vgg_numpy.to(np, np.float64)
    feats, tape = net.forward(x, ["relu1_2", "relu3_1"])
    g1, g3 = np.ones_like(feats["relu1_2"]), np.full_like(feats["relu3_1"], 0.3)
    both = net.backward({"relu1_2": g1, "relu3_1": g3}, tape)
    one_by_one = net.backward({"relu1_2": g1}, tape) + net.backward({"relu3_1": g3}, tape)
    assert rel_error(both, one_by_one) < SAME_SUMS_64
    assert np.array_equal(g1, np.ones_like(g1)), "backward must not modify the caller's gradients"


def test_a_later_forward_leaves_an_earlier_tape_intact(vgg_numpy, image):
    """The style images' forwards happen between an image's forward and backward: the tape is
    the caller's, so they cannot overwrite it."""
    net = vgg_numpy.to(np, np.float64)
    x, other = image.astype(np.float64), image[:, :, ::-1, :].astype(np.float64)
    feats, tape = net.forward(x, ["relu2_1"])
    g = {"relu2_1": np.ones_like(feats["relu2_1"])}
    before = net.backward(g, tape)
    net.forward(other, ["relu2_1"])
    assert np.array_equal(net.backward(g, tape), before)
    assert not np.array_equal(net.backward(g, net.forward(other, ["relu2_1"])[1]), before)


def test_paper_layer_names_are_responses_after_the_relu(vgg_numpy, image):
    """The paper's conv4_2 is Caffe's in-place ReLU output: relu4_2 here, never negative."""
    names = [name for name, *_ in VGG19_LAYERS]
    assert names.index("relu4_2") == names.index("conv4_2") + 1
    out, _ = vgg_numpy.forward(image.astype(np.float32), ["conv4_2", "relu4_2"])
    assert out["conv4_2"].min() < 0 and out["relu4_2"].min() == 0
    assert np.array_equal(out["relu4_2"], np.maximum(out["conv4_2"], 0))


def test_loader_names_the_missing_dataset_of_another_layout(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["features.0.weight"] = np.zeros((64, 3, 3, 3), np.float32)
    with pytest.raises(KeyError, match="block1_conv1/block1_conv1_W_1:0"):
        VGG19.from_hdf5(path)


def test_loader_converts_keras_hwio_kernels_to_oihw(weights_path, vgg_numpy):
    with h5py.File(weights_path) as f:
        hwio = f["block3_conv2/block3_conv2_W_1:0"][()]
    oihw = vgg_numpy.weights["conv3_2"][0]
    assert hwio.shape == (3, 3, 256, 256) and oihw.shape == (256, 256, 3, 3)
    assert oihw[7, 11, 0, 2] == hwio[0, 2, 11, 7]
    assert len(vgg_numpy.weights) == 16
