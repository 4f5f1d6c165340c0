"""The paper's losses (Gatys, Ecker & Bethge 2015, Eqs. 1-7), each returning (loss, gradient).

A layer's response F_l has N_l feature maps of M_l = height * width values: F_l is (N_l, M_l).
The gradients here are with respect to the features; `VGG19.backward` carries them to the image
(that is where the ReLU gate of Eqs. 2 and 6, "where F_ij > 0, else 0", is applied).
"""

from .backend import get_array_module
from .vgg import check_layer_names

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_ALPHA = 1.0
DEFAULT_BETA = 1e3


def content_loss(F, P):
    """Eq. 1, L_content = 1/2 sum_ij (F_ij - P_ij)^2, and Eq. 2, dL/dF = F - P."""
    diff = F - P
    return 0.5 * (diff * diff).sum(), diff


def gram_matrix(F):
    """Eq. 3, G_ij = sum_k F_ik F_jk, for F of shape (N_l, M_l)."""
    return F @ F.T


def style_layer_loss(F, A):
    """Eq. 4, E_l = 1/(4 N^2 M^2) sum_ij (G_ij - A_ij)^2, and Eq. 6, dE/dF = (G - A) F / (N^2 M^2).

    Eq. 6 writes (F^T (G - A))^T; A is a Gram matrix, so G - A is symmetric and that is (G - A) F.
    """
    N, M = F.shape
    D = gram_matrix(F) - A
    return (D * D).sum() / (4.0 * N**2 * M**2), (D @ F) / (N**2 * M**2)


def style_loss(features, targets, layer_weights):
    """Eq. 5, L_style = sum_l w_l E_l, and its gradient for each layer's features."""
    total, grads = 0.0, {}
    for name, w_l in layer_weights.items():
        E_l, dF = style_layer_loss(features[name], targets[name])
        total = total + w_l * E_l
        grads[name] = w_l * dF
    return total, grads


def tv_loss(x):
    """Total variation (not in the paper; off by default): sum of squared neighbour differences."""
    xp = get_array_module(x)
    dh = x[:, :, 1:, :] - x[:, :, :-1, :]
    dw = x[:, :, :, 1:] - x[:, :, :, :-1]
    grad = xp.zeros_like(x)
    grad[:, :, 1:, :] += 2 * dh
    grad[:, :, :-1, :] -= 2 * dh
    grad[:, :, :, 1:] += 2 * dw
    grad[:, :, :, :-1] -= 2 * dw
    return (dh * dh).sum() + (dw * dw).sum(), grad


def _as_matrix(feature):
    """(1, N_l, H, W) -> F_l of shape (N_l, M_l)."""
    return feature.reshape(feature.shape[1], -1)


class Objective:
    """Eq. 7, L_total = alpha L_content + beta L_style (+ tv_weight * TV), and its image gradient.

    content: a preprocessed (1, 3, H, W) image, or None for texture synthesis (style only).
    styles: preprocessed images; several are blended by `style_blend_weights` (default: equal).
    The style targets are Gram matrices per pixel, A_l = sum_s b_s G_l(s) / M_l(s), scaled to the
    image's M_l at each evaluation: when style and image have the same size this is exactly the
    paper's A_l, and a style image of another size still gives the same statistics.
    """

    def __init__(
        self,
        net,
        content,
        styles,
        alpha=DEFAULT_ALPHA,
        beta=DEFAULT_BETA,
        content_layers=CONTENT_LAYERS,
        style_layers=STYLE_LAYERS,
        style_layer_weights=None,
        style_blend_weights=None,
        tv_weight=0.0,
    ):
        content_layers, style_layers = tuple(content_layers), tuple(style_layers)
        check_layer_names(content_layers + style_layers)
        styles = list(styles)
        if content is None and not styles:
            raise ValueError("nothing to optimise: give a content image, a style image, or both")
        for name, value in [("alpha", alpha), ("beta", beta), ("tv_weight", tv_weight)]:
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        style_layer_weights = _weights(style_layer_weights, len(style_layers), "style layer")
        style_blend_weights = _weights(style_blend_weights, len(styles), "style blend")
        blend_total = sum(style_blend_weights) or 1.0

        self.net, self.alpha, self.beta, self.tv_weight = net, alpha, beta, tv_weight
        self.content_layers = content_layers if content is not None else ()
        self.layer_weights = dict(zip(style_layers, style_layer_weights)) if styles else {}
        self.P = {}
        if content is not None:
            self.P = net.forward(content, self.content_layers)
        self.A_per_pixel = {}
        for style, b in zip(styles, style_blend_weights):
            feats = net.forward(style, style_layers)
            for name in style_layers:
                F = _as_matrix(feats[name])
                G = gram_matrix(F) * (b / blend_total / F.shape[1])
                self.A_per_pixel[name] = self.A_per_pixel.get(name, 0) + G
        self.terms = {}

    def loss_and_grad(self, x):
        """(L_total at x, dL_total/dx with x's shape) for a preprocessed image x (1, 3, H, W)."""
        feats = self.net.forward(x, self.content_layers + tuple(self.layer_weights))
        grads = {}
        L_content = 0.0
        for name in self.content_layers:
            loss, dF = content_loss(feats[name], self.P[name])
            L_content = L_content + loss
            grads[name] = self.alpha * dF
        F = {name: _as_matrix(feats[name]) for name in self.layer_weights}
        A = {name: self.A_per_pixel[name] * F[name].shape[1] for name in self.layer_weights}
        L_style, dF_style = style_loss(F, A, self.layer_weights)
        for name, dF in dF_style.items():
            g = self.beta * dF.reshape(feats[name].shape)
            grads[name] = grads[name] + g if name in grads else g
        dx = self.net.backward(grads)
        L_tv = 0.0
        if self.tv_weight:
            L_tv, d_tv = tv_loss(x)
            dx = dx + self.tv_weight * d_tv
        # Eq. 7
        total = self.alpha * L_content + self.beta * L_style + self.tv_weight * L_tv
        self.terms = {
            "total": float(total),
            "content": float(L_content),
            "style": float(L_style),
            "tv": float(L_tv),
        }
        return self.terms["total"], dx


def _weights(weights, count, what):
    if weights is None:
        return [1.0 / count] * count if count else []
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(f"{len(weights)} {what} weight(s) given for {count} {what}(s)")
    if any(not w >= 0 for w in weights):
        raise ValueError(f"{what} weights must be >= 0, got {weights}")
    return weights
