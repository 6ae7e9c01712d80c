"""Evaluation: zero-shot for CLIP, the head for SL, both as confusion matrices.

CLIP classifies by cosine similarity between an image and each class's text
embedding, averaged over prompt templates (as in CLIP's zero-shot protocol;
the templates are a subset of open_clip's ImageNet templates). SL uses its
head over all classes. Either way the result is a confusion matrix on a
balanced test split (rows: true class, columns: predicted class), from which
studylib.metrics derives everything else.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from studylib.models import normalize_images

PROMPT_TEMPLATES = ("a photo of a {}.", "a bad photo of a {}.", "a photo of the small {}.",
                    "a photo of the large {}.", "itap of a {}.", "a close-up photo of a {}.")


def prompts_for(class_names, templates=PROMPT_TEMPLATES) -> list[str]:
    return [t.format(name) for name in class_names for t in templates]


@torch.no_grad()
def zero_shot_classifier(model, vocab, class_names, templates=PROMPT_TEMPLATES) -> torch.Tensor:
    """(n_classes, d) unit-norm class embeddings, averaged over templates."""
    device = next(model.parameters()).device
    encode = vocab.encode if hasattr(vocab, "encode") else vocab      # a Vocabulary or a tokenizer callable
    tokens = encode(prompts_for(class_names, templates)).to(device)
    feats = model.encode_text(tokens).float().view(len(class_names), len(templates), -1)
    return F.normalize(F.normalize(feats, dim=-1).mean(1), dim=-1)


@torch.no_grad()
def predict(model, images_uint8: torch.Tensor, classifier: torch.Tensor | None = None,
            batch_size: int = 1024) -> np.ndarray:
    """Predicted class per image: zero-shot if ``classifier`` is given, else the model's head."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    for lo in range(0, len(images_uint8), batch_size):
        x = normalize_images(images_uint8[lo:lo + batch_size].to(device))
        if classifier is not None:
            logits = model.encode_image(x).float() @ classifier.t()
        else:
            logits = model(x)
        out.append(logits.argmax(1).cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    if labels.shape != preds.shape:
        raise ValueError(f"{len(labels)} labels but {len(preds)} predictions")
    return np.bincount(labels * n_classes + preds, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
