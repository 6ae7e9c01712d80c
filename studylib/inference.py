"""Inference that matches the claim: paired intervals, seed-level intervals, accuracy-matched comparisons.

"A is less biased than B" is a statement about the *difference* of two
correlations measured on the same classes. Two marginal intervals that overlap
do not say the difference is zero, and two that do not overlap understate
what is known. So:

* :func:`paired_difference`: corr(a, f) − corr(b, f) over the same classes,
  with a percentile bootstrap that resamples classes *jointly* for both models
  (:func:`studylib.metrics.class_resamples`, the one class-level resampler: every model of a
  comparison, and every model of a refitted trend, sees the same draw);
* :func:`over_seeds`: mean and t-based 95% interval of a statistic over
  training seeds (the ``full`` preset runs several; one seed has no interval);
* :func:`residual_from_trend`: where a model lies relative to the trend of a
  family of reference models (correlation against top-1), with a paired class
  bootstrap of the whole family, so a less accurate model is compared at its
  own accuracy (the paper's Fig 3).

The words a claim earns from these intervals are computed in :mod:`studylib.claims`.

    d = paired_difference(clip_pred, sl_pred, train_count)     # {"diff", "lo", "hi", "a", "b", "n"}
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from studylib.metrics import class_resamples, correlation, percentile_interval, resampled_correlation
from studylib.seeds import substream


def _aligned(*arrays):
    arrays = [np.asarray(a, dtype=float) for a in arrays]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"per-class arrays differ in length: {[len(a) for a in arrays]}")
    keep = np.all([~np.isnan(a) for a in arrays], axis=0) & (arrays[-1] > 0)
    return [a[keep] for a in arrays]


def paired_difference(
    values_a,
    values_b,
    frequency,
    method: str = "spearman",
    n_boot: int = 2000,
    seed: int = 0,
    frequency_b=None,
) -> dict:
    """corr(a, freq) − corr(b, freq) on the same classes, with a paired 95% bootstrap interval.

    ``frequency_b``: model b's own per-class training counts where the two models saw
    different amounts of data of the same classes (e.g. a data-scale sweep); default
    ``frequency`` for both. Classes with NaN in either model or a non-positive frequency
    are left out. Returns ``{"diff", "lo", "hi", "a", "b", "n"}``.
    """
    fb = frequency if frequency_b is None else frequency_b
    a, b, g, f = _aligned(values_a, values_b, fb, frequency)
    keep = g > 0
    a, b, g, f = a[keep], b[keep], g[keep], f[keep]
    if len(f) < 4:
        raise ValueError(f"a paired interval needs >= 4 classes with values, got {len(f)}")

    scale = np.log10 if method == "pearson" else (lambda x: x)
    idx = class_resamples(len(f), n_boot, seed)  # classes, drawn once per resample for both models
    lo, hi = percentile_interval(
        resampled_correlation(a, scale(f), idx, method) - resampled_correlation(b, scale(g), idx, method)
    )
    ca, cb = correlation(a, f, method), correlation(b, g, method)
    return {"diff": ca - cb, "lo": float(lo), "hi": float(hi), "a": ca, "b": cb, "n": int(len(f))}


def unpaired_difference(
    values_a, frequency_a, values_b, frequency_b, method: str = "spearman", n_boot: int = 2000, seed: int = 0
) -> dict:
    """corr(a, freq_a) − corr(b, freq_b) for two *different* class sets (no pairing is possible): each set's
    classes are resampled independently, 95% percentile interval. Returns ``{"diff", "lo", "hi", "a", "b"}``."""
    boots, point = [], []
    for k, (v, f) in enumerate(((values_a, frequency_a), (values_b, frequency_b))):
        v, f = np.asarray(v, dtype=float), np.asarray(f, dtype=float)
        keep = ~np.isnan(v) & (f > 0)
        v, f = v[keep], f[keep]
        if len(v) < 4:
            raise ValueError(f"a correlation interval needs >= 4 classes with values, got {len(v)}")
        scale = np.log10 if method == "pearson" else (lambda x: x)
        idx = class_resamples(len(v), n_boot, substream(seed, k))  # independent: the class sets differ
        boots.append(resampled_correlation(v, scale(f), idx, method))
        point.append(correlation(v, f, method))
    lo, hi = percentile_interval(boots[0] - boots[1])
    return {"diff": point[0] - point[1], "lo": lo, "hi": hi, "a": point[0], "b": point[1]}


def paired_mean_difference(values_a, values_b, n_boot: int = 2000, seed: int = 0) -> dict:
    """mean(a) − mean(b) over the same units (e.g. per-class accuracy of two models), paired 95% bootstrap.

    Units with NaN in either are left out. Returns ``{"diff", "lo", "hi", "a", "b", "n"}``.
    """
    a, b = (np.asarray(v, dtype=float) for v in (values_a, values_b))
    if a.shape != b.shape:
        raise ValueError(f"paired values differ in length: {len(a)} and {len(b)}")
    keep = ~np.isnan(a) & ~np.isnan(b)
    d = a[keep] - b[keep]
    if len(d) < 4:
        raise ValueError(f"a paired interval needs >= 4 units with values, got {len(d)}")
    lo, hi = percentile_interval(d[class_resamples(len(d), n_boot, seed)].mean(1))
    return {
        "diff": float(d.mean()),
        "lo": lo,
        "hi": hi,
        "a": float(a[keep].mean()),
        "b": float(b[keep].mean()),
        "n": int(len(d)),
    }


def over_seeds(values) -> dict:
    """Mean of a statistic over seeds with a t-based 95% interval (NaN bounds for a single seed)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        raise ValueError("no finite values to summarise")
    mean = float(v.mean())
    if len(v) < 2:
        return {"mean": mean, "lo": float("nan"), "hi": float("nan"), "n": 1}
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "n": int(len(v))}


