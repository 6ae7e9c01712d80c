"""What this study's claims rest on: per-class tables of runs, paired parts over seeds, accuracy matching.

Shared by every chapter module (which never import each other). The paper's quantities:

* **robustness** (to imbalance) is how little a model's per-class accuracy and #predictions
  follow training frequency: Spearman (and, where the paper uses it, Pearson of log counts) of
  the per-class value against the class's training count, measured on the balanced
  in-distribution test set. Lower is more robust;
* **discriminability** is top-1 on that test set (the mean of per-class accuracy);
* OOD accuracy on shifted test sets belongs to chapter 1's *effective robustness* only.

    part = paired_part(runs_by_seed, "CLIP − SL", "CLIP", "SL", "#predictions", "below")
    row = claim_row(NAME, "C1: CLIP is less biased than SL", QUANTITY["#predictions"], [part])

Long because every chapter's evidence helpers (tables, paired parts, matched residuals, checks) live together.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.claims import Part, check, direction
from studylib.inference import combine_seeds, paired_difference, paired_mean_difference, residual_from_trend

MEASURES = {"#predictions": "predictions", "accuracy": "accuracy"}
# Each measure in words, as a claim row names it.
QUANTITY = {
    "#predictions": "robustness to imbalance: Spearman(per-class #predictions, training frequency), lower is more robust",
    "accuracy": "robustness to imbalance: Spearman(per-class accuracy, training frequency), lower is more robust",
    "top-1": "discriminability: top-1 on the balanced in-distribution test set",
}


def id_table(run, domain: str | None = None) -> pd.DataFrame:
    """A run's per-class table on one test set (default its in-distribution one), every class, in class order."""
    pc = run.per_class
    return pc[pc["domain"] == (domain or run.metrics["id_domain"])].sort_values("class_index")


def photo(run) -> pd.DataFrame:
    """A run's per-class table on the in-distribution test set, classes with training pairs only."""
    table = id_table(run)
    return table[table["train_count"] > 0]


def chance(run) -> float:
    """Top-1 of a uniform guess over the run's evaluated classes."""
    return 1.0 / len(id_table(run))


def learned(label: str, run, factor: float = 1.5):
    """:func:`above_chance` naming the model by its label."""
    top, c = float(run.metrics["top1"]), chance(run)
    return check(
        f"{label} learned (top-1 > {factor:g}× chance)", top > factor * c, f"top-1 {top:.3f}, chance {c:.3f}"
    )


