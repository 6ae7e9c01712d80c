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

Robustness is the mean per-class accuracy over the shifted test sets; every comparison is a
paired difference over the same classes (over seeds where the preset runs several).

Run::

    python -m studylib run 02c --preset quick
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.chapters.ch02 import beyond, paired_row, part_rows, part_verdicts, photo, robustness
from studylib.chapters.pretraining import pretraining_spec

NAME = "02c_data_distribution"
SHIFTS = ("v2", "sketch", "rendition", "objectnet")
_DOMAINS = dict(test_domains=("photo", *SHIFTS))
SIZES = {
    "smoke": dict(n_classes=24, n_train=960, test_per_class=4, epochs=1, batch_size=32, **_DOMAINS),
    "quick": dict(n_classes=100, n_train=5000, test_per_class=10, epochs=3, batch_size=64, **_DOMAINS),
    "full": dict(n_classes=300, n_train=60000, test_per_class=20, epochs=10, batch_size=128, **_DOMAINS),
}
ALPHAS = {"smoke": (1.0, 2.0), "quick": (1.0, 2.0), "full": (0.5, 1.0, 1.5, 2.0)}
# LAIONet profiles (files of the shared frequencies folder) imposed on the world at `full`.
LAIONET_FILES = ("laionet_thresh0.7_ori", "laionet_thresh0.8_ori", "laionet_thresh0.9_ori")
# The diversity section's world: descriptive (encyclopedia-like) captions that fully describe their images
# (caption_image_words = 1), where the similarity threshold moves kept diversity most (tests/test_world.py
# checks it). On the web-like default (mixed caption styles, q = 0.3) the threshold mostly selects caption
# styles: the first quick run changed within-class diversity by 1% there. Set after that run, for that reason.
DIVERSITY_WORLD = dict(source="encyclopedia", caption_image_words=1.0)
# Similarity thresholds as quantiles of the captions' similarity; every kept set is cut to KEEP_SHARE of the pairs.
QUANTILES = {"smoke": (0.0, 0.5), "quick": (0.0, 0.5), "full": (0.0, 0.25, 0.5)}
KEEP_SHARE = 0.5
# Which variants also train with the pretrained text tower (the rest: `full` adds them).
PRETRAINED = {"smoke": ("alpha", "source"), "quick": ("alpha", "source"), "full": ("alpha", "source", "threshold")}
HEADS = {"scratch": {}, "pretrained": dict(text_tower="init")}


def _spec(s, label, head, seed, keep=None, **overrides):
    deps = {"text_init": pretraining_spec(s, seed)} if head == "pretrained" else None
    return s.spec(f"{label}, {head}", objective="clip", seed=seed, keep=keep, deps=deps, **HEADS[head], **overrides)


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
            raise ValueError(f"quantile {q} keeps {len(above)} pairs, fewer than the {n_keep} every variant needs")
        rng = np.random.default_rng([seed, int(q * 1000)])
        out[q] = np.sort(rng.choice(above, size=n_keep, replace=False))
    return out


def laionet_specs(s, folder, seed: int | None = None) -> dict:
    """CLIP (scratch text tower) on the world with each LAIONet file's class profile (``full`` only; needs
    the shared ``frequencies`` folder)."""
    from pathlib import Path

    seed = s.params["seed"] if seed is None else seed
    out = {}
    for stem in LAIONET_FILES:
        path = Path(folder) / f"class_frequency_{stem}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"LAIONet profile {path} is missing")
        out[f"profile {stem}, scratch"] = _spec(s, f"profile {stem}", "scratch", seed, profile=str(path.resolve()))
    return out


def specs(s, seed: int | None = None, keeps: dict | None = None) -> dict:
    """label -> RunSpec of every variant at preset ``s.preset`` (``keeps`` from :func:`similarity_keeps`)."""
    seed = s.params["seed"] if seed is None else seed
    out = {}
    for head in HEADS:
        if head == "scratch" or "alpha" in PRETRAINED[s.preset]:
            for a in ALPHAS[s.preset]:
                out[f"Zipf α={a:g}, {head}"] = _spec(s, f"Zipf α={a:g}", head, seed, zipf_alpha=a)
        if head == "scratch" or "source" in PRETRAINED[s.preset]:
            out[f"curated source, {head}"] = _spec(s, "curated source", head, seed, source="imagenet")
        if keeps and (head == "scratch" or "threshold" in PRETRAINED[s.preset]):
            for q, keep in keeps.items():
                out[f"similarity ≥ q{q:g}, {head}"] = _spec(s, f"similarity ≥ q{q:g}", head, seed, keep=keep,
                                                            **DIVERSITY_WORLD)
    return out