def combine_seeds(per_seed: list) -> tuple[dict, str]:
    """One interval from per-seed paired results (dicts with ``diff, lo, hi``) and what it rests on: the
    seed's own paired interval for one seed, else the mean difference with its t interval over seeds."""
    if not per_seed:
        raise ValueError("no per-seed results to combine")
    if len(per_seed) == 1:
        d = per_seed[0]
        return {"diff": d["diff"], "lo": d["lo"], "hi": d["hi"]}, "paired bootstrap over classes, 1 seed"
    o = over_seeds([d["diff"] for d in per_seed])
    return (
        {"diff": o["mean"], "lo": o["lo"], "hi": o["hi"]},
        f"mean of per-seed paired differences, t interval over {o['n']} seeds",
    )


def residual_from_trend(
    reference_values: list,
    reference_top1,
    values,
    top1,
    frequency,
    method: str = "spearman",
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """How far a model's correlation lies from the reference family's line of correlation on top-1.

    ``reference_values``: per-class values (e.g. #predictions) of each reference
    model, on the same classes as ``values``; ``reference_top1`` their top-1.
    Each bootstrap resample draws classes once and recomputes every model's
    correlation on them, refits the line and takes the residual. Returns
    ``{"residual", "lo", "hi", "slope", "intercept", "n_models"}``; a negative
    residual means less correlated with frequency than the family at equal top-1.
    """
    if len(reference_values) < 2 or len(reference_values) != len(reference_top1):
        raise ValueError("a reference trend needs >= 2 models with one top-1 each")
    x = np.asarray(reference_top1, dtype=float)
    if np.ptp(x) == 0:
        raise ValueError("the reference models all have the same top-1: they span no accuracy range")
    arrays = _aligned(*reference_values, values, frequency)
    refs, v, f = arrays[:-2], arrays[-2], arrays[-1]
    f = np.log10(f) if method == "pearson" else f  # as :func:`correlation` scales it

    def residual(idx):
        """Residuals, slopes and intercepts for a (B, n) array of class draws, every resample at once."""
        ys = np.stack([resampled_correlation(r, f, idx, method) for r in refs], axis=1)  # (B, models)
        dx = x - x.mean()
        slope = (ys - ys.mean(1, keepdims=True)) @ dx / (dx @ dx)  # least squares
        intercept = ys.mean(1) - slope * x.mean()
        return resampled_correlation(v, f, idx, method) - (slope * top1 + intercept), slope, intercept

    full, slope, intercept = (float(a[0]) for a in residual(np.arange(len(f))[None]))
    lo, hi = percentile_interval(residual(class_resamples(len(f), n_boot, seed))[0])
    return {
        "residual": float(full),
        "lo": lo,
        "hi": hi,
        "slope": float(slope),
        "intercept": float(intercept),
        "n_models": len(refs),
    }
