"""Chapter 2 · imbalance: is CLIP less biased by class frequency than supervised learning? (claim C1)

SL, SL with vocabulary subsampling and CLIP trained on the same long-tailed concept world
(notebook ``02_imbalance``); per-class accuracy and #predictions against training frequency
(robustness to imbalance: lower Spearman is more robust); how well frequency can be counted
from captions, scored against the world's truth.

C1, "CLIP is less biased than SL", has five parts, each a paired comparison over the same
classes (across seeds where the preset runs several):

* CLIP − SL on #predictions and on accuracy, with SL's usual **linear head**, and again with
  a bias-free **cosine head** (``head="cosine"``): a linear head's bias can learn the class
  prior by itself, which CLIP's zero-shot head cannot, so the cosine head asks whether CLIP's
  edge is more than that bias;
* CLIP's residual from the line of bias on top-1 traced by an SL family (fewer epochs, narrower
  networks): a weaker model spreads its predictions more evenly by itself, so this part asks
  whether CLIP is less biased *at its own accuracy*.

Every model compared must have learned (top-1 above 1.5× chance), or its parts are untestable.

C3 (vocabulary subsampling moves SL toward CLIP) is decided in chapter 2b, not here. Its sweep
(several sizes and weightings) lives there, and so does an SL reference family chosen to bracket
the subsampled models' top-1; C3 is judged on the accuracy-matched residual, since a more accurate
model can be more biased by itself. This chapter shows its own C3 numbers (:func:`vocab_numbers`)
without a verdict, and trains C1's and C3's models on both renders (:func:`comparison_specs`).

Run::

    python -m studylib run 02 --preset quick
"""

from __future__ import annotations

import pandas as pd

from studylib.captions.scoring import estimation_scores, estimation_section
from studylib.chapters import worlds
from studylib.chapters.evidence import (
    bias_points,
    learned_checks,
    matched_seeds_part,
    paired_part,
    sl_family_specs,
)
from studylib.claims import claim_row, format_value
from studylib.config import CAPTION_LEVELS

NAME = "02_imbalance"
SIZES = worlds.IMBALANCE  # the preset's own world: many more classes than a batch
SEEDS = worlds.SEEDS
AFTER: tuple = ()
# The accuracy-matched reference: SL trained for a fraction of the epochs or at a fraction of the
# width, spanning top-1 below the full SL model, where CLIP's accuracy lies.
SL_FAMILY = ((1 / 6, 1.0), (1 / 3, 1.0), (2 / 3, 1.0), (1.0, 0.5), (1.0, 0.25))
COSINE = "SL, cosine head"  # SL without a head bias, like CLIP's zero-shot head


def vocab_label(session) -> str:
    """The subsampled SL's label at the session's ``vocab_k`` (chapter 4 reads the run by this label)."""
    return f"SL + vocab {worlds.imbalance_vocab_k(session)}"


def family_labels(session) -> tuple:
    """The SL family whose line of bias on top-1 CLIP is matched against: the full SL and its weaker kin."""
    return ("SL", *sl_family_specs(session, SL_FAMILY))


def specs(session, seed: int | None = None) -> dict:
    """label -> RunSpec of every run the claims need for one seed: SL, SL + vocab, CLIP (shared with chapter
    4), SL with a cosine head, and the SL family."""
    seed = session.params["seed"] if seed is None else seed
    k = worlds.imbalance_vocab_k(session)
    return {
        **worlds.imbalance_specs(session, k, seed=seed),
        COSINE: session.spec(COSINE, objective="sl", head="cosine", seed=seed),
        **sl_family_specs(session, SL_FAMILY, seed=seed),
    }


def models(session) -> list[str]:
    """The chapter's models shown in its per-class figures, in order."""
    return ["SL", COSINE, vocab_label(session), "CLIP"]


C1 = "C1: CLIP is less biased than SL (linear and cosine heads; also at matched top-1)"
C1_QUANTITY = (
    "robustness to imbalance: Spearman of per-class #predictions and of per-class accuracy "
    "with training frequency (lower is more robust), and the #predictions residual from the "
    "SL family's line on top-1"
)


def head_parts(runs_by_seed: dict, prefix: str = "") -> list:
    """C1's paired parts: CLIP − SL with each head (linear, cosine), on #predictions and on accuracy."""
    parts = []
    for head, label in (("linear head", "SL"), ("cosine head", COSINE)):
        checks = learned_checks(runs_by_seed, "CLIP", label)
        parts += [
            paired_part(runs_by_seed, f"{prefix}CLIP − SL ({head})", "CLIP", label, m, "below", checks=checks)
            for m in ("#predictions", "accuracy")
        ]
    return parts


