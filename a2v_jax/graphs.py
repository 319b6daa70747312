"""Cells as `jraph.GraphsTuple` batches with one fixed shape per space.

The whole cell set is converted once, on the host, into a few compact device arrays
(`GraphSet`): op indices, the upper-triangular adjacency and, per cell, the directed edge list of
A + A^T padded to the space's largest edge count. A batch is then a gather by cell index on
device (`make_batch`), so the training loop never returns to the host for data.

Shapes and conventions (the published encoder's, see docs/reference.md, "Model"):
- every graph keeps all `n` vertices of the space, padding vertices included: the published
  encoder runs GIN and BatchNorm over all B*n rows, so padding vertices are nodes here too, with
  all-zero features and no edges. `n_node` is therefore `n` for every graph.
- edges are those of A + A^T (both directions of every DAG edge), no self loops, no
  normalisation. A cell with fewer edges than the space's maximum gets padding edges whose
  receiver lies past the last node of the batch; `jax.ops.segment_sum` drops such ids, so
  padding edges carry nothing forward and no gradient back.
- graphs beyond the real ones in a partial batch are marked by `graph_mask` (False), not removed,
  so a partial batch has the same shape as a full one; losses and BatchNorm statistics honour it.

The dense view (`dense_symmetric_adjacency`) exists for tests and documentation: with the same
node count in every graph, `segment_sum` message passing equals `(A + A^T) @ H` per graph.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import struct

from .spaces.base import PAD_OP, CellSet

EDGE_PAD = -1
"""Local sender/receiver value of a padding edge in `GraphSet`."""


@struct.dataclass
class GraphSet:
    """A cell set as device arrays, ready to be batched by index.

    ops:        int8 [N, n] op index per vertex, `PAD_OP` (-1) on padding vertices.
    adjacency:  uint8 [N, n, n] upper-triangular DAG adjacency, row = source.
    senders:    int8 [N, E] local sender of each directed edge of A + A^T, `EDGE_PAD` past the cell's edges.
    receivers:  int8 [N, E] local receiver, same padding.
    num_ops:    size of the op vocabulary K (static).
    """

    ops: jax.Array
    adjacency: jax.Array
    senders: jax.Array
    receivers: jax.Array
    num_ops: int = struct.field(pytree_node=False)

    @property
    def num_cells(self) -> int:
        return int(self.ops.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.ops.shape[1])

    @property
    def max_edges(self) -> int:
        return int(self.senders.shape[1])


@struct.dataclass
class Batch:
    """One batch: the encoder's input graph, the decoder's targets, and which graphs are real.

    graph:      GraphsTuple with B*n nodes (one-hot ops, padding rows zero) and B*E directed edges.
    ops:        float32 [B, n, K] one-hot op targets (padding rows zero).
    adjacency:  float32 [B, n, n] upper-triangular adjacency targets.
    graph_mask: bool [B], False for filler graphs of a partial batch.
    """

    graph: jraph.GraphsTuple
    ops: jax.Array
    adjacency: jax.Array
    graph_mask: jax.Array

    @property
    def batch_size(self) -> int:
        return int(self.ops.shape[0])

    @property
    def num_nodes(self) -> int:
        return int(self.ops.shape[1])


def edge_lists(adjacency: np.ndarray, max_edges: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges of A + A^T per cell as int8 [N, E] local (senders, receivers), vectorised.

    Edges are listed row-major over the symmetric matrix; `max_edges` (default: the largest count
    in the set) sets E, and a cell with more edges than that raises.
    """
    adjacency = np.asarray(adjacency)
    if adjacency.ndim != 3 or adjacency.shape[1] != adjacency.shape[2]:
        raise ValueError(f"adjacency must be [N, n, n], got {adjacency.shape}")
    count, n, _ = adjacency.shape
    if n > 127:
        raise ValueError(f"{n} vertices do not fit int8 edge lists")
    sym = (adjacency != 0) | (adjacency.transpose(0, 2, 1) != 0)
    diagonal = np.arange(n)
    sym[:, diagonal, diagonal] = False  # A + A^T has no self loops; a DAG has none to begin with
    per_cell = sym.reshape(count, n * n).sum(axis=1)
    needed = int(per_cell.max()) if count else 0
    width = needed if max_edges is None else int(max_edges)
    if needed > width:
        raise ValueError(f"a cell has {needed} directed edges, more than max_edges={width}")
    cell, flat = np.nonzero(sym.reshape(count, n * n))  # sorted by cell, then row-major
    starts = np.concatenate([[0], np.cumsum(per_cell)[:-1]])
    slot = np.arange(cell.size) - starts[cell]
    senders = np.full((count, width), EDGE_PAD, np.int8)
    receivers = np.full((count, width), EDGE_PAD, np.int8)
    senders[cell, slot] = flat // n
    receivers[cell, slot] = flat % n
    return senders, receivers


