"""Train-test similarity (Mayilvahanan et al. 2024), in a model's feature space.

Does a training set look robust only because it holds near-copies of the test
images? For every test image take its nearest training neighbour's cosine
similarity; compare the distributions of two training sets; then prune the
larger set (drop the training images most similar to the test set) until its
similarity to the test set is no higher than the smaller set's, retrain, and
see whether the robustness survives.

    feats = image_features(model, images_uint8)            # unit-norm (n, d)
    nn = nearest_similarity(test_feats, train_feats)       # (n_test,) max cosine
    keep, info = prune_to_distribution(big_train, test, nn_small)     # match the whole distribution
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from studylib.models.tiny import normalize_images


@torch.no_grad()
def image_features(model, images_uint8: torch.Tensor, batch_size: int = 2048) -> torch.Tensor:
    """Unit-norm image features of ``model.visual`` (CLIP or SL)."""
    model.eval()
    device = next(model.parameters()).device
    out = [
        F.normalize(
            model.visual(normalize_images(images_uint8[i : i + batch_size].to(device))).float(), dim=-1
        ).cpu()
        for i in range(0, len(images_uint8), batch_size)
    ]
    return torch.cat(out)


@torch.no_grad()
def nearest_similarity(query: torch.Tensor, reference: torch.Tensor, chunk: int = 4096) -> np.ndarray:
    """For each query row, the largest cosine similarity to any reference row (rows unit-norm)."""
    if len(reference) == 0:
        raise ValueError("nearest_similarity: the reference set is empty")
    best = torch.full((len(query),), -2.0)
    for lo in range(0, len(reference), chunk):
        best = torch.maximum(best, (query @ reference[lo : lo + chunk].T).amax(1))
    return best.numpy()


def prune_to_similarity(
    train: torch.Tensor, test: torch.Tensor, target: float, statistic=np.median, steps: int = 30
) -> tuple[np.ndarray, dict]:
    """Training indices to keep so that ``statistic`` of test->train NN similarity is <= ``target``.

    Training points are removed in order of their own highest similarity to
    any test point (the nearest copies first); the cut-off is found by
    bisection. Returns the kept indices (sorted) and a dict with the
    threshold, the achieved statistic and the fraction kept.
    """
    score = nearest_similarity(train, test)  # each train point's closest test point
    start = float(statistic(nearest_similarity(test, train)))
    if start <= target:
        return np.arange(len(train)), {
            "threshold": float(score.max()),
            "achieved": start,
            "kept_fraction": 1.0,
        }
    lo, hi = float(score.min()), float(score.max())
    best = None
    for _ in range(steps):
        mid = (lo + hi) / 2
        keep = np.flatnonzero(score <= mid)
        if len(keep) == 0:
            lo = mid
            continue
        achieved = float(statistic(nearest_similarity(test, train[torch.from_numpy(keep)])))
        if achieved <= target:
            best, lo = (keep, mid, achieved), mid
        else:
            hi = mid
    if best is None:
        raise ValueError(f"cannot reach a test->train similarity of {target:.3f} by pruning")
    keep, threshold, achieved = best
    return keep, {"threshold": threshold, "achieved": achieved, "kept_fraction": len(keep) / len(train)}


def _prefix_nearest(query, reference, order, ends, chunk):
    """For each ``end`` of the ascending ``ends``: each query row's largest cosine similarity to the rows
    ``reference[order[:end]]`` (None for ``end`` 0), from one pass over ``reference`` in that order (a running
    maximum), not one pass per prefix: the same dot products, so the same values as :func:`nearest_similarity`."""
    best = torch.full((len(query),), -2.0)
    lo = 0
    for end in ends:
        while lo < end:
            hi = min(end, lo + chunk)
            best = torch.maximum(best, (query @ reference[torch.from_numpy(order[lo:hi])].T).amax(1))
            lo = hi
        yield best.numpy().copy() if end else None


@torch.no_grad()
def prune_to_distribution(
    train: torch.Tensor, test: torch.Tensor, target_similarities, candidates: int = 40, chunk: int = 4096
) -> tuple[np.ndarray, dict]:
    """Training indices to keep so that the test->train NN similarities follow ``target_similarities``.

    As Mayilvahanan et al. (2024), the whole similarity distribution of the
    smaller training set is matched, not one statistic: training images are
    removed most test-like first (by their own highest similarity to any test
    image), and the cut-off is the one, among ``candidates`` quantiles, whose
    remaining set gives the smallest Kolmogorov-Smirnov distance between its
    test->train nearest-neighbour similarities and the target's. Returns the
    kept indices and a dict with the cut-off, the fraction kept, the achieved
    median and the KS distance before and after pruning.
    """
    from scipy.stats import ks_2samp

    target = np.asarray(target_similarities, dtype=np.float64)
    score = nearest_similarity(train, test, chunk)  # each training image's closest test image
    before = nearest_similarity(test, train, chunk)
    best = (float(ks_2samp(before, target).statistic), np.arange(len(train)), float(score.max()), before)
    cuts = np.unique(np.quantile(score, np.linspace(0.02, 1.0, candidates)))
    order = np.argsort(score, kind="stable")  # a cut keeps a prefix of this order
    ends = np.searchsorted(score[order], cuts, side="right")
    for cut, achieved in zip(cuts, _prefix_nearest(test, train, order, ends, chunk)):
        if achieved is None:  # the cut keeps nothing
            continue
        ks = float(ks_2samp(achieved, target).statistic)
        if ks < best[0]:
            best = (ks, np.flatnonzero(score <= cut), float(cut), achieved)
    ks, keep, cut, achieved = best
    return keep, {
        "threshold": cut,
        "kept_fraction": len(keep) / len(train),
        "achieved": float(np.median(achieved)),
        "ks_distance": ks,
        "ks_distance_before": float(ks_2samp(before, target).statistic),
    }