def c1_parts(session, runs_by_seed: dict) -> list:
    """C1's parts: CLIP − SL per head and measure (paired over classes), and CLIP's accuracy-matched
    residual."""
    parts = head_parts(runs_by_seed)
    family, name = family_labels(session), "CLIP vs the SL family's line"
    checks = learned_checks(runs_by_seed, "CLIP")
    parts.append(matched_seeds_part(runs_by_seed, family, "CLIP", name, checks=checks))
    return parts


def claims(session, runs_by_seed: dict) -> list[dict]:
    """The chapter's claim rows (C1; C3 is chapter 2b's row, see the module docstring)."""
    return [claim_row(NAME, C1, C1_QUANTITY, c1_parts(session, runs_by_seed))]


def vocab_numbers(session, runs_by_seed: dict) -> pd.DataFrame:
    """C3's numbers on this world, shown without a verdict (chapter 2b decides C3): the subsampled SL against
    plain SL (raw, paired over classes) and against the SL family's line (extrapolated when more accurate)."""
    label = vocab_label(session)
    parts = [
        paired_part(runs_by_seed, f"{label} − SL", label, "SL", "#predictions", "below"),
        paired_part(runs_by_seed, f"{label} − SL", label, "SL", "top-1", "above"),
        matched_seeds_part(runs_by_seed, family_labels(session), label, f"{label} vs the SL family's line"),
    ]
    return pd.DataFrame({"comparison": [p.result() for p in parts], "basis": [p.basis for p in parts]})


def figure_groups(session) -> dict:
    """run label -> group for the bias-against-top-1 figure."""
    return {
        **{label: "SL family (linear head)" for label in family_labels(session)},
        COSINE: "SL, cosine head",
        vocab_label(session): "SL + vocabulary subsampling",
        "CLIP": "CLIP",
    }


def figure_points(session, runs: dict):
    """``model, group, top1, r, lo, hi`` of every model of the chapter, for the bias-against-top-1 figure."""
    groups = figure_groups(session)
    return bias_points({label: runs[label] for label in groups}, groups)


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset`` (the same models, a larger world, more seeds)."""
    if preset == "full":
        return "nothing"
    f = worlds.IMBALANCE["full"]
    return f"a larger world ({f['n_classes']} classes, {f['n_train']:,} pairs, {f['epochs']} epochs)"


# ---------------------------------------------------------------- C1 and C3 on both renders
# The features world must tell the pixel world's story. Both renders train SL (linear and cosine heads), SL
# with vocabulary subsampling and CLIP at the same class count, seeds and sizes, the largest the CPU budget
# allows for pixels (at quick: an eighth of the study world's pairs and half its epochs).
RENDERS = ("features", "pixels")
COMPARISON = {
    "smoke": dict(),
    "quick": dict(n_train=5000, epochs=3, width=32, text_width=64),
    "full": dict(n_train=5000, epochs=3, width=32, text_width=64),
}
# A check that the features world tells the pixel world's story, not a claim: `full` keeps quick's (pixels cost
# about 100x per sample on the CPU; a GPU run can raise both)
COMPARISON_SEEDS = {"smoke": 1, "quick": 3, "full": 3}
COMPARISON_TEXT = "bag"  # the same text tower for both renders, so the image is the only difference


def comparison_seeds(session) -> tuple:
    """The seeds both renders are compared over: the first of the chapter's seeds."""
    return session.seeds()[: COMPARISON_SEEDS.get(session.preset, 1)]


def comparison_specs(session, seed: int) -> dict:
    """``render -> label -> RunSpec`` of the four models C1 and C3 compare, on each render."""
    k = worlds.imbalance_vocab_k(session)
    out = {}
    for render in RENDERS:
        common = dict(
            render=render, seed=seed, text_arch=COMPARISON_TEXT, **COMPARISON.get(session.preset, {})
        )
        out[render] = {
            "SL": session.spec(f"{render}: SL", objective="sl", **common),
            COSINE: session.spec(f"{render}: {COSINE}", objective="sl", head="cosine", **common),
            f"SL + vocab {k}": session.spec(f"{render}: SL + vocab {k}", objective="sl", vocab_k=k, **common),
            "CLIP": session.spec(f"{render}: CLIP", objective="clip", **common),
        }
    return out


