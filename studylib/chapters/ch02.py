"""Chapter 2 · imbalance: is CLIP less biased by class frequency than supervised learning?

SL, SL with vocabulary subsampling and CLIP trained on the same long-tailed
concept world (notebook ``02_imbalance``); per-class accuracy and
#predictions against training frequency; the claim "CLIP is less biased than
SL" tested on the paired difference of their correlations over the same
classes, across seeds where the preset runs several, and at matched accuracy
against a family of SL models trained for fewer epochs or with a narrower
network; how well frequency can be counted from captions, scored against the
world's truth.

Run::

    python -m studylib run 02 --preset quick

At ``quick`` (300 classes, 20k pairs, Zipf 1, batch 128, seed 0, studylib 0.3.1; 8 models,
a few minutes on 2 CPU cores) it produced: Spearman(frequency, #predictions) 0.82 for
SL, 0.34 for CLIP, 0.63 for SL with vocabulary subsampling (k=64), which also raised SL's
top-1 from 0.127 to 0.201; CLIP's zero-shot top-1 0.105. Paired differences over the same
classes: CLIP − SL −0.47 [−0.58, −0.38] (#predictions) and −0.20 [−0.31, −0.10]
(accuracy); SL + vocab − SL −0.18 [−0.24, −0.13]; CLIP lies −0.45 [−0.55, −0.36] below
the SL family's bias-accuracy line. The notebook recomputes and states these, with
their verdicts, on every run.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.captions.scoring import estimation_scores, estimation_section
from studylib.config import CAPTION_LEVELS
from studylib.inference import (combine_seeds, joint_verdict, paired_difference, paired_mean_difference,
                                residual_from_trend, verdict)

NAME = "02_imbalance"
SIZES: dict = {}           # the preset's own world: many more classes than a batch
MEASURES = {"#predictions": "predictions", "accuracy": "accuracy"}
# The accuracy-matched reference: SL trained for a fraction of the epochs or at a fraction of the
# width, spanning top-1 below the full SL model, where CLIP's accuracy lies.
SL_FAMILY = ((1 / 6, 1.0), (1 / 3, 1.0), (2 / 3, 1.0), (1.0, 0.5), (1.0, 0.25))


def model_specs(s, vocab_k: int, seed: int | None = None) -> dict:
    """label -> RunSpec: SL, SL with vocabulary subsampling, CLIP, on the same images."""
    seed = s.params["seed"] if seed is None else seed
    return {"SL": s.spec("SL", objective="sl", seed=seed),
            f"SL + vocab {vocab_k}": s.spec(f"SL + vocab {vocab_k}", objective="sl", vocab_k=vocab_k, seed=seed),
            "CLIP": s.spec("CLIP", objective="clip", seed=seed)}


def sl_family_specs(s) -> dict:
    """label -> RunSpec of the reference SL family (the full SL model is added by the notebook)."""
    E, W = s.params["epochs"], s.params["width"]
    out = {}
    for efrac, wfrac in SL_FAMILY:
        e, w = max(1, round(E * efrac)), max(4, int(W * wfrac))
        label = f"SL ep={e} w={w}"
        if (e, w) != (E, W):
            out[label] = s.spec(label, objective="sl", epochs=e, width=w)
    return out


def id_table(run, domain: str | None = None) -> pd.DataFrame:
    """A run's per-class table on one test set (default its in-distribution one), every class, in class order."""
    pc = run.per_class
    return pc[pc["domain"] == (domain or run.metrics["id_domain"])].sort_values("class_index")


def photo(run) -> pd.DataFrame:
    """A run's per-class table on the in-distribution test set, classes with training pairs only."""
    table = id_table(run)
    return table[table["train_count"] > 0]


def robustness(run) -> np.ndarray:
    """Per-class accuracy averaged over the run's shifted test sets (all but its in-distribution one),
    classes in ``class_index`` order."""
    pc = run.per_class
    shifted = pc[pc["domain"] != run.metrics["id_domain"]]
    if shifted.empty:
        raise ValueError(f"run {run.key} was evaluated on no shifted test set: it has no robustness")
    return shifted.pivot_table(index="class_index", columns="domain", values="accuracy").mean(axis=1).sort_index().to_numpy()


