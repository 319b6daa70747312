"""The NAS-Bench-101 mutation graph: which cells are one edit away from each cell.

Regularized evolution mutates a parent by one edit; knowing every cell's neighbours in advance turns
a mutation into one random index into a table, so whole populations over hundreds of seeds mutate
inside one jitted step. 423,624 cells have about 13 million edits; each edited graph is pruned and
identified by its canonical form (`nb101_canonical`), all as array arithmetic, without MD5.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np

from . import nb101_bits as bits_
from . import nb101_canonical as canon
from .graph_hash import hash_module

if TYPE_CHECKING:
    from .base import CellSet
    from .nb101 import NB101Space


def mutation_count(n: int) -> int:
    """Edits of a cell of n vertices: n(n-1)/2 edge flips and two other ops per interior vertex."""
    return bits_.num_edge_bits(n) + 2 * (n - 2)


def mutate(n: int, bits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every single edit of cells of n vertices: (bits [C, M], official labels int8 [C, M, 7]).

    Columns: edge flips in bit order, then for each interior vertex v = 1..n-2 its label + 1 and
    + 2 (mod 3).
    """
    m = bits_.num_edge_bits(n)
    edits = mutation_count(n)
    out_bits = np.repeat(np.asarray(bits, dtype=np.int64)[:, None], edits, axis=1)
    out_bits[:, :m] ^= np.int64(1) << np.arange(m, dtype=np.int64)
    out_labels = np.repeat(np.asarray(labels, dtype=np.int8)[:, None, :], edits, axis=1)
    col = m
    for v in range(1, n - 1):
        for shift in (1, 2):
            out_labels[:, col, v] = (out_labels[:, col, v] + shift) % bits_.NUM_LABELS
            col += 1
    return out_bits, out_labels


def edited_keys(n: int, bits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Canonical key of each edited graph (flat arrays of one vertex count n) after the official
    pruning; -1 where the result is not a valid cell (input cut off from output, > 9 edges)."""
    connected, n2, b2, l2 = bits_.prune_bits(n, bits, labels, canon.PAD_LABEL)
    valid = connected & (bits_.popcount(np.where(connected, b2, 0)) <= bits_.MAX_EDGES)
    keys = canon.canonical_keys(np.where(valid, n2, 0), b2, l2)
    return np.where(valid, keys, -1)


def _slow_rows(space: NB101Space, cells: CellSet, keys: np.ndarray) -> np.ndarray:
    """Rows of graphs given by canonical keys, through the MD5 hash (fallback, never expected)."""
    rows = np.full(keys.shape, -1, dtype=np.int64)
    for i, key in enumerate(keys.tolist()):
        n, b, rank = (int(x[0]) for x in canon.unpack_key(np.array([key])))
        labels = canon.labels_of_rank(n, np.array([rank]))[0, :n].tolist()
        try:
            rows[i] = cells.index_of(hash_module(bits_.unpack(b, n).astype(np.int64), labels))[0]
        except KeyError:
            pass
    return rows


def mutation_neighbours(
    space: NB101Space, cells: CellSet, progress: bool = False, chunk_cells: int = 32768
) -> np.ndarray:
    """int32 [N, K] neighbour table of `cells` (see `NB101Space.neighbours`)."""
    from tqdm.auto import tqdm

    from .nb101 import NUM_CELLS, official_labels

    count = len(cells)
    n_all = cells.num_vertices
    bits_all = bits_.pack(cells.adjacency)
    labels_all = official_labels(cells.ops)
    width = mutation_count(space.num_nodes)
    table = np.full((count, width), -1, dtype=np.int64)
    full = count == NUM_CELLS
    fallbacks = 0
    with tqdm(total=count, desc="nb101 neighbours", unit="cell", disable=not progress, mininterval=1.0) as bar:
        for n in range(2, space.num_nodes + 1):
            group = np.flatnonzero(n_all == n)
            for start in range(0, group.size, chunk_cells):
                idx = group[start : start + chunk_cells]
                mb, ml = mutate(n, bits_all[idx], labels_all[idx])
                keys = edited_keys(n, mb.ravel(), ml.reshape(-1, bits_.MAX_VERTICES))
                rows = space._rows_of_keys(cells, keys)
                missing = np.flatnonzero((keys >= 0) & (rows < 0))
                if full and missing.size:  # every valid edit is a cell of the space
                    rows[missing] = _slow_rows(space, cells, keys[missing])
                    fallbacks += missing.size
                table[idx, : mb.shape[1]] = rows.reshape(mb.shape)
                bar.update(idx.size)
    if fallbacks:
        warnings.warn(f"{fallbacks} edited graphs were found only through their hash", RuntimeWarning, stacklevel=2)
    return _dedupe(table)


def _dedupe(table: np.ndarray) -> np.ndarray:
    """Drop -1, self and repeats from each row; sort ascending; pad with -1 to the longest row."""
    count = table.shape[0]
    big = np.iinfo(np.int64).max
    t = np.where((table < 0) | (table == np.arange(count)[:, None]), big, table)
    t.sort(axis=1)
    t[:, 1:][t[:, 1:] == t[:, :-1]] = big
    t.sort(axis=1)
    width = max(int((t != big).sum(axis=1).max(initial=0)), 1)
    return np.where(t[:, :width] == big, -1, t[:, :width]).astype(np.int32)
