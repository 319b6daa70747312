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


def test_nested_mean_ci_accounts_for_the_pretraining_seed():
    """Runs over 8 pretraining seeds whose means differ (sd 0.3) with noisy search seeds (sd 1) within:
    the one-level CI of all values pooled covers the true mean about half the time, the two-stage CI
    at least at the nominal rate (it errs wide: the within-group noise enters both stages)."""
    rng = np.random.default_rng(3)
    reps, groups, n = 100, 8, 100
    nested_hits = pooled_hits = 0
    for r in range(reps):  # a loop over simulated studies, not over seeds of one computation
        data = [rng.normal(effect, 1.0, n) for effect in rng.normal(0.0, 0.3, groups)]
        out = stats.nested_mean_ci(data, resamples=500, rng=r)
        assert out["ci_low"] <= out["mean"] <= out["ci_high"] and out["groups"] == groups
        nested_hits += out["ci_low"] <= 0.0 <= out["ci_high"]
        lo, hi = stats.mean_ci(np.concatenate(data), resamples=500, rng=r, method="percentile")
        pooled_hits += lo <= 0.0 <= hi
    assert nested_hits >= 85 and pooled_hits <= 65, (nested_hits, pooled_hits)  # measured: 99 and 50


def test_nested_mean_ci_reports_the_spread_between_and_within_groups():
    out = stats.nested_mean_ci([np.array([1.0, 3.0]), np.array([5.0, 7.0]), np.array([np.nan, 9.0])], rng=0)
    assert out["group_means"] == [2.0, 6.0, 9.0] and out["mean"] == pytest.approx(17 / 3)
    assert out["between_std"] == pytest.approx(np.std([2.0, 6.0, 9.0], ddof=1))
    assert out["within_std"] == pytest.approx(2 / 3)  # 1, 1 and 0 (the NaN seed left out)
    with pytest.raises(ValueError, match="at least one value"):
        stats.nested_mean_ci([np.array([1.0]), np.array([np.nan])])


def test_nested_compare_averages_the_groups_and_flips_for_regret():
    b = np.arange(10.0)
    above, below = b + 100.0, b - 100.0
    out = stats.nested_compare([above, below, above], b, rng=0)
    assert out["group_p_improve"] == [1.0, 0.0, 1.0] and out["p_improve"] == pytest.approx(2 / 3)
    assert out["ci_low"] == 0.0 and out["ci_high"] == 1.0  # three groups: any mix of them can be drawn
    assert out["group_p_value"][0] == pytest.approx(stats.compare_pair(above, b)["p_value"])
    rng = np.random.default_rng(1)
    mixed = [rng.normal(0.3 * i, 1.0, 50) for i in range(3)]
    out = stats.nested_compare(mixed, rng.normal(0.3, 1.0, 60), rng=0)
    for p, lo, hi in zip(out["group_p_improve"], out["group_ci_low"], out["group_ci_high"], strict=True):
        assert 0.0 < lo < p < hi < 1.0  # each group's own interval brackets its estimate
    assert out["group_ci_low"][0] < out["group_ci_low"][2]
    lower = stats.nested_compare([above, above], b, higher_is_better=False, rng=0)
    assert lower["p_improve"] == 0.0 and lower["ci_high"] == 0.0
    for groups, base in (([], b), ([above, np.array([np.nan])], b), ([above], np.array([]))):
        with pytest.raises(ValueError, match="at least one value"):
            stats.nested_compare(groups, base)