def paired_tables(run_a, run_b, own_counts: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two runs' :func:`photo` tables, checked to hold the same classes (and, unless ``own_counts``, the
    same training counts): what a paired comparison over classes needs."""
    a, b = photo(run_a), photo(run_b)
    if not (a["class_index"].to_numpy() == b["class_index"].to_numpy()).all() or (
            not own_counts and not (a["train_count"].to_numpy() == b["train_count"].to_numpy()).all()):
        raise ValueError(f"runs {run_a.key} and {run_b.key} were not trained on the same classes and counts: "
                         "a paired comparison needs the same world")
    return a, b


def paired(run_a, run_b, measure: str, seed: int = 0, own_counts: bool = False) -> dict:
    """corr(a) − corr(b) with frequency over the same classes, paired bootstrap interval.

    ``measure`` "#predictions" or "accuracy" (correlations with frequency), "top-1" (the
    difference of mean per-class accuracy) or "robustness" (of :func:`robustness`).
    ``own_counts``: the runs saw different amounts of the same classes (a data-scale sweep
    or a different profile); each correlation uses its own counts.
    """
    a, b = paired_tables(run_a, run_b, own_counts)
    if measure == "top-1":
        return paired_mean_difference(a["accuracy"].to_numpy(), b["accuracy"].to_numpy(), seed=seed)
    if measure == "robustness":
        return paired_mean_difference(robustness(run_a), robustness(run_b), seed=seed)
    col = MEASURES[measure]
    return paired_difference(a[col].to_numpy(), b[col].to_numpy(), a["train_count"].to_numpy(), seed=seed,
                             frequency_b=b["train_count"].to_numpy() if own_counts else None)


def paired_row(runs_by_seed: dict, name: str, a: str, b: str, measure: str, claim: str,
               own_counts: bool = False) -> dict:
    """One comparison ``a − b``: the paired difference (one seed) or its mean and t interval over seeds, and
    the verdict on ``claim`` ("below" or "above" 0)."""
    interval, basis = combine_seeds([paired(runs[a], runs[b], measure, seed=seed, own_counts=own_counts)
                                     for seed, runs in runs_by_seed.items()])
    return {"comparison": name, "measure": measure, "claim": f"difference {claim} 0",
            "difference": interval["diff"], "lo": interval["lo"], "hi": interval["hi"],
            "interval": basis, "verdict": verdict(interval, claim)}


def beyond(full, here) -> str:
    """The points of a ``full`` sweep that ``here`` does not run, in ``full``'s order ("none" if none)."""
    extra = [x for x in full if x not in here]
    return ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in extra) or "none"


def part_verdicts(table: pd.DataFrame, counted=None) -> dict:
    """part -> :func:`~studylib.inference.joint_verdict` of its rows (a claim made of several comparisons), in
    the order the parts first appear. ``counted``: a boolean mask of the rows that decide (default all)."""
    rows = table if counted is None else table[counted]
    return {part: joint_verdict(rows.loc[rows["part"] == part, "verdict"])
            for part in dict.fromkeys(table["part"]) if (rows["part"] == part).any()}


def part_rows(chapter: str, table: pd.DataFrame, verdicts: dict, describe, prefix: str = "") -> list[dict]:
    """Summary rows, one per part: its verdict and ``describe(row)`` of each of its comparisons."""
    return [{"chapter": chapter, "claim": prefix + part, "verdict": word,
             "result": "; ".join(describe(r) for r in table[table["part"] == part].itertuples())}
            for part, word in verdicts.items()]


def comparisons(runs_by_seed: dict, vocab_label: str) -> pd.DataFrame:
    """The chapter's claims, one row each: the paired difference (per seed, then over seeds) and its verdict.

    C1: CLIP is less biased than SL (#predictions and accuracy correlations lower).
    C3 (first half): vocabulary subsampling makes SL less biased.
    """
    claims = [("CLIP − SL", "CLIP", "SL", "#predictions", "below"),
              ("CLIP − SL", "CLIP", "SL", "accuracy", "below"),
              ("SL + vocab − SL", vocab_label, "SL", "#predictions", "below")]
    return pd.DataFrame([paired_row(runs_by_seed, *claim) for claim in claims])


def accuracy_matched(family: dict, target, measure: str = "#predictions", seed: int = 0) -> dict:
    """``target``'s correlation against the SL family's line of correlation on top-1 (paired class bootstrap)."""
    col = MEASURES[measure]
    tables = {label: photo(r) for label, r in family.items()}
    t = photo(target)
    if len({r.metrics["top1"] for r in family.values()}) < 2:      # e.g. the smoke preset: all at chance
        nan = float("nan")
        return {"residual": nan, "lo": nan, "hi": nan, "slope": nan, "intercept": nan, "n_models": len(family)}
    return residual_from_trend([tab[col].to_numpy() for tab in tables.values()],
                               [r.metrics["top1"] for r in family.values()], t[col].to_numpy(),
                               target.metrics["top1"], t["train_count"].to_numpy(), seed=seed)


