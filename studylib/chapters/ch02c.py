"""Chapter 2c · data distribution: imbalance, distribution shift and diversity (paper Fig 4; C4, C5).

CLIP trained on variants of one world at the same scale (notebook ``02c_data_distribution``),
each with a text tower trained from scratch and with one initialised from the
pretraining-world CLIP (:mod:`studylib.chapters.pretraining`):

* **imbalance**: Zipf α of the training profile (and, at ``full``, the LAIONet profiles by
  file). C4: extreme imbalance makes CLIP more biased;
* **distribution shift**: the curated, ImageNet-like source (photos only) against the
  web-like one (varied photos, a few sketches, renditions and odd poses). The paper: shift
  harms discriminability but can improve robustness with a pretrained text head;
* **diversity**: LAIONet's caption-to-class-text similarity threshold, every variant cut to
  the same number of pairs. C5: a lower threshold (more diverse images) improves robustness.

As in the paper, *robustness* is robustness to the imbalance of the training data: how little
per-class #predictions and accuracy follow training frequency (Spearman on the balanced
in-distribution test set, each run against its own training counts; lower is more robust).
*Discriminability* is top-1 on that test set. Accuracy on the shifted test sets is chapter 1's
question (effective robustness), not this chapter's. Every comparison is a paired difference
over the same classes (over seeds where the preset runs several), and every model compared
must have learned (top-1 above 1.5× chance).

Run::

    python -m studylib run 02c --preset quick
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.chapters import worlds
from studylib.chapters.evidence import (
    QUANTITY,
    ROBUSTNESS,
    beyond,
    learned_checks,
    paired_part,
    photo,
    robustness_parts,
)
from studylib.chapters.pretraining import pretraining_spec
from studylib.claims import claim_row
from studylib.config import world_config
from studylib.seeds import substream

NAME = "02c_data_distribution"
SIZES = worlds.DISTRIBUTION
SEEDS = worlds.SEEDS
AFTER: tuple = ()
ALPHAS = {"smoke": (1.0, 2.0), "quick": (1.0, 2.0), "full": (0.5, 1.0, 1.5, 2.0)}
# LAIONet profiles (files of the shared frequencies folder) imposed on the world at `full`.
LAIONET_FILES = ("laionet_thresh0.7_ori", "laionet_thresh0.8_ori", "laionet_thresh0.9_ori")
# The diversity section's world: descriptive (encyclopedia-like) captions that fully describe their images
# (caption_image_words = 1), where the similarity threshold moves kept diversity most (tests/test_world.py
# checks it). On the web-like default (mixed caption styles, q = 0.3) the threshold mostly selects caption
# styles: the first quick run changed within-class diversity by 1% there. Set after that run, for that reason.
DIVERSITY_WORLD = dict(source="encyclopedia", caption_image_words=1.0)
# Similarity thresholds as quantiles of the captions' similarity; every kept set is cut to KEEP_SHARE of the
# pairs.
QUANTILES = {"smoke": (0.0, 0.5), "quick": (0.0, 0.5), "full": (0.0, 0.25, 0.5)}
KEEP_SHARE = 0.5
# Which variants also train with the pretrained text tower (the rest: `full` adds them).
PRETRAINED = {
    "smoke": ("alpha", "source"),
    "quick": ("alpha", "source"),
    "full": ("alpha", "source", "threshold"),
}
HEADS = {"scratch": {}, "pretrained": dict(text_tower="init")}


def _spec(session, label, head, seed, train_subset=None, **overrides):
    deps = {"text_init": pretraining_spec(session, seed)} if head == "pretrained" else None
    return session.spec(
        f"{label}, {head}",
        objective="clip",
        seed=seed,
        train_subset=train_subset,
        deps=deps,
        **HEADS[head],
        **overrides,
    )


def similarity_keeps(world, preset: str, seed: int = 0) -> dict:
    """quantile -> sorted kept training indices: captions at or above that quantile of their MiniLM similarity
    to "{name} which is {definition}" (LAIONet's score), then a seeded random cut to ``KEEP_SHARE`` of all
    pairs, so every threshold trains on the same number of pairs."""
    from studylib.captions.curation import caption_similarities

    sims = caption_similarities(world.train.captions, world.train.labels, world.concepts)
    n_keep = int(round(KEEP_SHARE * len(sims)))
    out = {}
    for q in QUANTILES[preset]:
        above = np.flatnonzero(sims >= np.quantile(sims, q))
        if len(above) < n_keep:
            raise ValueError(
                f"quantile {q} keeps {len(above)} pairs, fewer than the {n_keep} every variant needs"
            )
        # one sub-stream per threshold (its quantile in thousandths), so each variant's random cut is its own
        rng = np.random.default_rng(substream(seed, int(q * 1000)))
        out[q] = np.sort(rng.choice(above, size=n_keep, replace=False))
    return out


_KEEPS: dict = {}


def diversity_keeps(session, seed: int | None = None) -> dict:
    """:func:`similarity_keeps` of the session's diversity world (``DIVERSITY_WORLD``) for training seed
    ``seed`` (each seed redraws the random cut), memoised in-process: :func:`specs` calls it for every seed,
    and the notebook and the study's summary must get the same kept sets."""
    seed = session.params["seed"] if seed is None else seed
    key = (repr(world_config(session.params, **DIVERSITY_WORLD)), session.preset, seed)
    if key not in _KEEPS:
        _KEEPS[key] = similarity_keeps(session.world(**DIVERSITY_WORLD), session.preset, seed)
    return _KEEPS[key]


def laionet_specs(session, folder, seed: int | None = None) -> dict:
    """CLIP (scratch text tower) on the world with each LAIONet file's class profile (``full`` only; needs
    the shared ``frequencies`` folder). Shown, not part of a claim."""
    from pathlib import Path

    seed = session.params["seed"] if seed is None else seed
    out = {}
    for stem in LAIONET_FILES:
        path = Path(folder) / f"class_frequency_{stem}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"LAIONet profile {path} is missing")
        out[f"profile {stem}, scratch"] = _spec(
            session, f"profile {stem}", "scratch", seed, profile=str(path.resolve())
        )
    return out


def specs(session, seed: int | None = None, keeps: dict | None = None) -> dict:
    """label -> RunSpec of every variant at the session's preset; the similarity variants' kept sets are
    :func:`diversity_keeps` unless ``keeps`` (quantile -> indices) is given."""
    preset = session.preset
    seed = session.params["seed"] if seed is None else seed
    keeps = diversity_keeps(session, seed) if keeps is None else keeps
    out = {}
    for head in HEADS:
        if head == "scratch" or "alpha" in PRETRAINED[preset]:
            for a in ALPHAS[preset]:
                out[f"Zipf α={a:g}, {head}"] = _spec(session, f"Zipf α={a:g}", head, seed, zipf_alpha=a)
        if head == "scratch" or "source" in PRETRAINED[preset]:
            out[f"curated source, {head}"] = _spec(session, "curated source", head, seed, source="imagenet")
        if head == "scratch" or "threshold" in PRETRAINED[preset]:
            for q, keep in keeps.items():
                out[f"similarity ≥ q{q:g}, {head}"] = _spec(
                    session, f"similarity ≥ q{q:g}", head, seed, train_subset=keep, **DIVERSITY_WORLD
                )
    return out


C4 = "C4: extreme imbalance (Zipf α=2 vs 1) makes CLIP more biased"
SHIFT_HARMS = "Shift: web-like instead of curated data lowers discriminability on curated-like photos"
SHIFT_HELPS = "Shift: web-like data raises robustness to imbalance with a pretrained text head"
C5 = "C5: a lower similarity threshold (more diverse images) raises robustness to imbalance"


def within_class_diversity(x, labels, keep) -> float:
    """Mean over classes (with >= 3 kept images) of the summed pixel variance of a class's kept images."""
    mask = np.zeros(len(labels), bool)
    mask[keep] = True
    values = [
        float(x[(labels == c) & mask].var(0).sum())
        for c in np.unique(labels)
        if ((labels == c) & mask).sum() >= 3
    ]
    return float(np.mean(values)) if values else float("nan")


def overview(runs: dict) -> pd.DataFrame:
    """One row per run: variant, text tower, pairs trained on, top-1 (discriminability) and the Spearman
    correlations of per-class #predictions and accuracy with its own training counts (robustness to imbalance,
    lower is more robust)."""
    rows = []
    for label, r in runs.items():
        variant, head = label.rsplit(", ", 1)
        m = r.metrics
        rows.append(
            {
                "model": label,
                "variant": variant,
                "head": head,
                "pairs": int(photo(r)["train_count"].sum()),
                "top1": m["top1"],
                "Spearman #predictions": m["spearman_pred"],
                "Spearman accuracy": m["spearman_acc"],
            }
        )
    return pd.DataFrame(rows)


def _heads(labels, *variants) -> list:
    """The text towers for which every one of ``variants`` was trained."""
    return [h for h in HEADS if all(f"{v}, {h}" in labels for v in variants)]


def claims(session, runs_by_seed: dict) -> list[dict]:
    """C4, the distribution-shift claim's two halves (discriminability; robustness to imbalance with the
    pretrained head) and C5: each comparison per text tower trained, as parts with their own verdicts."""
    labels = next(iter(runs_by_seed.values()))
    hi_a = max(ALPHAS[session.preset])
    q_lo, q_hi = min(QUANTILES[session.preset]), max(QUANTILES[session.preset])
    alpha, web = (f"Zipf α={hi_a:g}", "Zipf α=1"), ("Zipf α=1", "curated source")
    sim = (f"similarity ≥ q{q_lo:g}", f"similarity ≥ q{q_hi:g}")

    def parts(variants, what, measure, claim, heads=tuple(HEADS)) -> list:
        out = []
        for head in _heads(labels, *variants):
            if head in heads:
                a, b = (f"{v}, {head}" for v in variants)
                checks = learned_checks(runs_by_seed, a, b)
                out += (
                    robustness_parts(runs_by_seed, f"{what} ({head})", a, b, claim, checks=checks)
                    if measure == "robustness"
                    else [
                        paired_part(
                            runs_by_seed,
                            f"{what} ({head})",
                            a,
                            b,
                            measure,
                            claim,
                            own_counts=True,
                            checks=checks,
                        )
                    ]
                )
        return out

    rows = [
        (C4, ROBUSTNESS, parts(alpha, f"α={hi_a:g} − α=1", "robustness", "above")),
        (SHIFT_HARMS, QUANTITY["top-1"], parts(web, "web − curated", "top-1", "below")),
        (SHIFT_HELPS, ROBUSTNESS, parts(web, "web − curated", "robustness", "below", heads=("pretrained",))),
        (C5, ROBUSTNESS, parts(sim, f"≥ q{q_lo:g} − ≥ q{q_hi:g}", "robustness", "below")),
    ]
    return [claim_row(NAME, claim, quantity, found) for claim, quantity, found in rows if found]


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset``'s variants (the notebook says it)."""
    return (
        f"Zipf α {beyond(ALPHAS['full'], ALPHAS[preset])}; threshold quantiles "
        f"{beyond(QUANTILES['full'], QUANTILES[preset])}; the pretrained text tower on "
        f"{beyond(PRETRAINED['full'], PRETRAINED[preset])} variants; the LAIONet profiles "
        f"{', '.join(LAIONET_FILES)}; a larger world (500 classes)"
    )
