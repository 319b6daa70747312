"""Statistics for comparing methods: interval coverage, probability of improvement, Mann-Whitney."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from a2v_jax.search import stats


def _binomial_band(n: int, p: float, level: float = 0.999) -> tuple[int, int]:
    """Central `level` interval of the number of successes of Binomial(n, p)."""
    lo, hi = scipy.stats.binom.interval(level, n, p)
    return int(lo), int(hi)


@pytest.mark.parametrize("dist", ["normal", "exponential"])
def test_mean_ci_covers_the_true_mean_at_the_nominal_rate(dist):
    """200 independent samples of 50 values; the 95% CI must contain the true mean in about 95% of
    them (within a 99.9% binomial band around 190 of 200). All samples in one batched call."""
    rng = np.random.default_rng(1)
    reps, n = 200, 50
    if dist == "normal":
        x, true = rng.normal(0.94, 0.005, size=(reps, n)), 0.94
    else:  # skewed, as accuracies piled up near the best cell are
        x, true = rng.exponential(1.0, size=(reps, n)), 1.0
    lo, hi = stats.mean_ci(x, resamples=2000, rng=2, axis=-1)
    assert lo.shape == hi.shape == (reps,)
    assert (lo <= x.mean(1)).all() and (x.mean(1) <= hi).all()
    covered = int(((lo <= true) & (true <= hi)).sum())
    band = _binomial_band(reps, 0.95)
    assert band[0] <= covered <= band[1], (covered, band)


def test_mean_ci_of_a_constant_sample_is_the_value():
    lo, hi = stats.mean_ci(np.full(500, 0.9351))
    assert lo == hi == pytest.approx(0.9351)


def test_describe_matches_numpy_and_drops_nan():
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    d = stats.describe(np.r_[x, np.nan, np.nan])
    assert d["n"] == 300
    assert d["mean"] == pytest.approx(x.mean()) and d["std"] == pytest.approx(x.std())
    assert d["median"] == pytest.approx(np.median(x))
    assert d["iqr"] == pytest.approx(np.subtract(*np.percentile(x, [75, 25])))
    assert d["ci_low"] < d["mean"] < d["ci_high"]
    assert stats.describe(np.array([np.nan]))["n"] == 0


def _brute_force(a, b):
    return np.mean((a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :]))


def test_probability_of_improvement_identical_separated_and_brute_force():
    rng = np.random.default_rng(0)
    a = rng.normal(size=200)
    assert stats.probability_of_improvement(a, a) == pytest.approx(0.5)
    assert stats.probability_of_improvement(a + 100, a) == 1.0
    assert stats.probability_of_improvement(a, a + 100) == 0.0
    assert stats.probability_of_improvement(a, a + 100, higher_is_better=False) == 1.0
    # heavy ties, unequal sizes: as search results are (seeds ending on the same cells)
    x = rng.choice([0.9, 0.91, 0.92, 0.93], size=150)
    y = rng.choice([0.9, 0.92, 0.94], size=90)
    assert stats.probability_of_improvement(x, y) == pytest.approx(_brute_force(x, y))
    assert stats.probability_of_improvement(x, y, higher_is_better=False) == pytest.approx(_brute_force(-x, -y))
    c = stats.compare_pair(x, y)
    assert c["p_improve"] == pytest.approx(_brute_force(x, y))
    assert c["ci_low"] <= c["p_improve"] <= c["ci_high"]
    same = stats.compare_pair(a, a)
    assert same["p_improve"] == 0.5 and same["p_value"] == pytest.approx(1.0)
    apart = stats.compare_pair(a + 100, a)
    assert apart["p_improve"] == apart["ci_low"] == apart["ci_high"] == 1.0


def test_improvement_bootstrap_matches_resampling_the_seeds():
    """Drawing multiplicities of the distinct values is the bootstrap of the seeds: its percentiles
    agree with SciPy's two-sample bootstrap of the rank statistic (Monte Carlo tolerance)."""
    rng = np.random.default_rng(3)
    a = rng.choice(np.linspace(0.90, 0.95, 12), size=300)
    b = rng.choice(np.linspace(0.90, 0.95, 12), size=250) - 0.003

    def rank_statistic(x, y, axis=-1):
        r = scipy.stats.rankdata(np.concatenate([x, y], axis=-1), axis=-1)
        return (r[..., : x.shape[-1]].sum(-1) - x.shape[-1] * (x.shape[-1] + 1) / 2) / (x.shape[-1] * y.shape[-1])

    ours = stats.improvement_bootstrap(a, b, resamples=4000, rng=0)
    ref = scipy.stats.bootstrap((a, b), rank_statistic, n_resamples=4000, method="percentile", rng=1)
    assert ours.mean() == pytest.approx(_brute_force(a, b), abs=0.005)
    assert np.percentile(ours, 2.5) == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert np.percentile(ours, 97.5) == pytest.approx(ref.confidence_interval.high, abs=0.01)
    assert ours.std() == pytest.approx(ref.standard_error, rel=0.1)


def test_mann_whitney_separates_shifted_samples():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, size=300)
    b = rng.normal(0.5, 1.0, size=300)
    shifted = stats.compare_pair(b, a)
    assert shifted["p_value"] < 1e-6 and shifted["p_improve"] > 0.6 and shifted["ci_low"] > 0.5
    same = stats.compare_pair(a, rng.normal(0.0, 1.0, size=300))
    assert same["p_value"] > 0.01 and same["ci_low"] < 0.5 < same["ci_high"]


def test_ci_band_per_column():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(400, 6)) + np.arange(6)
    v[:5, 0] = np.nan  # seeds that had not started at the first point
    lo, hi = stats.mean_ci_band(v)
    means = np.nanmean(v, axis=0)
    assert (lo < means).all() and (means < hi).all()
    assert ((hi - lo) < 0.3).all()
