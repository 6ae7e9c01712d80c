"""Effective robustness exactly as Taori et al. (2020) define it.

Why
---
A model's accuracy under distribution shift (OOD) is, for models trained the
"standard" way, an almost deterministic function of its in-distribution (ID)
accuracy: on logit-transformed axes the points of many baseline models lie on a
straight line (Taori et al., "Measuring Robustness to Natural Distribution
Shifts in Image Classification", NeurIPS 2020; Miller et al. 2021). A model is
only *effectively* robust when it lies above that line, i.e. when its OOD
accuracy exceeds what its ID accuracy alone predicts. CLIP's zero-shot models
are the best-known example, and the study asks why.

Definitions used here (all accuracies are fractions in [0, 1]):

* ``logit(p) = log(p / (1 - p))`` on both axes; accuracies of exactly 0 or 1
  are first clipped to ``[EPS, 1 - EPS]`` with ``EPS = 1e-4`` so the logit
  stays finite.
* The baseline trend is the ordinary least-squares fit of ``logit(OOD)`` on
  ``logit(ID)`` over the baseline models (e.g. the STANDARD models of the
  ImageNet testbed).
* ``ER = OOD - sigmoid(slope * logit(ID) + intercept)``, in accuracy units.
* The trend's pointwise band is the percentile interval of the predictions
  (in accuracy units) of lines refit on bootstrap resamples of the baseline
  models (seeded, ``n_boot`` resamples).
* A per-model ER interval additionally resamples the model's own ID and OOD
  test predictions, so it reflects both the uncertainty of the line and the
  finite size of the test sets.

Example
-------
>>> import numpy as np
>>> from studylib.robustness import fit_linear_trend, effective_robustness
>>> id_acc = np.array([0.55, 0.62, 0.70, 0.76, 0.80])
>>> ood_acc = np.array([0.42, 0.50, 0.58, 0.65, 0.70])
>>> trend = fit_linear_trend(id_acc, ood_acc, n_boot=200, seed=0)
>>> round(float(trend.predict(0.7)), 2)
0.58
>>> lo, hi = trend.band([0.6, 0.7])               # 95% pointwise band
>>> er = effective_robustness(trend, 0.63, 0.56)  # a model above the line
>>> bool(er > 0.03)
True

For a model whose per-sample correctness on both test sets is known,
``effective_robustness_interval(trend, id_correct, ood_correct)`` returns
``{"er": ..., "lo": ..., "hi": ...}``. ``restrict_logits`` and
``merge_logits`` turn 1000-way ImageNet logits into the label spaces of
ImageNet-R/-A (200 classes) and ObjectNet (113 classes); ``load_testbed``
reads the real ImageNet testbed results of Taori et al. for tests and
notebooks.

Long because effective robustness: the logit line, its bootstrap band, the ER interval and the
testbed reader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EPS",
    "LinearTrend",
    "logit",
    "sigmoid",
    "fit_linear_trend",
    "effective_robustness",
    "effective_robustness_interval",
    "restrict_logits",
    "merge_logits",
    "load_testbed",
]

#: Accuracies are clipped to ``[EPS, 1 - EPS]`` before the logit transform, so
#: that models with exactly 0% or 100% accuracy get a finite logit
#: (logit(1e-4) is about -9.2). With 10,000 test images this is the resolution
#: of one image, so real accuracies are never moved by more than that.
EPS = 1e-4


# ---------------------------------------------------------------- transforms
def _as_accuracy(values: Any, name: str) -> np.ndarray:
    """Validate accuracies given as fractions in [0, 1]; return a float array."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one accuracy")
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} contains NaN or infinite values; drop models without a "
            f"result for this evaluation setting before calling"
        )
    if np.any(arr > 1.0):
        raise ValueError(
            f"{name} has values > 1 (max {arr.max():g}); accuracies must be "
            f"fractions in [0, 1], and these look like percentages: divide by 100"
        )
    if np.any(arr < 0.0):
        raise ValueError(
            f"{name} has negative values (min {arr.min():g}); accuracies must be fractions in [0, 1]"
        )
    return arr


def logit(p: Any) -> np.ndarray:
    """``log(p / (1 - p))`` after clipping ``p`` to ``[EPS, 1 - EPS]``."""
    p = np.clip(np.asarray(p, dtype=float), EPS, 1.0 - EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: Any) -> np.ndarray:
    """Inverse of :func:`logit` (numerically stable logistic function)."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _scalar_or_array(x: np.ndarray, like: Any):
    """Return a Python float when the caller passed a scalar."""
    return float(x) if np.ndim(like) == 0 else x


# ---------------------------------------------------------------- OLS + bootstrap
def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised OLS of y on x along the last axis; returns (slope, intercept)."""
    xm = x.mean(axis=-1, keepdims=True)
    ym = y.mean(axis=-1, keepdims=True)
    sxx = ((x - xm) ** 2).sum(axis=-1)
    sxy = ((x - xm) * (y - ym)).sum(axis=-1)
    slope = sxy / sxx
    intercept = ym[..., 0] - slope * xm[..., 0]
    return slope, intercept


