"""Small synthetic search problems for the search tests (fast to build; shapes kept fixed so that
compiled searches are reused across tests)."""

from __future__ import annotations

from functools import cache

import numpy as np

from a2v_jax.data.benchmark import Benchmark
from a2v_jax.search.problem import Problem

N, D, K = 400, 8, 6


@cache
def synthetic_benchmark(seed: int = 0) -> Benchmark:
    """400 cells: accuracies smooth in a random 8-d embedding, costs 10-100 s. Labelled as an NB201
    table of dataset "toy" (a table of one's own for a known space: its published settings apply)."""
    rng = np.random.default_rng(seed)
    feats = rng.normal(size=(N, D)).astype(np.float32)
    w = rng.normal(size=D)
    reward = 1 / (1 + np.exp(-(feats @ w) / 2))
    test = np.clip(reward + rng.normal(scale=0.02, size=N), 0, 1)
    valid = np.clip(reward + rng.normal(scale=0.01, size=N), 0, 1)
    cost = rng.uniform(10.0, 100.0, size=N).astype(np.float32).astype(np.float64)
    cols = {"reward": reward, "valid": valid, "test": test, "time": cost}
    return Benchmark("nb201", "toy", cols, {"features": "see synthetic_features"})


@cache
def synthetic_features(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(N, D)).astype(np.float32)


@cache
def synthetic_neighbours(seed: int = 0) -> np.ndarray:
    """Each cell's K nearest cells in feature space (a smooth mutation graph), some entries -1."""
    f = synthetic_features(seed)
    d = ((f[:, None, :] - f[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    nb = np.argsort(d, axis=1)[:, :K].astype(np.int32)
    nb[::7, -1] = -1  # padding, as NB101 tables have
    return nb


def synthetic_problem(budget: float | None = 2000.0, queries: int | None = None, seed: int = 0) -> Problem:
    b = synthetic_benchmark(seed)
    return Problem.create(
        synthetic_features(seed), b.reward, b.test, b.time,
        max_time=float("inf") if budget is None else budget, max_queries=queries,
        neighbours=synthetic_neighbours(seed),
    )