def bias_points(runs: dict, groups: dict, measure: str = "#predictions") -> pd.DataFrame:
    """``model, group, top1, r, lo, hi`` per run, for the bias-against-accuracy figure."""
    short = {"#predictions": "pred", "accuracy": "acc"}[measure]
    return pd.DataFrame([{"model": label, "group": groups[label], "top1": r.metrics["top1"],
                          "r": r.metrics[f"spearman_{short}"], "lo": r.metrics[f"spearman_{short}_lo"],
                          "hi": r.metrics[f"spearman_{short}_hi"]} for label, r in runs.items()])


def frequency_estimation(world) -> dict:
    """Precision/recall of caption-based frequency estimation on the world, per caption level."""
    tr = world.train
    return estimation_scores(tr.captions, tr.labels, list(world.concepts) + list(world.open_concepts),
                             levels=tr.caption_level, level_names=list(CAPTION_LEVELS))


def frequency_estimation_card_section(scores: dict, world) -> dict:
    """The data-card section on frequency estimation."""
    names = world.class_names + [c.name for c in world.open_concepts]
    return {"Frequency estimation from captions": estimation_section(scores, names)}


# The paper's Fig 1a: ImageNet class frequencies in real pre-training corpora (files of ../shared/data/frequencies).
CORPORA = {"LAION-400M": "laion400m_imagenet_ori", "LAION-2B": "laion2b_imagenet_ori", "CC-12M": "cc12m_imagenet_ori",
           "YFCC-15M": "yfcc15m_imagenet_ori", "MetaCLIP-400M": "metaclip_400m_imagenet_ori",
           "ImageNet-Captions": "incaps_imagenet_ori"}
LAIONET = {f"LAIONet (threshold {t})": f"laionet_thresh{t}_ori" for t in ("0.7", "0.75", "0.8", "0.82", "0.85", "0.9")}


def real_profiles(folder) -> dict | None:
    """name -> per-class count Series (ImageNet class order) of :data:`CORPORA` and :data:`LAIONET` read from
    ``folder`` (the shared ``frequencies`` folder); None when the folder does not exist. A missing or bad
    file raises, naming it."""
    from pathlib import Path

    from studylib.captions.profiles import read_profile

    folder = Path(folder)
    if not folder.is_dir():
        return None
    return {name: read_profile(folder / f"class_frequency_{stem}.txt", name=name)
            for name, stem in {**CORPORA, **LAIONET}.items()}


def long_tail_table(profiles: dict) -> pd.DataFrame:
    """Each profile's Spearman (and Pearson of log counts) with LAION-400M and its imbalance, LAION-400M first.
    ImageNet repeats some class names, so profiles are aligned by class order."""
    from studylib.captions.profiles import compare_profiles

    ref = profiles["LAION-400M"]
    return compare_profiles(ref, [p for name, p in profiles.items() if name != "LAION-400M"], align="order")


DEFAULT_VOCAB_K = 64       # the notebook's default `vocab_k`


def summary(registry, preset: str = "quick") -> list[dict]:
    """The chapter's claims and computed verdicts from the registry's runs at the default parameters."""
    from studylib.chapters.stored import not_run, stored, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    runs_by_seed = stored_by_seed(registry, s, lambda k: model_specs(s, DEFAULT_VOCAB_K, seed=k))
    runs = {**runs_by_seed[s.params["seed"]], **stored(registry, sl_family_specs(s))}
    if missing := not_run(NAME, *runs_by_seed.values(), runs):
        return missing
    vocab = f"SL + vocab {DEFAULT_VOCAB_K}"
    rows = []
    for r in comparisons(runs_by_seed, vocab).itertuples():
        rows.append({"chapter": NAME, "claim": f"{r.comparison} < 0 ({r.measure} correlation with frequency)",
                     "result": f"{r.difference:+.2f} [{r.lo:+.2f}, {r.hi:+.2f}]", "verdict": r.verdict})
    family = {"SL": runs["SL"], **{k: v for k, v in runs.items() if k.startswith("SL ep=")}}
    m = accuracy_matched(family, runs["CLIP"])
    rows.append({"chapter": NAME, "claim": "CLIP below the SL family's bias-accuracy line (#predictions)",
                 "result": f"{m['residual']:+.2f} [{m['lo']:+.2f}, {m['hi']:+.2f}]", "verdict": verdict(m, "below")})
    return rows
