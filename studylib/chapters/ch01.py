"""Chapter 1 · where does CLIP's robustness come from? Sizes, run specs and analysis.

Four studies on the concept world (notebook ``01_robustness_origins``):
effective robustness of CLIP against a family of SL baselines (Taori et al.
2020); data sources and their mixtures (Nguyen et al. 2022); CLIP on captions
against SL on caption-mined labels (Fang et al. 2022); pruning the training
images most similar to the shifted test sets (Mayilvahanan et al. 2024).

Run::

    python -m studylib run 01 --preset quick

Its claims (:func:`claims`) are judged on effective robustness, one part per shift, each
shift's SL line fitted only on the baseline models above chance there. The numbers they
produce are in the notebook and in the README's generated table, not here (one copy).

Long because four studies (ER, sources, language, similarity pruning) and their claims share one SL
baseline family.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import torch

from studylib.chapters.evidence import learned
from studylib.claims import Check, check, claim_row, direction, equivalence, untestable
from studylib.fileio import atomic_write_bytes, cache_dir
from studylib.inference import over_seeds
from studylib.metrics import correct_from_confusion
from studylib.robustness import effective_robustness, effective_robustness_interval, fit_linear_trend
from studylib.similarity import image_features, nearest_similarity, prune_to_distribution

NAME = "01_robustness_origins"
AFTER: tuple = ()  # reuses no other chapter's runs
SHIFTS = ("v2", "sketch", "rendition", "objectnet")
# Chapter 1 trains 20 models, so it uses a smaller world than chapter 2; its question
# (robustness to distribution shift) is not about imbalance, so its world is balanced,
# as ImageNet roughly is.
# ten seeds of the claim runs at full (the baseline family, the sources and the similarity study keep the first);
# the other presets' own count (studylib.config.PRESET_SEEDS): one
SEEDS: dict = {"full": 10}
SIZES = {
    # smoke: big enough that the baseline family spans some accuracy range (a flat family has no ER line)
    "smoke": dict(n_classes=20, n_train=640, test_per_class=5, epochs=2, batch_size=32, profile="balanced"),
    "quick": dict(n_classes=100, n_train=6000, test_per_class=20, epochs=3, profile="balanced"),
    # quick's pixel world (2 CPU cores); a GPU would add classes, pairs and epochs (e.g. 200, 40,000, 12)
    "full": dict(
        n_classes=100,
        n_train=6000,
        test_per_class=20,
        epochs=3,
        profile="balanced",
        batch_size=128,
        width=32,
        embed_dim=128,
        text_width=64,
        text_layers=2,
    ),
}
# The SL baseline family: (fraction of the training pairs, fraction of the epochs, fraction of the width),
# spanning a range of accuracies as the ImageNet testbed's standard models do.
FAMILY = (
    (0.25, 0.4, 0.5),
    (0.5, 0.4, 0.75),
    (0.5, 1.0, 1.0),
    (1.0, 0.4, 1.0),
    (1.0, 0.6, 1.5),
    (1.0, 1.0, 1.0),
)
SOURCES = ("flickr", "alttext", "encyclopedia")
MIX = "flickr:0.5,encyclopedia:0.5"
STANDARD = "imagenet"  # the baseline family's curated source: photos only, as ImageNet
KNOBS_TRIED = (
    "Chapter 1 asks whether CLIP trained on this web-like source has positive effective robustness against SL "
    "trained on the curated source. The knobs of the data (`shift_share=0.05`: 5% of the web images rendered as a "
    "sketch, a rendition or an odd pose and background; `caption_image_words=0.3`; web nuisance 1.0) were set once "
    "and never changed. Two renderer settings were changed once, for a stated reason: with `shape_weight=0.5` and "
    "sketch strokes of weight 1.2, the full-size SL baseline reached 1.3% on the sketch-like shift (chance 1%), "
    "which leaves that shift uninformative; four settings of those two were tried, judged by that SL model's "
    "accuracy on the shifts alone (0.5/1.2: 1.3%; 0.8/1.2: 4.2%; 0.5/0.6: 2.0%; 0.7/0.6: 5.1%, photo 31%), and "
    "0.7/0.6 became the default. (Those four were measured before a later fix of the per-concept random streams; "
    "with the fix, at 0.7/0.6, the same SL model reached 4.0% on the sketch-like shift and 29% on photo; since "
    "`semantic_share` fell from 0.64 to 0.5 (issue 24, a stated principle; see the knob record) it reaches 3.6% and "
    "24%.) The CLIP and effective-robustness results had been seen at 0.5/1.2 (positive ER "
    "not reproduced there either); nothing was tuned toward them. A sweep of `shift_share` is the natural next "
    "experiment."
)
WEB = "web"  # CLIP's web-like source: the test shifts are rare in it, not absent


def test_domains() -> dict:
    return dict(test_domains=("photo", *SHIFTS))


def baseline_specs(session) -> tuple[dict, str]:
    """(label -> RunSpec of the SL family, label of the full-size member: same data, budget and width as CLIP)."""
    P = session.params
    N, E, W = P["n_train"], P["epochs"], P["width"]
    specs = {}
    for frac, efrac, wfrac in FAMILY:
        n, e, w = max(P["batch_size"], int(N * frac)), max(1, round(E * efrac)), max(4, int(W * wfrac))
        label = f"SL n={n} ep={e} w={w}"
        specs[label] = session.spec(
            label, objective="sl", n_train=n, epochs=e, width=w, source=STANDARD, **test_domains()
        )
    return specs, f"SL n={N} ep={E} w={W}"


def clip_specs(session, seed: int | None = None) -> dict:
    """CLIP on the web-like source, and CLIP on the baseline's own curated images (the objective alone)."""
    seed = session.params["seed"] if seed is None else seed
    return {
        "CLIP (web)": session.spec("CLIP (web)", objective="clip", source=WEB, seed=seed, **test_domains()),
        "CLIP (curated)": session.spec(
            "CLIP (curated)", objective="clip", source=STANDARD, seed=seed, **test_domains()
        ),
    }


