"""Discrete encodings of the cells: the flattened adjacency + one-hot ops of every cell, on device.

The discrete-encoding baselines (`bo_discrete`, `rl_discrete`) see an architecture as the two
matrices the paper starts from (its Section 3.1): the upper-triangular adjacency A [n, n] and the
one-hot operation matrix X [n, K]. Flattened, a cell is the vector

    [A_01, A_02, ..., A_{n-2,n-1}, X_0, X_1, ..., X_{n-1}]    (n(n-1)/2 + n*K entries)

with the strict upper triangle row-major, and padding vertices (a cell of fewer than n vertices)
as all-zero op rows. Both are computed from `Problem.graphs` inside the compiled search: they are
cheap (NB201: 15,625 x 84 values) and the same for every seed, so under `vmap` they are computed
once per step for all seeds and never stored per seed.

`layout="output_last"` moves the last real vertex (the output) of a padded cell to row n-1 and the
padding vertices before it, keeping the order of the others: the cell as a full n-vertex graph
whose extra vertices are isolated, which the NAS-Bench-101 API prunes. That is how a
configuration of nas_benchmarks' REINFORCE (ops of the n-2 interior vertices, one bit per upper-
triangular position, output always at vertex n-1) describes a smaller cell. Spaces whose cells
all have n vertices (NB201, DARTS) are unchanged by it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..graphs import GraphSet

LAYOUTS = ("stored", "output_last")


def upper_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the strict upper triangle of an n x n matrix, row-major."""
    return np.triu_indices(n, k=1)


def layout_cells(graphs: GraphSet, layout: str = "stored") -> tuple[jax.Array, jax.Array]:
    """(ops int32 [N, n] with -1 on padding vertices, adjacency float32 [N, n, n]) in `layout`."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    ops = graphs.ops.astype(jnp.int32)
    adjacency = graphs.adjacency.astype(jnp.float32)
    if layout == "stored":
        return ops, adjacency
    n = ops.shape[1]
    real = (ops >= 0).sum(axis=1)  # [N]
    v = jnp.arange(n)
    last = (real - 1)[:, None]
    # old vertex v goes to: v (interior, v < last), n-1 (the last real one), v-1 (padding after it)
    pos = jnp.where(v < last, v, jnp.where(v == last, n - 1, v - 1))  # [N, n], a permutation per cell
    inverse = jnp.argsort(pos, axis=1)  # new position -> old vertex
    ops = jnp.take_along_axis(ops, inverse, axis=1)
    adjacency = jnp.take_along_axis(adjacency, inverse[:, :, None], axis=1)
    adjacency = jnp.take_along_axis(adjacency, inverse[:, None, :], axis=2)
    return ops, adjacency


def encode(graphs: GraphSet, layout: str = "stored") -> tuple[jax.Array, jax.Array]:
    """(edge bits float32 [N, n(n-1)/2], one-hot ops float32 [N, n, K]) of every cell."""
    ops, adjacency = layout_cells(graphs, layout)
    rows, cols = upper_pairs(ops.shape[1])
    bits = adjacency[:, rows, cols]
    onehot = jax.nn.one_hot(ops, graphs.num_ops, dtype=jnp.float32)  # -1 (padding) -> zero row
    return bits, onehot


def onehot_features(graphs: GraphSet, layout: str = "stored") -> jax.Array:
    """float32 [N, n(n-1)/2 + n*K]: the flattened adjacency and one-hot op matrix of every cell."""
    bits, onehot = encode(graphs, layout)
    return jnp.concatenate([bits, onehot.reshape(onehot.shape[0], -1)], axis=1)


def check_cells(graphs: GraphSet, who: str) -> None:
    """A clear error when a strategy that encodes cells got a problem without them."""
    if graphs.num_nodes == 0:
        raise ValueError(f"{who} encodes the cells' graphs, but the problem carries none (build it with cells)")
