"""NAS-Bench-101 cells as bit masks, and their pruning, vectorised over batches.

The official generator (nasbench/scripts/generate_graphs.py) walks adjacency matrices as integers:
edge x->y (x < y) is bit `x + y*(y-1)/2` (`graph_util.gen_is_edge_fn`). The numbering is
column-major, so a cell of n vertices uses exactly bits 0 .. n(n-1)/2 - 1 whatever the matrix size,
and the generator's order (bits ascending, then labelings in `itertools.product` order) is the order
of the integers used here. Working on these integers rather than on matrices makes enumeration,
canonical forms and the 13 million mutated graphs of the neighbour table cheap array arithmetic.

Labels inside this module are the official integers (-1 input, -2 output, 0 conv3x3, 1 conv1x1,
2 maxpool3x3), because the enumeration order and the hash depend on them; `nb101.py` maps them to
the project's op indices.
"""

from __future__ import annotations

import numpy as np

MAX_VERTICES = 7
MAX_EDGES = 9
NUM_LABELS = 3
INPUT_LABEL = -1
OUTPUT_LABEL = -2

EDGE_SRC, EDGE_DST = (
    np.array(a, dtype=np.int64)
    for a in zip(*[(x, y) for y in range(1, MAX_VERTICES) for x in range(y)], strict=True)
)
"""Endpoints of edge bit e (e = x + y(y-1)/2), for e in 0..20."""

NUM_EDGE_BITS = EDGE_SRC.size  # 21


def num_edge_bits(n: int) -> int:
    """Bits a cell of n vertices uses: the n(n-1)/2 edges among its vertices."""
    return n * (n - 1) // 2


