"""Classification heads for supervised learning, and fixed class prototypes.

* ``linear``: weights and bias, learned;
* ``cosine``: normalised features and weights, learned, with a learnable temperature;
* ``prototype``: fixed, non-learnable class prototypes (only the temperature
  learns). Prototypes come from a CLIP text tower (a run dependency, see
  studylib.objectives.sl) or, as a labelled *oracle* control, from the concepts'
  MiniLM vectors through a fixed random projection (:func:`semantic_prototypes`):
  those vectors also generate the world's pixels, so they know more than any
  model could learn.

:meth:`Head.scores` gives the pieces of the head's logits (weights, bias,
scale, whether features are normalised) so the evaluation can store them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studylib import seeds

LOGIT_SCALE_INIT = math.log(1 / 0.07)
LOGIT_SCALE_MAX = math.log(100)  # open_clip clamps the learnable scale here


def new_logit_scale() -> nn.Parameter:
    """A learnable log-temperature at CLIP's initial value, 1/0.07."""
    return nn.Parameter(torch.tensor(LOGIT_SCALE_INIT))


class Head(nn.Module):
    """Class scores from features; ``classes`` restricts the computation to a vocabulary."""

    def __init__(self, kind: str, embed_dim: int, n_classes: int, prototypes: torch.Tensor | None = None):
        super().__init__()
        self.kind = kind
        if kind == "linear":
            self.weight = nn.Parameter(torch.randn(n_classes, embed_dim) / math.sqrt(embed_dim))
            self.bias = nn.Parameter(torch.zeros(n_classes))
        elif kind == "cosine":
            self.weight = nn.Parameter(torch.randn(n_classes, embed_dim) / math.sqrt(embed_dim))
            self.logit_scale = new_logit_scale()
        elif kind == "prototype":
            if prototypes is None or prototypes.shape != (n_classes, embed_dim):
                raise ValueError(f"prototype head needs ({n_classes}, {embed_dim}) prototypes")
            self.register_buffer("weight", F.normalize(prototypes.float(), dim=-1))
            self.logit_scale = new_logit_scale()
        else:
            raise ValueError(f"unknown head {kind!r}: use linear, cosine or prototype")

    def scores(self):
        """``(weights, bias or None, scale, normalise)`` with logits = scale * f @ weights.T + bias,
        f the features, L2-normalised when ``normalise``: what the evaluation stores and applies."""
        if self.kind == "linear":
            return self.weight.detach(), self.bias.detach(), 1.0, False
        return F.normalize(self.weight.detach(), dim=-1), None, float(self.logit_scale.detach().exp()), True

    def forward(self, feats, classes: torch.Tensor | None = None):
        w = self.weight if classes is None else self.weight[classes]
        if self.kind == "linear":
            b = self.bias if classes is None else self.bias[classes]
            return feats @ w.t() + b
        return self.logit_scale.exp() * F.normalize(feats, dim=-1) @ F.normalize(w, dim=-1).t()


def semantic_prototypes(semantic: np.ndarray, embed_dim: int, seed: int) -> torch.Tensor:
    """Fixed class prototypes: MiniLM vectors (centred) through a seeded random projection."""
    sem = semantic - semantic.mean(0)
    gen = seeds.rng(seed, "prototypes")
    proj = np.linalg.qr(gen.standard_normal((sem.shape[1], embed_dim)))[0]
    return torch.from_numpy((sem @ proj).astype(np.float32))
