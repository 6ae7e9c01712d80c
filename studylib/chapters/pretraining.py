"""The pretraining world: a separate, broader world whose tiny CLIP lends its text tower to other runs.

Another world seed holding *every* one of the 1000 ImageNet concepts, so its captions have named
each of the study's classes (as LAION's have named ImageNet's) and its text tower knows their
names; twice the study's pairs (at least three per concept), with a Zipf profile whose ranks are
drawn independently of the study's, rendered with the same physics, so a concept looks alike in
both worlds; its own test set is a small one (one photo per concept).

Its CLIP is the "pretrained text head" of chapter 2's data-distribution and text-head studies (a
``text_init`` run dependency) and the source of fixed class prototypes for SL in chapters 2d and 3
(a ``prototypes`` dependency). Chapters 2c, 2d and 3a build the same spec, so the run is trained
once. It replaces MiniLM-derived prototypes, which are an oracle here (MiniLM semantics generate
the pixels); those remain available as a labelled control (``head="prototype"`` without a
dependency).
"""

from __future__ import annotations

from studylib.chapters.worlds import PRETRAINING_WORLD_OFFSET

PAIRS, MIN_PAIRS_PER_CONCEPT = 2, 3
LABEL = "pretraining-world CLIP (every concept)"


def pretraining_spec(session, seed: int | None = None):
    """The pretraining-world CLIP for ``session`` (same model sizes, so its text tower fits)."""
    p = session.params
    seed = p["seed"] if seed is None else seed
    return session.spec(
        LABEL,
        objective="clip",
        seed=seed,
        world_seed=p["world_seed"] + PRETRAINING_WORLD_OFFSET,
        n_train=max(PAIRS * p["n_train"], MIN_PAIRS_PER_CONCEPT * 1000),
        profile="zipf",
        zipf_alpha=1.0,
        source="web",
        text_tower="scratch",
        subset="all",
        n_classes=1000,
        test_per_class=1,
        test_domains=("photo",),
        min_per_class=2,
    )
