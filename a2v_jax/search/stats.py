"""Statistics for comparing search methods over independent seeds (host-side NumPy/SciPy).

A table of mean +- std over 500 seeds does not say whether 94.07 against 94.12 is a difference.
Following the practice of rliable (Agarwal et al., NeurIPS 2021), each method gets interval
estimates and each pair of methods a probability of improvement:

- per method: mean, std (population, ddof=0, as the published summary script), median,
  interquartile range, and a 95% bootstrap confidence interval of the mean
  (`scipy.stats.bootstrap`, BCa: accuracies are bounded and often skewed, piled up at the best
  cell a method can reach);
- per pair (A, B): the probability of improvement P(A > B), the chance that a random seed of A
  beats a random seed of B, ties counting half. It equals the Mann-Whitney U statistic of A
  divided by n_A n_B. Its 95% CI is a percentile bootstrap that resamples the seeds of A and of B
  independently (the seeds of different methods are independent runs; rliable's stratified
  bootstrap), and its p-value is the two-sided Mann-Whitney U test (`scipy.stats.mannwhitneyu`,
  normal approximation with tie correction at these sample sizes).

Resampling the n seeds of a sample with replacement is the same as drawing, for each distinct
value, how many times it is picked (a multinomial over the distinct values weighted by their
frequencies). Search results have few distinct values (seeds end on the same few cells), so the
bootstrap of P(A > B) draws those counts for all resamples at once and scores them with one
matrix product against the [distinct A, distinct B] win matrix: exact, and about a thousand times
cheaper than ranking every resample.

For metrics where lower is better (regret), "A better than B" is P(A < B): call with
`higher_is_better=False`.

Seeds of a search over learned embeddings share one pretrained model, so 500 of them measure the
search's noise on that model only. `nested_mean_ci` and `nested_compare` treat runs over several
pretraining seeds as a two-level sample (pretraining seeds, then search seeds within each): a
two-stage bootstrap resamples the pretraining seeds and, within each one drawn, its search seeds.
It errs wide (the within-group noise enters both stages; in tests/test_search_stats.py 99 of 100
simulated intervals cover the truth, where the one-level interval of the pooled values covers it
50 times), and with few pretraining seeds (5) it is rough, but it does not pretend the
pretraining seed is fixed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats

CONFIDENCE = 0.95
RESAMPLES = 2000  # bootstrap resamples of every interval (percentile endpoints stable to ~0.1 pp)


def _rng(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def mean_ci(x: np.ndarray, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, rng: Any = 0,
            method: str = "BCa", axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(low, high): bootstrap CI of the mean of `x` along `axis` (any other axes are batched).

    A sample whose values are all equal has the degenerate interval [value, value].
    """
    x = np.asarray(x, np.float64)
    if x.shape[axis] < 2:
        m = np.mean(x, axis=axis)
        return m, m
    res = scipy.stats.bootstrap((x,), np.mean, n_resamples=resamples, confidence_level=confidence,
                                method=method, axis=axis, vectorized=True, rng=_rng(rng))
    lo, hi = res.confidence_interval
    # A constant sample (every seed ended on the same cell) has nothing to resample.
    m = np.mean(x, axis=axis)
    flat = np.ptp(x, axis=axis) == 0
    return np.where(flat, m, lo), np.where(flat, m, hi)


def describe(x: np.ndarray, resamples: int = RESAMPLES, confidence: float = CONFIDENCE, rng: Any = 0) -> dict[str, float]:
    """n, mean, std (ddof=0), median, q25, q75, iqr and the bootstrap CI of the mean of a 1-D sample.

    NaN entries (seeds that had not queried anything by then) are left out and counted in `n`.
    """
    x = np.asarray(x, np.float64).ravel()
    x = x[~np.isnan(x)]
    if x.size == 0:
        nan = float("nan")
        return {"n": 0, "mean": nan, "std": nan, "median": nan, "q25": nan, "q75": nan, "iqr": nan, "ci_low": nan, "ci_high": nan}
    q25, med, q75 = np.percentile(x, [25, 50, 75])
    lo, hi = mean_ci(x, resamples, confidence, rng)
    return {
        "n": int(x.size), "mean": float(x.mean()), "std": float(x.std()), "median": float(med),
        "q25": float(q25), "q75": float(q75), "iqr": float(q75 - q25), "ci_low": float(lo), "ci_high": float(hi),
    }