def paired_tables(run_a, run_b, own_counts: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two runs' per-class tables on their in-distribution test set, checked to hold the same classes (and,
    unless ``own_counts``, the same training counts): what a paired comparison over classes needs. Only the
    classes with training pairs in both runs are kept (a subset, such as a similarity threshold's, can leave a
    rare class with none)."""
    a, b = id_table(run_a), id_table(run_b)
    if not (
        len(a) == len(b)
        and (a["class_index"].to_numpy() == b["class_index"].to_numpy()).all()
        and (own_counts or (a["train_count"].to_numpy() == b["train_count"].to_numpy()).all())
    ):
        raise ValueError(
            f"runs {run_a.key} and {run_b.key} were not trained on the same classes and counts: "
            "a paired comparison needs the same world"
        )
    both = (a["train_count"].to_numpy() > 0) & (b["train_count"].to_numpy() > 0)
    return a[both], b[both]


def paired(run_a, run_b, measure: str, seed: int = 0, own_counts: bool = False) -> dict:
    """corr(a) − corr(b) with frequency over the same classes (``measure`` "#predictions" or "accuracy"), or
    the difference of top-1 ("top-1"), with a paired bootstrap interval over classes. ``own_counts``: the runs
    saw different amounts of the same classes (a data-scale sweep or another profile); each correlation uses
    its own counts."""
    a, b = paired_tables(run_a, run_b, own_counts)
    if measure == "top-1":
        return paired_mean_difference(a["accuracy"].to_numpy(), b["accuracy"].to_numpy(), seed=seed)
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}: use {', '.join([*MEASURES, 'top-1'])}")
    col = MEASURES[measure]
    return paired_difference(
        a[col].to_numpy(),
        b[col].to_numpy(),
        a["train_count"].to_numpy(),
        seed=seed,
        frequency_b=b["train_count"].to_numpy() if own_counts else None,
    )


def paired_part(
    runs_by_seed: dict,
    name: str,
    a: str,
    b: str,
    measure: str,
    claim: str,
    own_counts: bool = False,
    checks=(),
    digits: int = 3,
) -> Part:
    """One comparison ``a − b`` as a claim part: the paired difference over classes (one seed) or the mean of
    per-seed differences with a t interval over seeds, judged by :func:`studylib.claims.direction`."""
    interval, basis = combine_seeds(
        [
            paired(runs[a], runs[b], measure, seed=seed, own_counts=own_counts)
            for seed, runs in runs_by_seed.items()
        ]
    )
    return direction(
        f"{name}, {measure}",
        interval["diff"],
        interval["lo"],
        interval["hi"],
        claim,
        basis=basis,
        checks=checks,
        digits=digits,
    )


def accuracy_matched(family: dict, target, measure: str = "#predictions", seed: int = 0) -> dict:
    """``target``'s correlation against the family's line of correlation on top-1 (paired class bootstrap);
    NaN everywhere when the family spans no accuracy range (e.g. all at chance)."""
    col = MEASURES[measure]
    t = photo(target)
    if len({r.metrics["top1"] for r in family.values()}) < 2:
        nan = float("nan")
        return {
            "residual": nan,
            "lo": nan,
            "hi": nan,
            "slope": nan,
            "intercept": nan,
            "n_models": len(family),
        }
    return residual_from_trend(
        [photo(r)[col].to_numpy() for r in family.values()],
        [r.metrics["top1"] for r in family.values()],
        t[col].to_numpy(),
        target.metrics["top1"],
        t["train_count"].to_numpy(),
        seed=seed,
    )


def matched_part(
    family: dict,
    target,
    name: str,
    claim: str = "below",
    measure: str = "#predictions",
    seed: int = 0,
    checks=(),
) -> Part:
    """The accuracy-matched residual of ``target`` from the family's bias-on-top-1 line, as a claim part. The
    family must span an accuracy range (a check), and the target should lie inside it (extrapolation noted)."""
    m = accuracy_matched(family, target, measure, seed=seed)
    tops = [r.metrics["top1"] for r in family.values()]
    spread = check(
        "the reference family spans an accuracy range",
        np.ptp(tops) > 0,
        f"top-1 {min(tops):.3f} … {max(tops):.3f}",
    )
    t = target.metrics["top1"]
    basis = f"residual from the line of {len(family)} reference models, paired class bootstrap" + (
        "" if min(tops) <= t <= max(tops) else f"; extrapolated (top-1 {t:.3f} outside the family's range)"
    )
    return direction(
        f"{name}, {measure} residual",
        m["residual"],
        m["lo"],
        m["hi"],
        claim,
        basis=basis,
        checks=(spread, *checks),
    )


def bias_points(runs: dict, groups: dict, measure: str = "#predictions") -> pd.DataFrame:
    """``model, group, top1, r, lo, hi`` per run, for the bias-against-accuracy figure."""
    short = {"#predictions": "pred", "accuracy": "acc"}[measure]
    return pd.DataFrame(
        [
            {
                "model": label,
                "group": groups[label],
                "top1": r.metrics["top1"],
                "r": r.metrics[f"spearman_{short}"],
                "lo": r.metrics[f"spearman_{short}_lo"],
                "hi": r.metrics[f"spearman_{short}_hi"],
            }
            for label, r in runs.items()
        ]
    )


def beyond(full, here) -> str:
    """The points of a ``full`` sweep that ``here`` does not run, in ``full``'s order ("none" if none)."""
    extra = [x for x in full if x not in here]
    return ", ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in extra) or "none"


