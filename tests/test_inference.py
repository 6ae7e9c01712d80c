import numpy as np
import pytest

from studylib.inference import over_seeds, paired_difference, residual_from_trend, verdict


def _classes(n=200, seed=0):
    rng = np.random.default_rng(seed)
    freq = np.exp(rng.uniform(0, 6, n))
    return rng, freq


def test_paired_difference_sees_what_overlapping_marginal_intervals_miss():
    """Two models whose values share a large class-level noise: marginal intervals overlap,
    but the paired difference is clearly negative."""
    rng, freq = _classes()
    shared = rng.normal(0, 3, len(freq))                  # class difficulty, the same for both models
    a = shared + 0.30 * np.log(freq)
    b = shared + 0.55 * np.log(freq)
    d = paired_difference(a, b, freq, n_boot=1000)
    assert d["hi"] < 0 and d["lo"] < d["diff"] < d["hi"]
    assert verdict(d, "below") == "reproduced"
    assert verdict(d, "above").startswith("not reproduced")
    same = paired_difference(a, a + rng.normal(0, 1e-9, len(a)), freq, n_boot=300)
    assert same["lo"] <= 0 <= same["hi"] and verdict(same, "below").startswith("inconclusive")


def test_paired_difference_is_seeded_and_drops_nan_classes():
    rng, freq = _classes(60)
    a, b = rng.normal(size=60), rng.normal(size=60)
    a[3] = np.nan
    one, two = paired_difference(a, b, freq, n_boot=200, seed=4), paired_difference(a, b, freq, n_boot=200, seed=4)
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
    refs = [t * logf + rng.normal(0, 1.0, len(freq)) for t in tops]      # correlation rises with top-1
    weak = 0.1 * logf + rng.normal(0, 1.0, len(freq))                     # at top-1 0.35: far below the line
    r = residual_from_trend(refs, tops, weak, 0.35, freq, n_boot=300)
    assert r["hi"] < 0 and r["slope"] > 0
    on_line = 0.35 * logf + rng.normal(0, 1.0, len(freq))
    r2 = residual_from_trend(refs, tops, on_line, 0.35, freq, n_boot=300)
    assert r2["lo"] < 0 < r2["hi"]
    with pytest.raises(ValueError, match="same top-1"):
        residual_from_trend(refs[:2], [0.3, 0.3], weak, 0.3, freq)
