"""Small cell sets for the pretraining tests, built without any data file.

NAS-Bench-201 cells come from the real space (its cell set is embedded in the package);
`random_dags` makes NB101-shaped cells (up to 7 vertices, zero-padded at the end) so that padding
vertices and variable edge counts are exercised.
"""

from __future__ import annotations

import numpy as np

from a2v_jax.spaces import get_space
from a2v_jax.spaces.base import PAD_OP, CellSet, SearchSpace

NB201_EDGES = [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)]
NB201_ADJ = np.zeros((8, 8), np.uint8)
for _s, _r in NB201_EDGES:
    NB201_ADJ[_s, _r] = 1


def nb201_space() -> SearchSpace:
    return get_space("nb201")


def nb201_subset(count: int, seed: int = 0) -> CellSet:
    """`count` distinct NAS-Bench-201 cells drawn at random (sorted by index), from the real cell set."""
    cells = nb201_space().load()
    rows = np.sort(np.random.default_rng(seed).choice(len(cells), size=count, replace=False))
    return CellSet(cells.space, cells.adjacency[rows], cells.ops[rows], cells.hash[rows])


def random_dags(count: int, n: int = 7, num_ops: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """NB101-shaped cells: 2..n vertices, input op 0 first, output op num_ops-1 last, a path
    0 -> 1 -> ... -> v-1 plus random extra forward edges; zero padding past the last vertex."""
    rng = np.random.default_rng(seed)
    adjacency = np.zeros((count, n, n), np.uint8)
    ops = np.full((count, n), PAD_OP, np.int8)
    for c in range(count):
        v = int(rng.integers(2, n + 1))
        a = np.triu(rng.random((v, v)) < 0.3, 1).astype(np.uint8)
        a[np.arange(v - 1), np.arange(1, v)] = 1
        adjacency[c, :v, :v] = a
        ops[c, 0] = 0
        ops[c, v - 1] = num_ops - 1
        ops[c, 1 : v - 1] = rng.integers(1, num_ops - 1, size=v - 2)
    return adjacency, ops
