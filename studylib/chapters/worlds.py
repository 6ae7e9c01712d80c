"""The concept worlds that several chapters share, so that a run trained by one chapter is reused by another.

A chapter module never imports another chapter module; where two chapters train on the same
world (and so share runs in the registry), both take its sizes from here, and the one that
reuses the other's runs names it in its ``AFTER``.

* :data:`IMBALANCE`: chapter 2's world, the preset's own sizes (many more classes than a batch);
  chapter 4 reads chapter 2's stored CLIP and SL logits;
* :data:`LANGUAGE`: chapter 2b's smaller long-tailed world, for three sweeps; chapter 2e adds a
  pool of open-world concepts to it;
* :data:`DISTRIBUTION`: chapter 2c's world; chapters 2d, 3a and 4 reuse its runs and its
  pretraining-world CLIP.

Chapters 2–4 judge their claims on the in-distribution test set only (robustness to imbalance and
top-1 on photos), so :data:`PHOTOS_ONLY` worlds render no shifted test set and their runs evaluate
none. They were rendered and evaluated for nothing before: chapter 2c's world held four shifted
test sets of 12,000 images each at ``quick``. Chapter 2 keeps its V2-like set, which its overview
table shows; chapter 1 and chapter 3b's downstream probes name their own test sets.
"""

from __future__ import annotations

# World seeds derived from a chapter's ``world_seed`` for the worlds it builds besides its own. A study's own
# world seeds stay small (0 by default), so each offset keeps its derived worlds apart from every chapter world
# and from each other; the values are those the study has always used.
PRETRAINING_WORLD_OFFSET = (
    1000  # the pretraining world (every ImageNet concept) whose CLIP lends its text tower
)
DOWNSTREAM_WORLD_OFFSET = 2000  # DINO's downstream probe worlds (disjoint animal concepts)

# Chapters 2–4 (but 3b's DINO, whose views are crops) see the `features` world at quick and full: each image is
# its scene through the fixed retina (studylib.retina), about 100x cheaper than pixels, so the savings buy
# power (five seeds, 40 test images per class, models that learn). A bag-of-embeddings text tower: bench/
# render_speed.py measured the transformer at a tenth of its samples per second here. Smoke keeps the pixel
# world (the tests run every chapter on it); `-p render=pixels` runs any chapter on pixels (a GPU's setting).
FEATURES = dict(render="features", text_arch="bag", batch_size=256, lr=5e-3)
# `full` on 2 CPU cores keeps quick's model sizes (the preset's own defaults, PRESETS["full"], are a GPU's:
# width 48, embedding 256, a 4-layer text tower of width 256: several times the cost per sample)
PHOTOS_ONLY = dict(test_domains=("photo",))  # the in-distribution test set alone (the module's docstring)
CPU_MODELS = dict(width=32, embed_dim=128, text_width=64, text_layers=2)
SEEDS = {"smoke": 1, "quick": 5, "full": 10}  # training seeds of every chapter of 2–4 but 3b
# `full` (make study-full): ten seeds, chapter 2 on all 1000 ImageNet concepts with quick's pairs per class and
# epochs, chapters 2b–4 with quick's models and more classes and pairs. Sized against 90 wall minutes on 2 cores
# by bench/full_estimate.py (bench/results/full_estimate.txt): the runs of chapters 1, 2, 2b, 2c and 4 alone came
# to about 82 chapter-minutes, so the first cut was trimmed where no claim is decided (2b's extra data scales and
# vocabulary size, 2d's 1/32 fraction, 3a's 50% trim, chapter 2's render check kept at quick's size).
IMBALANCE: dict = {
    "quick": dict(
        n_classes=300, n_train=40000, test_per_class=40, epochs=6, width=64, text_width=128, **FEATURES
    ),
    "full": dict(
        n_classes=1000,
        n_train=133000,
        test_per_class=20,
        epochs=6,
        **{**CPU_MODELS, "width": 64, "text_width": 128},
        **FEATURES,
    ),
}
# Chapter 2's default `vocab_k` per preset (chapter 4 reads its runs): well above the distinct classes of one
# batch (about 100 of 256 pairs at quick), or subsampling adds no extra classes and every weighting is the same
IMBALANCE_VOCAB_K = {"smoke": 24, "quick": 160, "full": 320}


def matched_epochs(epochs: int, n_full: int, pairs: int, batch_size: int) -> int:
    """Epochs on ``pairs`` training pairs that take as many optimiser steps as ``epochs`` on ``n_full``
    (an epoch is ``len // batch_size`` steps: the last partial batch is dropped). Rounding ``epochs /
    fraction`` instead left 1/8 of 20,000 pairs at 432 steps against 468 at batch 256."""
    steps = epochs * max(1, n_full // batch_size)
    return max(1, round(steps / max(1, pairs // batch_size)))


def imbalance_vocab_k(session) -> int:
    """The session's ``vocab_k`` (a notebook parameter, 0 or absent: :data:`IMBALANCE_VOCAB_K` of its preset)."""
    return session.parameters.get("vocab_k") or IMBALANCE_VOCAB_K.get(session.preset, 64)


LANGUAGE = {
    "smoke": dict(n_classes=40, n_train=1200, test_per_class=4, epochs=1, batch_size=16, **PHOTOS_ONLY),
    "quick": dict(n_classes=150, n_train=15000, test_per_class=40, epochs=6, **PHOTOS_ONLY, **FEATURES),
    "full": dict(
        n_classes=300, n_train=30000, test_per_class=40, epochs=6, **PHOTOS_ONLY, **CPU_MODELS, **FEATURES
    ),
}

DISTRIBUTION = {
    "smoke": dict(n_classes=24, n_train=960, test_per_class=4, epochs=1, batch_size=32, **PHOTOS_ONLY),
    "quick": dict(n_classes=300, n_train=12000, test_per_class=40, epochs=6, **PHOTOS_ONLY, **FEATURES),
    "full": dict(
        n_classes=500, n_train=20000, test_per_class=40, epochs=6, **PHOTOS_ONLY, **CPU_MODELS, **FEATURES
    ),
}


def imbalance_specs(session, vocab_k: int | None = None, seed: int | None = None) -> dict:
    """label -> RunSpec of chapter 2's three models on the same images: SL, SL with vocabulary subsampling,
    CLIP (chapter 4 reads their stored logits)."""
    seed = session.params["seed"] if seed is None else seed
    vocab_k = imbalance_vocab_k(session) if vocab_k is None else vocab_k
    return {
        "SL": session.spec("SL", objective="sl", seed=seed),
        f"SL + vocab {vocab_k}": session.spec(
            f"SL + vocab {vocab_k}", objective="sl", vocab_k=vocab_k, seed=seed
        ),
        "CLIP": session.spec("CLIP", objective="clip", seed=seed),
    }