def _bootstrap_lines(
    x: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Refit the line on ``n_boot`` resamples (with replacement) of the models.

    Resamples whose ID values are all equal have no defined slope; they are
    redrawn (this only happens with very few baseline models).
    """
    n = x.size
    idx = rng.integers(0, n, size=(n_boot, n))
    for _ in range(1000):
        bad = np.ptp(x[idx], axis=1) == 0
        if not bad.any():
            break
        idx[bad] = rng.integers(0, n, size=(int(bad.sum()), n))
    else:  # pragma: no cover - needs astronomically bad luck
        raise RuntimeError("could not draw bootstrap resamples with distinct ID accuracies")
    return _ols(x[idx], y[idx])


@dataclass(frozen=True)
class LinearTrend:
    """The baseline line ``logit(OOD) = slope * logit(ID) + intercept``.

    Built by :func:`fit_linear_trend`. ``boot_slopes``/``boot_intercepts`` hold
    the lines refit on bootstrap resamples of the baseline models (used by
    :meth:`band`); ``id_logit``/``ood_logit`` hold the (clipped, transformed)
    baseline data (used by :func:`effective_robustness_interval`).
    """

    slope: float
    intercept: float
    n_models: int
    n_boot: int = 0
    seed: int = 0
    boot_slopes: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    boot_intercepts: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    id_logit: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    ood_logit: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    def predict(self, id_acc):
        """OOD accuracy the line predicts for ID accuracy ``id_acc`` (fractions).

        Vectorised: returns a float for a scalar input, else an array of the
        input's shape.
        """
        arr = _as_accuracy(id_acc, "id_acc")
        return _scalar_or_array(sigmoid(self.slope * logit(arr) + self.intercept), id_acc)

    def band(self, id_acc, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise ``level`` band of the line at ``id_acc``, in accuracy units.

        The band is the ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles,
        over the bootstrap lines, of their predicted OOD accuracy. Returns
        ``(lo, hi)`` arrays of the shape of ``id_acc``.
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        if self.n_boot == 0:
            raise ValueError("this trend was fit with n_boot=0; refit with n_boot > 0 to get a band")
        x = logit(_as_accuracy(id_acc, "id_acc"))
        z = self.boot_slopes.reshape((-1,) + (1,) * x.ndim) * x + self.boot_intercepts.reshape(
            (-1,) + (1,) * x.ndim
        )
        preds = sigmoid(z)
        q = 100.0 * np.array([(1.0 - level) / 2.0, (1.0 + level) / 2.0])
        lo, hi = np.percentile(preds, q, axis=0)
        return np.asarray(lo), np.asarray(hi)


def _check_n_boot(n_boot: int, minimum: int) -> int:
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < minimum:
        raise ValueError(f"n_boot must be an integer >= {minimum}, got {n_boot!r}")
    return int(n_boot)


def fit_linear_trend(id_acc, ood_acc, *, n_boot: int = 1000, seed: int = 0) -> LinearTrend:
    """Fit the baseline line on logit axes over the baseline models.

    Parameters
    ----------
    id_acc, ood_acc
        ID and OOD accuracies of the baseline models, fractions in [0, 1]
        (one entry per model, same length, at least 3 models with at least two
        distinct ID accuracies).
    n_boot
        Number of bootstrap resamples of the baseline models used for the band
        (0 disables the band).
    seed
        Seed of the bootstrap.

    Returns
    -------
    LinearTrend
        OLS slope and intercept of ``logit(ood_acc)`` on ``logit(id_acc)``
        (identical to ``scipy.stats.linregress`` on the transformed data).
    """
    x_acc = _as_accuracy(id_acc, "id_acc").ravel()
    y_acc = _as_accuracy(ood_acc, "ood_acc").ravel()
    if x_acc.shape != y_acc.shape:
        raise ValueError(f"id_acc and ood_acc must have the same length, got {x_acc.size} and {y_acc.size}")
    if x_acc.size < 3:
        raise ValueError(
            f"id_acc: need at least 3 baseline models to fit a trend with a bootstrap band, got {x_acc.size}"
        )
    n_boot = _check_n_boot(n_boot, 0)
    x, y = logit(x_acc), logit(y_acc)
    if np.ptp(x) == 0:
        raise ValueError("id_acc: all baseline models have the same ID accuracy, so the slope is undefined")
    slope, intercept = _ols(x, y)
    if n_boot:
        rng = np.random.default_rng(seed)
        bs, bi = _bootstrap_lines(x, y, n_boot, rng)
    else:
        bs = bi = np.empty(0)
    return LinearTrend(
        slope=float(slope),
        intercept=float(intercept),
        n_models=int(x.size),
        n_boot=n_boot,
        seed=int(seed),
        boot_slopes=bs,
        boot_intercepts=bi,
        id_logit=x,
        ood_logit=y,
    )


def effective_robustness(trend: LinearTrend, id_acc, ood_acc):
    """Effective robustness ``OOD - trend.predict(ID)``, in accuracy units.

    Vectorised over models: ``id_acc`` and ``ood_acc`` are fractions in
    [0, 1] of broadcastable shapes; returns a float for scalar inputs.
    Positive values mean the model is above the baseline line.
    """
    if not isinstance(trend, LinearTrend):
        raise ValueError(f"trend must be a LinearTrend from fit_linear_trend, got {type(trend).__name__}")
    x = _as_accuracy(id_acc, "id_acc")
    y = _as_accuracy(ood_acc, "ood_acc")
    try:
        er = y - sigmoid(trend.slope * logit(x) + trend.intercept)
    except ValueError as exc:
        raise ValueError(f"id_acc and ood_acc have incompatible shapes {x.shape} and {y.shape}") from exc
    return float(er) if np.ndim(er) == 0 else er


def _as_correct(values, name: str) -> np.ndarray:
    arr = np.asarray(values).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass one correctness value per test sample")
    if arr.dtype != bool:
        if not np.all(np.isin(arr, (0, 1))):
            raise ValueError(
                f"{name} must be a boolean array (or 0/1) of per-sample "
                f"correctness, not accuracies or predictions"
            )
        arr = arr.astype(bool)
    return arr


def effective_robustness_interval(
    trend: LinearTrend, id_correct, ood_correct, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict:
    """Point estimate and bootstrap interval of one model's effective robustness.

    Each of the ``n_boot`` rounds (seeded) resamples the model's ID and OOD
    test sets with replacement, independently, *and* refits the baseline line
    on a bootstrap resample of the baseline models stored in ``trend``; the
    interval is the percentile interval of the resulting ER values. Resampling
    a 0/1 correctness vector of length n with replacement gives a mean
    distributed as Binomial(n, acc) / n, which is how it is drawn here (same
    distribution, O(1) per round instead of O(n)).

    Parameters
    ----------
    trend
        Baseline line from :func:`fit_linear_trend`.
    id_correct, ood_correct
        Boolean arrays, one entry per test sample: was the model's prediction
        correct on the ID / OOD test set.
    n_boot, seed
        Number of bootstrap rounds and their seed.
    level
        Coverage of the interval (default 0.95).

    Returns
    -------
    dict
        ``{"er": point estimate, "lo": lower bound, "hi": upper bound}``.
    """
    if not isinstance(trend, LinearTrend):
        raise ValueError(f"trend must be a LinearTrend from fit_linear_trend, got {type(trend).__name__}")
    if trend.id_logit.size < 3:
        raise ValueError("trend carries no baseline data; build it with fit_linear_trend")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    n_boot = _check_n_boot(n_boot, 1)
    idc = _as_correct(id_correct, "id_correct")
    oodc = _as_correct(ood_correct, "ood_correct")
    id_acc, ood_acc = idc.mean(), oodc.mean()
    er = float(effective_robustness(trend, id_acc, ood_acc))

    rng = np.random.default_rng(seed)
    id_b = rng.binomial(idc.size, id_acc, size=n_boot) / idc.size
    ood_b = rng.binomial(oodc.size, ood_acc, size=n_boot) / oodc.size
    slopes, intercepts = _bootstrap_lines(trend.id_logit, trend.ood_logit, n_boot, rng)
    er_b = ood_b - sigmoid(slopes * logit(id_b) + intercepts)
    lo, hi = np.percentile(er_b, [100.0 * (1.0 - level) / 2.0, 100.0 * (1.0 + level) / 2.0])
    return {"er": er, "lo": float(lo), "hi": float(hi)}


# ---------------------------------------------------------------- class subsets
def _is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _check_logits(logits, name: str = "logits"):
    if not (_is_torch(logits) or isinstance(logits, np.ndarray)):
        raise ValueError(f"{name} must be a numpy array or torch tensor, got {type(logits).__name__}")
    if logits.ndim < 1:
        raise ValueError(f"{name} must have a class axis (last axis), got a scalar")
    return int(logits.shape[-1])


def _class_index(ids, n_classes: int, name: str) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of class ids")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must contain integer class ids, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"{name} has ids outside [0, {n_classes}) (min {arr.min()}, max {arr.max()})")
    return arr.astype(np.int64)


def _take(logits, idx: np.ndarray):
    if _is_torch(logits):
        import torch

        return logits.index_select(-1, torch.as_tensor(idx, device=logits.device))
    return np.take(logits, idx, axis=-1)


def restrict_logits(logits, class_ids):
    """Keep only the class columns ``class_ids`` (last axis) of ``logits``.

    Used to evaluate a 1000-way ImageNet classifier on a class subset such as
    the 200 classes of ImageNet-R/-A: ``argmax`` of the result is then an index
    *into* ``class_ids`` (position ``j`` means class ``class_ids[j]``), so
    labels must be expressed in the same subset order. Works on numpy arrays
    and torch tensors and returns the same type.
    """
    n = _check_logits(logits)
    idx = _class_index(class_ids, n, "class_ids")
    if np.unique(idx).size != idx.size:
        raise ValueError("class_ids contains duplicate ids")
    return _take(logits, idx)


def merge_logits(logits, groups):
    """Merge source-class logits into K target classes by taking their max.

    ``groups`` gives, for each target class k, the list of source class ids
    mapped to it (e.g. ObjectNet's 113 classes onto 125 ImageNet ids). It is
    either a sequence of K lists, in target order, or a mapping whose keys are
    exactly the target indices ``0..K-1`` (to merge by class *name*, pass
    ``list(name_to_ids.values())`` in your target order). Column k of the
    result is ``max(logits[..., groups[k]])``. Works on numpy arrays and torch
    tensors and returns the same type.
    """
    n = _check_logits(logits)
    if isinstance(groups, Mapping):
        keys = list(groups.keys())
        if not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) for k in keys) or set(
            int(k) for k in keys
        ) != set(range(len(keys))):
            raise ValueError(
                "groups: a mapping's keys must be the target class "
                "indices 0..K-1; for name keys pass list(groups.values())"
            )
        group_list = [groups[k] for k in range(len(keys))]
    elif isinstance(groups, Sequence) and not isinstance(groups, (str, bytes)):
        group_list = list(groups)
    else:
        raise ValueError(
            f"groups must be a sequence of id lists or a mapping "
            f"target index -> id list, got {type(groups).__name__}"
        )
    if not group_list:
        raise ValueError("groups is empty; give at least one target class")
    cols = []
    for k, g in enumerate(group_list):
        idx = _class_index(np.atleast_1d(np.asarray(g)), n, f"groups[{k}]")
        sub = _take(logits, idx)
        cols.append(sub.amax(dim=-1) if _is_torch(logits) else sub.max(axis=-1))
    if _is_torch(logits):
        import torch

        return torch.stack(cols, dim=-1)
    return np.stack(cols, axis=-1)


# ---------------------------------------------------------------- testbed
def load_testbed(folder) -> pd.DataFrame:
    """Read the ImageNet testbed results of Taori et al. (2020).

    ``folder`` holds ``robustness_top1s.csv`` (one row per model, one column
    per evaluation setting such as ``val``,
    ``imagenetv2-matched-frequency-format-val``, ``imagenet-r``,
    ``val-on-imagenet-r-classes``; top-1 in %) and ``model_types.csv``
    (``model,type``, e.g. ``STANDARD``, ``MORE_DATA``).

    Returns a DataFrame indexed by model name, one column per evaluation
    setting with accuracies as *fractions* in [0, 1] (NaN where a model was
    not evaluated) and a ``model_type`` column (NaN for a model without a
    type). Drop NaNs of the columns you use before fitting a trend.
    """
    folder = Path(folder)
    top1_path, types_path = folder / "robustness_top1s.csv", folder / "model_types.csv"
    for p in (top1_path, types_path):
        if not p.is_file():
            raise FileNotFoundError(
                f"load_testbed: {p} not found; folder must hold robustness_top1s.csv and model_types.csv"
            )
    top1 = pd.read_csv(top1_path)
    types = pd.read_csv(types_path)
    if "model" not in top1.columns:
        raise ValueError(f"{top1_path} has no 'model' column")
    if not {"model", "type"} <= set(types.columns):
        raise ValueError(f"{types_path} must have columns 'model' and 'type'")
    if top1["model"].duplicated().any():
        raise ValueError(f"{top1_path} lists some models twice")
    top1 = top1.set_index("model")
    acc = top1.apply(pd.to_numeric, errors="coerce") / 100.0
    if (acc.max(skipna=True) > 1.0).any() or (acc.min(skipna=True) < 0.0).any():
        raise ValueError(f"{top1_path} has values outside [0, 100] %")
    type_map = types.drop_duplicates("model").set_index("model")["type"]
    acc["model_type"] = acc.index.map(type_map)
    acc.index.name = "model"
    return acc
