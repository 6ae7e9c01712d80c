"""The pretraining world: a separate, broader world whose tiny CLIP lends its text tower to other runs.

Another world seed, three times the concepts (drawn from all 1000 ImageNet concepts, so
only some are the study's) and twice the pairs, rendered with the same physics, so a
concept looks alike in both worlds. Its CLIP is the "pretrained text head" of chapter 2's
data-distribution and text-head studies (a ``text_init`` run dependency) and the source of
fixed class prototypes for SL (a ``prototypes`` dependency). It replaces MiniLM-derived
prototypes, which are an oracle here (MiniLM semantics generate the pixels); those remain
available as a labelled control (``head="prototype"`` without a dependency).
"""
from __future__ import annotations

WORLD_SEED_OFFSET = 1000
CLASSES, PAIRS = 3, 2


def pretraining_spec(s, seed: int | None = None):
    """The pretraining-world CLIP for session ``s`` (same model sizes, so its text tower fits)."""
    p = s.params
    seed = p["seed"] if seed is None else seed
    return s.spec("pretraining-world CLIP", objective="clip", seed=seed, world_seed=p["world_seed"] + WORLD_SEED_OFFSET,
                  n_classes=min(1000, CLASSES * p["n_classes"]), n_train=PAIRS * p["n_train"], profile="zipf",
                  zipf_alpha=1.0, source="web", text_tower="scratch")
