"""The concept worlds that several chapters share, so that a run trained by one chapter is reused by another.

A chapter module never imports another chapter module; where two chapters train on the same
world (and so share runs in the registry), both take its sizes from here, and the one that
reuses the other's runs names it in its ``AFTER``.

* :data:`IMBALANCE`: chapter 2's world, the preset's own sizes (many more classes than a batch);
  chapter 4 reads chapter 2's stored CLIP and SL logits;
* :data:`LANGUAGE`: chapter 2b's smaller long-tailed world, for three sweeps; chapter 2e adds a
  pool of open-world concepts to it;
* :data:`DISTRIBUTION`: chapter 2c's world with every shifted test domain; chapters 2d, 3a and 4
  reuse its runs and its pretraining-world CLIP.
"""

from __future__ import annotations

# World seeds derived from a chapter's ``world_seed`` for the worlds it builds besides its own. A study's own
# world seeds stay small (0 by default), so each offset keeps its derived worlds apart from every chapter world
# and from each other; the values are those the study has always used.
PRETRAINING_WORLD_OFFSET = (
    1000  # the pretraining world (every ImageNet concept) whose CLIP lends its text tower
)
DOWNSTREAM_WORLD_OFFSET = 2000  # DINO's downstream probe worlds (disjoint animal concepts)

IMBALANCE: dict = {}
IMBALANCE_VOCAB_K = 64  # chapter 2's default `vocab_k`, whose runs chapter 4 reads

LANGUAGE = {
    "smoke": dict(n_classes=40, n_train=1200, test_per_class=4, epochs=1, batch_size=16),
    "quick": dict(n_classes=150, n_train=9000, test_per_class=10, epochs=3, batch_size=64),
    "full": dict(n_classes=300, n_train=60000, test_per_class=20, epochs=10, batch_size=128),
}

SHIFTS = ("v2", "sketch", "rendition", "objectnet")
_DOMAINS = dict(test_domains=("photo", *SHIFTS))
DISTRIBUTION = {
    "smoke": dict(n_classes=24, n_train=960, test_per_class=4, epochs=1, batch_size=32, **_DOMAINS),
    "quick": dict(n_classes=100, n_train=5000, test_per_class=10, epochs=3, batch_size=64, **_DOMAINS),
    "full": dict(n_classes=300, n_train=60000, test_per_class=20, epochs=10, batch_size=128, **_DOMAINS),
}


def imbalance_specs(session, vocab_k: int = IMBALANCE_VOCAB_K, seed: int | None = None) -> dict:
    """label -> RunSpec of chapter 2's three models on the same images: SL, SL with vocabulary subsampling,
    CLIP (chapter 4 reads their stored logits)."""
    seed = session.params["seed"] if seed is None else seed
    return {
        "SL": session.spec("SL", objective="sl", seed=seed),
        f"SL + vocab {vocab_k}": session.spec(
            f"SL + vocab {vocab_k}", objective="sl", vocab_k=vocab_k, seed=seed
        ),
        "CLIP": session.spec("CLIP", objective="clip", seed=seed),
    }
