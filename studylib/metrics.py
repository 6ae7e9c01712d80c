"""Per-class metrics and their relation to training frequency.

All functions are pure numpy/scipy so that they can be checked by hand:

* :func:`per_class_accuracy` and :func:`per_class_predictions` from a
  confusion matrix (rows true, columns predicted);
* :func:`frequency_correlation`: Spearman (rank) or Pearson against
  log10 frequency, with a seeded bootstrap 95% CI over classes;
* :func:`binned`: means and standard errors over log-frequency bins.

Wen et al. (2024) read a model's *bias* toward frequent classes from how
strongly its per-class #predictions (and accuracy) follow training frequency.

Long because per-class statistics, correlations with their bootstrap and neural-collapse terms share
the class-mean helpers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def per_class_accuracy(conf: np.ndarray) -> np.ndarray:
    """Recall of each class; NaN for a class with no test samples."""
    conf = np.asarray(conf)
    support = conf.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(conf) / support, np.nan)


def per_class_predictions(conf: np.ndarray) -> np.ndarray:
    """How often each class was predicted (column sums)."""
    return np.asarray(conf).sum(0)


def top1(conf: np.ndarray) -> float:
    conf = np.asarray(conf)
    return float(np.trace(conf) / conf.sum()) if conf.sum() else float("nan")


def _corr(x, y, method):
    if method == "spearman":
        return stats.spearmanr(x, y).statistic
    if method == "pearson":
        return stats.pearsonr(x, y).statistic
    raise ValueError(f"unknown correlation method {method!r}: use spearman or pearson")


def correlation(values, frequency, method: str = "spearman") -> float:
    """Point correlation of per-class ``values`` with ``frequency``: Spearman on ranks, Pearson on
    log10 frequency; NaN when either is constant. The statistic every interval here resamples."""
    values, frequency = np.asarray(values, float), np.asarray(frequency, float)
    if np.ptp(values) == 0 or np.ptp(frequency) == 0:
        return float("nan")
    return float(_corr(values, np.log10(frequency) if method == "pearson" else frequency, method))


def frequency_correlation(
    values, frequency, method: str = "spearman", n_boot: int = 1000, seed: int = 0
) -> dict:
    """Correlation of per-class ``values`` with training ``frequency``.

    ``pearson`` correlates with log10(frequency), ``spearman`` with the ranks
    (any monotone transform gives the same). The 95% CI is the percentile
    bootstrap over classes (``n_boot`` resamples, seeded). Classes with NaN
    values are dropped. Returns ``{"r", "lo", "hi", "n"}``.
    """
    values, frequency = np.asarray(values, float), np.asarray(frequency, float)
    if values.shape != frequency.shape:
        raise ValueError(f"{len(values)} values but {len(frequency)} frequencies")
    keep = ~np.isnan(values)
    v, f = values[keep], frequency[keep]
    if method == "pearson":
        if (f <= 0).any():
            raise ValueError("pearson correlation uses log frequency: frequencies must be > 0")
        f = np.log10(f)
    if len(v) < 3 or np.ptp(v) == 0 or np.ptp(f) == 0:
        return {"r": float("nan"), "lo": float("nan"), "hi": float("nan"), "n": int(len(v))}
    r = float(_corr(v, f, method))
    idx = class_resamples(len(v), n_boot, seed)
    lo, hi = percentile_interval(resampled_correlation(v, f, idx, method))
    return {"r": r, "lo": lo, "hi": hi, "n": int(len(v))}


def class_resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) indices of a seeded bootstrap over n units (classes), drawn once so that every model and
    statistic compared on a resample sees the same units: the one resampling every class-level interval of
    studylib uses (scipy's ``bootstrap(paired=True)`` resamples each call afresh, and a comparison of many
    models against one refitted line needs the same draw for all of them)."""
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


