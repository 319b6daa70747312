"""Canonical forms of NAS-Bench-101 cells: the official enumeration without hashing every graph.

The official dataset names each cell by the FIRST labelled graph the generator meets in its order
(vertices 2..7, edge bit masks ascending, full DAGs with <= 9 edges, labelings in
`itertools.product` order) among those with the same MD5 graph hash. Hashing all 1,293,208
labelled graphs in Python takes minutes; this module gets the same answer from structure:

* Two labelled graphs of the space are isomorphic iff one is the other with its interior vertices
  renumbered (input and output carry unique labels, so they stay put). The renumberings that keep
  a matrix upper-triangular are exactly the graph's other encodings in the enumeration, so the
  first encoding of an isomorphism class is the minimum over those renumberings of
  (bit mask, labeling rank): a canonical form, computable for any graph.
* Only 6,472 matrices are full DAGs with <= 9 edges (4,793 of them with 7 vertices). For each one
  `MatrixTable` stores its smallest renumbered mask and every renumbering reaching it; a labelled
  graph's canonical form is then one table look-up plus a minimum of labeling ranks over those
  renumberings (almost always one or two).
* The hash is an isomorphism invariant, so each hash class is a union of isomorphism classes and
  its first graph is the first of their canonical forms. `enumerate_classes` yields the canonical
  forms in enumeration order; `nb101.py` hashes only those (423,624) and keeps the first per hash,
  which is the official rule whatever the hash does. That no two classes share a hash (the count
  stays 423,624, as NAS-Bench-101 reports) is then checked, not assumed.

Keys pack (n, bit mask, labeling rank) into one int64 whose order is the enumeration order.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import sys
from binascii import hexlify
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .nb101_bits import (
    EDGE_DST,
    EDGE_SRC,
    INPUT_LABEL,
    LABELING_WEIGHTS,
    MAX_EDGES,
    MAX_VERTICES,
    NUM_LABELS,
    OUTPUT_LABEL,
    edge_index,
    num_edge_bits,
    popcount,
)

PAD_LABEL = -3
"""Official-label value of a padding vertex (as in the public NAS-Bench-101 JSON exports)."""

_RANKS = NUM_LABELS ** (MAX_VERTICES - 2)  # 243 labelings of 5 interior vertices
_BITS = 1 << num_edge_bits(MAX_VERTICES)


def pack_key(n: np.ndarray, bits: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """int64 key ordered like the official enumeration: by n, then bit mask, then labeling rank."""
    n, bits, rank = (np.asarray(x, dtype=np.int64) for x in (n, bits, rank))
    return (n * _BITS + bits) * _RANKS + rank


def unpack_key(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = np.asarray(key, dtype=np.int64)
    nb, rank = np.divmod(key, _RANKS)
    n, bits = np.divmod(nb, _BITS)
    return n, bits, rank


def labeling_rank(n: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Position of each labeling in `itertools.product(range(3), repeat=n-2)` (vertex 1 first)."""
    w = LABELING_WEIGHTS[np.asarray(n, dtype=np.int64)]
    lab = np.asarray(labels, dtype=np.int64)
    return (np.where(w > 0, lab, 0) * w).sum(axis=-1)


