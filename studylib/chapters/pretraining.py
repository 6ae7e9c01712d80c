"""The pretraining world: a separate, broader world whose tiny CLIP lends its text tower to other runs.

Another world seed holding *every* one of the 1000 ImageNet concepts, so its captions have named
each of the study's classes (as LAION's have named ImageNet's) and its text tower knows their
names; at least :data:`PAIRS_AT` pairs (200k at quick: a competent language-vision model of its world, whose
class prompts sit far apart), with a Zipf profile whose ranks are drawn independently of the study's,
rendered with the same physics and render, so a concept looks alike in both worlds; its own test set
holds :data:`TEST_PER_CONCEPT` photos per concept, on which its zero-shot top-1 is measured.

It is one run, whatever the chapter's training seed (the session's first seed trains it): a pretrained
text tower is a fixed input of the runs that use it, as a released checkpoint is, and every seed of a
chapter sees the same one.

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
PAIRS_AT = {"quick": 200_000, "full": 400_000}  # at least this many pairs at these presets
TEST_PER_CONCEPT = {"smoke": 1, "quick": 5, "full": 10}
LABEL = "pretraining-world CLIP (every concept)"


def pretraining_spec(session, seed: int | None = None):
    """The pretraining-world CLIP for ``session`` (same model sizes, so its text tower fits). ``seed`` is
    accepted for the chapters' uniform call and ignored: one pretraining run serves every seed."""
    p = session.params
    seed = p["seed"]
    return session.spec(
        LABEL,
        objective="clip",
        seed=seed,
        world_seed=p["world_seed"] + PRETRAINING_WORLD_OFFSET,
        n_train=max(PAIRS * p["n_train"], MIN_PAIRS_PER_CONCEPT * 1000, PAIRS_AT.get(session.preset, 0)),
        profile="zipf",
        zipf_alpha=1.0,
        source="web",
        text_tower="scratch",
        subset="all",
        n_classes=1000,
        test_per_class=TEST_PER_CONCEPT.get(session.preset, 1),
        test_domains=("photo",),
        min_per_class=2,
    )