C4 = "C4: extreme imbalance (Zipf α=2 vs 1) makes CLIP more biased"
SHIFT_HARMS = "web-like instead of curated data lowers top-1 on curated-like photos"
SHIFT_HELPS = "web-like data raises robustness with a pretrained text head"
C5 = "C5: a lower similarity threshold (more diverse images) raises robustness"


def within_class_diversity(x, labels, keep) -> float:
    """Mean over classes (with >= 3 kept images) of the summed pixel variance of the kept images of a class."""
    mask = np.zeros(len(labels), bool)
    mask[keep] = True
    values = [float(x[(labels == c) & mask].var(0).sum()) for c in np.unique(labels) if ((labels == c) & mask).sum() >= 3]
    return float(np.mean(values)) if values else float("nan")


def overview(runs: dict) -> pd.DataFrame:
    """One row per run: variant, text tower, pairs trained on, top-1, robustness, bias (with its interval)."""
    rows = []
    for label, r in runs.items():
        variant, head = label.rsplit(", ", 1)
        rows.append({"model": label, "variant": variant, "head": head, "pairs": int(photo(r)["train_count"].sum()),
                     "top1": r.metrics["top1"], "robustness": float(np.nanmean(robustness(r))),
                     "r": r.metrics["spearman_pred"], "lo": r.metrics["spearman_pred_lo"],
                     "hi": r.metrics["spearman_pred_hi"]})
    return pd.DataFrame(rows)


def claims(runs_by_seed: dict, preset: str) -> pd.DataFrame:
    """C4, the distribution-shift claim's two halves, and C5, per text tower where the preset trains it."""
    labels = next(iter(runs_by_seed.values()))
    lo_a, hi_a = 1.0, max(ALPHAS[preset])
    q_lo, q_hi = min(QUANTILES[preset]), max(QUANTILES[preset])
    rows = []
    for head in HEADS:
        if f"Zipf α={hi_a:g}, {head}" in labels:
            rows.append({"part": C4, "head": head, **paired_row(
                runs_by_seed, f"Zipf α={hi_a:g} − α=1", f"Zipf α={hi_a:g}, {head}", f"Zipf α={lo_a:g}, {head}",
                "#predictions", "above", own_counts=True)})
        if f"curated source, {head}" in labels:
            rows.append({"part": SHIFT_HARMS, "head": head, **paired_row(
                runs_by_seed, "web − curated", f"Zipf α=1, {head}", f"curated source, {head}", "top-1", "below",
                own_counts=True)})
            rows.append({"part": SHIFT_HELPS, "head": head, **paired_row(
                runs_by_seed, "web − curated", f"Zipf α=1, {head}", f"curated source, {head}", "robustness",
                "above", own_counts=True)})
        if f"similarity ≥ q{q_lo:g}, {head}" in labels:
            rows.append({"part": C5, "head": head, **paired_row(
                runs_by_seed, f"similarity ≥ q{q_lo:g} − ≥ q{q_hi:g}", f"similarity ≥ q{q_lo:g}, {head}",
                f"similarity ≥ q{q_hi:g}, {head}", "robustness", "above", own_counts=True)})
    return pd.DataFrame(rows)


def claim_verdicts(table: pd.DataFrame) -> dict:
    """One verdict per claim. C4 and C5 must hold for every text tower tried; the shift claim is about
    discriminability (any head) and robustness with the pretrained head."""
    return part_verdicts(table, counted=(table["part"] != SHIFT_HELPS) | (table["head"] == "pretrained"))


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset``'s variants (the notebook says it)."""
    return (f"Zipf α {beyond(ALPHAS['full'], ALPHAS[preset])}; threshold quantiles "
            f"{beyond(QUANTILES['full'], QUANTILES[preset])}; the pretrained text tower on "
            f"{beyond(PRETRAINED['full'], PRETRAINED[preset])} variants; the LAIONet profiles "
            f"{', '.join(LAIONET_FILES)}; three seeds")


def summary(registry, preset: str = "quick") -> list[dict]:
    """The chapter's claims and computed verdicts from the registry's runs at the default parameters."""
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    keeps = similarity_keeps(s.world(**DIVERSITY_WORLD), preset)
    runs_by_seed = stored_by_seed(registry, s, lambda k: specs(s, k, keeps))
    if missing := not_run(NAME, *runs_by_seed.values()):
        return missing
    table = claims(runs_by_seed, preset)
    return part_rows(NAME, table, claim_verdicts(table),
                     lambda r: f"{r.head}: {r.measure} {r.difference:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]")
