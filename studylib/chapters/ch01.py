"""Chapter 1 · where does CLIP's robustness come from? Sizes, run specs and analysis.

Four studies on the concept world (notebook ``01_robustness_origins``):
effective robustness of CLIP against a family of SL baselines (Taori et al.
2020); data sources and their mixtures (Nguyen et al. 2022); CLIP on captions
against SL on caption-mined labels (Fang et al. 2022); pruning the training
images most similar to the shifted test sets (Mayilvahanan et al. 2024).

Run::

    python -m studylib run 01 --preset quick

At ``quick`` (seed 0, world v2, 3 epochs, 20 models, about 5 minutes on 2 CPU cores) it
produced: every shift informative by the chapter's rule (the baseline family reaches
21%, 3%, 13% and 12% on the V2-, sketch-, rendition- and ObjectNet-like shifts, 24% on
photo, chance 1%); CLIP on the web-like source mean ER about -0.01 over them, below the
SL line on the rendition- and ObjectNet-like shifts, above it on none; CLIP on the
curated images above the line only on the sketch-like shift, mean ER about 0.00;
caption-mined SL within about 0.01 of true-label SL; the fixed-budget mixture between
its components on every informative shift; similarity pruning (KS distance to the
target distribution 0.34 -> 0.16) no different from a random subset of the same size,
with a conservatively estimated detectable difference of about 0.025. The notebook
recomputes these on every run and computes their verdicts.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import torch

from studylib.inference import WORDS, over_seeds
from studylib.io import atomic_write_bytes, cache_dir
from studylib.metrics import correct_from_confusion
from studylib.robustness import effective_robustness, effective_robustness_interval, fit_linear_trend
from studylib.similarity import image_features, nearest_similarity, prune_to_distribution

NAME = "01_robustness_origins"
SHIFTS = ("v2", "sketch", "rendition", "objectnet")
# Chapter 1 trains 20 models, so it uses a smaller world than chapter 2; its question
# (robustness to distribution shift) is not about imbalance, so its world is balanced,
# as ImageNet roughly is.
SIZES = {
    # smoke: big enough that the baseline family spans some accuracy range (a flat family has no ER line)
    "smoke": dict(n_classes=20, n_train=640, test_per_class=5, epochs=2, batch_size=32, profile="balanced"),
    "quick": dict(n_classes=100, n_train=6000, test_per_class=20, epochs=3, profile="balanced"),
    "full": dict(n_classes=200, n_train=40000, test_per_class=30, epochs=12, profile="balanced"),
}
# The SL baseline family: (fraction of the training pairs, fraction of the epochs, fraction of the width),
# spanning a range of accuracies as the ImageNet testbed's standard models do.
FAMILY = ((0.25, 0.4, 0.5), (0.5, 0.4, 0.75), (0.5, 1.0, 1.0), (1.0, 0.4, 1.0), (1.0, 0.6, 1.5), (1.0, 1.0, 1.0))
SOURCES = ("flickr", "alttext", "encyclopedia")
MIX = "flickr:0.5,encyclopedia:0.5"
STANDARD = "imagenet"      # the baseline family's curated source: photos only, as ImageNet
KNOBS_TRIED = (
    "Chapter 1 asks whether CLIP trained on this web-like source has positive effective robustness against SL "
    "trained on the curated source. The knobs of the data (`shift_share=0.05`: 5% of the web images rendered as a "
    "sketch, a rendition or an odd pose and background; `caption_image_words=0.3`; web nuisance 1.0) were set once "
    "and never changed. Two renderer settings were changed once, for a stated reason: with `shape_weight=0.5` and "
    "sketch strokes of weight 1.2, the full-size SL baseline reached 1.3% on the sketch-like shift (chance 1%), "
    "which leaves that shift uninformative; four settings of those two were tried, judged by that SL model's "
    "accuracy on the shifts alone (0.5/1.2: 1.3%; 0.8/1.2: 4.2%; 0.5/0.6: 2.0%; 0.7/0.6: 5.1%, photo 31%), and "
    "0.7/0.6 became the default. (Those four were measured before a later fix of the per-concept random streams; "
    "with the fix, at 0.7/0.6, the same SL model reaches 4.0% on the sketch-like shift and 29% on photo.) The CLIP and effective-robustness results had been seen at 0.5/1.2 (positive ER "
    "not reproduced there either); nothing was tuned toward them. A sweep of `shift_share` is the natural next "
    "experiment.")
WEB = "web"                # CLIP's web-like source: the test shifts are rare in it, not absent


def test_domains() -> dict:
    return dict(test_domains=("photo", *SHIFTS))


def baseline_specs(s) -> tuple[dict, str]:
    """(label -> RunSpec of the SL family, label of the full-size member: same data, budget and width as CLIP)."""
    P = s.params
    N, E, W = P["n_train"], P["epochs"], P["width"]
    specs = {}
    for frac, efrac, wfrac in FAMILY:
        n, e, w = max(P["batch_size"], int(N * frac)), max(1, round(E * efrac)), max(4, int(W * wfrac))
        label = f"SL n={n} ep={e} w={w}"
        specs[label] = s.spec(label, objective="sl", n_train=n, epochs=e, width=w, source=STANDARD, **test_domains())
    return specs, f"SL n={N} ep={E} w={W}"


def clip_specs(s, seed: int | None = None) -> dict:
    """CLIP on the web-like source, and CLIP on the baseline's own curated images (the objective alone)."""
    seed = s.params["seed"] if seed is None else seed
    return {"CLIP (web)": s.spec("CLIP (web)", objective="clip", source=WEB, seed=seed, **test_domains()),
            "CLIP (curated)": s.spec("CLIP (curated)", objective="clip", source=STANDARD, seed=seed,
                                     **test_domains())}


