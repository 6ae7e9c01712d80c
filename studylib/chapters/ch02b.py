"""Chapter 2b · language and vocabulary: which factors make CLIP less biased than SL?

Three sweeps on one long-tailed concept world (notebook ``02b_language_and_vocabulary``):

* **data scale** (paper Fig 1b, right): CLIP and SL on fractions of the training pairs;
* **text descriptiveness** (Fig 3, dots; claim C2): CLIP trained on one caption level at a
  time, from a template with the class name to full text;
* **vocabulary size and weighting** (Fig 3, stars; claim C3): SL scoring only the batch's
  own classes plus extras drawn uniformly, ∝ frequency or ∝ √frequency.

Every claim is a paired difference over the same classes (across seeds where the preset
runs several), with its verdict computed by :func:`studylib.inference.verdict`.

Run::

    python -m studylib run 02b --preset quick
"""
from __future__ import annotations

import pandas as pd

from studylib.chapters.ch02 import beyond, bias_points, paired_row
from studylib.config import CAPTION_LEVELS
from studylib.inference import WORDS, joint_verdict

NAME = "02b_language_and_vocabulary"
# A world with clearly more classes than one batch, small enough for three sweeps.
SIZES = {
    "smoke": dict(n_classes=40, n_train=1200, test_per_class=4, epochs=1, batch_size=16),
    "quick": dict(n_classes=150, n_train=9000, test_per_class=10, epochs=3, batch_size=64),
    "full": dict(n_classes=300, n_train=60000, test_per_class=20, epochs=10, batch_size=128),
}
# Data scale: fractions of the preset's training pairs (1 is the shared default run).
SCALES = {"smoke": (0.5, 1.0), "quick": (0.25, 1.0), "full": (0.125, 0.25, 0.5, 1.0)}
# Caption levels, one at a time, in order of descriptiveness; `full` runs all six and adds the paper's mixes.
LEVELS = {"smoke": ("template_name", "tags", "full_text"), "quick": ("template_name", "tags", "full_text"),
          "full": CAPTION_LEVELS}
MIXES = {"name only (both templates)": (1, 1, 0, 0, 0, 0),
         "name + tags (title, tags)": (0, 0, 1, 1, 0, 0),
         "name + description (description, full text)": (0, 0, 0, 0, 1, 1)}
# Vocabulary subsampling points (k, weighting); k = 1 scores the batch's own classes only. Every other k lies
# well above the number of distinct classes in one batch (about 25 of 64 pairs at quick), or it adds no extras.
VOCAB = {"smoke": ((1, "uniform"), (24, "uniform"), (24, "freq"), (24, "sqrt")),
         "quick": ((1, "uniform"), (64, "uniform"), (64, "freq"), (64, "sqrt")),
         "full": ((1, "uniform"), *((k, w) for k in (128, 200) for w in ("uniform", "freq", "sqrt")))}


def level_mix(level: str) -> tuple:
    return tuple(float(lvl == level) for lvl in CAPTION_LEVELS)


def scale_label(objective: str, fraction: float) -> str:
    return f"{objective.upper()} ×{fraction:g} data"


def scale_specs(s, seed: int | None = None) -> dict:
    """CLIP and SL at each data fraction of the preset."""
    seed = s.params["seed"] if seed is None else seed
    return {scale_label(obj, f): s.spec(scale_label(obj, f), objective=obj, seed=seed,
                                        n_train=max(s.params["n_classes"], round(s.params["n_train"] * f)))
            for obj in ("sl", "clip") for f in SCALES[s.preset]}


def caption_specs(s, seed: int | None = None) -> dict:
    """CLIP trained on one caption level at a time (and, at ``full``, on the paper's mixes)."""
    seed = s.params["seed"] if seed is None else seed
    mixes = {f"CLIP, {lvl}": level_mix(lvl) for lvl in LEVELS[s.preset]}
    if s.preset == "full":
        mixes.update({f"CLIP, {name}": mix for name, mix in MIXES.items()})
    return {label: s.spec(label, objective="clip", caption_mix=mix, seed=seed) for label, mix in mixes.items()}


def vocab_label(k: int, weighting: str) -> str:
    return "SL + vocab: batch classes only" if k == 1 else f"SL + vocab {k} ({weighting})"


def vocab_specs(s, seed: int | None = None) -> dict:
    """SL with vocabulary subsampling at each (k, weighting) point of the preset."""
    seed = s.params["seed"] if seed is None else seed
    return {vocab_label(k, w): s.spec(vocab_label(k, w), objective="sl", vocab_k=k, vocab_weighting=w, seed=seed)
            for k, w in VOCAB[s.preset]}


def all_specs(s, seed: int | None = None) -> dict:
    return {**scale_specs(s, seed), **caption_specs(s, seed), **vocab_specs(s, seed)}


