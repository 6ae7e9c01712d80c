"""Training objectives: CLIP's contrastive loss and supervised cross-entropy.

* CLIP uses open_clip's own :class:`open_clip.loss.ClipLoss` (symmetric
  InfoNCE over in-batch pairs), not a re-implementation.
* SL uses cross-entropy over all classes, or over a *subsampled vocabulary*
  (Wen et al. 2024, Sec. 4): per step, the classes present in the batch plus
  extra classes drawn without replacement, uniformly, proportional to training
  frequency, or to its square root, until ``vocab_k`` classes are scored. This
  mimics what CLIP's batch does implicitly: each step only contrasts the
  concepts that happen to be in the batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from studylib.config import TrainConfig


def make_clip_loss(rank: int = 0, world_size: int = 1):
    """open_clip's ClipLoss; with several processes it gathers global negatives.

    (open_clip is imported here, not at module level: importing it costs seconds,
    and a notebook reading cached runs never needs it.)
    """
    from open_clip.loss import ClipLoss

    if world_size > 1:
        return ClipLoss(local_loss=True, gather_with_grad=True, cache_labels=True, rank=rank,
                        world_size=world_size)
    return ClipLoss(cache_labels=True)


def sample_vocabulary(labels: torch.Tensor, n_classes: int, k: int, weighting: str,
                      class_counts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Sorted class ids scored this step: every in-batch class plus extras up to ``k``.

    Extras are drawn without replacement from the classes *not* in the batch,
    with weights 1 (``uniform``), count (``freq``) or sqrt(count) (``sqrt``).
    If the batch already holds ``k`` or more classes, only those are scored;
    ``k`` at or above ``n_classes`` scores every class.
    """
    present = torch.unique(labels)
    if k <= 0 or k >= n_classes:
        return torch.arange(n_classes, device=labels.device)
    n_extra = k - len(present)
    if n_extra <= 0:
        return present
    counts = class_counts.double().cpu()
    weights = {"uniform": torch.ones_like(counts), "freq": counts, "sqrt": counts.sqrt()}.get(weighting)
    if weights is None:
        raise ValueError(f"unknown vocab_weighting {weighting!r}: use uniform, freq or sqrt")
    weights = weights.clone()
    weights[present.cpu()] = 0
    n_extra = min(n_extra, int((weights > 0).sum()))
    if n_extra == 0:
        return present
    extra = torch.multinomial(weights, n_extra, replacement=False, generator=generator)
    return torch.sort(torch.cat([present.cpu(), extra])).values.to(labels.device)


def sl_loss(model, images, labels, cfg: TrainConfig, class_counts, generator, global_labels=None):
    """Cross-entropy, over a sampled vocabulary when ``cfg.vocab_k`` > 0.

    ``global_labels``: the labels of the whole (multi-process) batch, so that
    every process scores the same vocabulary; default ``labels``.
    Returns (loss, number of classes scored).
    """
    n_classes = len(class_counts)
    if cfg.vocab_k <= 0 or cfg.vocab_k >= n_classes:
        return F.cross_entropy(model(images), labels), n_classes
    batch_labels = labels if global_labels is None else global_labels
    vocab = sample_vocabulary(batch_labels, n_classes, cfg.vocab_k, cfg.vocab_weighting, class_counts, generator)
    logits = model(images, classes=vocab)
    return F.cross_entropy(logits, torch.searchsorted(vocab, labels)), len(vocab)


def clip_loss(model, images, tokens, loss_fn):
    """open_clip's ClipLoss on normalised image and text features.

    Calls ``model(images, tokens)`` (not encode_* directly) so that DDP's
    gradient synchronisation sees the forward pass.
    """
    image_features, text_features, logit_scale = model(images, tokens)
    return loss_fn(image_features, text_features, logit_scale)
