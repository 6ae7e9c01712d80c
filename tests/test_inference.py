import numpy as np
import pytest

from studylib.inference import (
    combine_seeds,
    over_seeds,
    paired_difference,
    paired_mean_difference,
    residual_from_trend,
)


def _classes(n=200, seed=0):
    rng = np.random.default_rng(seed)
    freq = np.exp(rng.uniform(0, 6, n))
    return rng, freq


def test_paired_difference_sees_what_overlapping_marginal_intervals_miss():
    """Two models whose values share a large class-level noise: marginal intervals overlap,
    but the paired difference is clearly negative."""
    rng, freq = _classes()
    shared = rng.normal(0, 3, len(freq))  # class difficulty, the same for both models
    a = shared + 0.30 * np.log(freq)
    b = shared + 0.55 * np.log(freq)
    d = paired_difference(a, b, freq, n_boot=1000)
    assert d["hi"] < 0 and d["lo"] < d["diff"] < d["hi"]
    same = paired_difference(a, a + rng.normal(0, 1e-9, len(a)), freq, n_boot=300)
    assert same["lo"] <= 0 <= same["hi"]


def test_paired_difference_is_seeded_and_drops_nan_classes():
    rng, freq = _classes(60)
    a, b = rng.normal(size=60), rng.normal(size=60)
    a[3] = np.nan
    one, two = (
        paired_difference(a, b, freq, n_boot=200, seed=4),
        paired_difference(a, b, freq, n_boot=200, seed=4),
    )
    assert one == two and one["n"] == 59
    with pytest.raises(ValueError, match="differ in length"):
        paired_difference(a, b[:10], freq)


def test_over_seeds():
    s = over_seeds([0.30, 0.34, 0.32])
    assert s["mean"] == pytest.approx(0.32) and s["lo"] < 0.30 and s["hi"] > 0.34 and s["n"] == 3
    assert np.isnan(over_seeds([0.3])["lo"])


def test_residual_from_trend_compares_at_equal_accuracy():
    """SL models lie on a line of correlation against top-1; a model below that line at its own
    top-1 has a negative residual even if its raw correlation is close to theirs."""
    rng, freq = _classes(300, seed=1)
    logf = np.log(freq)
    tops = np.array([0.2, 0.3, 0.4, 0.5])
    refs = [t * logf + rng.normal(0, 1.0, len(freq)) for t in tops]  # correlation rises with top-1
    weak = 0.1 * logf + rng.normal(0, 1.0, len(freq))  # at top-1 0.35: far below the line
    r = residual_from_trend(refs, tops, weak, 0.35, freq, n_boot=300)
    assert r["hi"] < 0 and r["slope"] > 0
    on_line = 0.35 * logf + rng.normal(0, 1.0, len(freq))
    r2 = residual_from_trend(refs, tops, on_line, 0.35, freq, n_boot=300)
    assert r2["lo"] < 0 < r2["hi"]
    with pytest.raises(ValueError, match="same top-1"):
        residual_from_trend(refs[:2], [0.3, 0.3], weak, 0.3, freq)


def test_paired_difference_with_each_models_own_counts():
    """A data-scale sweep: b saw a quarter of a's pairs per class. Each correlation uses its own model's
    counts; with counts of one shape the ranks agree, so the result equals the shared-count one."""
    rng, freq = _classes(80, seed=2)
    a, b = 0.2 * np.log(freq) + rng.normal(0, 1, 80), 0.8 * np.log(freq) + rng.normal(0, 1, 80)
    own = paired_difference(a, b, freq, frequency_b=np.ceil(freq / 4), n_boot=300)
    shared = paired_difference(a, b, freq, n_boot=300)
    assert own["a"] == shared["a"] and own["hi"] < 0
    shuffled = paired_difference(a, b, freq, frequency_b=rng.permutation(freq), n_boot=300)
    assert abs(shuffled["b"]) < 0.3  # b against someone else's counts: no correlation


def test_paired_mean_difference_by_hand():
    a, b = np.array([0.5, 0.6, 0.7, 0.8, np.nan]), np.array([0.4, 0.5, 0.6, 0.7, 0.1])
    d = paired_mean_difference(a, b, n_boot=500)
    assert d["diff"] == pytest.approx(0.1) and d["lo"] == pytest.approx(0.1) and d["hi"] == pytest.approx(0.1)
    assert d["n"] == 4 and d["a"] == pytest.approx(0.65)
    noisy = paired_mean_difference(a[:4], a[:4][::-1], n_boot=500)
    assert noisy["lo"] < 0 < noisy["hi"]
    with pytest.raises(ValueError, match="differ in length"):
        paired_mean_difference(a, b[:3])
    with pytest.raises(ValueError, match=">= 4 units"):
        paired_mean_difference(a[:3], b[:3])


def test_combine_seeds():
    one, basis = combine_seeds([{"diff": -0.2, "lo": -0.3, "hi": -0.1, "n": 50}])
    assert one == {"diff": -0.2, "lo": -0.3, "hi": -0.1} and "1 seed" in basis
    three, basis = combine_seeds([{"diff": d, "lo": 0, "hi": 0} for d in (-0.2, -0.25, -0.15)])
    assert (
        three["diff"] == pytest.approx(-0.2) and three["lo"] < -0.2 < three["hi"] < 0 and "3 seeds" in basis
    )
    with pytest.raises(ValueError, match="no per-seed"):
        combine_seeds([])