def er_over_seeds(er_by_seed: dict, model: str, shifts) -> dict:
    """A model's ER per shift as mean and t-based 95% interval over training seeds (NaN bounds for one seed)."""
    out = {}
    for shift in shifts:
        values = [
            float(er[(er["model"] == model) & (er["shift"] == shift)]["er"].iloc[0])
            for er in er_by_seed.values()
        ]
        out[shift] = over_seeds(values)
    return out


def specs(session, seed: int | None = None) -> dict:
    """Every run the claims need for one seed: the SL baseline family (the session's seed: one line for every
    seed), the CLIP pair and the two SL models on the web-like images (this seed)."""
    return {**baseline_specs(session)[0], **clip_specs(session, seed), **language_specs(session, seed)}


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset`` (the notebook says it)."""
    here, full = SIZES[preset], SIZES["full"]
    world = (
        "the same pixel world (on 2 CPU cores; a GPU would add classes, pairs and epochs)"
        if here == full
        else f"{full['n_classes']} classes, {full['n_train']} training pairs, {full['epochs']} epochs (here "
        f"{here['n_classes']}, {here['n_train']}, {here['epochs']})"
    )
    return (
        f"{world}; {SEEDS.get('full', 3)} training seeds of the CLIP pair and of SL on the web-like images, "
        "judged by the t interval of their ER over seeds (the baseline family, the sources and the similarity "
        "study keep the first seed)"
    )


def source_specs(session) -> tuple[dict, dict]:
    """(label -> RunSpec of CLIP per source at half and full budget and of the mixture at 1x and 2x,
    label -> source group)."""
    N = session.params["n_train"]
    specs, groups = {}, {}
    for src in SOURCES:
        for frac in (0.5, 1.0):
            label = f"CLIP {src} n={int(N * frac)}"
            specs[label] = session.spec(
                label, objective="clip", source=src, n_train=int(N * frac), **test_domains()
            )
            groups[label] = f"CLIP {src}"
    for mult in (1, 2):
        label = f"CLIP mix n={mult * N}"
        specs[label] = session.spec(label, objective="clip", source=MIX, n_train=mult * N, **test_domains())
        groups[label] = "CLIP mix"
    return specs, groups


def source_cards(session) -> None:
    """Data cards of the standard world and of each source at the full budget."""
    N = session.params["n_train"]
    session.card("01-standard", source=STANDARD, **test_domains())
    session.card(
        "01-web",
        extra_sections={"Knob settings tried for chapter 1": KNOBS_TRIED},
        source=WEB,
        **test_domains(),
    )
    for name, src in (
        ("flickr", "flickr"),
        ("alttext", "alttext"),
        ("encyclopedia", "encyclopedia"),
        ("mixture", MIX),
    ):
        session.card(f"01-{name}", source=src, n_train=N, **test_domains())


def language_specs(session, seed: int | None = None) -> dict:
    """SL on labels mined from the web source's captions, and SL on its true labels: the same images as CLIP (web)."""
    seed = session.params["seed"] if seed is None else seed
    return {
        label: session.spec(label, objective="sl", source=WEB, seed=seed, **labels, **test_domains())
        for label, labels in (
            ("SL, caption-mined labels (web)", dict(labels="captions")),
            ("SL, true labels (web)", {}),
        )
    }


