"""VGG-19 as data: a layer table that `forward` walks and `backward` replays in reverse."""

import h5py
import numpy as np

from .backend import to_numpy
from .fast_layers import (
    conv2d_blocked_backward,
    conv2d_blocked_forward,
    conv2d_winograd_backward,
    conv2d_winograd_forward,
    keep_freed_memory,
    winograd_kernels,
)
from .layers import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_backward,
    relu_forward,
)

# (name, kind, in_channels, out_channels): the 16 convolutions and 5 poolings of VGG-19, without
# the fully connected layers. The paper's "conv4_2" is the response after its ReLU: relu4_2.
_BLOCKS = [(1, 2, 3, 64), (2, 2, 64, 128), (3, 4, 128, 256), (4, 4, 256, 512), (5, 4, 512, 512)]
VGG19_LAYERS = []
for _block, _n_convs, _c_in, _c_out in _BLOCKS:
    for _i in range(1, _n_convs + 1):
        VGG19_LAYERS.append((f"conv{_block}_{_i}", "conv", _c_in if _i == 1 else _c_out, _c_out))
        VGG19_LAYERS.append((f"relu{_block}_{_i}", "relu", _c_out, _c_out))
    VGG19_LAYERS.append((f"pool{_block}", "pool", _c_out, _c_out))
LAYER_NAMES = [name for name, *_ in VGG19_LAYERS]

# The network expects what Caffe's VGG was trained on: BGR, 0-255, minus the ImageNet mean.
VGG_MEAN_BGR = (103.939, 116.779, 123.68)

CONVS = {  # ways to compute the same convolution: the specification and fast ones
    "plain": (conv2d_forward, conv2d_backward),
    "im2col": (conv2d_blocked_forward, conv2d_blocked_backward),
    "winograd": (conv2d_winograd_forward, conv2d_winograd_backward),  # F(2x2, 3x3)
    "winograd4": (conv2d_winograd_forward, conv2d_winograd_backward),  # F(4x4, 3x3)
}
POOLS = {
    "avg": (avg_pool2d_forward, avg_pool2d_backward),
    "max": (max_pool2d_forward, max_pool2d_backward),
}


class VGG19:
    """VGG-19's convolutional part. `weights[name] = (w, b)`, w: (C_out, C_in, 3, 3).

    `layers` is the network as data, one (name, forward, backward, parameters) per layer.
    pooling: "avg" (the paper's) or "max". conv: a key of CONVS.
    """

    def __init__(self, weights, pooling="avg", conv="im2col"):
        self.weights, self.pooling, self.conv = weights, pooling, conv
        keep_freed_memory()  # speed: memory reused between evaluations (fast_layers.py)
        self.layers = [self._layer(name, kind, c_in) for name, kind, c_in, _ in VGG19_LAYERS]

    def _layer(self, name, kind, c_in):
        if kind == "relu":
            return name, relu_forward, relu_backward, ()
        if kind == "pool":
            return (name, *POOLS[self.pooling], ())
        w, b = self.weights[name]
        if self.conv.startswith("winograd") and c_in >= 16:  # on 3 channels transforms cost more
            U = winograd_kernels(w, m=4 if self.conv == "winograd4" else 2)
            return name, conv2d_winograd_forward, conv2d_winograd_backward, (U, b)
        conv = "im2col" if self.conv.startswith("winograd") else self.conv
        return (name, *CONVS[conv], (w, b))

    def forward(self, x, layers):
        """Run x (N, 3, H, W) up to the deepest of `layers`: (their outputs, the tape).

        The tape holds each layer's backward function and cache, for `backward`.
        """
        wanted, outputs, tape = set(layers), {}, []
        for name, forward, backward, params in self.layers:
            if not wanted - outputs.keys():
                break
            x, cache = forward(x, *params)
            tape.append((name, backward, cache))
            if name in wanted:
                outputs[name] = x
        return outputs, tape

    @staticmethod
    def backward(grads, tape):
        """d/dx of sum_l <grads[l], F_l>: the tape replayed from the deepest layer down.

        A gradient entering at layer l joins the one flowing down from the layers above it.
        """
        dx = None
        for name, backward, cache in reversed(tape):
            if name in grads:
                dx = grads[name] if dx is None else dx + grads[name]
            if dx is not None:
                dx = backward(dx, cache)
        return dx

    @classmethod
    def from_hdf5(cls, path, pooling="avg", dtype="float32", xp=np, conv="im2col"):
        """Load Keras' `blockB_convL/blockB_convL_{W,b}_1:0` datasets.

        Keras stores kernels HWIO (kh, kw, C_in, C_out); the matrix product wants OIHW
        (C_out, C_in, kh, kw), so the layout is converted once, here.
        """
        weights = {}
        with h5py.File(path, "r") as f:
            for name, kind, c_in, c_out in VGG19_LAYERS:
                if kind == "conv":
                    w, b = _keras_kernel(f, path, name, (3, 3, c_in, c_out))
                    w = np.ascontiguousarray(w.transpose(3, 2, 0, 1))
                    weights[name] = (xp.asarray(w, dtype=dtype), xp.asarray(b, dtype=dtype))
        return cls(weights, pooling, conv)

    def to(self, xp, dtype=None):
        """The same network with its weights in module `xp` (numpy or cupy) and `dtype`."""
        dtype = dtype or next(iter(self.weights.values()))[0].dtype
        weights = {
            name: tuple(xp.asarray(to_numpy(p), dtype=dtype) for p in wb)
            for name, wb in self.weights.items()
        }
        return VGG19(weights, self.pooling, self.conv)


def _keras_kernel(f, path, name, shape):
    block, layer = name[4:].split("_")
    group = f"block{block}_conv{layer}"
    w, b = (f"{group}/{group}_{p}_1:0" for p in "Wb")
    for key in (w, b):
        if key not in f:
            raise KeyError(f"{path} has no dataset {key!r}: not Keras' VGG-19 '..._notop.h5'")
    w, b = f[w][()], f[b][()]
    if w.shape != shape or b.shape != shape[-1:]:
        raise ValueError(f"{path}: {group} has shape {w.shape}, expected {shape} (HWIO)")
    return w, b