def matched_seeds_part(
    runs_by_seed: dict,
    family: tuple,
    target: str,
    name: str,
    claim: str = "below",
    measure: str = "#predictions",
    checks=(),
) -> Part:
    """:func:`matched_part` over the preset's seeds, each seed's ``target`` run against that seed's ``family``
    (labels) line: one seed gives its paired class-bootstrap interval, several the mean residual with a t
    interval over seeds (as :func:`paired_part` does), so a residual is judged like a paired difference."""
    if len(runs_by_seed) == 1:
        seed, runs = next(iter(runs_by_seed.items()))
        return matched_part(
            {label: runs[label] for label in family},
            runs[target],
            name,
            claim,
            measure,
            seed=seed,
            checks=checks,
        )
    per_seed, tops = [], []
    for seed, runs in runs_by_seed.items():
        m = accuracy_matched({label: runs[label] for label in family}, runs[target], measure, seed=seed)
        per_seed.append({"diff": m["residual"], "lo": m["lo"], "hi": m["hi"]})
        tops.append([runs[label].metrics["top1"] for label in family])
    targets = [runs[target].metrics["top1"] for runs in runs_by_seed.values()]
    outside = sum(not min(t) <= x <= max(t) for t, x in zip(tops, targets))
    ranges = "; ".join(f"top-1 {min(t):.3f} … {max(t):.3f}" for t in tops)
    spread = check(
        "the reference family spans an accuracy range in every seed", all(np.ptp(t) > 0 for t in tops), ranges
    )
    if not spread.passed:
        nan = float("nan")
        return direction(f"{name}, {measure} residual", nan, nan, nan, claim, checks=(spread, *checks))
    interval, basis = combine_seeds(per_seed)
    return direction(
        f"{name}, {measure} residual",
        interval["diff"],
        interval["lo"],
        interval["hi"],
        claim,
        basis=f"residual from the line of {len(family)} reference models; {basis}"
        + (f"; extrapolated in {outside} seed(s)" if outside else ""),
        checks=(spread, *checks),
    )


def learned_checks(runs_by_seed: dict, *labels: str) -> tuple:
    """:func:`learned` for each labelled model in every seed (the seed named only where there are several)."""
    several = len(runs_by_seed) > 1
    return tuple(
        learned(f"{label} (seed {seed})" if several else label, runs[label])
        for seed, runs in runs_by_seed.items()
        for label in labels
    )


def sl_family_specs(session, points, seed: int | None = None) -> dict:
    """label -> RunSpec of an accuracy-matched reference family: SL at ``points`` of (epochs factor, width
    factor) of the session's, e.g. (1/3, 1) or (2, 1), so the family's top-1 spans the models it is matched
    against. The session's own SL (1, 1) is left out: the chapter trains it anyway."""
    seed = session.params["seed"] if seed is None else seed
    E, W = session.params["epochs"], session.params["width"]
    out = {}
    for efrac, wfrac in points:
        e, w = max(1, round(E * efrac)), max(4, int(W * wfrac))
        if (e, w) != (E, W):
            label = f"SL ep={e} w={w}"
            out[label] = session.spec(label, objective="sl", epochs=e, width=w, seed=seed)
    return out


# Robustness to imbalance as a claim row names it when it judges both of the paper's measures.
ROBUSTNESS = (
    "robustness to imbalance: Spearman of per-class #predictions and of per-class accuracy with "
    "training frequency (balanced in-distribution test set), lower is more robust"
)


def robustness_parts(
    runs_by_seed: dict, name: str, a: str, b: str, claim: str, own_counts: bool = True, checks=()
) -> list:
    """``a − b`` in robustness to imbalance, the paper's two measures as two parts (#predictions, then
    accuracy), each a :func:`paired_part`. ``own_counts`` (default): each model's correlation uses its own
    training counts, as data variants (another profile, subset or scale) need."""
    return [
        paired_part(runs_by_seed, name, a, b, measure, claim, own_counts=own_counts, checks=checks)
        for measure in ("#predictions", "accuracy")
    ]