def big_world(session) -> dict:
    """World parameters of the larger, more varied training set: the double-budget mixture."""
    return dict(source=MIX, n_train=2 * session.params["n_train"], **test_domains())


def similarity_specs(session, study: dict) -> dict:
    """CLIP on the similarity-pruned large set and on a random subset of the same size."""
    big = dict(objective="clip", **big_world(session))
    return {
        "CLIP mixture ×2, similarity-pruned": session.spec(
            "CLIP mixture ×2, similarity-pruned", train_subset=study["keep"], **big
        ),
        "CLIP mixture ×2, random subset": session.spec(
            "CLIP mixture ×2, random subset", train_subset=study["rand_keep"], **big
        ),
    }


def pruning_study(key: str, reference_model, small_images, big_images, test_images, seed: int = 0) -> dict:
    """Everything chapter 1's similarity section needs, cached on disk under ``key``.

    Features of the small and large training sets and of the shifted test
    images in ``reference_model``'s space; test->train nearest-neighbour
    similarities for each; the large set pruned until its similarities follow the
    small set's whole distribution; and a random subset of the same size. The image arguments are
    callables returning uint8 tensors, so a cache hit builds no world at all.
    """
    path = cache_dir("similarity") / f"{key}.npz"
    if path.exists():
        with np.load(path) as z:
            out = {k: z[k] for k in z.files}
        out["info"] = {k: float(v) for k, v in zip(out.pop("info_keys"), out.pop("info_values"))}
        return out
    model = reference_model()
    test = image_features(model, test_images())
    small = image_features(model, small_images())
    big = image_features(model, big_images())
    nn_small, nn_big = nearest_similarity(test, small), nearest_similarity(test, big)
    keep, info = prune_to_distribution(big, test, nn_small)
    nn_pruned = nearest_similarity(test, big[torch.from_numpy(keep)])
    rand_keep = np.sort(np.random.default_rng(seed).choice(len(big), size=len(keep), replace=False))
    out = {
        "nn_small": nn_small,
        "nn_big": nn_big,
        "nn_pruned": nn_pruned,
        "keep": keep,
        "rand_keep": rand_keep,
        "n_big": np.array(len(big)),
    }
    buf = io.BytesIO()
    np.savez(buf, **out, info_keys=np.array(list(info)), info_values=np.array(list(info.values())))
    atomic_write_bytes(path, buf.getvalue())
    return {**out, "info": info}


def similarity_study(session, reference) -> dict:
    """:func:`pruning_study` for ``session`` with the full-size SL baseline run ``reference`` (kept model)."""
    from studylib.pipeline import load

    big = big_world(session)
    key = f"ks-{reference.key}-{session.params['seed']}-{MIX}-{big['n_train']}"
    return pruning_study(
        key,
        lambda: load(reference).model,
        lambda: session.world(source=STANDARD, **test_domains()).train.images,
        lambda: session.world(**big).train.images,
        lambda: torch.cat([session.world(**big).test[d].images for d in SHIFTS]),
        seed=session.params["seed"],
    )


# ------------------------------------------------------------------ effective-robustness analysis


def accuracy_table(runs: dict) -> pd.DataFrame:
    """Top-1 per test domain (columns) for each run (rows, by label)."""
    rows = {}
    for label, run in runs.items():
        rows[label] = {k[len("top1_") :]: v for k, v in run.metrics.items() if k.startswith("top1_")}
    return pd.DataFrame(rows).T


def fit_trends(
    baseline_acc: pd.DataFrame, shifts, id_domain: str = "photo", n_boot: int = 1000, seed: int = 0
):
    """One baseline LinearTrend per shift, fitted on the rows of ``baseline_acc``."""
    if len(baseline_acc) < 3:
        raise ValueError(f"a baseline trend needs >= 3 models, got {len(baseline_acc)}")
    return {
        s: fit_linear_trend(baseline_acc[id_domain], baseline_acc[s], n_boot=n_boot, seed=seed)
        for s in shifts
    }


