"""Chapter 2b · language and vocabulary: which factors make CLIP less biased than SL? (Fig 1b; C2, C3)

Three sweeps on one long-tailed concept world (notebook ``02b_language_and_vocabulary``):

* **data scale** (paper Fig 1b, right): CLIP and SL on fractions of the training pairs. Every
  run sees the same number of samples: a run on a fraction f of the pairs trains for
  epochs / f epochs (rounded), so a smaller dataset is not also a shorter training;
* **text descriptiveness** (Fig 3, dots; claim C2): CLIP trained on one caption level at a
  time. C2 compares full text with the *synonym* template: both name the class by a random
  synonym (the class-name template always uses the canonical name, which the zero-shot
  prompts use too), so only the descriptiveness differs. No training template equals an
  evaluation prompt (``studylib.world``);
* **vocabulary size and weighting** (Fig 3, stars; claim C3): SL scoring only the batch's own
  classes plus extras drawn uniformly, ∝ frequency or ∝ √frequency.

**This chapter owns C3's verdict** (chapter 2 shows its own numbers without one). Vocabulary
subsampling raises SL's top-1, and a more accurate model is more biased by itself, so a raw
difference of correlations mixes the two. C3 is therefore decided on each subsampled model's
residual from the line of bias on top-1 traced by an SL reference family on this world (as C1
does in chapter 2). The family is cheap here (the world is small) and spans top-1 both below
and above plain SL (fewer and more epochs, a narrower network), so the subsampled models are
matched by interpolation. Chapter 2's world could only extrapolate: its subsampled SL is more
accurate than every model of its family. The ∝-frequency point re-adds head classes as
negatives, which works against what subsampling does to the vocabulary, so it is shown but does
not decide.

Run::

    python -m studylib run 02b --preset quick

Long because three sweeps (data scale, caption levels, vocabulary) share one world, one SL family
and C3's row.
"""

from __future__ import annotations

import pandas as pd

from studylib.chapters import worlds
from studylib.chapters.evidence import (
    QUANTITY,
    beyond,
    bias_points,
    learned_checks,
    matched_seeds_part,
    paired_part,
    sl_family_specs,
)
from studylib.claims import check, claim_row
from studylib.config import CAPTION_LEVELS

NAME = "02b_language_and_vocabulary"
SIZES = worlds.LANGUAGE  # chapter 2e adds an open pool to this world and reuses the full-data runs
SEEDS = worlds.SEEDS
AFTER: tuple = ()
# Data scale: fractions of the preset's training pairs (1 is the shared default run).
SCALES = {"smoke": (0.5, 1.0), "quick": (0.25, 1.0), "full": (0.125, 0.5, 1.0)}
# Caption levels, one at a time, in order of descriptiveness; C2 needs the synonym template and full text.
# `full` runs all six and adds the paper's mixes.
LEVELS = {
    "smoke": ("template_synonym", "tags", "full_text"),
    "quick": ("template_synonym", "tags", "full_text"),
    "full": CAPTION_LEVELS,
}
C2_LEVELS = ("full_text", "template_synonym")  # both name the class by a random synonym
MIXES = {
    "name only (both templates)": (1, 1, 0, 0, 0, 0),
    "name + tags (title, tags)": (0, 0, 1, 1, 0, 0),
    "name + description (description, full text)": (0, 0, 0, 0, 1, 1),
}
# Vocabulary subsampling points (k, weighting); k = 1 scores the batch's own classes only. Every other k
# lies well above the number of distinct classes in one batch (about 82 of 256 pairs of 150 classes at quick,
# about 25 of 16 at smoke), or it adds no extras and every weighting is the same model.
VOCAB = {
    "smoke": ((1, "uniform"), (24, "uniform"), (24, "freq"), (24, "sqrt")),
    "quick": ((1, "uniform"), (120, "uniform"), (120, "freq"), (120, "sqrt")),
    "full": ((1, "uniform"), (200, "uniform"), (200, "freq"), (200, "sqrt")),
}
UNDECIDED = ("freq",)  # weightings shown, not deciding C3 (they re-add head classes as negatives)
# C3's accuracy-matched reference: SL for fewer and more epochs, and narrower, so the family's top-1 brackets
# the subsampled models (which can be more accurate than plain SL).
SL_FAMILY = ((1 / 3, 1.0), (2 / 3, 1.0), (1.0, 0.5), (2.0, 1.0))


def level_mix(level: str) -> tuple:
    return tuple(float(lvl == level) for lvl in CAPTION_LEVELS)


def scale_label(objective: str, fraction: float) -> str:
    return f"{objective.upper()} ×{fraction:g} data"


