"""The paper's losses (Gatys, Ecker & Bethge 2015, Eqs. 1-7), each returning (loss, gradient).

A layer's response F_l has N_l feature maps of M_l = height * width values: F_l is (N_l, M_l).
Gradients here are with respect to the features; `VGG19.backward` carries them to the image
(that is where the ReLU gate of Eqs. 2 and 6, "where F_ij > 0, else 0", is applied).
"""

from dataclasses import dataclass

from .backend import get_array_module
from .vgg import VGG19_LAYERS

CONTENT_LAYERS = ("relu4_2",)  # the paper's conv4_2, the response after its ReLU
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
BETA_AT_256 = 1e4  # 10x the first default, 1e3: bench/QUALITY.md; see default_beta
# w_l of Eq. 5 by name (named_layer_weights); the default is bench/QUALITY.md's palette study's.
LAYER_WEIGHTINGS = ("equal", "classic")
DEFAULT_LAYER_WEIGHTS = "equal"


@dataclass(frozen=True)
class LossOptions:
    """The choices of Eq. 7: its weights alpha and beta, which layers count and how much.

    beta None: strength x default_beta(size) (beta_at). style_layer_weights: w_l, one per style
    layer, or a name from LAYER_WEIGHTINGS ("equal": the paper's 1/L; "classic": see
    named_layer_weights).
    style_blend_weights None: each style image counts equally.
    tv_weight: total-variation smoothing, not in the paper (0: off).
    """

    alpha: float = 1.0
    beta: float | None = None
    content_layers: tuple = CONTENT_LAYERS
    style_layers: tuple = STYLE_LAYERS
    style_layer_weights: tuple | str = DEFAULT_LAYER_WEIGHTS
    style_blend_weights: tuple | None = None
    tv_weight: float = 0.0
    strength: float = 1.0

    def beta_at(self, size):
        """beta for an output whose longer side is `size`: the one given, or the default's
        multiple `strength` (more or less style at any size, with the balance kept)."""
        return self.strength * default_beta(size) if self.beta is None else self.beta

    def layer_weights(self):
        """{style layer: w_l}."""
        w = self.style_layer_weights
        w = named_layer_weights(w, self.style_layers) if isinstance(w, str) else w
        return dict(zip(self.style_layers, w))


def named_layer_weights(name, layers):
    """w_l for each of `layers` by name: "equal", the paper's 1/L; or "classic", w_l =
    0.512 (64 / N_l)^2 for a layer of N_l feature maps (relu1_1..relu5_1: 64 : 16 : 4 : 1 : 1).

    "classic" is jcjohnson/neural-style's balance in Eq. 7's units at beta = BETA_AT_256: its
    Gram matrix is divided by N_l M_l and its loss a mean over the N_l^2 entries (4 E_l / N_l^2),
    its content loss a mean over N M (2 L_content / (N M)); at its default weights (content 5,
    style 100) that is beta w_l = 40 N M / N_l^2 at relu4_2's N = 512 and M = 32^2 (256 px):
    5120 (64 / N_l)^2, which grows with the image's area as default_beta does.
    """
    if name == "equal":
        return tuple(1.0 / len(layers) for _ in layers)
    maps = {layer: c_out for layer, _, _, c_out in VGG19_LAYERS}
    return tuple(0.512 * (64 / maps[layer]) ** 2 for layer in layers)


def default_beta(size):
    """beta for an output whose longer side is `size`: BETA_AT_256 * (size / 256)^2.

    The content loss (Eq. 1) is a sum over pixels while E_l (Eq. 4) is normalised, so beta must
    grow with the image's area to keep the same balance of content and style.
    """
    return BETA_AT_256 * (size / 256) ** 2


def content_loss(F, P):
    """Eq. 1, L_content = 1/2 sum_ij (F_ij - P_ij)^2, and Eq. 2, dL/dF = F - P."""
    diff = F - P
    return 0.5 * (diff * diff).sum(), diff


def gram_matrix(F):
    """Eq. 3, G_ij = sum_k F_ik F_jk, for F of shape (N_l, M_l)."""
    return F @ F.T


def style_target(style_features, blend_weights):
    """A_l per pixel: sum_s b_s G_l(s) / M_l(s), with the blend weights b_s normalised to sum 1.

    The one departure from the paper's letter. Its A_l (Eq. 4) is the style image's Gram
    matrix, which grows with the style image's area M_l(s). Divided by M_l(s) here, and
    multiplied by the output's M_l when Eq. 4 is evaluated, A_l is the paper's exactly when the
    two images have the same size, and a style image of another size (--style-scale, blends of
    styles of different sizes) still gives the same statistics instead of a scaled copy.
    """
    total = sum(blend_weights) or 1.0
    return sum(
        b / total * gram_matrix(F) / F.shape[1] for F, b in zip(style_features, blend_weights)
    )


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


