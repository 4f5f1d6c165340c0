"""The PyTorch oracle: VGG-19 and the paper's Eq. 7, written independently in torch."""

import numpy as np
import torch
import torch.nn.functional as tF

from minimal_nst import VGG19_LAYERS


def torch_vgg_features(weights, x, pooling="avg", until="pool5"):
    """Every layer's output of VGG-19, up to `until`, in torch.nn.functional (same OIHW weights)."""
    feats = {}
    for name, kind, *_ in VGG19_LAYERS:
        if until in feats:
            break
        if kind == "conv":
            w, b = (torch.tensor(np.asarray(p)) for p in weights[name])
            x = tF.conv2d(x, w, b, padding=1)
        elif kind == "relu":
            x = tF.relu(x)
        else:
            x = (tF.avg_pool2d if pooling == "avg" else tF.max_pool2d)(x, 2)
        feats[name] = x
    return feats


def torch_total_loss(
    weights,
    x,
    content,
    styles,
    alpha,
    beta,
    content_layers,
    style_layers,
    layer_weights,
    blend,
    tv_weight,
):
    """Eq. 7 by autograd: alpha * sum of 1/2||F - P||^2 + beta * sum_l w_l E_l + tv."""
    feats = torch_vgg_features(weights, x)
    P = torch_vgg_features(weights, content)
    L_content = sum(0.5 * ((feats[n] - P[n]) ** 2).sum() for n in content_layers)
    L_style = 0
    for name, w_l in zip(style_layers, layer_weights):
        F = feats[name][0].flatten(1)
        N, M = F.shape
        A = 0
        for s, b in zip(styles, blend):
            Fs = torch_vgg_features(weights, s)[name][0].flatten(1)
            A = A + b / sum(blend) * (Fs @ Fs.T) * (M / Fs.shape[1])
        L_style = L_style + w_l * ((F @ F.T - A) ** 2).sum() / (4 * N**2 * M**2)
    tv = ((x[:, :, 1:] - x[:, :, :-1]) ** 2).sum() + ((x[..., 1:] - x[..., :-1]) ** 2).sum()
    return alpha * L_content + beta * L_style + tv_weight * tv
