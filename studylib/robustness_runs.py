"""From registry runs to effective-robustness tables (chapter 1's analysis).

    acc = accuracy_table(runs)                           # one row per run, one column per test domain
    trends = fit_trends(acc.loc[baseline_labels], shifts)
    er = er_table(trends, runs, others)                  # ER with per-model 95% intervals

Accuracies come from each run's stored confusion matrices, and a model's ER
interval resamples its own test predictions (rebuilt from those matrices)
together with bootstrap lines of the baseline (studylib.robustness).
"""
from __future__ import annotations

import pandas as pd

from studylib.metrics import correct_from_confusion
from studylib.robustness import effective_robustness, effective_robustness_interval, fit_linear_trend


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


def er_summary(er: pd.DataFrame) -> pd.DataFrame:
    """Models x shifts, cells like ``+0.031 [+0.010, +0.052]``."""
    cell = [f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}]" for e, lo, hi in zip(er["er"], er["lo"], er["hi"])]
    out = er.assign(cell=cell).pivot(index="model", columns="shift", values="cell")
    return out.reindex(index=list(dict.fromkeys(er["model"])), columns=list(dict.fromkeys(er["shift"])))


def mean_er(er: pd.DataFrame, model: str) -> float:
    """A model's ER averaged over shifts."""
    return float(er[er["model"] == model]["er"].mean())


def shifts_above_line(er: pd.DataFrame, model: str) -> list[str]:
    """Shifts on which the model's whole 95% ER interval lies above 0 (above the baseline line)."""
    rows = er[er["model"] == model]
    return [s for s, lo in zip(rows["shift"], rows["lo"]) if lo > 0]


def group_mean_er(er: pd.DataFrame, group) -> pd.DataFrame:
    """Mean ER per group of models (``group(label)``) and shift: groups x shifts."""
    return er.assign(group=er["model"].map(group)).groupby(["group", "shift"], sort=False)["er"].mean().unstack()


def lies_between(er: pd.DataFrame, model: str, components, tol: float = 0.01) -> dict:
    """Per shift: is ``model``'s ER within [min, max] (+- tol) of the ERs of the ``components`` models?"""
    out = {}
    for shift in dict.fromkeys(er["shift"]):
        rows = er[er["shift"] == shift].set_index("model")["er"]
        comp = rows.loc[list(components)]
        out[shift] = bool(comp.min() - tol <= rows.loc[model] <= comp.max() + tol)
    return out