def clip_er_over_seeds(trends: dict, clip_by_seed: dict, shifts, n_boot: int = 1000) -> dict:
    """model -> shift -> ER mean and 95% t interval over the seeds of ``clip_by_seed`` (seed -> label -> run)."""
    er_by_seed = {k: er_table(trends, runs, n_boot=n_boot) for k, runs in clip_by_seed.items()}
    models = next(iter(clip_by_seed.values()))
    return {model: er_over_seeds(er_by_seed, model, shifts) for model in models}


def er_over_seeds(er_by_seed: dict, model: str, shifts) -> dict:
    """A model's ER per shift as mean and t-based 95% interval over training seeds (NaN bounds for one seed)."""
    out = {}
    for shift in shifts:
        values = [float(er[(er["model"] == model) & (er["shift"] == shift)]["er"].iloc[0]) for er in er_by_seed.values()]
        out[shift] = over_seeds(values)
    return out


def er_sides(trends: dict, clip_by_seed: dict, model: str, shifts, n_boot: int = 1000) -> dict:
    """Where ``model`` lies against the SL line on each informative shift, at the preset's seed level.

    One seed: the 95% ER interval resamples test images and the baseline line. Several seeds
    (``full``): the 95% t interval of the ER over training seeds. Returns ``{"above", "below"}``
    (shifts whose whole interval lies above / below 0), ``"mean"`` (ER averaged over the shifts
    and seeds) and ``"seeds"``.
    """
    if len(clip_by_seed) == 1:
        er = er_table(trends, {model: next(iter(clip_by_seed.values()))[model]}, n_boot=n_boot)
        return {"above": shifts_above_line(er, model, shifts), "below": shifts_below_line(er, model, shifts),
                "mean": mean_er(er, model, shifts), "seeds": 1}
    by_seed = {k: er_table(trends, {model: runs[model]}, n_boot=n_boot) for k, runs in clip_by_seed.items()}
    over = er_over_seeds(by_seed, model, shifts)
    return {"above": [sh for sh in shifts if over[sh]["lo"] > 0], "below": [sh for sh in shifts if over[sh]["hi"] < 0],
            "mean": float(np.mean([v["mean"] for v in over.values()])), "seeds": len(clip_by_seed)}


def source_specs(s) -> tuple[dict, dict]:
    """(label -> RunSpec of CLIP per source at half and full budget and of the mixture at 1x and 2x,
    label -> source group)."""
    N = s.params["n_train"]
    specs, groups = {}, {}
    for src in SOURCES:
        for frac in (0.5, 1.0):
            label = f"CLIP {src} n={int(N * frac)}"
            specs[label] = s.spec(label, objective="clip", source=src, n_train=int(N * frac), **test_domains())
            groups[label] = f"CLIP {src}"
    for mult in (1, 2):
        label = f"CLIP mix n={mult * N}"
        specs[label] = s.spec(label, objective="clip", source=MIX, n_train=mult * N, **test_domains())
        groups[label] = "CLIP mix"
    return specs, groups


def source_cards(s) -> None:
    """Data cards of the standard world and of each source at the full budget."""
    N = s.params["n_train"]
    s.card("01-standard", source=STANDARD, **test_domains())
    s.card("01-web", extra_sections={"Knob settings tried for chapter 1": KNOBS_TRIED}, source=WEB, **test_domains())
    for name, src in (("flickr", "flickr"), ("alttext", "alttext"), ("encyclopedia", "encyclopedia"),
                      ("mixture", MIX)):
        s.card(f"01-{name}", source=src, n_train=N, **test_domains())


def language_specs(s) -> dict:
    """SL on labels mined from the web source's captions, and SL on its true labels: the same images as CLIP (web)."""
    return {"SL, caption-mined labels (web)": s.spec("SL, caption-mined labels (web)", objective="sl",
                                                     labels="captions", source=WEB, **test_domains()),
            "SL, true labels (web)": s.spec("SL, true labels (web)", objective="sl", source=WEB, **test_domains())}