# -- Spatial control (Gatys et al. 2017; masks.py brings a mask T to each layer's resolution) --


def weighted_content_loss(F, P, c):
    """L_content = 1/2 sum_ij c_j (F_ij - P_ij)^2 with a weight c_j >= 0 per position, and
    dL/dF = c o (F - P). With c = 1 everywhere it is Eq. 1."""
    diff = c * (F - P)
    return 0.5 * (diff * (F - P)).sum(), diff


def guided_gram_matrix(F, T):
    """G^r = (T o F)(T o F)^T / sum_k T_k^2, the guided Gram matrix of the region T, per pixel.

    T o F multiplies every feature map by the mask. Divided by the mask's weight sum_k T_k^2
    (a binary mask's area), G^r is the mean of F_ik F_jk over the region: on the scale of
    G / M_l for the whole image whatever the region's size, so a small region's statistics
    count as much as a large one's. With T = 1 it is gram_matrix(F) / M_l.
    """
    FT = F * T
    return gram_matrix(FT) / (T * T).sum()


def guided_style_layer_loss(F, T, A):
    """E_l^r = 1/(4 N^2) sum_ij (G^r_ij - A_ij)^2, A per pixel, and
    dE/dF = T o ((G^r - A)(T o F)) / (N^2 sum_k T_k^2). With T = 1: Eqs. 4 and 6 exactly."""
    xp = get_array_module(F)
    N, weight = F.shape[0], (T * T).sum()
    if weight == 0:  # the region vanished at this depth (a sliver cut by a pooling)
        return 0.0, xp.zeros_like(F)
    FT = F * T
    D = gram_matrix(FT) / weight - A
    return (D * D).sum() / (4.0 * N**2), T * (D @ FT) / (N**2 * weight)


def guided_style_loss(features, masks, targets, layer_weights, region_weights):
    """L_style = sum_l w_l sum_r b_r E_l^r over the regions r, and its gradient for each layer.

    masks[r][l] is region r's mask at layer l, targets[r][l] its style's A per pixel at l.
    """
    total, grads = 0.0, {}
    for name, w_l in layer_weights.items():
        grads[name] = 0.0
        for T, A, b_r in zip(masks, targets, region_weights):
            E, dF = guided_style_layer_loss(features[name], T[name], A[name])
            total = total + w_l * b_r * E
            grads[name] = grads[name] + w_l * b_r * dF
    return total, grads


def total_loss(content, style, alpha, beta):
    """Eq. 7, L_total = alpha L_content + beta L_style, and its gradient for each layer.

    content, style: (loss, {layer: gradient}); a layer in both gets the sum.
    """
    (L_content, d_content), (L_style, d_style) = content, style
    grads = {name: alpha * g for name, g in d_content.items()}
    for name, g in d_style.items():
        grads[name] = grads[name] + beta * g if name in grads else beta * g
    return alpha * L_content + beta * L_style, grads


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


# -- Video (Ruder, Dosovitskiy & Brox 2016; minimal_nst/video brings w and c) --


def temporal_loss(x, w, c):
    """L_temporal = 1/D sum_k c_k (x_k - w_k)^2, D = 3 H W (Ruder et al. 2016, the short-term
    loss): the frame x against w, the stylised frame before it carried along the optical flow,
    pixel by pixel, weighted by c (H, W) in [0, 1], the same in each channel (not the whole
    loss scaled by c's sum); and dL/dx = 2/D c o (x - w)."""
    diff = x - w  # (1, 3, H, W)
    weighted = c * diff
    return (weighted * diff).sum() / diff.size, 2.0 * weighted / diff.size


def long_term_weights(cs):
    """c_long^(i-j,i) = max(c^(i-j,i) - sum_{k in J, k < j} c^(i-k,i), 0) (Ruder et al. 2016,
    the long-term loss): cs, the c of each earlier frame in J, nearest first; each counts only
    where no nearer frame is trusted, so a pixel is held to the nearest frame that saw it."""
    out, nearer = [], 0.0
    for c in cs:
        out.append((c - nearer).clip(0, None))
        nearer = nearer + c
    return out
