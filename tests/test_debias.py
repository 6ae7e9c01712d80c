"""Logit adjustment: the oracle prior, the unlabelled fixed point, the labelled (GLA) estimate, the split."""

import numpy as np
import pytest

from studylib import debias


def _biased(n_per=200, c=5, seed=0):
    """Balanced samples, an unbiased score (class mean + noise) plus a known log prior added to every logit."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(c), n_per)
    clean = 2.0 * np.eye(c)[labels] + rng.standard_normal((len(labels), c))
    prior = np.array([0.5, 0.25, 0.125, 0.0625, 0.0625])[:c]
    return clean, clean + np.log(prior), labels, prior


def test_the_oracle_prior_removes_exactly_the_added_bias():
    clean, biased, _, prior = _biased()
    assert np.allclose(debias.adjust(biased, prior), clean)
    assert np.allclose(debias.adjust(biased, prior, tau=0), biased)
    with pytest.raises(ValueError, match="tau"):
        debias.adjust(biased, prior, tau=-1)
    with pytest.raises(ValueError, match="prior must be 5"):
        debias.adjust(biased, prior[:3])


def test_the_unlabelled_estimate_converges_to_the_mean_prediction_and_debiases():
    from scipy.special import softmax

    clean, biased, labels, prior = _biased(n_per=2000)
    target = softmax(biased, axis=1).mean(0)
    est = debias.unlabelled_prior(biased)
    assert np.abs(est - target).max() < 0.005  # converged to the mean prediction
    assert np.abs(est - target).max() < np.abs(debias.unlabelled_prior(biased, passes=1) - target).max()
    assert (np.diff(est[:4]) < 0).all()  # the order of the bias is found
    after = debias.adjust(biased, est).argmax(1)
    before = biased.argmax(1)
    spread = lambda pred: np.bincount(pred, minlength=5).std()  # noqa: E731
    assert spread(after) < 0.5 * spread(before)  # predictions far more balanced
    assert np.array_equal(est, debias.unlabelled_prior(biased))  # seeded
    with pytest.raises(ValueError, match="momentum"):
        debias.unlabelled_prior(biased, momentum=1.0)


def test_the_labelled_estimate_maximises_the_heldout_likelihood():
    _, biased, labels, prior = _biased(n_per=2000, seed=1)
    est = debias.labelled_prior(biased, labels)
    assert np.allclose(est, prior, rtol=0.08)
    with pytest.raises(ValueError, match="labels must"):
        debias.labelled_prior(biased, labels[:-1])


def test_heldout_split_is_per_class_seeded_and_disjoint():
    labels = np.repeat(np.arange(4), 10)
    held, ev = debias.heldout_split(labels, 0.5, seed=3)
    assert (np.bincount(labels[held]) == 5).all() and len(np.intersect1d(held, ev)) == 0
    assert len(held) + len(ev) == 40
    assert np.array_equal(held, debias.heldout_split(labels, 0.5, seed=3)[0])
    with pytest.raises(ValueError, match="too few"):
        debias.heldout_split(np.array([0, 1, 1]), 0.5)


def test_bad_logits_are_refused():
    with pytest.raises(ValueError, match="NaN or inf"):
        debias.unlabelled_prior(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"\(n, C\)"):
        debias.unlabelled_prior(np.zeros(3))
