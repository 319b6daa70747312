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


@cache
def synthetic_cells(seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """N distinct random cells of an NB101-like space: (adjacency [N, 6, 6], ops [N, 6], 5 op kinds).

    Vertex 0 is the input (op 0), the last real vertex the output (op 4), interior ops 1-3; a quarter
    of the cells have 5 vertices and a padding vertex at the end (op -1, no edges), as NB101 pads."""
    rng = np.random.default_rng(seed + 1)
    n, seen, adjs, opss = 6, set(), [], []
    while len(adjs) < N:
        m = 5 if len(adjs) % 4 == 0 else 6
        adj = np.zeros((n, n), np.uint8)
        adj[:m, :m] = np.triu(rng.random((m, m)) < 0.4, k=1)
        adj[np.arange(m - 1), np.arange(1, m)] = 1  # a path through every real vertex
        ops = np.full(n, -1, np.int8)
        ops[0], ops[m - 1] = 0, 4
        ops[1:m - 1] = rng.integers(1, 4, m - 2)
        key = adj.tobytes() + ops.tobytes()
        if key not in seen:
            seen.add(key)
            adjs.append(adj)
            opss.append(ops)
    return np.stack(adjs), np.stack(opss), 5


def synthetic_problem(budget: float | None = 2000.0, queries: int | None = None, seed: int = 0) -> Problem:
    b = synthetic_benchmark(seed)
    return Problem.create(
        synthetic_features(seed), b.reward, b.test, b.time,
        max_time=float("inf") if budget is None else budget, max_queries=queries,
        neighbours=synthetic_neighbours(seed), cells=synthetic_cells(seed),
    )
