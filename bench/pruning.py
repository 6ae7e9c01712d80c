"""Chapter 1's similarity pruning: one running-maximum pass against the per-cut search it replaced.

:func:`studylib.similarity.prune_to_distribution` scores ``candidates`` cut-offs. Each cut keeps the
training images least similar to any test image, and its test->train nearest-neighbour similarities were
computed from scratch (one pass over the kept images per cut). Now one pass over the training images in
score order keeps a running maximum and reads it at every cut. The dot products are the same, so the
kept set and every number are too (checked here, and in ``tests/test_sources_similarity.py``). Shapes
default to chapter 1 at ``quick``: 8,000 shifted test images, 12,000 training images, 128-d features.
One thread, as in a chapter kernel.

    python bench/pruning.py [--test 8000 --train 12000 --dim 128]

Output also goes to ``bench/results/pruning.txt``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from report import RESULTS, header, publish
from scipy.stats import ks_2samp

from studylib.similarity import nearest_similarity, prune_to_distribution


def per_cut(train, test, target, candidates: int = 40):
    """The previous search: each cut's nearest neighbours computed from scratch."""
    target = np.asarray(target, dtype=np.float64)
    score = nearest_similarity(train, test)
    before = nearest_similarity(test, train)
    best = (float(ks_2samp(before, target).statistic), np.arange(len(train)))
    for cut in np.unique(np.quantile(score, np.linspace(0.02, 1.0, candidates))):
        keep = np.flatnonzero(score <= cut)
        if len(keep):
            ks = float(ks_2samp(nearest_similarity(test, train[torch.from_numpy(keep)]), target).statistic)
            if ks < best[0]:
                best = (ks, keep)
    return best[1], best[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--test", type=int, default=8000)
    ap.add_argument("--train", type=int, default=12000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--out", default=str(RESULTS / "pruning.txt"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    norm = torch.nn.functional.normalize
    test = norm(torch.randn(args.test, args.dim, generator=g), dim=-1)
    train = norm(
        torch.cat(
            [
                torch.randn(args.train - args.test // 4, args.dim, generator=g),
                test[: args.test // 4] + 0.3 * torch.randn(args.test // 4, args.dim, generator=g),
            ]
        ),
        dim=-1,
    )
    target = nearest_similarity(test, norm(torch.randn(args.train // 2, args.dim, generator=g), dim=-1))
    t0 = time.perf_counter()
    old_keep, old_ks = per_cut(train, test, target)
    t1 = time.perf_counter()
    keep, info = prune_to_distribution(train, test, target)
    t2 = time.perf_counter()
    same = np.array_equal(old_keep, keep) and old_ks == info["ks_distance"]
    lines = [
        header("pruning", torch=torch.__version__, threads=1),
        f"test {args.test} x train {args.train} x dim {args.dim}, 40 candidate cuts",
        f"per-cut search (before)      {t1 - t0:6.2f} s",
        f"one running-maximum pass     {t2 - t1:6.2f} s",
        f"ratio: {(t1 - t0) / (t2 - t1):.1f}x; same kept set and KS distance: {same}",
    ]
    publish(lines, args.out)


if __name__ == "__main__":
    main()
