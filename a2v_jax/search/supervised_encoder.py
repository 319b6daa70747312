"""The GIN encoder the supervised baselines train during the search, and its whole-space pass.

`rl_supervised` and `bo_supervised` (the published `search_methods/supervised_reinforce.py` and
`search_methods/supervised_dngo.py` with `pybnn/dngo_supervised.py`) learn architecture
representations jointly with the search, from the accuracies of the cells queried so far, with a
freshly initialised GIN. The published network (`Net`, 5 "hops", 2-layer MLPs, hidden 128,
dim 16) is the project's `a2v_jax.model.GINEncoder` with 4 layers and no variational head:

    h <- ReLU(BN(MLP((1 + eps_l) h + sum_j A~_ij h_j))),  MLP = Linear -> BN -> ReLU -> Linear,
    z_i = Linear(128 -> 16)(h_i) per vertex,   embedding = mean_i z_i over all n vertices,

eps_l learnable from 0, BatchNorm over every vertex of the batch (padding included), PyTorch's
initialisers. `num_hops=5` counts the input as a hop: `range(num_hops - 1)` builds 4 GIN layers.
Where it differs from the paper's description ("the same encoder as arch2vec"):

- the published code aggregates with `torch.matmul(adj, x)` on the raw upper-triangular adjacency:
  each vertex sums its *successors* only (A~ = A), where arch2vec's pretrained encoder uses
  A~ = A + A^T. `directed=True` reproduces the published aggregation; `False` is arch2vec's;
- no mu / log-sigma heads and no decoder: one Linear(128 -> 16) per vertex (a deterministic
  encoder), and the architecture embedding is the mean over vertices (arch2vec's readout too).

The whole space is re-embedded with the current weights once per round (`embed_all`): one batched
pass, `lax.map` over blocks of `chunk` cells (memory: seeds x chunk x n x hidden floats per
activation), BatchNorm with its running statistics (eval mode), so a block's content does not
change any cell's embedding.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ..graphs import EDGE_PAD, GraphSet, make_batch
from ..model import GINEncoder


def encoder(hidden: int, latent: int, layers: int) -> GINEncoder:
    return GINEncoder(hidden=hidden, latent=latent, num_layers=layers, variational=False)


def message_graphs(graphs: GraphSet, directed: bool) -> GraphSet:
    """The edges messages flow along: A + A^T (arch2vec), or with `directed` only j -> i for each DAG
    edge i -> j (the published `matmul(adj, x)`: a vertex sums its successors)."""
    if not directed:
        return graphs
    keep = graphs.senders > graphs.receivers  # upper-triangular DAG: the successor has the larger index
    return graphs.replace(receivers=jnp.where(keep, graphs.receivers, jnp.int8(EDGE_PAD)))


def init_variables(key: jax.Array, module: GINEncoder, graphs: GraphSet) -> dict[str, Any]:
    """{"params", "batch_stats"} of a fresh encoder (PyTorch initialisation, running stats 0 / 1)."""
    batch = make_batch(graphs, jnp.zeros((1,), jnp.int32))
    return dict(module.init(key, batch.graph, False))


def embed(
    module: GINEncoder,
    params: Any,
    batch_stats: Any,
    graphs: GraphSet,
    index: jax.Array,
    train: bool,
    graph_mask: jax.Array | None = None,
) -> tuple[jax.Array, Any]:
    """Embeddings [B, latent] of the cells `index` [B], and the batch statistics after the pass.

    train=True normalises with the batch's own statistics over the vertices of the graphs marked in
    `graph_mask` (PyTorch's training mode) and returns the updated running statistics; train=False
    uses the running statistics and returns them unchanged.
    """
    batch = make_batch(graphs, index, graph_mask)
    n = graphs.num_nodes
    node_mask = None if graph_mask is None else jnp.repeat(graph_mask, n)
    variables = {"params": params, "batch_stats": batch_stats}
    if train:
        (mu, _), updates = module.apply(variables, batch.graph, True, node_mask, mutable=["batch_stats"])
        batch_stats = updates["batch_stats"]
    else:
        mu, _ = module.apply(variables, batch.graph, False, node_mask)
    return mu.reshape(index.shape[0], n, -1).mean(axis=1), batch_stats


def blocks(n_cells: int, chunk: int) -> tuple[int, int]:
    """(block size, number of blocks) covering n_cells cells in blocks of at most `chunk`."""
    size = max(1, min(chunk, n_cells))
    return size, -(-n_cells // size)


def embed_all(module: GINEncoder, params: Any, batch_stats: Any, graphs: GraphSet, chunk: int) -> jax.Array:
    """Eval-mode embeddings [N, latent] of every cell: `lax.map` over blocks of `chunk` cells."""
    n_cells = graphs.num_cells
    size, count = blocks(n_cells, chunk)

    def block(i):
        index = jnp.minimum(i * size + jnp.arange(size, dtype=jnp.int32), n_cells - 1)  # the tail repeats the last cell
        return embed(module, params, batch_stats, graphs, index, False)[0]

    out = jax.lax.map(block, jnp.arange(count))
    return out.reshape(count * size, -1)[:n_cells]


# Seeds per device vmapped together by default (the runner's `seed_chunk`): a chunk's whole-space
# activations, seeds x chunk x n x hidden floats, are kept under these bounds, so that 500 seeds
# neither hold gigabytes per activation nor leave the CPU's caches far behind (64 MiB on CPU; 1 GiB
# on accelerators).
CPU_BLOCK_FLOATS = 1 << 24
ACCELERATOR_BLOCK_FLOATS = 1 << 28


def seed_chunk(problem: Any, config: Any, platform: str) -> int:
    """Seeds per device vmapped together: as many as keep one whole-space activation in bounds."""
    graphs = problem.graphs
    per_seed = min(config.chunk, graphs.num_cells) * graphs.num_nodes * config.hidden
    bound = CPU_BLOCK_FLOATS if platform == "cpu" else ACCELERATOR_BLOCK_FLOATS
    return max(1, bound // per_seed)


def select_tree(pred: jax.Array, a: Any, b: Any) -> Any:
    """`a` where pred else `b`, leaf by leaf (pred a scalar)."""
    return jax.tree_util.tree_map(lambda x, y: jnp.where(pred, x, y), a, b)
