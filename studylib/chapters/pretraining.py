"""The pretraining world: a separate, broader world whose tiny CLIP lends its text tower to other runs.

Another world seed, three times the concepts (drawn from all 1000 ImageNet concepts, so
only some are the study's) and twice the pairs, rendered with the same physics, so a
concept looks alike in both worlds. Its CLIP is the "pretrained text head" of chapter 2's
data-distribution and text-head studies (a ``text_init`` run dependency) and the source of
fixed class prototypes for SL (a ``prototypes`` dependency). It replaces MiniLM-derived
prototypes, which are an oracle here (MiniLM semantics generate the pixels); those remain
available as a labelled control (``head="prototype"`` without a dependency).

``covering=True`` (chapter 3) makes the pretraining world hold *every* ImageNet concept, so
it has seen each of the study's classes in captions (as LAION has seen ImageNet's) and its
text tower knows their names; the pairs stay twice the study's (at least three per concept), with a Zipf profile whose
ranks are drawn independently of the study's, and its own test set is a small one.
"""
from __future__ import annotations

WORLD_SEED_OFFSET = 1000
CLASSES, PAIRS = 3, 2


def pretraining_spec(s, seed: int | None = None, covering: bool = False):
    """The pretraining-world CLIP for session ``s`` (same model sizes, so its text tower fits)."""
    p = s.params
    seed = p["seed"] if seed is None else seed
    world = dict(n_classes=min(1000, CLASSES * p["n_classes"]))
    if covering:
        world = dict(subset="all", n_classes=1000, test_per_class=1, test_domains=("photo",), min_per_class=2)
    n_train = max(PAIRS * p["n_train"], 3 * world["n_classes"]) if covering else PAIRS * p["n_train"]
    return s.spec("pretraining-world CLIP" + (" (every concept)" if covering else ""), objective="clip", seed=seed,
                  world_seed=p["world_seed"] + WORLD_SEED_OFFSET, n_train=n_train, profile="zipf",
                  zipf_alpha=1.0, source="web", text_tower="scratch", **world)