def percentile_interval(boots, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates, NaN replicates left out; (nan, nan) if none is finite."""
    b = np.asarray(boots, dtype=float)
    b = b[~np.isnan(b)]
    if not b.size:
        return float("nan"), float("nan")
    lo, hi = np.percentile(b, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def resampled_ranks(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) within each row of ``v[idx]``, a (B, n) bootstrap
    of the vector ``v``: exactly ``scipy.stats.rankdata(v[idx], axis=1)``, without a sort per row.

    The rows hold only ``v``'s distinct values, so one sort of ``v`` gives each value a code; per row, a count of
    each code and a cumulative sum give every value's mean rank (scipy's per-row argsort was most of every
    chapter's analysis time). With NaN in ``v`` it is scipy's."""
    v, idx = np.asarray(v), np.asarray(idx)
    if np.isnan(v).any() or idx.size == 0:
        return stats.rankdata(v[idx], axis=1)
    _, codes = np.unique(v, return_inverse=True)
    m = int(codes.max()) + 1
    codes = codes.reshape(-1)[idx]
    b = len(idx)
    counts = np.bincount((codes + (np.arange(b) * m)[:, None]).ravel(), minlength=b * m).reshape(b, m)
    mean_rank = np.cumsum(counts, axis=1) - counts + (counts + 1) / 2.0  # values below, plus the ties' mean
    return np.take_along_axis(mean_rank, codes, axis=1)


def resampled_correlation(x: np.ndarray, y: np.ndarray, idx: np.ndarray, method: str) -> np.ndarray:
    """:func:`rowwise_correlation` of ``x[idx]`` and ``y[idx]`` (a bootstrap over units), the Spearman ranks
    computed from ``x``'s and ``y``'s own sort (:func:`resampled_ranks`)."""
    if method == "spearman":
        return rowwise_correlation(resampled_ranks(x, idx), resampled_ranks(y, idx), "pearson")
    return rowwise_correlation(np.asarray(x)[idx], np.asarray(y)[idx], method)


def rowwise_correlation(x: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """The correlation of each row pair of (B, n) arrays at once (Spearman: Pearson of average ranks, as
    scipy's); NaN for a row where either is constant."""
    if method == "spearman":
        x, y = stats.rankdata(x, axis=1), stats.rankdata(y, axis=1)
    elif method != "pearson":
        raise ValueError(f"unknown correlation method {method!r}: use spearman or pearson")
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    den = np.sqrt((x * x).sum(1) * (y * y).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y).sum(1) / den
    r[(np.ptp(x, 1) == 0) | (np.ptp(y, 1) == 0)] = np.nan
    return np.clip(r, -1.0, 1.0)


def binned(values, frequency, n_bins: int = 8, scheme: str = "log", edges=None) -> pd.DataFrame:
    """Mean, standard deviation, standard error and count of ``values`` in frequency bins.

    ``log``: equal-width bins of log10 frequency; ``quantile``: equal-count bins; ``edges``:
    explicit, increasing bin edges in frequency units (a value outside them joins the nearest
    end bin). Empty bins are dropped. Columns: ``lo, hi, centre, mean, std, sem, n``.
    """
    values, frequency = np.asarray(values, float), np.asarray(frequency, float)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    logf = np.log10(np.maximum(frequency, 1e-12))
    if edges is not None:
        edges = np.log10(np.asarray(edges, dtype=float))
        if len(edges) < 2 or not np.all(np.diff(edges) > 0):
            raise ValueError(f"parameter 'edges' needs >= 2 increasing positive values, got {10**edges!r}")
    elif scheme == "log":
        edges = np.linspace(logf.min(), logf.max(), n_bins + 1)
    elif scheme == "quantile":
        edges = np.unique(np.quantile(logf, np.linspace(0, 1, n_bins + 1)))
    else:
        raise ValueError(f"unknown binning scheme {scheme!r}: use log or quantile")
    which = np.clip(np.searchsorted(edges, logf, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        v = values[(which == b) & ~np.isnan(values)]
        if len(v) == 0:
            continue
        std = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        rows.append(
            {
                "lo": 10 ** edges[b],
                "hi": 10 ** edges[b + 1],
                "centre": 10 ** ((edges[b] + edges[b + 1]) / 2),
                "mean": float(v.mean()),
                "std": std,
                "sem": std / np.sqrt(len(v)),
                "n": int(len(v)),
            }
        )
    return pd.DataFrame(rows, columns=["lo", "hi", "centre", "mean", "std", "sem", "n"])


def correlation_table(runs: dict, per_class_key: str = "photo") -> pd.DataFrame:
    """Long table ``model, measure, r, lo, hi`` from runs' stored metrics.

    ``runs`` maps a model label to a registry Run (or anything with ``.metrics``).
    """
    rows = []
    for label, run in runs.items():
        m = run.metrics
        for short, measure in (("acc", "accuracy"), ("pred", "#predictions")):
            for method in ("spearman", "pearson"):
                rows.append(
                    {
                        "model": label,
                        "measure": measure,
                        "method": method,
                        "r": m[f"{method}_{short}"],
                        "lo": m[f"{method}_{short}_lo"],
                        "hi": m[f"{method}_{short}_hi"],
                    }
                )
    return pd.DataFrame(rows)


def format_correlations(table: pd.DataFrame) -> pd.DataFrame:
    """``correlation_table`` as one row per model, cells like ``0.87 [0.83, 0.90]``."""
    cells = table.assign(
        cell=[f"{r:.2f} [{lo:.2f}, {hi:.2f}]" for r, lo, hi in zip(table.r, table.lo, table.hi)],
        column=table["method"].str.capitalize() + " · " + table["measure"],
    )
    out = cells.pivot(index="model", columns="column", values="cell")
    return out.reindex(
        index=list(dict.fromkeys(table["model"])), columns=list(dict.fromkeys(cells["column"]))
    )


def correct_from_confusion(conf: np.ndarray) -> np.ndarray:
    """A 0/1 correctness vector with the confusion matrix's counts (order is irrelevant to resampling)."""
    conf = np.asarray(conf)
    right = int(np.trace(conf))
    return np.r_[np.ones(right, dtype=bool), np.zeros(int(conf.sum()) - right, dtype=bool)]


def _class_means(features, labels):
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features must be (n, d) with one label each, got {x.shape} and {len(y)} labels")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("neural-collapse statistics need at least two classes")
    means = np.stack([x[y == c].mean(0) for c in classes])
    return x, y, classes, means


def nc1(features, labels) -> float:
    """Within-class variability relative to between-class: ``tr(Σ_W Σ_B⁺) / C`` (Papyan et al.; the paper's code).

    ``Σ_W``: the mean over samples of the outer products of each feature minus its class mean;
    ``Σ_B``: the mean over classes of the outer products of each class mean minus the global
    mean (of class means); ``⁺`` the pseudo-inverse. Lower means more collapsed classes.
    """
    x, y, classes, means = _class_means(features, labels)
    centred = x - means[np.searchsorted(classes, y)]
    sigma_w = centred.T @ centred / len(x)
    mb = means - means.mean(0)
    sigma_b = mb.T @ mb / len(classes)
    return float(np.trace(sigma_w @ np.linalg.pinv(sigma_b, rcond=1e-6, hermitian=True)) / len(classes))


def nc1_terms(features, labels) -> np.ndarray:
    """Each class's share of :func:`nc1` (in sorted class order), summing to it: class c contributes
    ``tr(D_cᵀ D_c Σ_B⁺) / (N C)``, ``D_c`` its features minus its class mean, ``Σ_B`` from every class.
    Resampling these terms over classes gives an interval that holds Σ_B at its full-data value."""
    x, y, classes, means = _class_means(features, labels)
    mb = means - means.mean(0)
    inv_b = np.linalg.pinv(mb.T @ mb / len(classes), rcond=1e-6, hermitian=True)
    out = []
    for i, c in enumerate(classes):
        d = x[y == c] - means[i]
        out.append(float(np.sum((d @ inv_b) * d)) / (len(x) * len(classes)))
    return np.array(out)


def _pairwise_cosines(vectors) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    cos = v @ v.T
    return cos[np.triu_indices(len(v), k=1)]


def nc2(features, labels, weights=None) -> dict:
    """Margins: how evenly spread the centred class means (and classifier weights) are.

    Returns ``{"means_std", "means_mean"}`` (standard deviation and mean of the pairwise
    cosines between class means centred on their global mean; a simplex equiangular tight
    frame has std 0 and mean −1/(C−1)) and, with ``weights`` (C × d, rows in the order of
    the sorted labels), ``"weights_std", "weights_mean"`` of the centred classifier weights.
    """
    _, _, _, means = _class_means(features, labels)
    cm = _pairwise_cosines(means - means.mean(0))
    out = {"means_std": float(cm.std()), "means_mean": float(cm.mean())}
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        cw = _pairwise_cosines(w - w.mean(0))
        out.update({"weights_std": float(cw.std()), "weights_mean": float(cw.mean())})
    return out


def unique_prototypes(weights, eps: float = 0.025, block: int = 2048) -> int:
    """How many distinct prototypes a (n, d) matrix holds (the paper's Table 1 for DINO heads).

    Rows are L2-normalised; two prototypes are the same when their cosine distance
    ``1 − cos`` is below ``eps``; the count is the number of connected groups of that
    relation (so a chain a~b~c is one group even if a and c are farther apart). The
    similarities are computed ``block`` rows at a time against the rows after them, so
    memory stays at ``block × n`` floats, never ``n²`` (65,536 × 256: about 15 s and 2 GiB peak on
    two CPU cores, ``bench/results/unique_prototypes.txt``). A zero row has no direction and is its
    own group.
    """
    import torch
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    w = torch.as_tensor(np.asarray(weights, dtype=np.float32))
    if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
        raise ValueError(f"prototypes must be a non-empty (n, d) matrix, got shape {tuple(w.shape)}")
    if not 0 < eps < 2:
        raise ValueError(f"eps is a cosine distance in (0, 2), got {eps}")
    w = torch.nn.functional.normalize(w, dim=1)
    n = w.shape[0]
    rows, cols = [], []
    with torch.inference_mode():
        for start in range(0, n, block):
            sims = w[start : start + block] @ w[start:].T  # pairs (i, j) with j >= i's block start
            i, j = torch.nonzero(sims > 1 - eps, as_tuple=True)
            later = j > i  # each pair once, no self pairs
            rows.append((i[later] + start).numpy())
            cols.append((j[later] + start).numpy())
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])


def assignment_perplexity(counts) -> float:
    """exp(entropy) of an assignment histogram: how many of the bins (prototypes) are effectively used (1 when
    every item goes to one bin, k when items spread evenly over k bins); NaN for an empty histogram."""
    c = np.asarray(counts, dtype=float)
    total = c.sum()
    if total <= 0:
        return float("nan")
    p = c[c > 0] / total
    return float(np.exp(-(p * np.log(p)).sum()))
