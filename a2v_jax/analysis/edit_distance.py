"""Graph edit distance between cells of a space, vectorised over pairs.

The smoothness and walk analyses (paper §4.1, Figs 3 and 5) measure how far apart two cells are as
graphs. What is counted, with unit costs, per space:

* NB201: every cell is the same fixed DAG, so the distance is the number of the six edges whose op
  differs (0..6). This is exact: one mutation (one edge's op) is one edit.
* NB101: a cell is a labelled DAG on 7 *slots*: input in slot 0, output in slot 6, its interior
  vertices in slots 1..n-2 in stored order, the remaining slots empty (label "absent", no edges).
  The distance of cells a and b is the minimum, over the 5! = 120 matchings of their interior
  slots, of (ordered slot pairs whose edge differs) + (slots whose label differs). So adding or
  removing an edge costs 1, changing an op costs 1, and a vertex present in one cell only costs 1
  plus 1 per edge it has. This is the exact unit-cost graph edit distance with input matched to
  input and output to output; it ignores how vertices are numbered, so it is 0 only between a cell
  and itself (NB101 cells are unique up to isomorphism). A mutation that prunes nothing is at
  distance 1; an edge removal that cuts k vertices, with m edges besides the removed one, off every
  input-output path is at 1 + k + m (the mutation graph of pruned cells is not symmetric).
* DARTS: the 11-node encoding (two inputs, eight op nodes, output). Inputs and output are matched
  to themselves and the op nodes block to block: 4! orders of the four blocks x 2^4 swaps of the
  two ops within a block = 384 matchings, the symmetries of a genotype. Changing one op costs 1;
  moving an op's input costs the edges that change: 2 between c_{k-2} and c_{k-1}, 3 between an
  input cell and a block, 4 between two blocks. Matchings that split a block are not tried, so
  the value is the exact distance under that restriction (an upper bound on the unrestricted one).

Implementation: every cell is turned into slot labels and a slot adjacency once, and for each
matching its permuted adjacency is packed into 64-bit words and its labels into 4-bit fields. A
pair's cost under one matching is then a few XORs and popcounts; pairs are processed in chunks
as whole arrays (no Python loop over cells or pairs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache

import numpy as np

from ..spaces import PAD_OP, space_key

_CHUNK_ELEMENTS = 1 << 22
"""Pairs x matchings evaluated per chunk (bounds the temporary arrays to tens of MB)."""


def popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (NumPy's bitwise_count where it exists, a byte table otherwise)."""
    words = np.ascontiguousarray(words, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words).astype(np.int64)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
    return table[words.view(np.uint8).reshape(*words.shape, 8)].sum(axis=-1)


@cache
def matchings(space: str) -> np.ndarray:
    """int64 [P, S]: the slot matchings tried for `space`; row 0 is the identity."""
    key = space_key(space)
    if key == "nb201":
        return np.arange(6, dtype=np.int64)[None]
    if key == "nb101":
        rows = [(0, *p, 6) for p in itertools.permutations(range(1, 6))]
        return np.array(rows, dtype=np.int64)
    rows = []
    for order in itertools.permutations(range(4)):
        for swaps in itertools.product((0, 1), repeat=4):
            row = [0, 1]
            for block, swap in zip(order, swaps, strict=True):
                first, second = 2 + 2 * block, 3 + 2 * block
                row += [second, first] if swap else [first, second]
            rows.append(row + [10])
    return np.array(rows, dtype=np.int64)