def points(acc: pd.DataFrame, shift: str, id_domain: str = "photo", group=None) -> pd.DataFrame:
    """``label, id, ood`` (and ``group``) rows for robustness plots."""
    out = pd.DataFrame({"label": acc.index, "id": acc[id_domain].to_numpy(), "ood": acc[shift].to_numpy()})
    if group is not None:
        out["group"] = [group(label) for label in acc.index]
    return out


def er_table(
    trends: dict, runs: dict, id_domain: str = "photo", n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """ER of each run on each shift, with a 95% interval (baseline lines x own test sets)."""
    rows = []
    for label, run in runs.items():
        id_conf = run.array(f"confusion_{id_domain}")
        for shift, trend in trends.items():
            ood_conf = run.array(f"confusion_{shift}")
            iv = effective_robustness_interval(
                trend,
                correct_from_confusion(id_conf),
                correct_from_confusion(ood_conf),
                n_boot=n_boot,
                seed=seed,
            )
            id_acc, ood_acc = run.metrics[f"top1_{id_domain}"], run.metrics[f"top1_{shift}"]
            rows.append(
                {
                    "model": label,
                    "shift": shift,
                    "id": id_acc,
                    "ood": ood_acc,
                    "er": float(effective_robustness(trend, id_acc, ood_acc)),
                    "lo": iv["lo"],
                    "hi": iv["hi"],
                }
            )
    return pd.DataFrame(rows, columns=["model", "shift", "id", "ood", "er", "lo", "hi"])  # no line: no rows


def panels(trends: dict, baseline: dict, others: dict | None = None, **kwargs):
    """:func:`studylib.plots.robustness_panels` for the shifts that have a line, or, where none has (every
    baseline model at chance, as at ``smoke``), a figure that says so."""
    from studylib import plots

    if trends:
        return plots.robustness_panels(trends, baseline, others, **kwargs)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 1.0))
    ax.axis("off")
    ax.text(
        0.5,
        0.5,
        f"No shift has a baseline line: fewer than {LINE_MIN} baseline models are above chance on each.",
        ha="center",
        va="center",
        fontsize=10,
    )
    return fig


def budgets(runs: dict) -> dict:
    """Training pairs of each run (label -> n_train): the budget order of a source's runs in the figures."""
    return {label: run.config["world"]["n_train"] for label, run in runs.items()}


def explorer_groups(clip_runs, source_runs, source_group: dict, lang_runs, sim_runs) -> dict:
    """Model label -> explorer group for the chapter's sections: section 1's CLIP pair, each data source
    (``source_group``: label -> source), section 3's language comparison and section 4's similarity runs; a
    model that an earlier section already shows keeps that section's group."""
    groups = {k: "section 1: CLIP web vs curated" for k in clip_runs}
    groups.update({k: f"source: {source_group[k]}" for k in source_runs})
    groups.update({k: "section 3: language vs labels" for k in lang_runs if k not in clip_runs})
    groups.update({k: "section 4: similarity" for k in sim_runs if k not in source_runs})
    return groups


def explorer_table(tables, groups: dict) -> pd.DataFrame:
    """ER tables of several sections as one, each model once per shift, with its explorer ``group``.

    ``groups``: model label -> group name; a model without one is an error (it would vanish from the explorer).
    """
    er = pd.concat(list(tables), ignore_index=True).drop_duplicates(["model", "shift"])
    missing = sorted(set(er["model"]) - set(groups))
    if missing:
        raise ValueError(f"no explorer group for model(s) {missing}")
    return er.assign(group=er["model"].map(groups))


def er_summary(er: pd.DataFrame) -> pd.DataFrame:
    """Models x shifts, cells like ``+0.031 [+0.010, +0.052]``."""
    cell = [f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}]" for e, lo, hi in zip(er["er"], er["lo"], er["hi"])]
    out = er.assign(cell=cell).pivot(index="model", columns="shift", values="cell")
    return out.reindex(index=list(dict.fromkeys(er["model"])), columns=list(dict.fromkeys(er["shift"])))