def graph_set(
    cells: CellSet | tuple[np.ndarray, np.ndarray], num_ops: int, max_edges: int | None = None
) -> GraphSet:
    """Convert a cell set (or an (adjacency, ops) pair) once, on the host, and put it on device."""
    if isinstance(cells, CellSet):
        adjacency, ops = cells.adjacency, cells.ops
    else:
        adjacency, ops = cells
    adjacency = np.asarray(adjacency)
    ops = np.asarray(ops)
    if ops.ndim != 2 or adjacency.shape != (ops.shape[0], ops.shape[1], ops.shape[1]):
        raise ValueError(f"ops {ops.shape} and adjacency {adjacency.shape} do not describe the same cells")
    if ops.size and (ops.min() < PAD_OP or ops.max() >= num_ops):
        raise ValueError(f"op indices must lie in [{PAD_OP}, {num_ops}), got [{ops.min()}, {ops.max()}]")
    if np.tril(adjacency).any():
        raise ValueError("adjacency must be strictly upper-triangular (a DAG in topological order)")
    senders, receivers = edge_lists(adjacency, max_edges)
    return GraphSet(
        ops=jnp.asarray(ops.astype(np.int8)),
        adjacency=jnp.asarray((adjacency != 0).astype(np.uint8)),
        senders=jnp.asarray(senders),
        receivers=jnp.asarray(receivers),
        num_ops=int(num_ops),
    )


def make_batch(data: GraphSet, index: jax.Array, graph_mask: jax.Array | None = None) -> Batch:
    """Gather the cells `index` [B] into one batch on device (jit-friendly, static shapes)."""
    index = jnp.asarray(index)
    size = index.shape[0]
    n = data.num_nodes
    if graph_mask is None:
        graph_mask = jnp.ones((size,), bool)
    ops = data.ops[index].astype(jnp.int32)
    onehot = jax.nn.one_hot(ops, data.num_ops, dtype=jnp.float32)  # PAD_OP (-1) -> all-zero row
    senders = data.senders[index].astype(jnp.int32)
    receivers = data.receivers[index].astype(jnp.int32)
    offset = (jnp.arange(size, dtype=jnp.int32) * n)[:, None]
    real = receivers != EDGE_PAD
    total = size * n
    # a padding edge sends from node 0 of its graph (a valid gather) to id `total`, which segment_sum drops
    global_senders = jnp.where(real, senders + offset, offset).reshape(-1)
    global_receivers = jnp.where(real, receivers + offset, total).reshape(-1)
    graph = jraph.GraphsTuple(
        nodes=onehot.reshape(total, data.num_ops),
        edges=None,
        senders=global_senders,
        receivers=global_receivers,
        n_node=jnp.full((size,), n, jnp.int32),
        n_edge=real.sum(axis=1).astype(jnp.int32),
        globals=None,
    )
    return Batch(
        graph=graph,
        ops=onehot,
        adjacency=data.adjacency[index].astype(jnp.float32),
        graph_mask=graph_mask,
    )


def aggregate(graph: jraph.GraphsTuple, features: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """Sum of neighbour features per node, sum_j A~_ij h_j, by gather + `segment_sum`.

    `weights` (one per edge) scale the messages, e.g. GCN normalisation coefficients.
    """
    messages = features[graph.senders]
    if weights is not None:
        messages = messages * weights[:, None]
    return jax.ops.segment_sum(messages, graph.receivers, num_segments=features.shape[0])


def degrees(graph: jraph.GraphsTuple) -> jax.Array:
    """Number of neighbours of every node in A + A^T (padding edges excluded)."""
    total = graph.nodes.shape[0]
    return jax.ops.segment_sum(jnp.ones_like(graph.receivers, jnp.float32), graph.receivers, num_segments=total)


def dense_symmetric_adjacency(adjacency: jax.Array) -> jax.Array:
    """A + A^T of upper-triangular [B, n, n] adjacencies: the published encoder's input."""
    adjacency = jnp.asarray(adjacency, jnp.float32)
    return adjacency + jnp.swapaxes(adjacency, -1, -2)


def index_batches(
    index: jax.Array, batch_size: int, drop_last: bool = False
) -> tuple[jax.Array, jax.Array]:
    """Split an index vector into [num_batches, batch_size] plus a bool mask of real entries.

    The last partial batch is kept and filled with copies of index[0] (masked out), unless
    `drop_last`.
    """
    index = jnp.asarray(index, jnp.int32)
    total = index.shape[0]
    if drop_last:
        full = total // batch_size
        return index[: full * batch_size].reshape(full, batch_size), jnp.ones((full, batch_size), bool)
    count = -(-total // batch_size)
    fill = count * batch_size - total
    padded = jnp.concatenate([index, jnp.full((fill,), index[0] if total else 0, jnp.int32)])
    mask = jnp.arange(count * batch_size) < total
    return padded.reshape(count, batch_size), mask.reshape(count, batch_size)
