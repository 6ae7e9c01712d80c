"""Score a frequency estimator against known labels, and report the scores.

Why: the paper counts concept frequency by matching names in captions; how
good is that count? Where every caption's true concept is known (the concept
world, or any labelled corpus), :func:`score_matches` gives the precision and
recall of the predicted (caption, concept) pairs overall, per concept and per
caption group, plus the Spearman correlation of estimated and true counts.
:func:`estimation_scores` runs the caption matcher and scores it in one call
on plain inputs; :func:`estimation_table` and :func:`estimation_section`
turn the scores into a table and a markdown data-card section.

Usage::

    from studylib.captions.scoring import estimation_scores, estimation_section
    from studylib.config import CAPTION_LEVELS
    tr = world.train
    scores = estimation_scores(tr.captions, tr.labels, world.concepts,
                               levels=tr.caption_level, level_names=CAPTION_LEVELS)
    scores["overall"]                      # precision, recall, f1, spearman
    text = estimation_section(scores, world.class_names)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.captions.counting import count_captions
from studylib.captions.patterns import build_patterns
from studylib.captions.results import FrequencyResult


def score_matches(matches, true_labels, n_concepts: int, groups=None) -> dict[str, pd.DataFrame]:
    """Precision and recall of predicted concept sets against known labels.

    ``matches``: per caption, an iterable of predicted concept ids (or a
    :class:`FrequencyResult` with kept matches). ``true_labels``: per caption,
    one concept id (-1 for none) or an iterable of ids. ``groups``: optional
    label per caption (e.g. descriptiveness level).

    A (caption, concept) pair is a true positive when predicted and true.
    Returns DataFrames: ``overall`` (one row), ``per_concept``, ``per_group``
    and ``per_group_concept`` (empty without groups). Each has tp, predicted,
    true, precision, recall, f1; ``overall`` and ``per_group`` add the
    Spearman correlation between estimated and true per-concept counts.
    """
    if isinstance(matches, FrequencyResult):
        if matches.match_caption is None:
            raise ValueError("the FrequencyResult has no matches; count with keep_matches=True")
        n = matches.n_captions
        pc_, pk = matches.match_caption.astype(np.int64), matches.match_concept.astype(np.int64)
    else:
        n = len(matches)
        pc_, pk = _pairs(matches, "matches")
    tc, tk = _pairs(true_labels, "true_labels")
    if len(true_labels) != n:
        raise ValueError(f"matches has {n} captions but true_labels has {len(true_labels)}")
    for name, k in (("matches", pk), ("true_labels", tk)):
        if k.size and (k.min() < 0 or k.max() >= n_concepts):
            raise ValueError(f"{name} holds concept ids outside [0, {n_concepts})")
    C = n_concepts
    pkey = np.unique(pc_ * C + pk)
    tkey = np.unique(tc * C + tk)
    tp_key = np.intersect1d(pkey, tkey, assume_unique=True)
    g = None if groups is None else np.asarray(groups)
    if g is not None and len(g) != n:
        raise ValueError(f"groups has {len(g)} entries for {n} captions")

    def table(keys_sel):
        p, t, tp = (np.bincount(k % C, minlength=C) for k in keys_sel)
        return p, t, tp

    def rows(p, t, tp):
        df = pd.DataFrame({"tp": tp, "predicted": p, "true": t})
        return _prf(df)

    p, t, tp = table((pkey, tkey, tp_key))
    per_concept = rows(p, t, tp)
    per_concept.insert(0, "concept", np.arange(C))
    overall = _prf(pd.DataFrame({"tp": [tp.sum()], "predicted": [p.sum()], "true": [t.sum()]}))
    overall["spearman"] = _spearman(p, t)
    overall.insert(0, "captions", n)
    per_group, per_gc = [], []
    if g is not None:
        for lvl in pd.unique(g):
            sel_caps = np.flatnonzero(g == lvl)
            ks = [k[np.isin(k // C, sel_caps)] for k in (pkey, tkey, tp_key)]
            gp, gt, gtp = table(ks)
            row = _prf(pd.DataFrame({"tp": [gtp.sum()], "predicted": [gp.sum()], "true": [gt.sum()]}))
            row.insert(0, "captions", sel_caps.size)
            row.insert(0, "group", [lvl])
            row["spearman"] = _spearman(gp, gt)
            per_group.append(row)
            df = rows(gp, gt, gtp)
            df.insert(0, "concept", np.arange(C))
            df.insert(0, "group", lvl)
            per_gc.append(df)
    cols = ["group", "captions", "tp", "predicted", "true", "precision", "recall", "f1", "spearman"]
    return {
        "overall": overall,
        "per_concept": per_concept,
        "per_group": (pd.concat(per_group, ignore_index=True) if per_group else pd.DataFrame(columns=cols)),
        "per_group_concept": pd.concat(per_gc, ignore_index=True)
        if per_gc
        else pd.DataFrame(
            columns=["group", "concept", "tp", "predicted", "true", "precision", "recall", "f1"]
        ),
    }


def _pairs(per_caption, what) -> tuple[np.ndarray, np.ndarray]:
    arr = None
    if isinstance(per_caption, np.ndarray) and per_caption.dtype.kind in "iu":
        arr = per_caption
    elif len(per_caption) and all(isinstance(x, (int, np.integer)) for x in per_caption[:100]):
        arr = np.asarray(per_caption, dtype=np.int64)
    if arr is not None:
        if arr.ndim != 1:
            raise ValueError(f"{what}: expected one label per caption")
        ok = arr >= 0
        return np.flatnonzero(ok).astype(np.int64), arr[ok].astype(np.int64)
    caps, cons = [], []
    for i, s in enumerate(per_caption):
        ids = [int(x) for x in (s if s is not None else ())]
        caps += [i] * len(ids)
        cons += ids
    cons = np.asarray(cons, dtype=np.int64)
    caps = np.asarray(caps, dtype=np.int64)
    ok = cons >= 0
    return caps[ok], cons[ok]


def _prf(df: pd.DataFrame) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        df["precision"] = np.where(df.predicted > 0, df.tp / df.predicted, np.nan)
        df["recall"] = np.where(df.true > 0, df.tp / df.true, np.nan)
        df["f1"] = 2 * df.precision * df.recall / (df.precision + df.recall)
    return df


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


# ----------------------------------------------------------------------------
# The caption matcher, scored and reported


def estimation_scores(
    captions, true_labels, concepts, levels=None, level_names=None
) -> dict[str, pd.DataFrame]:
    """Score caption-based frequency estimation against known labels.

    The estimator (:mod:`studylib.captions.matching`: word-boundary synonym
    matching with inflections) counts each caption for every concept it
    names; a (caption, concept) match is correct when the concept is the
    caption's true label. ``concepts``: anything
    :func:`~studylib.captions.patterns.build_patterns` takes (a list of
    Concept or ConceptSpec, a dict name -> synonyms, ...); ``true_labels``:
    one concept index per caption (-1 for none). ``levels``: optional group
    per caption (e.g. descriptiveness level); with ``level_names`` they are
    indices into it, and ``per_group`` rows follow the order of
    ``level_names``. Returns :func:`score_matches`' tables.
    """
    pat = build_patterns(concepts)
    result = count_captions(captions, pat, keep_matches=True)
    groups = levels
    if levels is not None and level_names is not None:
        groups = [level_names[i] for i in levels]
    scores = score_matches(result, true_labels, pat.n_concepts, groups=groups)
    if level_names is not None:
        for key in ("per_group", "per_group_concept"):
            rank = scores[key]["group"].map({g: i for i, g in enumerate(level_names)})
            scores[key] = scores[key].iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
    return scores


def estimation_table(scores: dict) -> pd.DataFrame:
    """Per group (rows, in ``per_group`` order): captions, precision, recall, f1, spearman."""
    per = scores["per_group"].set_index("group")
    per.index.name = "level"
    return per[["captions", "precision", "recall", "f1", "spearman"]]


def estimation_section(scores: dict, class_names) -> str:
    """Markdown: precision and recall overall and per descriptiveness level."""
    overall = scores["overall"].iloc[0]
    worst = scores["per_concept"].sort_values("precision").head(3)
    least = ", ".join(f"{class_names[int(r['concept'])]} ({r['precision']:.2f})" for _, r in worst.iterrows())
    return "\n".join(
        [
            "Caption-based concept-frequency estimation (`studylib.captions`: word-boundary matching "
            "of each concept's synonyms and inflections) scored against the true label of every "
            "training pair.",
            "",
            f"Overall: precision {overall['precision']:.3f}, recall {overall['recall']:.3f}; Spearman "
            f"correlation between estimated and true per-class counts {overall['spearman']:.3f}.",
            "",
            estimation_table(scores).reset_index().to_markdown(index=False, floatfmt=".3f"),
            "",
            "Least precise concepts (synonyms shared with, or contained in, other concepts' "
            f"captions): {least}.",
        ]
    )
