"""Evaluation: one forward pass for every objective, stored for re-analysis.

An objective says how to get a model's penultimate features
(``objective.features``) and which :class:`Classifier` turns them into class
scores (``objective.classifier``): CLIP's class-prompt text embeddings
(zero-shot, prompts averaged over templates as in CLIP's protocol; the
templates are a subset of open_clip's ImageNet templates), an SL head's
weights, or a probe fitted on frozen features. Here everything else is the
same for all of them: :func:`forward` returns logits and labels for a test
split and the features of a fixed sample of it; :func:`compact_logits`
stores logits in fp16 without ever changing a prediction.

    clf = objective.classifier(model)
    out = forward(model, objective.features, clf, batches_of(images_uint8), sample=feature_sample(labels))
    confusion_matrix(out.labels, out.preds, n_classes)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from studylib import seeds
from studylib.models.tiny import normalize_images

PROMPT_TEMPLATES = (
    "a photo of a {}.",
    "a bad photo of a {}.",
    "a photo of the small {}.",
    "a photo of the large {}.",
    "itap of a {}.",
    "a close-up photo of a {}.",
)
FEATURE_SAMPLE_SIZE = 4096  # at most this many test images per domain keep their features


@dataclass
class Classifier:
    """Class scores from features: ``scale * f @ weights.T + bias`` (f L2-normalised when ``normalize``)."""

    weights: torch.Tensor  # (n_classes, d): text embeddings, head weights or prototypes
    bias: torch.Tensor | None = None  # (n_classes,)
    scale: float = 1.0
    normalize: bool = False

    def __call__(self, feats: torch.Tensor) -> torch.Tensor:
        feats = feats.float()
        if self.normalize:
            feats = F.normalize(feats, dim=-1)
        w = self.weights.to(feats.device, torch.float32)
        logits = self.scale * feats @ w.t()
        return logits if self.bias is None else logits + self.bias.to(feats.device, torch.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"classifier_weights": self.weights.detach().float().cpu().numpy()}
        if self.bias is not None:
            out["classifier_bias"] = self.bias.detach().float().cpu().numpy()
        return out


def prompts_for(class_names, templates=PROMPT_TEMPLATES) -> list[str]:
    return [t.format(name) for name in class_names for t in templates]


@torch.no_grad()
def text_embeddings(model, tokenizer, class_names, templates=PROMPT_TEMPLATES) -> torch.Tensor:
    """(n_classes, d) unit-norm class-prompt embeddings of a CLIP text tower, averaged over templates."""
    device = next(model.parameters()).device
    tokens = tokenizer(prompts_for(class_names, templates)).to(device)
    feats = model.encode_text(tokens).float().view(len(class_names), len(templates), -1)
    return F.normalize(F.normalize(feats, dim=-1).mean(1), dim=-1)


def feature_sample(
    labels: np.ndarray, n_classes: int, size: int = FEATURE_SAMPLE_SIZE, seed: int = 0
) -> np.ndarray:
    """Sorted test indices whose features are stored: the same for every run on the same test set.

    Every class with test images is covered, with ``max(1, size // n_classes)`` images each (or all it has).
    """
    labels = np.asarray(labels)
    key = (
        hashlib.sha256(labels.tobytes()).hexdigest(),
        str(labels.dtype),
        labels.shape,
        n_classes,
        size,
        seed,
    )
    if key not in _SAMPLES:  # every run on a test set draws the same sample: once per process
        _SAMPLES[key] = _feature_sample(labels, n_classes, size, seed)
    return _SAMPLES[key].copy()


_SAMPLES: dict = {}


def _feature_sample(labels: np.ndarray, n_classes: int, size: int, seed: int) -> np.ndarray:
    per_class = max(1, size // max(1, n_classes))
    rng = seeds.rng(seed, "feature_sample")
    picked = []
    for c in range(n_classes):
        idx = np.flatnonzero(labels == c)
        if len(idx):
            picked.append(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


# Test images per forward pass. 256 rather than 1024: the CNN's activations of 1024 images outgrow the CPU's
# caches, and evaluating a pixel world took up to 1.7x as long (bench/evaluation.py, one thread); the logits are
# bitwise the same at any batch size (tests/test_train.py), so no number depends on it.
EVAL_BATCH = 256


def uint8_batches(images_uint8: torch.Tensor, labels, device, batch_size: int = EVAL_BATCH):
    """(normalised float images, labels) batches of an in-memory uint8 test split."""
    labels = torch.as_tensor(np.asarray(labels))
    for lo in range(0, len(images_uint8), batch_size):
        yield normalize_images(images_uint8[lo : lo + batch_size].to(device)), labels[lo : lo + batch_size]


@torch.no_grad()
def class_means(features_fn, batches, n_classes: int, dim: int) -> torch.Tensor:
    """(n_classes, dim) L2-normalised means of the L2-normalised features of each class: a nearest-class-mean
    probe (a one-centroid kNN, cosine-scored). ``batches`` yields dicts with ``images`` and ``labels`` (None is
    skipped); labels at or above ``n_classes`` (open-world concepts) are left out. A class without images keeps
    a zero row, so it is never predicted."""
    sums = torch.zeros(n_classes, dim)
    counts = torch.zeros(n_classes)
    for batch in batches:
        if batch is None:
            continue
        keep = batch["labels"] < n_classes
        f = F.normalize(features_fn(batch["images"][keep]).float(), dim=-1).cpu()
        lab = batch["labels"][keep].cpu()
        sums.index_add_(0, lab, f)
        counts.index_add_(0, lab, torch.ones(len(lab)))
    return F.normalize(sums / counts.clamp(min=1)[:, None], dim=-1)


@dataclass
class Outputs:
    logits: np.ndarray  # (n, n_classes) float16, compact (:func:`compact_logits`)
    preds: np.ndarray  # (n,) int64: each row's argmax
    labels: np.ndarray  # (n,) int64
    features: np.ndarray  # (len(sample), d) float32
    sample: np.ndarray  # indices into the split


@torch.no_grad()
def forward(
    model,
    features_fn,
    classifier: Classifier,
    batches,
    sample: np.ndarray | None = None,
    project=None,
    per_class: int = 0,
) -> Outputs:
    """Compact logits (:func:`compact_logits`) and predictions of every image of ``batches``, and the features of
    the images at ``sample``. Each batch is compacted as it comes, while it is in the CPU's cache: the same bits
    as compacting the whole split at the end, in a fraction of the time (tests/test_train.py).

    ``sample``: sorted positions in the stream of images. Without one,
    ``per_class`` > 0 keeps the first ``per_class`` images of each class as they
    come (for real test sets, whose unreadable images are skipped, so positions
    are only known as the images arrive). ``project``: optional map of logits
    onto an evaluation set's classes (class masks).
    """
    model.eval()
    online = sample is None and per_class > 0
    sample = np.zeros(0, dtype=np.int64) if sample is None else np.asarray(sample)
    logits, preds, labels, feats, picked, taken = [], [], [], [], [], {}
    seen = 0
    for x, y in batches:
        f = features_fn(model, x)
        z = classifier(f)
        if project is not None:
            z = project(z)
        z = _compact(z.float().cpu())
        logits.append(z)
        # argmax of the fp16 values in float32 (exact): torch's fp16 argmax on the CPU is 3x slower
        preds.append(z.float().argmax(1) if z.shape[1] else torch.zeros(len(z), dtype=torch.long))
        y = torch.as_tensor(y).cpu()
        labels.append(y)
        if online:
            rows = []
            for i, c in enumerate(y.tolist()):
                if taken.get(c, 0) < per_class:
                    taken[c] = taken.get(c, 0) + 1
                    rows.append(i)
            picked += [seen + i for i in rows]
            local = np.asarray(rows, dtype=np.int64)
        else:
            lo, hi = np.searchsorted(sample, [seen, seen + len(x)])
            local = sample[lo:hi] - seen
        if len(local):
            feats.append(f[torch.from_numpy(local).to(f.device)].float().cpu())
        seen += len(x)
    if online:
        sample = np.asarray(picked, dtype=np.int64)
    n_out = classifier.weights.shape[0]
    return Outputs(
        torch.cat(logits).numpy() if logits else np.zeros((0, n_out), np.float16),
        torch.cat(preds).numpy().astype(np.int64) if preds else np.zeros(0, np.int64),
        torch.cat(labels).numpy().astype(np.int64) if labels else np.zeros(0, np.int64),
        torch.cat(feats).numpy() if feats else np.zeros((0, 0), np.float32),
        sample,
    )


def _compact(z: torch.Tensor) -> torch.Tensor:
    """:func:`compact_logits` of a float32 tensor, in torch (IEEE float32 subtraction, round-to-nearest-even
    conversion to fp16: the same bits as numpy's)."""
    return z.half() if z.numel() == 0 else (z - z.amax(1, keepdim=True)).half()


def compact_logits(logits: np.ndarray) -> np.ndarray:
    """fp16 logits minus each row's maximum.

    Shifting a row changes neither its softmax nor its argmax, and near the
    top score fp16 is far finer than anywhere else, so the stored logits give
    exactly the predictions (barring fp32 ties) of the full-precision ones.
    """
    logits = np.asarray(logits, dtype=np.float32)
    if logits.size == 0:
        return logits.astype(np.float16)
    return (logits - logits.max(axis=1, keepdims=True)).astype(np.float16)


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    labels, preds = np.asarray(labels), np.asarray(preds)
    if labels.shape != preds.shape:
        raise ValueError(f"{len(labels)} labels but {len(preds)} predictions")
    return np.bincount(labels * n_classes + preds, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )
