"""NAS-Bench-201 arrays for the search tests, from the project's own loaders.

The benchmark tables come from `a2v_jax.data.load_benchmark` (built from the public files in
the shared data folder into the test session's cache), the mutation neighbours from the space
module. On top, a structured stand-in embedding: the one-hot op encoding of a cell (6 edges x 5
ops) projected to 16 dimensions by a fixed Gaussian matrix, which keeps similar cells close as a
learned embedding would, so search tests do not need a pretraining run.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from a2v_jax.data import load_benchmark
from a2v_jax.data.benchmark import Benchmark
from a2v_jax.search.build import space_neighbours
from a2v_jax.spaces import get_space

FILES = ("nb201/mini-bench-arch-cell-accs.pd", "nb201/metric_vals.pkl", "nb201/nats_bench.csv")


@cache
def nb201_benchmark(dataset: str = "cifar10") -> Benchmark:
    return load_benchmark("nb201", dataset)


@cache
def nb201_neighbours() -> np.ndarray:
    """int32 [15625, 24]: every cell one edge-op change away."""
    return space_neighbours("nb201")


@cache
def onehot_embeddings(dim: int = 16, seed: int = 0) -> np.ndarray:
    """float32 [15625, dim]: one-hot ops (6 x 5) times a fixed Gaussian projection (a structured stand-in)."""
    cells = get_space("nb201").load()
    # one-hot columns in the order none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3
    column = np.array([2, 3, 4, 1, 0])[cells.ops[:, 1:7].astype(np.int64) - 1]
    onehot = np.eye(5)[column].reshape(-1, 30)
    proj = np.random.default_rng(seed).normal(size=(30, dim)) / np.sqrt(dim)
    return (onehot @ proj).astype(np.float32)
