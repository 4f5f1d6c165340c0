"""Agreement with the PyTorch oracle: max relative error of every op and every VGG-19 layer.

    python bench/agreement.py          # prints the tables and writes bench/AGREEMENT.md

Relative error = max |ours - torch| / max |torch|, forward output and input gradient, on the
same inputs and (for VGG-19) the real weights, a 53x37 image (odd sides, floor-mode pooling).
"""

import sys
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as tF

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from oracle import torch_vgg_features  # noqa: E402

from minimal_nst import VGG19, VGG19_LAYERS, fast_layers, layers  # noqa: E402
from minimal_nst.app.check import rel_error  # noqa: E402
from minimal_nst.weights import get_weights_path  # noqa: E402

DTYPES = [np.float32, np.float64]


def op_cases(rng):
    x = rng.standard_normal((2, 16, 23, 31))
    w, b = rng.standard_normal((24, 16, 3, 3)), rng.standard_normal(24)
    kernels = fast_layers.winograd_kernels
    return {
        "conv2d (plain, layers.py)": (
            layers.conv2d_forward,
            layers.conv2d_backward,
            lambda x, w, b: tF.conv2d(x, w, b, padding=1),
            (x, w, b),
        ),
        "conv2d (im2col, row blocks)": (
            fast_layers.conv2d_blocked_forward,
            fast_layers.conv2d_blocked_backward,
            lambda x, w, b: tF.conv2d(x, w, b, padding=1),
            (x, w, b),
        ),
        "conv2d (Winograd)": (
            lambda x, w, b: fast_layers.conv2d_winograd_forward(x, kernels(w), b),
            fast_layers.conv2d_winograd_backward,
            lambda x, w, b: tF.conv2d(x, w, b, padding=1),
            (x, w, b),
        ),
        "relu": (layers.relu_forward, layers.relu_backward, tF.relu, (x,)),
        "avg_pool2d": (
            layers.avg_pool2d_forward,
            layers.avg_pool2d_backward,
            lambda x: tF.avg_pool2d(x, 2),
            (x,),
        ),
        "max_pool2d": (
            layers.max_pool2d_forward,
            layers.max_pool2d_backward,
            lambda x: tF.max_pool2d(x, 2),
            (x,),
        ),
    }


def op_errors():
    rows = []
    for name, (forward, backward, torch_op, inputs) in op_cases(np.random.default_rng(0)).items():
        row = [name]
        for dtype in DTYPES:
            args = [a.astype(dtype) for a in inputs]
            y, cache = forward(*args)
            dy = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
            xt = torch.tensor(args[0], requires_grad=True)
            yt = torch_op(xt, *[torch.tensor(a) for a in args[1:]])
            yt.backward(torch.tensor(dy))
            row += [
                rel_error(y, yt.detach().numpy()),
                rel_error(backward(dy, cache), xt.grad.numpy()),
            ]
        rows.append(row)
    return rows


def layer_errors(conv):
    net64 = VGG19.from_hdf5(get_weights_path(), dtype="float64", conv=conv)
    x = np.random.default_rng(2).uniform(-120, 130, (1, 3, 37, 53))
    names = [n for n, kind, *_ in VGG19_LAYERS if kind != "conv"]
    results = {n: [] for n in names}
    for dtype in DTYPES:
        net = net64.to(np, dtype)
        xt = torch.tensor(x.astype(dtype), requires_grad=True)
        weights = {k: tuple(torch.tensor(p) for p in wb) for k, wb in net.weights.items()}
        ref = torch_vgg_features(weights, xt)
        feats, _ = net.forward(x.astype(dtype), names)
        for n in names:
            g = np.random.default_rng(3).standard_normal(feats[n].shape).astype(dtype)
            xt.grad = None
            torch.sum(ref[n] * torch.tensor(g)).backward(retain_graph=True)
            _, tape = net.forward(x.astype(dtype), [n])
            results[n] += [
                rel_error(feats[n], ref[n].detach().numpy()),
                rel_error(net.backward({n: g}, tape), xt.grad.numpy()),
            ]
    return [[n, *errs] for n, errs in results.items()]


NOTE = """
Why some float32 input gradients differ by up to ~1e-3 while float64 agrees to 1e-15: a ReLU's
gradient jumps at 0, and where a pre-activation lies within float32 rounding of 0, the order of
summation (ours and PyTorch's differ) decides which side of the kink it is on. On this image
exactly one of the 29,952 conv3_3 pre-activations flips sign between the two (|value| 7e-6,
against values in the hundreds), and every gradient that flows through it inherits the
difference. Float64 moves the kink out of reach of rounding, and there the agreement is exact to
the last digits.
"""


def table(title, rows):
    head = f"| {title} | forward f32 | input grad f32 | forward f64 | input grad f64 |"
    lines = [head, "|---|---|---|---|---|"]
    lines += ["| " + " | ".join([r[0]] + [f"{e:.1e}" for e in r[1:]]) + " |" for r in rows]
    return "\n".join(lines)


def main():
    how = " ".join(__doc__.split("\n")[4:6])
    text = f"# Agreement with the PyTorch oracle\n\nMeasured {date.today()} by "
    text += f"`python bench/agreement.py` (PyTorch {torch.__version__}, CPU). {how}\n\n"
    text += table("op", op_errors()) + "\n"
    for conv in ["im2col", "winograd"]:
        text += f"\n## VGG-19, {conv} convolutions: each layer's output and d(<g, layer>)/dx\n\n"
        text += table("layer", layer_errors(conv)) + "\n"
    print(text)
    text += NOTE
    (HERE / "AGREEMENT.md").write_text(text)


if __name__ == "__main__":
    main()