SL, CLIP = scale_label("sl", 1.0), scale_label("clip", 1.0)


def scale_table(runs_by_seed: dict, preset: str) -> pd.DataFrame:
    """Each model at its smallest data fraction against itself at the full data (#predictions correlation)."""
    small = min(SCALES[preset])
    return pd.DataFrame([paired_row(runs_by_seed, f"{obj.upper()} ×1 − ×{small:g} data",
                                    scale_label(obj, 1.0), scale_label(obj, small), "#predictions", "below",
                                    own_counts=True) for obj in ("clip", "sl")])


def caption_table(runs_by_seed: dict) -> pd.DataFrame:
    """C2: CLIP on full text against CLIP on the class-name template: bias lower, top-1 higher."""
    a, b = f"CLIP, {CAPTION_LEVELS[-1]}", f"CLIP, {CAPTION_LEVELS[0]}"
    name = f"{CAPTION_LEVELS[-1]} − {CAPTION_LEVELS[0]}"
    return pd.DataFrame([paired_row(runs_by_seed, name, a, b, "#predictions", "below"),
                         paired_row(runs_by_seed, name, a, b, "top-1", "above")])


def vocab_table(runs_by_seed: dict) -> pd.DataFrame:
    """C3: each vocabulary-subsampling point against plain SL (#predictions correlation)."""
    labels = [label for label in next(iter(runs_by_seed.values())) if label.startswith("SL + vocab")]
    return pd.DataFrame([paired_row(runs_by_seed, f"{label} − SL", label, SL, "#predictions", "below")
                         for label in labels])


def c2_verdict(table: pd.DataFrame) -> str:
    """C2 holds when full text is both less biased and more accurate than the name template."""
    return joint_verdict(table["verdict"])


def c3_verdicts(table: pd.DataFrame) -> dict:
    """C3's two halves: every subsampling point is less biased than SL; no point is more biased.

    The second half is "reproduced" only when every point is significantly less biased, "not reproduced"
    when some point is significantly more biased, and otherwise only "consistent with" it.
    """
    less = bool((table["hi"] < 0).all())
    more = bool((table["lo"] > 0).any())
    moves = WORDS["reproduced"] if less else WORDS["opposite"] if more else WORDS["inconclusive"]
    never_worse = WORDS["reproduced"] if less else WORDS["opposite"] if more else WORDS["consistent"]
    return {"subsampling moves SL toward CLIP (every point)": moves,
            "no vocabulary size makes SL more biased": never_worse}


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
        if label.startswith("SL"):
            return "SL (data scale)"
        if label.startswith("CLIP, "):
            return "CLIP (one caption level)"
        return "CLIP (data scale)"
    return {label: group(label) for label in runs}


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset``'s sweeps (the notebooks say it)."""
    sizes = sorted({k for k, _ in VOCAB["full"]} - {k for k, _ in VOCAB[preset]})
    return (f"data fractions {beyond(SCALES['full'], SCALES[preset])}; the caption levels "
            f"{beyond(LEVELS['full'], LEVELS[preset])}; the caption mixes {', '.join(MIXES)}; vocabulary sizes "
            f"{beyond(sizes, ())} with every weighting; three seeds")


def summary(registry, preset: str = "quick") -> list[dict]:
    """The chapter's claims and computed verdicts from the registry's runs at the default parameters."""
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    runs_by_seed = stored_by_seed(registry, s, lambda k: all_specs(s, k))
    if missing := not_run(NAME, *runs_by_seed.values()):
        return missing
    rows = []
    clip_scale = scale_table(runs_by_seed, preset).iloc[0]
    rows.append({"chapter": NAME, "claim": "CLIP's #predictions correlation falls with more data (Fig 1b)",
                 "result": f"{clip_scale.difference:+.2f} [{clip_scale.lo:+.2f}, {clip_scale.hi:+.2f}]",
                 "verdict": clip_scale.verdict})
    c2 = caption_table(runs_by_seed)
    rows.append({"chapter": NAME, "claim": "C2: descriptive text lowers bias and raises top-1 (full text vs template)",
                 "result": "; ".join(f"{r.measure} {r.difference:+.2f} [{r.lo:+.2f}, {r.hi:+.2f}]"
                                     for r in c2.itertuples()), "verdict": c2_verdict(c2)})
    c3 = vocab_table(runs_by_seed)
    for claim, word in c3_verdicts(c3).items():
        rows.append({"chapter": NAME, "claim": f"C3: {claim}",
                     "result": f"Δ #pred correlation {c3['difference'].min():+.2f} … {c3['difference'].max():+.2f} "
                               f"over {len(c3)} points", "verdict": word})
    return rows