def big_world(s) -> dict:
    """World parameters of the larger, more varied training set: the double-budget mixture."""
    return dict(source=MIX, n_train=2 * s.params["n_train"], **test_domains())


def similarity_specs(s, study: dict) -> dict:
    """CLIP on the similarity-pruned large set and on a random subset of the same size."""
    big = dict(objective="clip", **big_world(s))
    return {"CLIP mixture ×2, similarity-pruned": s.spec("CLIP mixture ×2, similarity-pruned", keep=study["keep"], **big),
            "CLIP mixture ×2, random subset": s.spec("CLIP mixture ×2, random subset", keep=study["rand_keep"], **big)}


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
    out = {"nn_small": nn_small, "nn_big": nn_big, "nn_pruned": nn_pruned, "keep": keep, "rand_keep": rand_keep,
           "n_big": np.array(len(big))}
    buf = io.BytesIO()
    np.savez(buf, **out, info_keys=np.array(list(info)), info_values=np.array(list(info.values())))
    atomic_write_bytes(path, buf.getvalue())
    return {**out, "info": info}


def similarity_study(s, reference) -> dict:
    """:func:`pruning_study` for session ``s`` with the full-size SL baseline run ``reference`` (kept model)."""
    from studylib.pipeline import load

    big = big_world(s)
    key = f"ks-{reference.key}-{s.params['seed']}-{MIX}-{big['n_train']}"
    return pruning_study(key, lambda: load(reference).model,
                         lambda: s.world(source=STANDARD, **test_domains()).train.images,
                         lambda: s.world(**big).train.images,
                         lambda: torch.cat([s.world(**big).test[d].images for d in SHIFTS]), seed=s.params["seed"])


# ------------------------------------------------------------------ effective-robustness analysis

def accuracy_table(runs: dict) -> pd.DataFrame:
    """Top-1 per test domain (columns) for each run (rows, by label)."""
    rows = {}
    for label, run in runs.items():
        rows[label] = {k[len("top1_"):]: v for k, v in run.metrics.items() if k.startswith("top1_")}
    return pd.DataFrame(rows).T


def fit_trends(baseline_acc: pd.DataFrame, shifts, id_domain: str = "photo", n_boot: int = 1000, seed: int = 0):
    """One baseline LinearTrend per shift, fitted on the rows of ``baseline_acc``."""
    if len(baseline_acc) < 3:
        raise ValueError(f"a baseline trend needs >= 3 models, got {len(baseline_acc)}")
    return {s: fit_linear_trend(baseline_acc[id_domain], baseline_acc[s], n_boot=n_boot, seed=seed) for s in shifts}


def points(acc: pd.DataFrame, shift: str, id_domain: str = "photo", group=None) -> pd.DataFrame:
    """``label, id, ood`` (and ``group``) rows for robustness plots."""
    out = pd.DataFrame({"label": acc.index, "id": acc[id_domain].to_numpy(), "ood": acc[shift].to_numpy()})
    if group is not None:
        out["group"] = [group(label) for label in acc.index]
    return out