def scale_specs(session, seed: int | None = None) -> dict:
    """CLIP and SL at each data fraction of the preset, each for the same number of samples seen."""
    seed = session.params["seed"] if seed is None else seed
    n, e, b = session.params["n_train"], session.params["epochs"], session.params["batch_size"]
    pairs = {f: max(session.params["n_classes"], round(n * f)) for f in SCALES[session.preset]}
    return {
        scale_label(obj, f): session.spec(
            scale_label(obj, f),
            objective=obj,
            seed=seed,
            n_train=pairs[f],
            epochs=worlds.matched_epochs(e, n, pairs[f], b),
        )
        for obj in ("sl", "clip")
        for f in SCALES[session.preset]
    }


def caption_specs(session, seed: int | None = None) -> dict:
    """CLIP trained on one caption level at a time (and, at ``full``, on the paper's mixes)."""
    seed = session.params["seed"] if seed is None else seed
    mixes = {f"CLIP, {lvl}": level_mix(lvl) for lvl in LEVELS[session.preset]}
    if session.preset == "full":
        mixes.update({f"CLIP, {name}": mix for name, mix in MIXES.items()})
    return {
        label: session.spec(label, objective="clip", caption_mix=mix, seed=seed)
        for label, mix in mixes.items()
    }


def vocab_label(k: int, weighting: str) -> str:
    return "SL + vocab: batch classes only" if k == 1 else f"SL + vocab {k} ({weighting})"


def vocab_specs(session, seed: int | None = None) -> dict:
    """SL with vocabulary subsampling at each (k, weighting) point of the preset."""
    seed = session.params["seed"] if seed is None else seed
    return {
        vocab_label(k, w): session.spec(
            vocab_label(k, w), objective="sl", vocab_k=k, vocab_weighting=w, seed=seed
        )
        for k, w in VOCAB[session.preset]
    }


def specs(session, seed: int | None = None) -> dict:
    """label -> RunSpec of every run the claims need for one seed: the three sweeps and C3's SL family."""
    return {
        **scale_specs(session, seed),
        **caption_specs(session, seed),
        **vocab_specs(session, seed),
        **sl_family_specs(session, SL_FAMILY, seed=seed),
    }


SL, CLIP = scale_label("sl", 1.0), scale_label("clip", 1.0)


def family_labels(session) -> tuple:
    """C3's reference family: plain SL at the full data and its kin trained for fewer or more epochs."""
    return (SL, *sl_family_specs(session, SL_FAMILY))


def decided_points(preset: str) -> list[str]:
    """The vocabulary points that decide C3 (every weighting but :data:`UNDECIDED`)."""
    return [vocab_label(k, w) for k, w in VOCAB[preset] if w not in UNDECIDED]


# ------------------------------------------------------------------ claims
FIG1B = (
    "Fig 1b: CLIP's bias falls with more data (×1 vs the smallest fraction of the pairs, "
    "same number of samples seen)"
)
C2 = "C2: descriptive text lowers bias and raises top-1 (full text vs synonym template)"
C2_QUANTITY = f"{QUANTITY['#predictions']}; {QUANTITY['top-1']}"
C3 = (
    "C3: vocabulary subsampling moves SL toward CLIP, at matched top-1 "
    "(∝-frequency extras shown, not decided)"
)
C3_QUANTITY = (
    "robustness to imbalance at matched discriminability: residual of Spearman(per-class "
    "#predictions, training frequency) from the SL family's line on top-1, below 0 is less biased"
)


def scale_part(runs_by_seed: dict, preset: str, obj: str = "clip"):
    """``obj`` at the full data minus itself at the smallest fraction (#predictions correlation, each with its
    own counts; the same number of samples seen)."""
    small = min(SCALES[preset])
    a, b = scale_label(obj, 1.0), scale_label(obj, small)
    return paired_part(
        runs_by_seed,
        f"{obj.upper()} ×1 − ×{small:g} data",
        a,
        b,
        "#predictions",
        "below",
        own_counts=True,
        checks=learned_checks(runs_by_seed, a, b),
    )


def c2_parts(runs_by_seed: dict) -> list:
    """C2's two parts: full text − synonym template, #predictions correlation below 0 and top-1 above 0."""
    a, b = (f"CLIP, {lvl}" for lvl in C2_LEVELS)
    checks = learned_checks(runs_by_seed, a, b)
    return [
        paired_part(runs_by_seed, f"{C2_LEVELS[0]} − {C2_LEVELS[1]}", a, b, measure, claim, checks=checks)
        for measure, claim in (("#predictions", "below"), ("top-1", "above"))
    ]


