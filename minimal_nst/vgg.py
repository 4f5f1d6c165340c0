"""VGG-19 as data: a layer table that forward walks and backward replays in reverse."""

import h5py

from .backend import to_numpy
from .layers import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    conv2d_backward,
    conv2d_forward,
    conv2d_winograd_backward,
    conv2d_winograd_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_backward,
    relu_forward,
    winograd_kernels,
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
CONVS = {  # both compute the same 3x3 convolution; Winograd does 2.25x fewer multiplications
    "im2col": (conv2d_forward, conv2d_backward),
    "winograd": (conv2d_winograd_forward, conv2d_winograd_backward),
}
POOLS = {
    "avg": (avg_pool2d_forward, avg_pool2d_backward),
    "max": (max_pool2d_forward, max_pool2d_backward),
}

# The network expects what Caffe's VGG was trained on: BGR, 0-255, minus the ImageNet mean.
VGG_MEAN_BGR = (103.939, 116.779, 123.68)


class VGG19:
    """VGG-19's convolutional part. `weights[name] = (w, b)` with w: (C_out, C_in, 3, 3).

    conv: "im2col" (the default) or "winograd" (2.25x fewer multiplications; each layer's kernels
    are transformed once, on first use).
    """

    def __init__(self, weights, pooling="avg", conv="im2col"):
        if pooling not in POOLS:
            raise ValueError(f"pooling must be 'avg' or 'max', not {pooling!r}")
        if conv not in CONVS:
            raise ValueError(f"conv must be 'im2col' or 'winograd', not {conv!r}")
        self.weights, self.pooling, self.conv = weights, pooling, conv
        self._winograd = {}  # layer name -> (transformed kernels, b), made on first use
        self._tape = []  # (name, backward, cache) of the last forward, replayed by backward

    @classmethod
    def from_hdf5(cls, path, pooling="avg", dtype="float32", xp=None, conv="im2col"):
        """Load Keras' `blockB_convL/blockB_convL_{W,b}_1:0` datasets.

        Keras stores kernels HWIO (kh, kw, C_in, C_out) for TensorFlow; our matrix product wants
        OIHW (C_out, C_in, kh, kw), so the layout is converted once, here, not at every step.
        """
        import numpy

        xp = xp or numpy
        weights = {}
        with h5py.File(path, "r") as f:
            for name, kind, c_in, c_out in VGG19_LAYERS:
                if kind != "conv":
                    continue
                block, layer = name[4:].split("_")
                keras = f"block{block}_conv{layer}"
                w, b = (_dataset(f, f"{keras}/{keras}_{p}_1:0", path) for p in "Wb")
                if w.shape != (3, 3, c_in, c_out) or b.shape != (c_out,):
                    raise ValueError(
                        f"{path}: {keras} has shape {w.shape}, expected "
                        f"{(3, 3, c_in, c_out)} (HWIO)"
                    )
                w = numpy.ascontiguousarray(w.transpose(3, 2, 0, 1))
                weights[name] = (xp.asarray(w, dtype=dtype), xp.asarray(b, dtype=dtype))
        return cls(weights, pooling, conv)

    def to(self, xp, dtype=None):
        """The same network with its weights in module `xp` (numpy or cupy) and `dtype`."""
        dtype = dtype or next(iter(self.weights.values()))[0].dtype
        weights = {
            name: (xp.asarray(to_numpy(w), dtype=dtype), xp.asarray(to_numpy(b), dtype=dtype))
            for name, (w, b) in self.weights.items()
        }
        return VGG19(weights, self.pooling, self.conv)

    def _conv(self, name, c_in):
        """(forward, backward, parameters) of conv layer `name`. Winograd's transforms cost more
        than they save on the image's 3 channels, so conv1_1 always runs as im2col."""
        if self.conv == "im2col" or c_in < 16:
            return (*CONVS["im2col"], self.weights[name])
        if name not in self._winograd:
            w, b = self.weights[name]
            self._winograd[name] = (winograd_kernels(w), b)
        return (*CONVS["winograd"], self._winograd[name])

    def forward(self, x, layers):
        """Run x (1, 3, H, W), preprocessed, up to the deepest of `layers`; return their outputs.

        The caches of the layers run are kept, so `backward` can follow.
        """
        layers = set(layers)
        check_layer_names(layers)
        outputs, self._tape = {}, []
        pool_forward, pool_backward = POOLS[self.pooling]
        for name, kind, c_in, _ in VGG19_LAYERS:
            if not layers - outputs.keys():
                break
            if kind == "conv":
                forward, backward, params = self._conv(name, c_in)
                x, cache = forward(x, *params)
            elif kind == "relu":
                (x, cache), backward = relu_forward(x), relu_backward
            else:
                (x, cache), backward = pool_forward(x), pool_backward
            self._tape.append((name, backward, cache))
            if name in layers:
                outputs[name] = x
        return outputs

    def backward(self, grads):
        """d/dx of sum_l <grads[l], feature_l>, in one sweep from the deepest layer down.

        A gradient entering at layer l joins the one flowing down from above it.
        """
        check_layer_names(grads)
        ran = [name for name, *_ in self._tape]
        missing = set(grads) - set(ran)
        if missing:
            raise ValueError(
                f"backward for layers the last forward did not reach: {sorted(missing)}"
            )
        deepest = max(ran.index(name) for name in grads)
        dx = None
        for name, backward, cache in reversed(self._tape[: deepest + 1]):
            if name in grads:
                dx = grads[name] if dx is None else dx + grads[name]
            dx = backward(dx, cache)
        return dx


def check_layer_names(names):
    unknown = sorted(set(names) - set(LAYER_NAMES))
    if unknown:
        raise ValueError(f"unknown layer(s) {', '.join(unknown)}; valid: {', '.join(LAYER_NAMES)}")


def _dataset(f, key, path):
    if key not in f:
        raise KeyError(f"{path} has no dataset {key!r}: not Keras' VGG-19 '..._notop.h5' layout")
    return f[key][()]