# A baseline model anchors a shift's line only where it is above chance on that shift: its OOD top-1
# exceeds LINE_FACTOR x chance (the study's "learned" threshold, as in evidence.learned) AND a one-sided
# binomial test on the shift's test images rejects chance at LINE_ALPHA. At chance, logit(OOD) is noise
# around logit(1/K): such a model pins the line to chance whatever the others do, and puts any weak model
# "on the line" by construction. The factor keeps out a model a hair above chance on a large test set; the
# test keeps out a lucky one on a small test set. A shift whose line keeps fewer than LINE_MIN models has
# no line: its parts are untestable.
LINE_FACTOR, LINE_ALPHA, LINE_MIN = 1.5, 0.01, 3


def above_chance(accuracy: float, n_test: int, n_classes: int) -> bool:
    """Is an OOD top-1 above chance by the line's rule (above ``LINE_FACTOR`` x chance and binomially so)?"""
    chance = 1 / n_classes
    return bool(accuracy > LINE_FACTOR * chance and _above_chance(accuracy, n_test, chance, LINE_ALPHA))


def line_models(acc: pd.DataFrame, baseline, n_test: int, n_classes: int, shifts=SHIFTS) -> dict:
    """shift -> the baseline models (labels) above chance on it: the only models its line is fitted on."""
    return {s: [m for m in baseline if above_chance(float(acc.loc[m, s]), n_test, n_classes)] for s in shifts}


def baseline_trends(
    acc: pd.DataFrame, anchors: dict, id_domain: str = "photo", n_boot: int = 1000, seed: int = 0
) -> dict:
    """shift -> the SL line fitted on that shift's ``anchors`` only (:func:`line_models`); a shift with fewer
    than ``LINE_MIN`` anchors gets no line (a line through two points has no band and no test)."""
    return {
        s: fit_trends(acc.loc[list(m)], [s], id_domain, n_boot=n_boot, seed=seed)[s]
        for s, m in anchors.items()
        if len(m) >= LINE_MIN
    }


def shift_information(
    acc: pd.DataFrame,
    baseline,
    n_test: int,
    n_classes: int,
    shifts=SHIFTS,
    id_domain: str = "photo",
    alpha: float = 0.01,
) -> pd.DataFrame:
    """Can each shift show effective robustness? One row per shift.

    ``line_models``: how many baseline models are above chance there (:func:`above_chance`), the only ones
    its line is fitted on; ``line``: at least ``LINE_MIN`` of them. ``below_photo``: no baseline model is
    better there than in distribution (one-sided two-proportion z-test at ``alpha``): a shift is harder,
    never easier. ``informative``: both.
    """
    chance = 1 / n_classes
    base = acc.loc[list(baseline)]
    anchors = line_models(base, base.index, n_test, n_classes, shifts)
    rows = []
    for shift in shifts:
        below_id = not any(_better(o, i, n_test, alpha) for o, i in zip(base[shift], base[id_domain]))
        line = len(anchors[shift]) >= LINE_MIN
        rows.append(
            {
                "shift": shift,
                "chance": chance,
                "baseline_min": float(base[shift].min()),
                "baseline_max": float(base[shift].max()),
                "photo_min": float(base[id_domain].min()),
                "photo_max": float(base[id_domain].max()),
                "line_models": len(anchors[shift]),
                "of": len(base),
                "line": line,
                "below_photo": below_id,
                "informative": line and below_id,
            }
        )
    return pd.DataFrame(rows).set_index("shift")


def _above_chance(accuracy: float, n: int, chance: float, alpha: float) -> bool:
    from scipy.stats import binomtest

    return binomtest(int(round(accuracy * n)), n, chance, alternative="greater").pvalue < alpha


def _better(p_shift: float, p_id: float, n: int, alpha: float) -> bool:
    """Is the accuracy on the shift significantly higher than in distribution (same n test images each)?"""
    from scipy.stats import norm

    pooled = (p_shift + p_id) / 2
    se = (2 * pooled * (1 - pooled) / n) ** 0.5
    return se > 0 and norm.sf((p_shift - p_id) / se) < alpha


