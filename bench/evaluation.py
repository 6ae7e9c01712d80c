"""Benchmark: evaluating a trained model on its test sets (``studylib.evaluate.forward`` and what
``studylib.pipeline.evaluate_run`` does with its logits), before and after issue 30's cuts, in one run.

Why: evaluation was about 10% of a cold ``make study``'s chapter-minutes (2.4 of 24.5), outside training. Two cuts,
each with bitwise-equal results (checked here and in ``tests/test_train.py``):

* test images go through the model in batches of ``EVAL_BATCH`` (256) instead of 1024: the pixel CNN's
  activations of 1024 images outgrow the CPU's caches;
* logits are compacted (fp16 minus the row's maximum) and argmaxed batch by batch in torch, while they are in
  the cache, instead of over the whole split in numpy afterwards.

One thread, as a chapter kernel. Models are freshly initialised at quick's sizes (the time does not depend on
the weights): the pixel CNN (width 32, 16 px) and the features MLP (width 64, 128-long features); 15,000 test
images (300 classes, 10 per class, 5 domains) scored against 300 and 1000 classes.
Output also goes to ``bench/results/evaluation.txt``.

    python bench/evaluation.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from report import RESULTS, header, publish  # noqa: E402

from studylib.evaluate import EVAL_BATCH, Classifier, compact_logits, forward, uint8_batches  # noqa: E402
from studylib.models.tiny import image_tower, normalize_images  # noqa: E402

N_IMAGES = 15_000
REPEATS = 3


@torch.no_grad()
def before(tower, clf, images, labels):
    """The code before: batches of 1024, float32 logits kept, then compacted and argmaxed in numpy."""
    z = torch.cat([clf(tower(x)) for x, _ in uint8_batches(images, labels, "cpu", batch_size=1024)])
    logits = compact_logits(z.numpy())
    return logits, logits.argmax(1)


def after(tower, clf, images, labels):
    out = forward(tower, lambda m, x: m(x), clf, uint8_batches(images, labels, "cpu"))
    return out.logits, out.preds


def best_of(fn, *args) -> tuple[float, tuple]:
    times, result = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - t0)
    return min(times), result


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lines = [
        header("evaluation", threads=1, images=N_IMAGES, repeats=REPEATS)
        + f"; before: batches of 1024 and numpy compaction of the whole split; after: batches of {EVAL_BATCH}, "
        "compacted per batch, best of the repeats"
    ]
    labels = np.arange(N_IMAGES) % 300
    for render, feature_dim, width in (("pixels", 0, 32), ("features", 128, 64)):
        tower = image_tower(width, 64, feature_dim).eval()
        shape = (N_IMAGES, feature_dim) if feature_dim else (N_IMAGES, 3, 16, 16)
        images = torch.randint(0, 256, shape, dtype=torch.uint8)
        normalize_images(images[:1])  # warm
        for n_classes in (300, 1000):
            clf = Classifier(torch.randn(n_classes, 64), None, scale=20.0, normalize=True)
            t_before, (lb, pb) = best_of(before, tower, clf, images, labels)
            t_after, (la, pa) = best_of(after, tower, clf, images, labels)
            same = np.array_equal(lb.view(np.uint16), la.view(np.uint16)) and np.array_equal(pb, pa)
            lines.append(
                f"{render:8s} {n_classes:4d} classes: before {t_before:5.2f} s  after {t_after:5.2f} s  "
                f"{t_before / t_after:4.2f}x  ({N_IMAGES / t_after:,.0f} images/s); logits and predictions "
                f"bitwise equal: {same}"
            )
    publish(lines, RESULTS / "evaluation.txt")


if __name__ == "__main__":
    main()
