"""The PyTorch oracle: VGG-19 and the paper's Eq. 7, written independently in torch.

Used by the tests (agreement to float rounding) and by bench/ (the speed to beat).
"""

import numpy as np
import pytest

from minimal_nst import VGG19_LAYERS

torch = pytest.importorskip("torch")  # the oracle: a module-level skip, which CI fails
tF = pytest.importorskip("torch.nn.functional")


def torch_vgg_features(weights, x, pooling="avg", until="pool5"):
    """Every layer's output of VGG-19, up to `until`, in torch.nn.functional (same OIHW weights)."""
    feats = {}
    for name, kind, *_ in VGG19_LAYERS:
        if until in feats:
            break
        if kind == "conv":
            w, b = weights[name]
            x = tF.conv2d(x, w, b, padding=1)
        elif kind == "relu":
            x = tF.relu(x)
        else:
            x = (tF.avg_pool2d if pooling == "avg" else tF.max_pool2d)(x, 2)
        feats[name] = x
    return feats


class TorchObjective:
    """Eq. 7 by autograd: alpha sum 1/2 ||F - P||^2 + beta sum_l w_l E_l + tv_weight TV.

    weights: {name: (w, b)} arrays; content (or None), styles: (1, 3, H, W) arrays; loss: the
    options (a minimal_nst.LossOptions, read as plain numbers). Targets are computed once.
    """

    def __init__(self, weights, content, styles, loss, device="cpu"):
        self.device, self.loss = device, loss
        self.weights = {k: tuple(self.tensor(p) for p in wb) for k, wb in weights.items()}
        self.content_layers = loss.content_layers if content is not None else ()
        self.style_layers = loss.style_layers if len(styles) else ()
        blend = loss.style_blend_weights or [1.0] * len(styles)
        # w_l as numbers, never a name (LossOptions' default is one): the oracle compares at
        # weights the test fixed, not at whatever a default weighting computes
        assert not isinstance(loss.style_layer_weights, str), "give the oracle w_l as numbers"
        self.layer_weights = loss.style_layer_weights
        with torch.no_grad():
            if content is not None:
                P = self.features(self.tensor(content))
                self.P = {name: P[name] for name in self.content_layers}
            self.A_per_pixel = {name: 0 for name in self.style_layers}
            for style, b in zip(styles, blend):
                S = self.features(self.tensor(style))
                for name in self.style_layers:
                    G = self.gram(S[name])
                    self.A_per_pixel[name] += b / sum(blend) * G / S[name][0, 0].numel()

    def tensor(self, a):
        return torch.as_tensor(np.asarray(a), device=self.device)

    def features(self, x):
        deepest = max((*self.content_layers, *self.style_layers), key=self.depth)
        return torch_vgg_features(self.weights, x, until=deepest)

    @staticmethod
    def depth(name):
        return [n for n, *_ in VGG19_LAYERS].index(name)

    @staticmethod
    def gram(f):
        F = f[0].flatten(1)
        return F @ F.T

    def __call__(self, x):
        """L_total at x, a tensor (autograd records it)."""
        feats, loss = self.features(x), self.loss
        content = sum(0.5 * ((feats[n] - self.P[n]) ** 2).sum() for n in self.content_layers)
        style = 0
        for name, w_l in zip(self.style_layers, self.layer_weights):
            N, M = feats[name].shape[1], feats[name][0, 0].numel()
            E = ((self.gram(feats[name]) - self.A_per_pixel[name] * M) ** 2).sum()
            style = style + w_l * E / (4 * N**2 * M**2)
        total = loss.alpha * content + loss.beta * style
        if loss.tv_weight:
            tv = ((x[:, :, 1:] - x[:, :, :-1]) ** 2).sum() + ((x[..., 1:] - x[..., :-1]) ** 2).sum()
            total = total + loss.tv_weight * tv
        return total

    def loss_and_grad(self, x):
        """(L_total, dL_total/dx as a NumPy array) at a NumPy image x."""
        xt = self.tensor(x).requires_grad_(True)
        total = self(xt)
        total.backward()
        return total.item(), xt.grad.detach().cpu().numpy()


class TorchGuidedObjective(TorchObjective):
    """Spatial control by autograd (Gatys et al. 2017): each style in its own region.

    L = alpha 1/2 sum c (F - P)^2 + beta sum_l w_l sum_r b_r 1/(4 N^2) ||G_r - A_r||^2, with
    G_r = (T_r F)(T_r F)^T / sum T_r^2 and the masks average-pooled as the image is pooled.
    masks: a minimal_nst Masks at these images' sizes (read as plain arrays).
    """

    def __init__(self, weights, content, styles, loss, masks, device="cpu"):
        super().__init__(weights, content, styles, loss, device)
        self.blend = loss.style_blend_weights or [1.0] * len(styles)
        self.regions = [self.pooled(m) for m in masks.regions[: len(styles)]]
        weight = masks.content_weight
        self.c = self.pooled(weight) if weight is not None else None
        with torch.no_grad():
            self.A = []
            for k, style in enumerate(styles):
                S = self.features(self.tensor(style))
                mask = masks.style_regions[k] if masks.style_regions else np.ones(style.shape[2:])
                T = self.pooled(mask)
                self.A.append({n: self.guided_gram(S[n], T[n]) for n in self.style_layers})

    def pooled(self, mask):
        """{layer: the mask at that layer's resolution}, pooled with the image's 2x2 windows."""
        t, out = self.tensor(mask)[None, None].to(self.weights["conv1_1"][0].dtype), {}
        for name, kind, *_ in VGG19_LAYERS:
            if kind == "pool":
                t = tF.avg_pool2d(t, 2)
            out[name] = t
        return out

    @staticmethod
    def guided_gram(f, t):
        F = (f * t)[0].flatten(1)
        return F @ F.T / (t * t).sum()

    def __call__(self, x):
        feats, loss = self.features(x), self.loss
        content = 0
        for n in self.content_layers:
            c = self.c[n] if self.c is not None else 1.0
            content = content + 0.5 * (c * (feats[n] - self.P[n]) ** 2).sum()
        style = 0
        for name, w_l in zip(self.style_layers, self.layer_weights):
            N = feats[name].shape[1]
            for T, A, b in zip(self.regions, self.A, self.blend):
                E = ((self.guided_gram(feats[name], T[name]) - A[name]) ** 2).sum() / (4 * N**2)
                style = style + w_l * b * E
        return loss.alpha * content + loss.beta * style
