"""Encoders small enough to train on two CPU cores, and the models built from them.

* :class:`ImageEncoder`: a three-stage CNN (16-32 px) ending in a linear
  projection to the joint embedding; :class:`FeatureEncoder`, its counterpart for the
  ``features`` world (:mod:`studylib.retina`): a small MLP; :func:`image_tower` picks one.
* :class:`TextEncoder`: a short-context transformer over a compact BPE
  vocabulary (:class:`studylib.models.vocabulary.Vocabulary`): the stock
  49,408-row embedding table would cost more optimizer time per step than the
  whole CNN. :class:`BagTextEncoder`: the same vocabulary as a bag of embeddings
  (mean of the caption's token embeddings, then a projection), word order ignored.
* :class:`SentenceProjection`: the text tower over a frozen pretrained language
  model: precomputed all-MiniLM-L6-v2 sentence embeddings, a trained linear projection.
* :class:`ClipModel` (image and text towers, learnable temperature) and
  :class:`SLModel` (image tower and a :class:`studylib.models.heads.Head`).

Every model exposes the penultimate representation the evaluation stores:
``ClipModel.encode_image`` and ``SLModel.features``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studylib.models.heads import LOGIT_SCALE_MAX, Head, new_logit_scale


class ImageEncoder(nn.Module):
    def __init__(self, width: int, embed_dim: int):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1, bias=False),
            nn.BatchNorm2d(w),
            nn.GELU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * w),
            nn.GELU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(4 * w),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.proj = nn.Linear(4 * w, embed_dim)
        self.net.to(memory_format=torch.channels_last)

    def forward(self, x):
        # channels_last: about 15% faster convolutions on CPU (oneDNN) and GPU
        return self.proj(self.net(x.contiguous(memory_format=torch.channels_last)))


class FeatureEncoder(nn.Module):
    """An MLP over a ``features`` image (a retina vector): two hidden layers of ``4 * width`` units."""

    def __init__(self, feature_dim: int, width: int, embed_dim: int):
        super().__init__()
        hidden = 4 * width
        self.net = nn.Sequential(
            nn.Linear(feature_dim, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.LayerNorm(hidden),
            nn.GELU(),
        )
        self.proj = nn.Linear(hidden, embed_dim)

    def forward(self, x):
        return self.proj(self.net(x))


def image_tower(width: int, embed_dim: int, feature_dim: int = 0) -> nn.Module:
    """The CNN for pixel images (``feature_dim`` 0), the MLP for retina features of that length."""
    return FeatureEncoder(feature_dim, width, embed_dim) if feature_dim else ImageEncoder(width, embed_dim)


class BagTextEncoder(nn.Module):
    """A caption as the mean of its token embeddings, normalised and projected: no order, no attention."""

    def __init__(self, vocab_size: int, width: int, embed_dim: int):
        super().__init__()
        self.token = nn.Embedding(vocab_size, width, padding_idx=0)
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)

    def forward(self, tokens):
        keep = (tokens != 0).unsqueeze(-1).to(self.token.weight.dtype)
        x = (self.token(tokens) * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.proj(self.norm(x))


def text_tower(arch: str, vocab_size: int, context_length: int, width: int, layers: int, embed_dim: int):
    """``transformer`` (:class:`TextEncoder`) or ``bag`` (:class:`BagTextEncoder`) over a compact vocabulary."""
    if arch == "bag":
        return BagTextEncoder(vocab_size, width, embed_dim)
    return TextEncoder(vocab_size, context_length, width, layers, embed_dim)


class TextEncoder(nn.Module):
    def __init__(self, vocab_size: int, context_length: int, width: int, layers: int, embed_dim: int):
        super().__init__()
        self.token = nn.Embedding(vocab_size, width, padding_idx=0)
        self.pos = nn.Parameter(torch.randn(context_length, width) * 0.01)
        layer = nn.TransformerEncoderLayer(
            width,
            nhead=max(1, width // 32),
            dim_feedforward=2 * width,
            dropout=0.0,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)

    def forward(self, tokens):
        pad = tokens == 0
        x = self.token(tokens) + self.pos[: tokens.shape[1]]
        x = self.blocks(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        x = (self.norm(x) * keep).sum(1) / keep.sum(1).clamp(min=1)  # mean over real tokens
        return self.proj(x)


class SentenceProjection(nn.Module):
    """A frozen language model's sentence embeddings (the "tokens", (n, in_dim) floats) through a trained
    linear projection: the language model itself never changes, only how its space maps to the images'."""

    def __init__(self, in_dim: int, embed_dim: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, embed_dim, bias=False)

    def forward(self, sentence_embeddings):
        return self.proj(sentence_embeddings.float())


class ClipModel(nn.Module):
    def __init__(
        self,
        width: int,
        embed_dim: int,
        vocab_size: int,
        context_length: int,
        text_width: int,
        text_layers: int,
        text: nn.Module | None = None,
        feature_dim: int = 0,
        text_arch: str = "transformer",
    ):
        super().__init__()
        self.visual = image_tower(width, embed_dim, feature_dim)
        self.text = (
            text
            if text is not None
            else text_tower(text_arch, vocab_size, context_length, text_width, text_layers, embed_dim)
        )
        self.logit_scale = new_logit_scale()

    def encode_image(self, images):
        return F.normalize(self.visual(images), dim=-1)

    def encode_text(self, tokens):
        return F.normalize(self.text(tokens), dim=-1)

    def forward(self, images, tokens):
        """(normalised image features, normalised text features, logit scale) as open_clip returns them."""
        return self.encode_image(images), self.encode_text(tokens), self.logit_scale.exp()


class SLModel(nn.Module):
    def __init__(
        self,
        width: int,
        embed_dim: int,
        n_classes: int,
        head: str = "linear",
        prototypes: torch.Tensor | None = None,
        feature_dim: int = 0,
    ):
        super().__init__()
        self.visual = image_tower(width, embed_dim, feature_dim)
        self.head = Head(head, embed_dim, n_classes, prototypes)

    def features(self, images):
        """The penultimate representation: the image tower's embedding, before the head."""
        return self.visual(images)

    def forward(self, images, classes=None):
        return self.head(self.visual(images), classes)


def clamp_logit_scales(model_or_params) -> None:
    """Keep every learnable temperature within open_clip's [0, ln 100].

    Takes a model (its ``*logit_scale`` parameters) or a list of those parameters
    (the trainer collects them once instead of walking the model every step).
    """
    params = model_or_params
    if isinstance(model_or_params, nn.Module):
        params = [p for n, p in model_or_params.named_parameters() if n.endswith("logit_scale")]
    with torch.no_grad():
        for p in params:
            p.clamp_(0, LOGIT_SCALE_MAX)


def normalize_images(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (n, 3, h, w) -> float in [-1, 1]."""
    return images_uint8.float().mul_(1 / 127.5).sub_(1)