def slot_graphs(space: str, adjacency: np.ndarray, ops: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels int64 [M, S], adjacency bool [M, S, S], vertex of each slot int64 [M, S], -1 if empty).

    NB201: the six edge ops (nodes 1..6), no adjacency (it is the same for every cell). NB101: the
    7-slot form of the module docstring. DARTS: the encoding as it is.
    """
    key = space_key(space)
    adjacency = np.asarray(adjacency).astype(bool)
    ops = np.asarray(ops).astype(np.int64)
    m = ops.shape[0]
    if key == "nb201":
        vertex = np.broadcast_to(np.arange(1, 7), (m, 6)).copy()
        return ops[:, 1:7], np.zeros((m, 6, 6), dtype=bool), vertex
    if key == "darts":
        return ops, adjacency, np.broadcast_to(np.arange(ops.shape[1]), ops.shape).copy()
    n = (ops != PAD_OP).sum(axis=1)
    slot = np.arange(7)[None, :]
    vertex = np.where((slot >= 1) & (slot <= (n - 2)[:, None]), slot, -1)
    vertex[:, 0] = 0
    vertex[:, 6] = n - 1
    safe = np.maximum(vertex, 0)
    present = vertex >= 0
    absent_label = 5  # the five NB101 ops are 0..4
    labels = np.where(present, np.take_along_axis(ops, safe, axis=1), absent_label)
    rows = np.arange(m)[:, None, None]
    slot_adj = adjacency[rows, safe[:, :, None], safe[:, None, :]] & present[:, :, None] & present[:, None, :]
    return labels, slot_adj, vertex


def _pack_bits(bits: np.ndarray) -> np.ndarray:
    """uint64 [..., W]: bool [..., B] packed 64 to a word."""
    flat = np.packbits(bits, axis=-1, bitorder="little")
    pad = (-flat.shape[-1]) % 8
    if pad:
        flat = np.concatenate([flat, np.zeros((*flat.shape[:-1], pad), np.uint8)], axis=-1)
    return np.ascontiguousarray(flat).view(np.uint64)


def _pack_labels(labels: np.ndarray) -> np.ndarray:
    """uint64 [...]: labels int [..., S] (S <= 16, values < 16) as 4-bit fields."""
    shifts = (4 * np.arange(labels.shape[-1])).astype(np.uint64)
    return np.bitwise_or.reduce(labels.astype(np.uint64) << shifts, axis=-1)


_NIBBLE_LOW = np.uint64(0x1111111111111111)


def _nibbles_differing(x: np.ndarray) -> np.ndarray:
    """Number of nonzero 4-bit fields of each uint64."""
    one, two, three = np.uint64(1), np.uint64(2), np.uint64(3)
    folded = (x | (x >> one) | (x >> two) | (x >> three)) & _NIBBLE_LOW
    return popcount(folded)


@dataclass(frozen=True)
class EditDistance:
    """Edit distances among M cells of one space (see the module docstring for what is counted).

    `pairs(i, j)` gives the distance of cells i[k] and j[k] (rows of the arrays given); `matrix()`
    all of them. Build with `EditDistance.of(space, adjacency, ops)`.
    """

    space: str
    labels: np.ndarray  # int64 [M, S]
    adjacency: np.ndarray  # bool [M, S, S]
    vertex: np.ndarray  # int64 [M, S]
    perms: np.ndarray  # int64 [P, S]
    packed_adj: np.ndarray  # uint64 [M, P, W]
    packed_labels: np.ndarray  # uint64 [M, P]

    @classmethod
    def of(cls, space: str, adjacency: np.ndarray, ops: np.ndarray) -> EditDistance:
        key = space_key(space)
        labels, adj, vertex = slot_graphs(key, adjacency, ops)
        perms = matchings(key)
        rows = np.arange(labels.shape[0])[:, None, None, None]
        permuted = adj[rows, perms[None, :, :, None], perms[None, :, None, :]]  # [M, P, S, S]
        packed_adj = _pack_bits(permuted.reshape(*permuted.shape[:2], -1))
        packed_labels = _pack_labels(labels[:, perms])  # [M, P]
        return cls(key, labels, adj, vertex, perms, packed_adj, packed_labels)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def _costs(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """int64 [Q, P]: cost of each matching for pairs (i, j); cell i unpermuted, cell j permuted."""
        adj = popcount(self.packed_adj[i, :1] ^ self.packed_adj[j]).sum(axis=-1)
        lab = _nibbles_differing(self.packed_labels[i, :1] ^ self.packed_labels[j])
        return adj + lab

    def pairs(self, i, j, matching: bool = False):
        """int64 [Q] distances of the pairs (i[k], j[k]); with matching=True also the best matching
        (int64 [Q] row of `perms`: slot s of cell i corresponds to slot perms[row, s] of cell j)."""
        i = np.asarray(i, dtype=np.int64).ravel()
        j = np.asarray(j, dtype=np.int64).ravel()
        if i.shape != j.shape:
            raise ValueError(f"pairs need index arrays of one length, got {i.shape} and {j.shape}")
        out = np.empty(i.shape, dtype=np.int64)
        best = np.empty(i.shape, dtype=np.int64)
        step = max(1, _CHUNK_ELEMENTS // len(self.perms))
        for start in range(0, i.size, step):
            sl = slice(start, start + step)
            costs = self._costs(i[sl], j[sl])
            best[sl] = np.argmin(costs, axis=1)
            out[sl] = np.take_along_axis(costs, best[sl, None], axis=1)[:, 0]
        return (out, best) if matching else out

    def matrix(self) -> np.ndarray:
        """int64 [M, M]: every pairwise distance (computed once per unordered pair)."""
        m = len(self)
        i, j = np.triu_indices(m, k=1)
        full = np.zeros((m, m), dtype=np.int64)
        d = self.pairs(i, j)
        full[i, j] = d
        full[j, i] = d
        return full

    def changes(self, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What cell b[k] changed with respect to cell a[k], under their best matching, in b's slots:
        (distance int64 [Q], changed or new ops bool [Q, S], gained edges bool [Q, S, S], edges lost
        between slots b still uses bool [Q, S, S]). `vertex[b]` maps the slots to b's vertices."""
        a = np.asarray(a, dtype=np.int64).ravel()
        b = np.asarray(b, dtype=np.int64).ravel()
        dist, best = self.pairs(a, b, matching=True)
        inverse = np.argsort(self.perms[best], axis=1)  # slot t of b <-> slot inverse[t] of a
        present = self.vertex[b] >= 0
        changed = (self.labels[b] != np.take_along_axis(self.labels[a], inverse, axis=1)) & present
        rows = np.arange(a.size)[:, None, None]
        adj_a = self.adjacency[a][rows, inverse[:, :, None], inverse[:, None, :]]
        adj_b = self.adjacency[b]
        gained = adj_b & ~adj_a
        lost = adj_a & ~adj_b & present[:, :, None] & present[:, None, :]
        return dist, changed, gained, lost

def edit_distance(space: str, adjacency_a, ops_a, adjacency_b, ops_b) -> np.ndarray:
    """int64 [B]: edit distance between cell k of batch a and cell k of batch b."""
    adj = np.concatenate([np.asarray(adjacency_a), np.asarray(adjacency_b)])
    ops = np.concatenate([np.asarray(ops_a), np.asarray(ops_b)])
    ed = EditDistance.of(space, adj, ops)
    b = np.asarray(ops_a).shape[0]
    return ed.pairs(np.arange(b), b + np.arange(b))
