"""Small cell sets for the pretraining tests, built without any data file.

`Nb201Cells` follows the NB201 encoding of REFERENCE.md (8 vertices, ops on vertices, fixed edges);
`random_dags` makes NB101-shaped cells (up to 7 vertices, zero-padded at the end) so that padding
vertices, variable edge counts and partial batches are exercised.
"""

from __future__ import annotations

import itertools

import numpy as np

from a2v_jax.spaces.base import PAD_OP, CellSet, SearchSpace, labelled_hash

NB201_EDGES = [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)]
NB201_ADJ = np.zeros((8, 8), np.uint8)
for _s, _r in NB201_EDGES:
    NB201_ADJ[_s, _r] = 1


class Nb201Cells(SearchSpace):
    """NB201-shaped cells: vertex 0 input (op 0), 1..6 cell ops (1..5), 7 output (op 6)."""

    name = "nb201"
    num_nodes = 8
    op_names = ("input", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "none", "output")

    def is_valid(self, adjacency, ops) -> bool:
        ops = np.asarray(ops)
        return (
            ops.shape == (8,)
            and np.array_equal(np.asarray(adjacency), NB201_ADJ)
            and ops[0] == 0
            and ops[-1] == 6
            and bool(np.all((ops[1:-1] >= 1) & (ops[1:-1] <= 5)))
        )

    def graph_hash(self, adjacency, ops) -> str:
        return labelled_hash(adjacency, ops)

    def build(self, **options) -> CellSet:
        combos = np.array(list(itertools.product(range(1, 6), repeat=6)), np.int8)
        count = len(combos)
        ops = np.concatenate([np.zeros((count, 1), np.int8), combos, np.full((count, 1), 6, np.int8)], axis=1)
        adjacency = np.broadcast_to(NB201_ADJ, (count, 8, 8)).copy()
        hashes = np.array([labelled_hash(adjacency[i], ops[i]) for i in range(count)])
        return CellSet(self.name, adjacency, ops, hashes)

    def subset(self, count: int, seed: int = 0) -> CellSet:
        rng = np.random.default_rng(seed)
        combos = rng.integers(1, 6, size=(count, 6)).astype(np.int8)
        ops = np.concatenate([np.zeros((count, 1), np.int8), combos, np.full((count, 1), 6, np.int8)], axis=1)
        adjacency = np.broadcast_to(NB201_ADJ, (count, 8, 8)).copy()
        hashes = np.array([labelled_hash(adjacency[i], ops[i]) for i in range(count)])
        return CellSet(self.name, adjacency, ops, hashes)


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