def labels_of_rank(n: int, rank: np.ndarray) -> np.ndarray:
    """int8 [len(rank), 7] official labels (input, interior digits, output, padding) of ranks."""
    rank = np.asarray(rank, dtype=np.int64)
    out = np.full((rank.size, MAX_VERTICES), PAD_LABEL, dtype=np.int8)
    out[:, 0] = INPUT_LABEL
    out[:, n - 1] = OUTPUT_LABEL
    for v in range(1, n - 1):
        out[:, v] = (rank // NUM_LABELS ** (n - 2 - v)) % NUM_LABELS
    return out


def _full_dag_masks(n: int) -> np.ndarray:
    """All bit masks of n-vertex full DAGs (every vertex on an input->output path) with <= 9 edges,
    ascending. Same test as `graph_util.is_full_dag`: only the output lacks out-edges and only the
    input lacks in-edges."""
    m = num_edge_bits(n)
    bits = np.arange(1 << m, dtype=np.int64)
    ok = popcount(bits) <= MAX_EDGES
    src, dst = EDGE_SRC[:m], EDGE_DST[:m]
    for v in range(n):
        if v < n - 1:  # needs an out-edge
            ok &= (bits & int((1 << np.flatnonzero(src == v)).sum())) != 0
        if v > 0:  # needs an in-edge
            ok &= (bits & int((1 << np.flatnonzero(dst == v)).sum())) != 0
    return bits[ok]


@dataclass(frozen=True)
class MatrixTable:
    """Every full-DAG matrix of the space with its canonical renumbering(s).

    Row r is matrix `bits[r]` on `n[r]` vertices; `canon[r]` is the smallest bit mask among its
    upper-triangular renumberings, and `perms[start[r] : start[r] + count[r]]` are all the
    renumberings reaching it, as gather indices (`new = old[perm][:, perm]`, `labels[perm]`).
    `slot[base[n] + bits]` is the row of a matrix, -1 if it is not a full DAG with <= 9 edges.
    """

    n: np.ndarray
    bits: np.ndarray
    canon: np.ndarray
    start: np.ndarray
    count: np.ndarray
    perms: np.ndarray
    base: np.ndarray
    slot: np.ndarray

    def __len__(self) -> int:
        return int(self.n.size)

    def rows(self, n: np.ndarray, bits: np.ndarray) -> np.ndarray:
        """Table row of each (n, bit mask); -1 where it is not a full DAG with <= 9 edges."""
        n = np.asarray(n, dtype=np.int64)
        bits = np.asarray(bits, dtype=np.int64)
        inside = (n >= 2) & (n <= MAX_VERTICES) & (bits >= 0)
        m = np.where(inside, n * (n - 1) // 2, 0)
        inside &= bits < (np.int64(1) << m)
        idx = np.where(inside, self.base[np.clip(n, 0, MAX_VERTICES)] + bits, 0)
        return np.where(inside, self.slot[idx], -1)


@lru_cache(maxsize=1)
def matrix_table() -> MatrixTable:
    """Build the table (about 0.2 s; cached for the process)."""
    ns, bitss, canons, starts, counts, perm_blocks = [], [], [], [], [], []
    base = np.zeros(MAX_VERTICES + 1, dtype=np.int64)
    slot_parts = []
    offset_rows = 0
    offset_perms = 0
    offset_slots = 0
    for n in range(MAX_VERTICES + 1):
        base[n] = offset_slots
        if n < 2:
            continue
        m = num_edge_bits(n)
        rows = _full_dag_masks(n)
        invs = np.array([(0, *p, n - 1) for p in itertools.permutations(range(1, n - 1))], dtype=np.int64)
        src, dst = EDGE_SRC[:m], EDGE_DST[:m]
        new_bits = np.zeros((rows.size, len(invs)), dtype=np.int64)
        legal = np.ones((rows.size, len(invs)), dtype=bool)
        present = ((rows[:, None] >> np.arange(m)) & 1).astype(np.int64)  # [R, m]
        for j, inv in enumerate(invs):
            pos = np.argsort(inv)  # old vertex -> new position
            a, b = pos[src], pos[dst]
            backwards = int((1 << np.flatnonzero(a > b)).sum())
            legal[:, j] = (rows & backwards) == 0
            new_bits[:, j] = (present << edge_index(np.minimum(a, b), np.maximum(a, b))).sum(axis=1)
        canon = np.where(legal, new_bits, np.iinfo(np.int64).max).min(axis=1)
        reach = legal & (new_bits == canon[:, None])
        r_idx, p_idx = np.nonzero(reach)  # row-major: grouped by row
        count = reach.sum(axis=1)
        full_invs = np.tile(np.arange(MAX_VERTICES, dtype=np.int8), (len(invs), 1))
        full_invs[:, :n] = invs
        ns.append(np.full(rows.size, n, dtype=np.int64))
        bitss.append(rows)
        canons.append(canon)
        starts.append(offset_perms + np.concatenate([[0], np.cumsum(count)[:-1]]))
        counts.append(count)
        perm_blocks.append(full_invs[p_idx])
        slot = np.full(1 << m, -1, dtype=np.int32)
        slot[rows] = offset_rows + np.arange(rows.size, dtype=np.int32)
        slot_parts.append(slot)
        offset_rows += rows.size
        offset_perms += r_idx.size
        offset_slots += 1 << m
    return MatrixTable(
        n=np.concatenate(ns),
        bits=np.concatenate(bitss),
        canon=np.concatenate(canons),
        start=np.concatenate(starts).astype(np.int64),
        count=np.concatenate(counts).astype(np.int64),
        perms=np.concatenate(perm_blocks),
        base=base,
        slot=np.concatenate(slot_parts),
    )


def canonical_keys(n: np.ndarray, bits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Canonical key of each labelled graph (n vertices, bit mask, official labels [G, 7]).

    The graphs must be pruned (full DAGs); -1 for one that is not a full DAG with <= 9 edges.
    Only interior labels (vertices 1..n-2) are read; they must be in 0..2.
    """
    table = matrix_table()
    n = np.asarray(n, dtype=np.int64)
    rows = table.rows(n, bits)
    keys = np.full(n.shape, -1, dtype=np.int64)
    ok = np.flatnonzero(rows >= 0)
    if ok.size == 0:
        return keys
    r = rows[ok]
    count = table.count[r]
    first = np.cumsum(count) - count
    g = np.repeat(np.arange(ok.size), count)
    p = table.start[r][g] + (np.arange(g.size) - first[g])
    lab = np.take_along_axis(np.asarray(labels, dtype=np.int8)[ok][g], table.perms[p].astype(np.int64), axis=1)
    rank = np.minimum.reduceat(labeling_rank(n[ok][g], lab), first)
    keys[ok] = pack_key(n[ok], table.canon[r], rank)
    return keys


def enumerate_classes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, bits, official labels int8 [R, 7]) of the first graph of every isomorphism class, in the
    official enumeration order. Padding labels are `PAD_LABEL`."""
    table = matrix_table()
    ns, bitss, labs = [], [], []
    for n in range(2, MAX_VERTICES + 1):
        rows = np.flatnonzero((table.n == n) & (table.canon == table.bits))
        ranks = np.arange(NUM_LABELS ** (n - 2), dtype=np.int64)
        g_bits = np.repeat(table.bits[rows], ranks.size)
        g_rank = np.tile(ranks, rows.size)
        g_labels = labels_of_rank(n, g_rank)
        g_n = np.full(g_bits.size, n, dtype=np.int64)
        first = canonical_keys(g_n, g_bits, g_labels) == pack_key(g_n, g_bits, g_rank)
        ns.append(g_n[first])
        bitss.append(g_bits[first])
        labs.append(g_labels[first])
    return np.concatenate(ns), np.concatenate(bitss), np.concatenate(labs)


# --- the official MD5 hash, for many bit-packed graphs at once ------------------------------------

_md5 = hashlib.md5


def _neighbour_lists(n: int, bits: int) -> tuple[list[list[int]], list[list[int]]]:
    m = num_edge_bits(n)
    preds: list[list[int]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for e in range(m):
        if (bits >> e) & 1:
            x, y = int(EDGE_SRC[e]), int(EDGE_DST[e])
            succs[x].append(y)
            preds[y].append(x)
    return preds, succs


def _hash_chunk(args: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[str]:
    """`graph_hash.hash_module` for bit-packed graphs, the same computation with less overhead:
    neighbour lists shared per matrix, vertex hashes kept as hex bytes."""
    ns, bitss, labels = args
    structure: dict[tuple[int, int], tuple] = {}
    first: dict[tuple[int, int, int], bytes] = {}
    out = []
    for n, bits, lab in zip(ns.tolist(), bitss.tolist(), labels.tolist(), strict=True):
        s = structure.get((n, bits))
        if s is None:
            preds, succs = _neighbour_lists(n, bits)
            s = structure[(n, bits)] = (preds, succs, range(n))
        preds, succs, verts = s
        hashes = []
        for v in verts:
            k = (len(succs[v]), len(preds[v]), lab[v])
            h = first.get(k)
            if h is None:
                h = first[k] = _md5(str(k).encode()).hexdigest().encode()
            hashes.append(h)
        for _ in verts:
            new = []
            for v in verts:
                p, q = preds[v], succs[v]
                a = hashes[p[0]] if len(p) == 1 else b"".join(sorted([hashes[w] for w in p]))
                b = hashes[q[0]] if len(q) == 1 else b"".join(sorted([hashes[w] for w in q]))
                new.append(hexlify(_md5(b"|".join((a, b, hashes[v]))).digest()))
            hashes = new
        out.append(_md5(str(sorted([h.decode() for h in hashes])).encode()).hexdigest())
    return out


def _fork_context() -> multiprocessing.context.BaseContext | None:
    """A fork context when forking is safe here, else None (hash in this process).

    Forking is fast and needs no `if __name__ == "__main__"` guard in the caller's script (spawn
    does), but it is unsafe once JAX has started its threads, so a process that imported JAX
    hashes alone (about twice as slow, still well under a minute).
    """
    if "jax" in sys.modules or "fork" not in multiprocessing.get_all_start_methods():
        return None
    return multiprocessing.get_context("fork")


def hash_graphs(
    n: np.ndarray,
    bits: np.ndarray,
    labels: np.ndarray,
    workers: int | None = None,
    chunk: int = 8192,
    progress: bool = False,
) -> np.ndarray:
    """<U32 [G] official hashes of bit-packed graphs with official labels, on up to `workers`
    processes (default: all cores, at most 8; see `_fork_context` for when it is one)."""
    from tqdm.auto import tqdm

    n, bits, labels = np.asarray(n), np.asarray(bits), np.asarray(labels)
    pieces = [(n[i : i + chunk], bits[i : i + chunk], labels[i : i + chunk]) for i in range(0, n.size, chunk)]
    workers = min(os.cpu_count() or 1, 8) if workers is None else max(1, int(workers))
    context = _fork_context() if workers > 1 and len(pieces) > 1 else None
    out: list[str] = []
    if context is None:
        with tqdm(total=int(n.size), desc="nb101 hashes", unit="cell", disable=not progress, mininterval=1.0) as bar:
            for piece in pieces:
                out.extend(_hash_chunk(piece))
                bar.update(piece[0].size)
    else:
        # Workers are forked on the first submit, before the progress bar starts its monitor thread.
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_hash_chunk, piece) for piece in pieces]
            with tqdm(total=int(n.size), desc="nb101 hashes", unit="cell", disable=not progress, mininterval=1.0) as bar:
                for piece, future in zip(pieces, futures, strict=True):
                    out.extend(future.result())
                    bar.update(piece[0].size)
    return np.array(out, dtype="<U32").reshape(n.shape)