def detectable_difference(er: pd.DataFrame, a: str, b: str, shifts=None) -> float:
    """An upper bound on the ER difference between ``a`` and ``b`` that this design detects with 80% power.

    From the models' own 95% ER intervals (half-width / 1.96 as standard error),
    per shift then averaged over ``shifts``: 2.8 x sqrt(se_a^2 + se_b^2). The
    intervals include the baseline line's uncertainty, which both models share
    and which would cancel in a paired comparison, so the true detectable
    difference is smaller: this is conservative. Differences well below it
    would usually go unseen, so "no difference" means "none this large".
    """
    rows = er if shifts is None else er[er["shift"].isin(list(shifts))]
    se = {
        m: ((rows[rows["model"] == m]["hi"] - rows[rows["model"] == m]["lo"]) / (2 * 1.96)).to_numpy()
        for m in (a, b)
    }
    return float(np.mean(2.8 * np.sqrt(se[a] ** 2 + se[b] ** 2))) if len(se[a]) else float("nan")


def mean_er(er: pd.DataFrame, model: str, shifts=None) -> float:
    """A model's ER averaged over ``shifts`` (default: every shift in ``er``)."""
    rows = er[er["model"] == model]
    if shifts is not None:
        rows = rows[rows["shift"].isin(list(shifts))]
    return float(rows["er"].mean()) if len(rows) else float("nan")


def group_mean_er(er: pd.DataFrame, group) -> pd.DataFrame:
    """Mean ER per group of models (``group(label)``) and shift: groups x shifts."""
    return (
        er.assign(group=er["model"].map(group)).groupby(["group", "shift"], sort=False)["er"].mean().unstack()
    )


def lies_between(er: pd.DataFrame, model: str, components, tol: float = 0.01, shifts=None) -> dict:
    """Per shift (of ``shifts``, default all): is ``model``'s ER within [min, max] (+- tol) of the components'?"""
    out = {}
    for shift in dict.fromkeys(er["shift"]):
        if shifts is not None and shift not in shifts:
            continue
        rows = er[er["shift"] == shift].set_index("model")["er"]
        comp = rows.loc[list(components)]
        out[shift] = bool(comp.min() - tol <= rows.loc[model] <= comp.max() + tol)
    return out


# ------------------------------------------------------------------ claims

ER_QUANTITY = (
    "effective robustness: OOD top-1 above the SL baseline's line at equal ID top-1 (the line "
    "of curated-image SL models above chance on that shift)"
)
# "No effective robustness" is judged by equivalence, never by a non-significant difference. The margin on
# each shift is EQUIVALENCE_SHARE of the OOD top-1 above chance that the SL line predicts at the model's own
# ID top-1. The share comes from Taori et al.'s testbed (shared/data/imagenet_testbed), not from this
# world's runs: there, standard models scatter around their own line by |ER| / (line's prediction - chance)
# of at most 0.01, 0.14, 0.10 and 0.08 (90th percentile) on ImageNetV2, -Sketch, -R and ObjectNet, while
# zero-shot CLIP's ER is 0.11, 1.9, 1.3 and 0.8 of that gap. A quarter lies above the standard models'
# scatter on every shift and far below CLIP's effect wherever the paper finds one: an ER inside it is not
# the effect the paper reports.
EQUIVALENCE_SHARE = 0.25
# (model, claim, how each shift's part is judged: "above" 0, or "none": within the equivalence margin)
CLAIMS = (
    ("CLIP (web)", "CLIP trained on web-like data has positive effective robustness (Taori et al.)", "above"),
    (
        "CLIP (curated)",
        "CLIP trained on the SL baseline's own curated images has no effective robustness: "
        "the objective alone gives none (Fang et al.)",
        "none",
    ),
    (
        "SL, true labels (web)",
        "SL trained on web-like images has positive effective robustness against SL "
        "trained on curated images, same objective and labels: the data gives it "
        "(Fang et al.)",
        "above",
    ),
)


def baseline_line(session, runs: dict, n_boot: int = 1000) -> dict:
    """The SL line of every shift from one seed's runs (label -> run, the family among them): the family's
    accuracies ``acc``, each shift's ``info`` row (:func:`shift_information`), its ``anchors`` (the family
    models above chance there) and its line in ``trends`` (absent where fewer than ``LINE_MIN`` remain)."""
    P = session.params
    family = {label: runs[label] for label in baseline_specs(session)[0]}
    acc = accuracy_table(family)
    n_test, k = P["n_classes"] * P["test_per_class"], P["n_classes"]
    anchors = line_models(acc, family, n_test, k)
    return {
        "acc": acc,
        "anchors": anchors,
        "info": shift_information(acc, family, n_test, k),
        "trends": baseline_trends(acc, anchors, n_boot=n_boot),
    }