def probability_of_improvement(a: np.ndarray, b: np.ndarray, higher_is_better: bool = True) -> float:
    """P(A > B) over all seed pairs, ties counting half: U_A / (n_A n_B) of the Mann-Whitney test."""
    a, b = _clean(a), _clean(b)
    if not (a.size and b.size):
        return float("nan")
    if not higher_is_better:
        a, b = -a, -b
    u = scipy.stats.mannwhitneyu(a, b, alternative="two-sided").statistic
    return float(u / (a.size * b.size))


def _clean(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64).ravel()
    return x[~np.isnan(x)]


def _win_matrix(ua: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """[len(ua), len(ub)]: 1 where a > b, 1/2 where equal, 0 otherwise."""
    return (ua[:, None] > ub[None, :]) + 0.5 * (ua[:, None] == ub[None, :])


def improvement_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, rng: Any = 0) -> np.ndarray:
    """[resamples]: P(A > B) of bootstrap resamples (seeds of A and of B resampled independently).

    Each resample's multiplicities of the distinct values come from one batched multinomial draw;
    the statistic of all resamples is one matrix product (see the module docstring).
    """
    rng = _rng(rng)
    ua, ca = np.unique(_clean(a), return_counts=True)
    ub, cb = np.unique(_clean(b), return_counts=True)
    na, nb = int(ca.sum()), int(cb.sum())
    wa = rng.multinomial(na, ca / na, size=resamples).astype(np.float64)  # [R, distinct A]
    wb = rng.multinomial(nb, cb / nb, size=resamples).astype(np.float64)  # [R, distinct B]
    return np.einsum("ri,ij,rj->r", wa, _win_matrix(ua, ub), wb, optimize=True) / (na * nb)


def compare_pair(a: np.ndarray, b: np.ndarray, higher_is_better: bool = True, resamples: int = RESAMPLES,
                 confidence: float = CONFIDENCE, rng: Any = 0) -> dict[str, float]:
    """P(A better than B) with its percentile bootstrap CI and the two-sided Mann-Whitney U p-value."""
    a, b = _clean(a), _clean(b)
    nan = float("nan")
    if not (a.size and b.size):
        return {"p_improve": nan, "ci_low": nan, "ci_high": nan, "p_value": nan, "n_a": int(a.size), "n_b": int(b.size)}
    if not higher_is_better:
        a, b = -a, -b
    test = scipy.stats.mannwhitneyu(a, b, alternative="two-sided")
    boot = improvement_bootstrap(a, b, resamples, rng)
    tail = 50 * (1 - confidence)
    lo, hi = np.percentile(boot, [tail, 100 - tail])
    return {
        "p_improve": float(test.statistic / (a.size * b.size)),
        "ci_low": float(lo), "ci_high": float(hi),
        "p_value": float(test.pvalue),
        "n_a": int(a.size), "n_b": int(b.size),
    }


