"""Logit adjustment: remove a classifier's class prior from its logits, with the prior known or estimated.

All functions take stored logits (``(n, C)``, any per-row shift) and return new logits or a
prior (``(C,)``, positive, summing to 1):

* :func:`adjust` — ``logits − τ·log π`` (Menon et al. 2021); with the true training prior
  it is the oracle;
* :func:`unlabelled_prior` — DebiasPL's estimate (Wang et al. 2022): an exponential moving
  average, over passes of seeded batches of unlabelled data, of the model's mean predicted
  probability; it converges to the mean prediction. (Iterating it to the prior whose removal
  makes the mean prediction uniform would give, on a balanced set, exactly the labelled
  estimate below: the likelihood's optimum is where the mean adjusted prediction equals the
  label frequencies.)
* :func:`labelled_prior` — GLA-style (Zhu et al. 2023): the log prior that maximises the
  likelihood of the adjusted logits on a small labelled, balanced held-out split (a convex
  problem, solved with L-BFGS);
* :func:`heldout_split` — the seeded per-class split of a test set into that held-out part
  and the evaluation part.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax


def _check(logits) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise ValueError(f"logits must be (n, C) with C >= 2, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("logits contain NaN or inf")
    return z


def _normalised(log_prior: np.ndarray) -> np.ndarray:
    p = np.exp(log_prior - log_prior.max())
    return p / p.sum()


def adjust(logits, prior, tau: float = 1.0) -> np.ndarray:
    """``logits − τ·log(prior)``; a class with prior 0 is never predicted after adjustment."""
    z = _check(logits)
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (z.shape[1],) or (prior < 0).any() or prior.sum() <= 0:
        raise ValueError(f"prior must be {z.shape[1]} non-negative weights, not all 0")
    if not isinstance(tau, (int, float)) or isinstance(tau, bool) or tau < 0:
        raise ValueError(f"parameter 'tau' must be a non-negative number, got {tau!r}")
    with np.errstate(divide="ignore"):
        return z - tau * np.log(prior / prior.sum())


def unlabelled_prior(
    logits, momentum: float = 0.9, passes: int = 20, batch_size: int = 256, seed: int = 0
) -> np.ndarray:
    """DebiasPL's prior: p ← m·p + (1 − m)·mean softmax(batch) over ``passes`` seeded passes of the unlabelled
    ``logits`` in batches (from uniform); the result is renormalised."""
    z = _check(logits)
    if not 0 <= momentum < 1:
        raise ValueError(f"parameter 'momentum' must lie in [0, 1), got {momentum!r}")
    rng = np.random.default_rng(seed)
    p = np.full(z.shape[1], 1 / z.shape[1])
    for _ in range(passes):
        order = rng.permutation(len(z))
        for lo in range(0, len(z), batch_size):
            p = momentum * p + (1 - momentum) * softmax(z[order[lo : lo + batch_size]], axis=1).mean(0)
    return p / p.sum()


def labelled_prior(logits, labels) -> np.ndarray:
    """The prior π maximising the likelihood of softmax(logits − log π) on labelled held-out samples."""
    z = _check(logits)
    y = np.asarray(labels, dtype=np.int64)
    if y.shape != (len(z),) or y.min() < 0 or y.max() >= z.shape[1]:
        raise ValueError("labels must give one class index in [0, C) per logit row")
    onehot_mean = np.bincount(y, minlength=z.shape[1]) / len(y)

    def nll(b):
        ls = log_softmax(z - b, axis=1)
        value = -ls[np.arange(len(y)), y].mean()
        grad = onehot_mean - np.exp(ls).mean(0)
        return value, grad

    res = minimize(nll, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B")
    return _normalised(res.x)


def heldout_split(labels, share: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(held-out indices, evaluation indices): ``share`` of each class's samples, drawn with ``seed``."""
    labels = np.asarray(labels)
    if not 0 < share < 1:
        raise ValueError(f"parameter 'share' must lie in (0, 1), got {share!r}")
    rng = np.random.default_rng(seed)
    held = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = int(round(share * len(members)))
        if k == 0 or k == len(members):
            raise ValueError(f"class {c} has {len(members)} samples: too few to split with share {share}")
        held.append(rng.choice(members, size=k, replace=False))
    held = np.sort(np.concatenate(held))
    return held, np.setdiff1d(np.arange(len(labels)), held)