def equivalence_margin(trend, id_acc: float, chance: float) -> float:
    """``EQUIVALENCE_SHARE`` of the OOD top-1 above chance that ``trend`` predicts at ``id_acc``, to 3
    decimals (0 or less where the line predicts chance there: no ER can then be told from none)."""
    return round(EQUIVALENCE_SHARE * (float(trend.predict(id_acc)) - chance), 3)


def er_interval(trend, shift: str, model: str, runs_by_seed: dict, n_boot: int = 1000) -> tuple[dict, str]:
    """``model``'s ER on ``shift`` with its 95% interval and what the interval rests on: for one seed, the
    bootstrap over test images and baseline models; for several, the t interval of the ER over seeds."""
    tables = {
        k: er_table({shift: trend}, {model: runs[model]}, n_boot=n_boot) for k, runs in runs_by_seed.items()
    }
    if len(tables) == 1:
        row = next(iter(tables.values())).iloc[0]
        return (
            {"er": float(row["er"]), "lo": float(row["lo"]), "hi": float(row["hi"])},
            "bootstrap over test images and baseline models, 1 seed",
        )
    o = er_over_seeds(tables, model, [shift])[shift]
    return {"er": o["mean"], "lo": o["lo"], "hi": o["hi"]}, f"t interval over {o['n']} seeds"


def line_check(shift: str, info) -> Check:
    """The manipulation check of a shift's line: at least ``LINE_MIN`` baseline models above chance on it."""
    n, of = int(info["line_models"]), int(info["of"])
    return check(
        f"the SL line on {shift} rests on ≥ {LINE_MIN} baseline models above chance",
        n >= LINE_MIN,
        f"{n} of {of} have top-1 > {LINE_FACTOR:g}× chance and binomial p < {LINE_ALPHA:g}",
    )


def er_part(judge: str, model: str, shift: str, line: dict, runs_by_seed: dict, n_boot: int = 1000):
    """One shift's part of a claim on ``model``'s ER (``judge`` "above": its interval above 0; "none": within
    the equivalence margin). Untestable where the shift has no line or is easier than photo, or where the
    model learned nothing in distribution."""
    name, info = f"ER on {shift}", line["info"].loc[shift]
    if shift not in line["trends"]:
        return untestable(name, line_check(shift, info))
    trend, runs = line["trends"][shift], {k: r[model] for k, r in runs_by_seed.items()}
    checks = (
        line_check(shift, info),
        check(f"{shift} is no easier than photo for any baseline model", info["below_photo"]),
        *(learned(model if len(runs) == 1 else f"{model} (seed {k})", r) for k, r in runs.items()),
    )
    iv, basis = er_interval(trend, shift, model, runs_by_seed, n_boot)
    id_acc = float(np.mean([r.metrics["top1_photo"] for r in runs.values()]))
    xs = line["acc"].loc[line["anchors"][shift], "photo"]
    if not xs.min() <= id_acc <= xs.max():
        basis += f"; extrapolated (ID top-1 {id_acc:.3f}, the line's models {xs.min():.3f} … {xs.max():.3f})"
    if judge == "above":
        return direction(name, iv["er"], iv["lo"], iv["hi"], "above", basis=basis, checks=checks)
    margin = equivalence_margin(trend, id_acc, info["chance"])
    if margin <= 0:
        fails = check(
            "the SL line predicts OOD top-1 above chance at the model's ID top-1", False, f"margin {margin:g}"
        )
        return untestable(name, fails, basis)
    basis += f"; margin {EQUIVALENCE_SHARE:g} × (line's OOD top-1 − chance) at ID top-1 {id_acc:.3f}"
    return equivalence(name, iv["er"], iv["lo"], iv["hi"], margin, basis=basis, checks=checks)


def claims(session, runs_by_seed: dict) -> list[dict]:
    """Chapter 1's claims, one part per shift (a claim whose shifts disagree is ``mixed``), from the runs of
    :func:`specs` per seed; the SL line comes from the first seed's family."""
    n_boot = int(session.parameters.get("n_boot", 1000))
    line = baseline_line(session, next(iter(runs_by_seed.values())), n_boot)
    return [
        claim_row(
            NAME, claim, ER_QUANTITY, [er_part(judge, model, s, line, runs_by_seed, n_boot) for s in SHIFTS]
        )
        for model, claim, judge in CLAIMS
    ]
