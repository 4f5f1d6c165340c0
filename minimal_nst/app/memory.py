"""Will it fit? An upper estimate of the memory a run needs, checked before any work."""

import math

from ..vgg import LAYER_NAMES, VGG19_LAYERS

WEIGHTS_BYTES = 80_000_000  # the network's parameters, float32


def estimate_memory(shape, style_shapes, deepest, itemsize=4, optimizer="scipy"):
    """(device bytes, host bytes) to optimise an image of `shape` (H, W) up to layer `deepest`.

    Held at once: every layer's output (backward needs them), the largest im2col block and its
    product, the style images' forward passes, the weights, and the optimiser's history: scipy's
    L-BFGS-B on the host in float64, or minimal_nst.lbfgs on the device (its history in the
    image's dtype, its iterates in float64).
    """
    kept, transient = _activations(shape, deepest)
    style_peak = max((sum(_activations(s, deepest)) for s in style_shapes), default=0)
    device = itemsize * (2 * kept + 2 * transient + max(style_peak - kept, 0)) + WEIGHTS_BYTES
    image = 3 * shape[0] * shape[1]
    if optimizer == "scipy":
        return device, 8 * image * (2 * 10 + 8)  # L-BFGS-B: 10 (s, y) pairs + work arrays
    history = itemsize * image * (2 * 10 + 6) + 8 * image * 3  # 10 (s, y), g, d...; x, trial, best
    return device + history, 0


def _activations(shape, deepest):
    """(values kept for backward, the largest transient im2col buffer) of one forward pass."""
    (h, w), kept, transient = shape, 3 * shape[0] * shape[1], 0
    for _, kind, c_in, c_out in VGG19_LAYERS[: deepest + 1]:
        if kind == "pool":
            h, w = h // 2, w // 2
        if kind == "conv":
            transient = max(transient, (9 * c_in + 2 * c_out) * h * w)
        kept += c_out * h * w
    return kept, transient


def available_memory(xp):
    """(device bytes free, host bytes free): MemAvailable, and the GPU's free memory on CuPy."""
    host = math.inf
    try:
        with open("/proc/meminfo") as f:
            host = next(
                int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")
            )
    except (OSError, StopIteration):
        pass
    if xp.__name__ == "cupy":
        free, _ = xp.cuda.runtime.memGetInfo()
        return free + xp.get_default_memory_pool().free_bytes(), host
    return host, host


def memory_problem(shape, style_shapes, layers, xp, optimizer="scipy"):
    """None if a run fits in the memory free now, else a one-line reason."""
    deepest = max(LAYER_NAMES.index(name) for name in layers)
    device, host = estimate_memory(shape, style_shapes, deepest, optimizer=optimizer)
    free_device, free_host = available_memory(xp)
    on_gpu = xp.__name__ == "cupy"
    if host + (0 if on_gpu else device) <= free_host and (not on_gpu or device <= free_device):
        return None
    return (
        f"a {shape[1]}x{shape[0]} output needs about {_gib(device)} on the "
        f"{'GPU' if on_gpu else 'CPU'} and {_gib(host)} host memory; "
        f"{_gib(free_device)} free: lower --size"
    )


def _gib(n):
    return f"{n / 2**30:.1f} GiB"
