import numpy as np
import pytest
from scipy import stats

from studylib import metrics as M
from studylib.evaluate import confusion_matrix


def test_confusion_accuracy_predictions_by_hand():
    labels = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([0, 0, 0, 1, 0, 2])
    conf = confusion_matrix(labels, preds, 3)
    assert conf.tolist() == [[2, 0, 0], [1, 1, 0], [1, 0, 1]]
    assert M.per_class_accuracy(conf).tolist() == [1.0, 0.5, 0.5]
    assert M.per_class_predictions(conf).tolist() == [4, 1, 1]
    assert M.top1(conf) == pytest.approx(4 / 6)
    assert np.isnan(M.per_class_accuracy(np.zeros((2, 2))))[0]


def test_spearman_and_pearson_by_hand():
    freq = np.array([1, 10, 100, 1000])
    rising = np.array([0.1, 0.2, 0.3, 0.9])
    c = M.frequency_correlation(rising, freq, "spearman", n_boot=200)
    assert c["r"] == pytest.approx(1.0) and c["n"] == 4
    # Pearson is taken against log10 frequency: log10(freq) = 0,1,2,3 is linear in y = 2x + 1
    c = M.frequency_correlation(np.array([1, 3, 5, 7.0]), freq, "pearson", n_boot=200)
    assert c["r"] == pytest.approx(1.0)
    c = M.frequency_correlation(np.array([4, 3, 2, 1.0]), freq, "spearman", n_boot=10)
    assert c["r"] == pytest.approx(-1.0)


def test_bootstrap_ci_is_seeded_and_covers_the_estimate():
    rng = np.random.default_rng(0)
    freq = rng.integers(1, 1000, 200)
    vals = np.log(freq) + rng.normal(0, 2, 200)
    a = M.frequency_correlation(vals, freq, seed=3)
    b = M.frequency_correlation(vals, freq, seed=3)
    assert a == b
    assert a["lo"] < a["r"] < a["hi"]
    assert a["r"] == pytest.approx(stats.spearmanr(vals, freq).statistic)
    assert 0.05 < a["hi"] - a["lo"] < 0.4


def test_nan_classes_are_dropped_and_constant_gives_nan():
    c = M.frequency_correlation(np.array([np.nan, 1, 2, 3]), np.array([5, 1, 2, 3]), n_boot=10)
    assert c["n"] == 3 and c["r"] == pytest.approx(1.0)
    assert np.isnan(M.frequency_correlation(np.ones(5), np.arange(1, 6))["r"])


def test_binned_by_hand():
    freq = np.array([1, 1, 10, 10, 100, 100])
    vals = np.array([0.0, 1.0, 2.0, 4.0, 5.0, 7.0])
    b = M.binned(vals, freq, n_bins=2)
    # log10 edges 0, 1, 2: bin 0 = [1, 10) holds freq 1 only; bin 1 holds 10 and 100 (closed at the top)
    assert b["n"].tolist() == [2, 4]
    assert b["mean"].tolist() == pytest.approx([0.5, 4.5])
    assert b["sem"].iloc[0] == pytest.approx(np.std([0, 1], ddof=1) / np.sqrt(2))
    q = M.binned(vals, freq, n_bins=3, scheme="quantile")
    assert q["n"].sum() == 6
    with pytest.raises(ValueError, match="binning scheme"):
        M.binned(vals, freq, scheme="linear")


def test_nc1_by_hand_and_on_collapsed_classes():
    """Two classes in 1-d: means ±1, within-class deviations ±0.5: Σ_W = 0.25, Σ_B = 1, NC1 = 0.25 / 2."""
    x = np.array([[0.5], [1.5], [-0.5], [-1.5]])
    y = np.array([0, 0, 1, 1])
    assert M.nc1(x, y) == pytest.approx(0.125)
    rng = np.random.default_rng(0)
    means = rng.normal(size=(5, 8)) * 5
    labels = np.repeat(np.arange(5), 40)
    tight = means[labels] + rng.normal(0, 0.1, (200, 8))
    loose = means[labels] + rng.normal(0, 2.0, (200, 8))
    assert M.nc1(tight, labels) < 0.01 < M.nc1(loose, labels)
    with pytest.raises(ValueError, match="two classes"):
        M.nc1(x, np.zeros(4))


def test_nc2_of_a_simplex_and_of_random_means():
    """The C vertices of a simplex (centred identity rows) are equiangular: cosines all −1/(C−1)."""
    C = 4
    simplex = np.eye(C)
    x, y = np.repeat(simplex, 3, axis=0), np.repeat(np.arange(C), 3)
    out = M.nc2(x, y, weights=simplex * 2)
    assert out["means_std"] == pytest.approx(0, abs=1e-12) and out["means_mean"] == pytest.approx(
        -1 / (C - 1)
    )
    assert out["weights_std"] == pytest.approx(0, abs=1e-12)
    rng = np.random.default_rng(1)
    uneven = M.nc2(rng.normal(size=(12, 3)), y)
    assert uneven["means_std"] > 0.1 and "weights_std" not in uneven


def test_rowwise_correlation_matches_scipy_row_by_row():
    rng = np.random.default_rng(3)
    x, y = rng.random((40, 30)), rng.integers(0, 5, (40, 30)).astype(float)  # ties in y
    y[0] = 2.0  # a constant row: NaN
    for method, fn in (("spearman", stats.spearmanr), ("pearson", stats.pearsonr)):
        r = M.rowwise_correlation(x, y, method)
        assert np.isnan(r[0]) and np.allclose(r[1:], [fn(a, b).statistic for a, b in zip(x[1:], y[1:])])
    with pytest.raises(ValueError, match="unknown correlation method"):
        M.rowwise_correlation(x, y, "kendall")


@pytest.mark.parametrize(
    "v",
    [
        np.arange(12) % 5 / 4,  # ties, as per-class accuracies have
        np.linspace(0, 1, 9) ** 2,  # distinct values
        np.full(6, 0.5),  # constant: every row ties
        np.array([0.0, -0.0, 1.0, 2.0, 2.0]),  # signed zeros are one value
        np.array([1.0, np.nan, 2.0, 3.0]),  # NaN: scipy's policy
    ],
)
def test_resampled_ranks_and_correlations_equal_scipys_on_bootstrap_rows(v):
    from scipy import stats

    from studylib.metrics import class_resamples, resampled_correlation, resampled_ranks, rowwise_correlation

    idx = class_resamples(len(v), 300, seed=1)
    assert np.array_equal(resampled_ranks(v, idx), stats.rankdata(v[idx], axis=1), equal_nan=True)
    f = np.random.default_rng(2).random(len(v))
    for method in ("spearman", "pearson"):
        assert np.array_equal(
            resampled_correlation(v, f, idx, method),
            rowwise_correlation(v[idx], f[idx], method),
            equal_nan=True,
        )