def edge_index(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Bit index of edge src->dst (src < dst)."""
    return src + dst * (dst - 1) // 2


_EDGE_INDEX = edge_index(np.arange(MAX_VERTICES)[:, None], np.arange(MAX_VERTICES)[None, :])
"""[7, 7] bit index of edge a->b (meaningful for a < b)."""


def popcount(bits: np.ndarray) -> np.ndarray:
    """Number of set bits of non-negative int64 values below 2**32."""
    x = np.asarray(bits, dtype=np.int64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).astype(np.int64)
    x = x - ((x >> 1) & 0x55555555)
    x = (x & 0x33333333) + ((x >> 2) & 0x33333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F
    return (x * 0x01010101 & 0xFFFFFFFF) >> 24


def pack(adjacency: np.ndarray) -> np.ndarray:
    """int64 [...] bit masks of the strict upper triangle of bool/0-1 adjacency [..., n, n], n <= 7."""
    a = np.asarray(adjacency)
    n = a.shape[-1]
    m = num_edge_bits(n)
    upper = a[..., EDGE_SRC[:m], EDGE_DST[:m]] != 0
    packed = np.packbits(upper, axis=-1, bitorder="little").astype(np.int64)  # [..., ceil(m/8)]
    return (packed << (8 * np.arange(packed.shape[-1], dtype=np.int64))).sum(axis=-1)


def unpack(bits: np.ndarray, n: int = MAX_VERTICES) -> np.ndarray:
    """bool [..., n, n] adjacency of bit masks (inverse of `pack`)."""
    b = np.asarray(bits, dtype=np.int64)
    m = num_edge_bits(n)
    out = np.zeros(b.shape + (n, n), dtype=bool)
    out[..., EDGE_SRC[:m], EDGE_DST[:m]] = ((b[..., None] >> np.arange(m, dtype=np.int64)) & 1).astype(bool)
    return out


def labeling_weights(n: int) -> np.ndarray:
    """int64 [7]: weights turning interior labels into their `itertools.product` rank.

    The generator iterates `product(range(3), repeat=n-2)` for vertices 1..n-2, so vertex 1 is the
    most significant base-3 digit. Input, output and padding positions weigh 0.
    """
    w = np.zeros(MAX_VERTICES, dtype=np.int64)
    for v in range(1, n - 1):
        w[v] = NUM_LABELS ** (n - 2 - v)
    return w


LABELING_WEIGHTS = np.stack([labeling_weights(n) for n in range(MAX_VERTICES + 1)])
"""[8, 7]: row n is `labeling_weights(n)` (rows 0 and 1 are all zero)."""


def reachability(adjacency: np.ndarray, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(from_input, to_output) bool [B, N] of upper-triangular bool adjacency [B, N, N].

    `output` [B] is each graph's output vertex; vertices past it only reach the output through
    edges, which for well-formed padded cells they do not have.
    """
    a = np.asarray(adjacency, dtype=bool)
    batch, n = a.shape[0], a.shape[-1]
    out = np.asarray(output, dtype=np.int64)
    from_input = np.zeros((batch, n), dtype=bool)
    from_input[:, 0] = True
    for v in range(1, n):
        from_input[:, v] = (a[:, :v, v] & from_input[:, :v]).any(axis=1)
    to_output = np.zeros((batch, n), dtype=bool)
    for v in range(n - 1, -1, -1):
        to_output[:, v] = (out == v) | (a[:, v, v + 1 :] & to_output[:, v + 1 :]).any(axis=1)
    return from_input, to_output


def compress(adjacency: np.ndarray, labels: np.ndarray, keep: np.ndarray, pad: int) -> tuple:
    """Move the kept vertices of each graph to the front, in order; pad the rest.

    Returns (adjacency bool [B, N, N], labels [B, N] with `pad` past the kept vertices, n [B]).
    Deleting vertices keeps an upper-triangular matrix upper-triangular, as the official
    `np.delete` pruning does.
    """
    keep = np.asarray(keep, dtype=bool)
    order = np.argsort(~keep, axis=1, kind="stable")
    kept = np.take_along_axis(keep, order, axis=1)
    rows = np.arange(keep.shape[0])[:, None, None]
    adj = np.asarray(adjacency, dtype=bool)[rows, order[:, :, None], order[:, None, :]]
    adj &= kept[:, :, None] & kept[:, None, :]
    lab = np.where(kept, np.take_along_axis(np.asarray(labels), order, axis=1), pad)
    return adj, lab, keep.sum(axis=1)


def prune(edges: np.ndarray, labels: np.ndarray, output: np.ndarray, real: np.ndarray, pad: int) -> tuple:
    """The official `ModelSpec._prune`, vectorised: keep the vertices on some input->output path.

    edges: bool [B, N, N] upper-triangular; labels: [B, N]; output: [B] output vertex; real: bool
    [B, N] vertices that exist (padding is never kept). Returns (connected [B], kept [B, N],
    n [B], bits [B], labels [B, 7]) with the kept vertices moved to the front (`pad` after them).
    Bits and labels are meaningful only where connected and n <= 7.
    """
    edges = np.asarray(edges, dtype=bool)
    batch, size = edges.shape[0], edges.shape[-1]
    from_input, to_output = reachability(edges, output)
    kept = from_input & to_output & np.asarray(real, dtype=bool)
    connected = kept[:, 0] & kept[np.arange(batch), np.asarray(output, dtype=np.int64)]
    adj, lab, n = compress(edges, labels, kept, pad)
    width = min(size, MAX_VERTICES)
    bits = pack(adj[:, :width, :width])
    out_labels = np.full((batch, MAX_VERTICES), pad, dtype=lab.dtype)
    out_labels[:, :width] = lab[:, :width]
    return connected, kept, n, bits, out_labels


def prune_bits(n: int, bits: np.ndarray, labels: np.ndarray, pad: int) -> tuple:
    """`prune` for bit-packed graphs of n vertices (output n-1, no padding), without building matrices.

    Returns (connected [G], n [G], bits [G], labels [G, 7]); about 3x faster than `prune` on
    the millions of edited graphs of the neighbour table.
    """
    bits = np.asarray(bits, dtype=np.int64)
    count = bits.size
    m = num_edge_bits(n)
    edge = {(int(EDGE_SRC[e]), int(EDGE_DST[e])): ((bits >> e) & 1).astype(bool) for e in range(m)}
    from_input = np.zeros((count, n), dtype=bool)
    from_input[:, 0] = True
    for v in range(1, n):
        col = from_input[:, v]
        for u in range(v):
            col |= edge[(u, v)] & from_input[:, u]
    to_output = np.zeros((count, n), dtype=bool)
    to_output[:, n - 1] = True
    for v in range(n - 2, -1, -1):
        col = to_output[:, v]
        for w in range(v + 1, n):
            col |= edge[(v, w)] & to_output[:, w]
    kept = from_input & to_output
    pos = np.cumsum(kept, axis=1, dtype=np.int64) - 1
    new_bits = np.zeros(count, dtype=np.int64)
    for (u, v), present in edge.items():
        keep_edge = present & kept[:, u] & kept[:, v]
        new_bits |= keep_edge.astype(np.int64) << np.where(keep_edge, _EDGE_INDEX[pos[:, u], pos[:, v]], 0)
    out_labels = np.full((count, MAX_VERTICES), pad, dtype=np.asarray(labels).dtype)
    rows, cols = np.nonzero(kept)
    out_labels[rows, pos[rows, cols]] = np.asarray(labels)[rows, cols]
    return kept[:, n - 1] & kept[:, 0], kept.sum(axis=1), new_bits, out_labels