def comparison_parts(session, runs: dict) -> list:
    """C1's and C3's parts that need no reference family, on one render's runs (``seed -> label -> run``)."""
    label = vocab_label(session)
    parts = head_parts(runs, prefix="C1: ")
    parts.append(
        paired_part(
            runs,
            f"C3: {label} − SL",
            label,
            "SL",
            "#predictions",
            "below",
            checks=learned_checks(runs, label),
        )
    )
    return parts


def render_agreement(session, runs_by_render: dict) -> pd.DataFrame:
    """Per part: each render's result and verdict, and whether the two agree in sign and in verdict word.

    ``runs_by_render``: render -> seed -> label -> run (the runs of :func:`comparison_specs`)."""
    rows = {}
    for render in RENDERS:
        for part in comparison_parts(session, runs_by_render[render]):
            row = rows.setdefault(part.name, {"part": part.name})
            row[f"{render}: result"] = format_value(part.estimate, part.lo, part.hi, part.kind, part.digits)
            row[f"{render}: verdict"] = part.verdict
            row[f"{render}: sign"] = "+" if part.estimate > 0 else "−" if part.estimate < 0 else "0"
    table = pd.DataFrame(list(rows.values()))
    table["same sign"] = table["features: sign"] == table["pixels: sign"]
    table["same verdict"] = table["features: verdict"] == table["pixels: verdict"]
    return table.drop(columns=[f"{r}: sign" for r in RENDERS])


def agreement_sentence(table: pd.DataFrame) -> str:
    """What the comparison says, computed from :func:`render_agreement`'s table."""
    n, signs, words = len(table), int(table["same sign"].sum()), int(table["same verdict"].sum())
    if signs == n and words == n:
        return f"The two renders agree on all {n} parts, in sign and in verdict."
    differ = ", ".join(table.loc[~(table["same sign"] & table["same verdict"]), "part"])
    return (
        f"The renders agree in sign on {signs} of {n} parts and in verdict on {words} of {n}; they differ on: "
        f"{differ}."
    )


def frequency_estimation(world) -> dict:
    """Precision/recall of caption-based frequency estimation on the world, per caption level."""
    tr = world.train
    return estimation_scores(
        tr.captions,
        tr.labels,
        list(world.concepts) + list(world.open_concepts),
        levels=tr.caption_level,
        level_names=list(CAPTION_LEVELS),
    )


def frequency_estimation_card_section(scores: dict, world) -> dict:
    """The data-card section on frequency estimation."""
    names = world.class_names + [c.name for c in world.open_concepts]
    return {"Frequency estimation from captions": estimation_section(scores, names)}


# The paper's Fig 1a: ImageNet class frequencies in real pre-training corpora (files of
# ../shared/data/frequencies).
CORPORA = {
    "LAION-400M": "laion400m_imagenet_ori",
    "LAION-2B": "laion2b_imagenet_ori",
    "CC-12M": "cc12m_imagenet_ori",
    "YFCC-15M": "yfcc15m_imagenet_ori",
    "MetaCLIP-400M": "metaclip_400m_imagenet_ori",
    "ImageNet-Captions": "incaps_imagenet_ori",
}
LAIONET = {
    f"LAIONet (threshold {t})": f"laionet_thresh{t}_ori"
    for t in ("0.7", "0.75", "0.8", "0.82", "0.85", "0.9")
}


def real_profiles(folder) -> dict | None:
    """name -> per-class count Series (ImageNet class order) of :data:`CORPORA` and :data:`LAIONET` read from
    ``folder`` (the shared ``frequencies`` folder); None when the folder does not exist. A missing or bad
    file raises, naming it."""
    from pathlib import Path

    from studylib.captions.profiles import read_profile

    folder = Path(folder)
    if not folder.is_dir():
        return None
    return {
        name: read_profile(folder / f"class_frequency_{stem}.txt", name=name)
        for name, stem in {**CORPORA, **LAIONET}.items()
    }


def long_tail_table(profiles: dict) -> pd.DataFrame:
    """Each profile's Spearman (and Pearson of log counts) with LAION-400M and its imbalance, LAION-400M
    first. ImageNet repeats some class names, so profiles are aligned by class order."""
    from studylib.captions.profiles import compare_profiles

    ref = profiles["LAION-400M"]
    return compare_profiles(ref, [p for name, p in profiles.items() if name != "LAION-400M"], align="order")