def er_table(trends: dict, runs: dict, id_domain: str = "photo", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """ER of each run on each shift, with a 95% interval (baseline lines x own test sets)."""
    rows = []
    for label, run in runs.items():
        id_conf = run.array(f"confusion_{id_domain}")
        for shift, trend in trends.items():
            ood_conf = run.array(f"confusion_{shift}")
            iv = effective_robustness_interval(trend, correct_from_confusion(id_conf),
                                               correct_from_confusion(ood_conf), n_boot=n_boot, seed=seed)
            id_acc, ood_acc = run.metrics[f"top1_{id_domain}"], run.metrics[f"top1_{shift}"]
            rows.append({"model": label, "shift": shift, "id": id_acc, "ood": ood_acc,
                         "er": float(effective_robustness(trend, id_acc, ood_acc)), "lo": iv["lo"], "hi": iv["hi"]})
    return pd.DataFrame(rows)


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


def shift_information(acc: pd.DataFrame, baseline, n_test: int, n_classes: int, shifts=SHIFTS,
                      id_domain: str = "photo", alpha: float = 0.01) -> pd.DataFrame:
    """Is each shift informative for effective robustness? One row per shift.

    A shift is informative when at least half of the baseline family is above
    chance there (one-sided binomial test at ``alpha`` on its ``n_test`` test
    images) and no baseline model is better there than in distribution (one-sided
    two-proportion z-test at ``alpha``): a shift is harder, never easier.
    At chance the logit line is flat, every model "lies on it", and an ER
    average would count noise.
    """
    chance = 1 / n_classes
    base = acc.loc[list(baseline)]
    rows = []
    for shift in shifts:
        above = [_above_chance(a, n_test, chance, alpha) for a in base[shift]]
        below_id = not any(_better(o, i, n_test, alpha) for o, i in zip(base[shift], base[id_domain]))
        rows.append({"shift": shift, "chance": chance, "baseline_min": float(base[shift].min()),
                     "baseline_max": float(base[shift].max()), "photo_min": float(base[id_domain].min()),
                     "photo_max": float(base[id_domain].max()), "above_chance": int(sum(above)),
                     "of": len(above), "below_photo": below_id,
                     "informative": bool(2 * sum(above) >= len(above) and below_id)})
    return pd.DataFrame(rows).set_index("shift")


INCONCLUSIVE = WORDS["inconclusive"]


def er_verdict(above: list, below: list) -> str:
    """Positive ER: reproduced when above the line on some informative shift and below on none;
    not reproduced when below on some and above on none; otherwise inconclusive."""
    if above and not below:
        return "reproduced"
    if below and not above:
        return "not reproduced"
    return INCONCLUSIVE


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
    se = {m: ((rows[rows["model"] == m]["hi"] - rows[rows["model"] == m]["lo"]) / (2 * 1.96)).to_numpy()
          for m in (a, b)}
    return float(np.mean(2.8 * np.sqrt(se[a] ** 2 + se[b] ** 2))) if len(se[a]) else float("nan")


def mean_er(er: pd.DataFrame, model: str, shifts=None) -> float:
    """A model's ER averaged over ``shifts`` (default: every shift in ``er``)."""
    rows = er[er["model"] == model]
    if shifts is not None:
        rows = rows[rows["shift"].isin(list(shifts))]
    return float(rows["er"].mean()) if len(rows) else float("nan")


def shifts_above_line(er: pd.DataFrame, model: str, shifts=None) -> list[str]:
    """Shifts (of ``shifts``, default all) on which the model's whole 95% ER interval lies above 0."""
    rows = er[er["model"] == model]
    return [s for s, lo in zip(rows["shift"], rows["lo"]) if lo > 0 and (shifts is None or s in shifts)]


def shifts_below_line(er: pd.DataFrame, model: str, shifts=None) -> list[str]:
    """Shifts on which the model's whole 95% ER interval lies below 0."""
    rows = er[er["model"] == model]
    return [s for s, hi in zip(rows["shift"], rows["hi"]) if hi < 0 and (shifts is None or s in shifts)]


def group_mean_er(er: pd.DataFrame, group) -> pd.DataFrame:
    """Mean ER per group of models (``group(label)``) and shift: groups x shifts."""
    return er.assign(group=er["model"].map(group)).groupby(["group", "shift"], sort=False)["er"].mean().unstack()


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


def summary(registry, preset: str = "quick", n_boot: int = 1000) -> list[dict]:
    """The chapter's headline claim (CLIP has positive ER) from the registry's runs at the default parameters."""
    from studylib.chapters.stored import not_run, stored, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    baseline = stored(registry, baseline_specs(s)[0])
    clip_by_seed = stored_by_seed(registry, s, lambda k: clip_specs(s, seed=k))
    if missing := not_run(NAME, baseline, *clip_by_seed.values()):
        return missing
    acc = accuracy_table(baseline)
    info = shift_information(acc, baseline, n_test=s.params["n_classes"] * s.params["test_per_class"],
                             n_classes=s.params["n_classes"])
    shifts = [sh for sh in SHIFTS if info.loc[sh, "informative"]]
    if not shifts:
        return [{"chapter": NAME, "claim": "CLIP has positive effective robustness", "verdict": INCONCLUSIVE,
                 "result": "no informative shift: the baseline family is at chance on every shift"}]
    trends = fit_trends(acc, shifts, n_boot=n_boot)
    claims = (("CLIP (web)", "CLIP trained on web-like data has positive effective robustness (Taori et al.)",
               er_verdict),
              ("CLIP (curated)", "CLIP on the baseline's own curated images has no positive ER (Fang et al.)",
               lambda above, below: "not reproduced" if above else "reproduced"))
    rows = []
    for label, claim, decide in claims:
        side = er_sides(trends, clip_by_seed, label, shifts, n_boot=n_boot)
        seeds = "one seed" if side["seeds"] == 1 else f"{side['seeds']} seeds, interval over seeds"
        result = (f"mean ER {side['mean']:+.3f} over {', '.join(shifts)} ({seeds}); above the SL line on "
                  f"{', '.join(side['above']) or 'none'}, below on {', '.join(side['below']) or 'none'}")
        rows.append({"chapter": NAME, "claim": claim, "result": result, "verdict": decide(side["above"], side["below"])})
    return rows