def subsampled(runs_by_seed: dict, label: str, n_classes: int):
    """Manipulation check: the subsampled SL scored fewer classes per step than the world holds."""
    mean = max(runs[label].metrics["mean_vocab"] for runs in runs_by_seed.values())
    return check(
        f"{label} scored a subsampled vocabulary",
        mean < n_classes,
        f"{mean:.0f} of {n_classes} classes per step",
    )


def c3_parts(session, runs_by_seed: dict, points=None) -> list:
    """C3's parts: each deciding subsampled SL's #predictions residual from the SL family's line (below 0)."""
    family, n = family_labels(session), session.params["n_classes"]
    return [
        matched_seeds_part(
            runs_by_seed,
            family,
            label,
            label,
            "below",
            checks=(*learned_checks(runs_by_seed, label), subsampled(runs_by_seed, label, n)),
        )
        for label in (points or decided_points(session.preset))
    ]


def vocab_table(session, runs_by_seed: dict) -> pd.DataFrame:
    """Every vocabulary point, shown: raw paired difference from SL, top-1 difference and the residual from
    the family's line; ``decides C3`` marks the points C3's verdict rests on (no verdict words here)."""
    rows, decided = [], set(decided_points(session.preset))
    for k, w in VOCAB[session.preset]:
        label = vocab_label(k, w)
        raw = paired_part(runs_by_seed, f"{label} − SL", label, SL, "#predictions", "below")
        top = paired_part(runs_by_seed, f"{label} − SL", label, SL, "top-1", "above")
        res = c3_parts(session, runs_by_seed, [label])[0]
        rows.append(
            {
                "point": label,
                "decides C3": label in decided,
                "raw Δ #predictions corr": raw.estimate,
                "Δ top-1": top.estimate,
                "residual": res.estimate,
                "residual lo": res.lo,
                "residual hi": res.hi,
            }
        )
    return pd.DataFrame(rows)


def claims(session, runs_by_seed: dict) -> list[dict]:
    """Fig 1b's scale claim, C2 and C3 (the study's one C3 row: see the module docstring)."""
    p = session.preset
    return [
        claim_row(NAME, FIG1B, QUANTITY["#predictions"], [scale_part(runs_by_seed, p)]),
        claim_row(NAME, C2, C2_QUANTITY, c2_parts(runs_by_seed)),
        claim_row(NAME, C3, C3_QUANTITY, c3_parts(session, runs_by_seed)),
    ]


def scale_table(runs_by_seed: dict, preset: str) -> pd.DataFrame:
    """Both models at the full data against themselves at the smallest fraction (same samples seen)."""
    parts = [scale_part(runs_by_seed, preset, obj) for obj in ("clip", "sl")]
    return pd.DataFrame({"comparison": [p.result() for p in parts], "basis": [p.basis for p in parts]})


# ------------------------------------------------------------------ figures
def scale_points(runs: dict, preset: str) -> pd.DataFrame:
    """``model, group, fraction, top1, r, lo, hi`` of the data-scale runs."""
    labels = {scale_label(obj, f): (obj.upper(), f) for obj in ("sl", "clip") for f in SCALES[preset]}
    pts = bias_points({k: runs[k] for k in labels}, {k: g for k, (g, _) in labels.items()})
    return pts.assign(fraction=[f for _, f in labels.values()])


def level_points(runs: dict, preset: str) -> pd.DataFrame:
    """``level, rank, top1, r, lo, hi`` of the preset's one-level CLIP runs, in descriptiveness order."""
    labels = [f"CLIP, {lvl}" for lvl in LEVELS[preset]]
    pts = bias_points({k: runs[k] for k in labels}, {k: "CLIP" for k in labels})
    return pts.assign(level=list(LEVELS[preset]), rank=range(len(labels)))


def figure_groups(runs: dict) -> dict:
    """run label -> group for the bias-against-top-1 figure."""

    def group(label):
        if label.startswith("SL + vocab"):
            return "SL + vocabulary subsampling"
        if label.startswith("SL ep=") or label == SL:
            return "SL family (C3's reference)"
        if label.startswith("SL"):
            return "SL (smaller data)"
        if label.startswith("CLIP, "):
            return "CLIP (one caption level)"
        return "CLIP (data scale)"

    return {label: group(label) for label in runs}


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset``'s sweeps (the notebooks say it)."""
    sizes = sorted({k for k, _ in VOCAB["full"]} - {k for k, _ in VOCAB[preset]})
    return (
        f"data fractions {beyond(SCALES['full'], SCALES[preset])}; the caption levels "
        f"{beyond(LEVELS['full'], LEVELS[preset])}; the caption mixes {', '.join(MIXES)}; "
        f"vocabulary sizes {beyond(sizes, ())} with every weighting; a larger world"
    )