def mean_ci_band(values: np.ndarray, resamples: int = 1000, confidence: float = CONFIDENCE, rng: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) per column of `values` [seeds, points]: percentile bootstrap CI of the column means,
    all columns in one batched call; columns with NaN (seeds not started yet) use the seeds that have."""
    v = np.asarray(values, np.float64)
    full = ~np.isnan(v).any(axis=0)
    lo = np.full(v.shape[1], np.nan)
    hi = np.full(v.shape[1], np.nan)
    if full.any():
        lo[full], hi[full] = mean_ci(v[:, full].T, resamples, confidence, rng, method="percentile", axis=-1)
    for j in np.flatnonzero(~full):  # a loop over the few early time points some seeds have not reached
        x = v[:, j][~np.isnan(v[:, j])]
        if x.size:
            lo[j], hi[j] = mean_ci(x, resamples, confidence, rng, method="percentile")
    return lo, hi


def _group_bootstrap_means(x: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """[resamples]: means of bootstrap resamples of the 1-D sample `x` (multinomial over distinct values)."""
    u, c = np.unique(_clean(x), return_counts=True)
    n = int(c.sum())
    return rng.multinomial(n, c / n, size=resamples) @ u / n


def _two_stage(per_group: np.ndarray, confidence: float, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile CI of the mean over groups of `per_group` [groups, resamples] (each row: one group's
    bootstrap statistic), groups drawn with replacement in every resample."""
    groups, resamples = per_group.shape
    pick = rng.integers(groups, size=(resamples, groups))
    boot = per_group[pick, np.arange(resamples)[:, None]].mean(axis=1)
    tail = 50 * (1 - confidence)
    lo, hi = np.percentile(boot, [tail, 100 - tail])
    return float(lo), float(hi)


def nested_mean_ci(groups: list[np.ndarray], resamples: int = RESAMPLES, confidence: float = CONFIDENCE,
                   rng: Any = 0) -> dict[str, float]:
    """Mean over groups of each group's mean (e.g. pretraining seeds, each a sample of search seeds),
    with a two-stage percentile bootstrap CI: groups resampled, then the values within each drawn group.

    Also: the std of the group means (ddof=1; between groups) and the mean within-group std (ddof=0).
    """
    rng = _rng(rng)
    cleaned = [_clean(g) for g in groups]
    if not cleaned or any(g.size == 0 for g in cleaned):
        raise ValueError("every group needs at least one value")
    means = np.array([g.mean() for g in cleaned])
    lo, hi = _two_stage(np.stack([_group_bootstrap_means(g, resamples, rng) for g in cleaned]), confidence, rng)
    return {"groups": len(cleaned), "mean": float(means.mean()),
            "between_std": float(means.std(ddof=1)) if means.size > 1 else 0.0,
            "within_std": float(np.mean([g.std() for g in cleaned])), "ci_low": lo, "ci_high": hi,
            "group_means": means.tolist()}


def nested_compare(groups_a: list[np.ndarray], b: np.ndarray, higher_is_better: bool = True,
                   resamples: int = RESAMPLES, confidence: float = CONFIDENCE, rng: Any = 0) -> dict[str, Any]:
    """P(A better than B) when A's seeds come in groups (pretraining seeds) and B is one sample: the
    mean over groups of P(A_g > B), its two-stage percentile bootstrap CI (groups resampled, then the
    seeds of A_g and of B within each), and per group P(A_g > B) with its one-level bootstrap CI (the
    interval that group alone would report) and its Mann-Whitney p-value."""
    rng = _rng(rng)
    b = _clean(b)
    if not groups_a or b.size == 0 or any(_clean(a).size == 0 for a in groups_a):
        raise ValueError("every group of A and the sample of B need at least one value")
    per = [compare_pair(a, b, higher_is_better, resamples, confidence, rng) for a in groups_a]
    sign = 1.0 if higher_is_better else -1.0
    boots = np.stack([improvement_bootstrap(sign * _clean(a), sign * b, resamples, rng) for a in groups_a])
    lo, hi = _two_stage(boots, confidence, rng)
    ps = np.array([r["p_improve"] for r in per])
    return {"groups": len(per), "p_improve": float(ps.mean()), "ci_low": lo, "ci_high": hi,
            "group_p_improve": ps.tolist(), "group_ci_low": [r["ci_low"] for r in per],
            "group_ci_high": [r["ci_high"] for r in per], "group_p_value": [r["p_value"] for r in per]}


__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "compare_pair",
    "describe",
    "improvement_bootstrap",
    "mean_ci",
    "mean_ci_band",
    "nested_compare",
    "nested_mean_ci",
    "probability_of_improvement",
]
