"""The function L-BFGS minimises: Eq. 7 at an image, and its gradient, through VGG-19."""

from typing import Any, NamedTuple

from .backend import get_array_module
from .losses import (
    LossOptions,
    content_loss,
    guided_gram_matrix,
    guided_style_loss,
    style_loss,
    style_target,
    temporal_loss,
    total_loss,
    tv_loss,
    weighted_content_loss,
)
from .masks import mask_at_layers


class Temporal(NamedTuple):
    """A temporal term of a video frame (video/, Ruder et al. 2016): weight L_temporal(x, w, c),
    w an earlier stylised frame (the one before, for the short-term loss) warped to this one,
    preprocessed like x; c (H, W) in [0, 1]."""

    w: Any
    c: Any
    weight: float


def as_matrix(feature):
    """(1, N_l, H, W) -> F_l of shape (N_l, M_l)."""
    return feature.reshape(feature.shape[1], -1)


class Objective:
    """L_total(x) = alpha L_content + beta L_style (+ tv_weight TV) and dL_total/dx.

    content: a preprocessed (1, 3, H, W) image, or None for texture synthesis (style only).
    styles: preprocessed images, blended by loss.style_blend_weights.
    The targets P_l and A_l are computed once, here; `terms` holds the last evaluation's parts.
    loss.beta None: loss.beta_at the content image's longer side (of the style's, if none).
    masks: a masks.Masks at these images' sizes, or None: each style in its own region, with
    guided Gram matrices; the blend weights then scale each region's term (default 1 each).
    temporal: a Temporal, for a video's frame, or several (the long-term loss: one for each
    earlier frame it is held to, their c from losses.long_term_weights), or None.
    """

    def __init__(self, net, content, styles, loss=None, masks=None, temporal=None):
        self.net, self.loss = net, loss or LossOptions()
        self.temporal = (temporal,) if isinstance(temporal, Temporal) else tuple(temporal or ())
        loss = self.loss
        reference = content if content is not None else styles[0]
        self.beta = loss.beta_at(max(reference.shape[2:]))
        self.content_layers = loss.content_layers if content is not None else ()
        self.layer_weights = loss.layer_weights() if styles else {}
        self.P = net.forward(content, self.content_layers)[0] if content is not None else {}
        features = [net.forward(s, loss.style_layers)[0] for s in styles]
        blend = loss.style_blend_weights or [1.0] * len(styles)
        self.A_per_pixel = {
            name: style_target([as_matrix(f[name]) for f in features], blend)
            for name in self.layer_weights
        }
        self.regions, self.content_weight = None, {}
        if masks is not None:
            self._guide(masks, features, reference)
        self.terms = {}

    def _guide(self, masks, features, reference):
        """Each region's mask at every style layer and its style's A per pixel there (over the
        style image's own mask when it has one); the content weight at the content layers."""
        xp, dtype, layers = get_array_module(reference), reference.dtype, list(self.layer_weights)
        if masks.content_weight is not None:
            weight = masks.content_weight
            self.content_weight = mask_at_layers(weight, self.content_layers, xp, dtype)
        if not masks.regions:
            return
        self.regions = [
            mask_at_layers(m, layers, xp, dtype) for m in masks.regions[: len(features)]
        ]
        self.region_weights = self.loss.style_blend_weights or [1.0] * len(features)
        style_masks = masks.style_regions or [None] * len(features)
        self.A_regions = []
        for f, mask in zip(features, style_masks):
            F = {name: as_matrix(f[name]) for name in layers}
            S = mask_at_layers(mask, layers, xp, dtype) if mask is not None else None
            T = {name: S[name] if S else xp.ones(F[name].shape[1], dtype) for name in layers}
            self.A_regions.append({name: guided_gram_matrix(F[name], T[name]) for name in layers})

    def loss_and_grad(self, x):
        """(L_total, dL_total/dx with x's shape) at a preprocessed image x (1, 3, H, W)."""
        feats, tape = self.net.forward(x, [*self.content_layers, *self.layer_weights])
        content = self._content(feats)
        style = self._style(feats)
        L_total, grads = total_loss(content, style, self.loss.alpha, self.beta)
        dx = self.net.backward(grads, tape)
        L_tv = L_temporal = 0.0
        if self.loss.tv_weight:
            L_tv, d_tv = tv_loss(x)
            L_total, dx = L_total + self.loss.tv_weight * L_tv, dx + self.loss.tv_weight * d_tv
        for w, c, weight in self.temporal:  # L_longterm: the sum over the earlier frames
            L_j, d_j = temporal_loss(x, w, c)
            L_temporal, L_total, dx = L_temporal + L_j, L_total + weight * L_j, dx + weight * d_j
        self.terms = {
            "total": float(L_total),
            "content": float(content[0]),
            "style": float(style[0]),
            "tv": float(L_tv),
        }
        if self.temporal:
            self.terms["temporal"] = float(L_temporal)
        return self.terms["total"], dx

    def _content(self, feats):
        """L_content summed over the content layers (the paper uses one), and its gradients."""
        L, grads = 0.0, {}
        for name in self.content_layers:
            if name in self.content_weight:
                c = self.content_weight[name].reshape(feats[name].shape[2:])  # (H_l, W_l)
                L_l, grads[name] = weighted_content_loss(feats[name], self.P[name], c)
            else:
                L_l, grads[name] = content_loss(feats[name], self.P[name])
            L = L + L_l
        return L, grads

    def _style(self, feats):
        """L_style (Eq. 5) against the targets A_l = A_l per pixel * M_l, and its gradients."""
        F = {name: as_matrix(feats[name]) for name in self.layer_weights}
        if self.regions is not None:  # spatial control: the style loss region by region
            args = (self.regions, self.A_regions, self.layer_weights, self.region_weights)
            L, dF = guided_style_loss(F, *args)
            return L, {name: g.reshape(feats[name].shape) for name, g in dF.items()}
        A = {name: self.A_per_pixel[name] * F[name].shape[1] for name in self.layer_weights}
        L, dF = style_loss(F, A, self.layer_weights)
        return L, {name: g.reshape(feats[name].shape) for name, g in dF.items()}
