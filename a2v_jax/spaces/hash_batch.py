"""The NAS-Bench-101 graph hash of many small graphs at once, optionally on several processes.

Building a cell set hashes every cell (15,625 for NB201, 600,000 sampled DARTS cells). The hash is
n+1 rounds of MD5 over strings, which cannot be vectorised; what can be cut is the Python overhead
around each MD5: this loop works on plain lists, memoises the first round (it only depends on
degrees and label) and spreads chunks over processes. The value is bit-identical to
`graph_hash.hash_module` (tested).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
from collections.abc import Iterator

import numpy as np

_md5 = hashlib.md5


def _hash_chunk(args: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    adjacency, labels = args
    n = adjacency.shape[1]
    out_deg = adjacency.sum(axis=2).tolist()
    in_deg = adjacency.sum(axis=1).tolist()
    first_round: dict[tuple[int, int, int], str] = {}
    result = []
    vertices = range(n)
    for adj, label, od, id_ in zip(adjacency.tolist(), labels.tolist(), out_deg, in_deg, strict=True):
        preds = [[w for w in vertices if adj[w][v]] for v in vertices]
        succs = [[w for w in vertices if row[w]] for row in adj]
        h = []
        for v in vertices:
            key = (od[v], id_[v], label[v])
            digest = first_round.get(key)
            if digest is None:
                digest = first_round[key] = _md5(str(key).encode()).hexdigest()
            h.append(digest)
        for _ in vertices:
            h = [
                _md5(
                    (
                        "".join(sorted([h[w] for w in preds[v]]))
                        + "|"
                        + "".join(sorted([h[w] for w in succs[v]]))
                        + "|"
                        + h[v]
                    ).encode()
                ).hexdigest()
                for v in vertices
            ]
        result.append(_md5(str(sorted(h)).encode()).hexdigest())
    return np.array(result, dtype="<U32")


def _chunks(adjacency: np.ndarray, labels: np.ndarray, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, adjacency.shape[0], size):
        yield adjacency[start : start + size], labels[start : start + size]


def _context() -> multiprocessing.context.BaseContext:
    """fork (instant) unless JAX is loaded: JAX runs threads, and forking a threaded process can
    deadlock (JAX warns), so then the workers come from a fork server that never imported JAX."""
    return multiprocessing.get_context("forkserver" if "jax" in sys.modules else "fork")


def default_workers() -> int:
    """Processes for hashing: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def hash_graphs(
    adjacency: np.ndarray, labels: np.ndarray, workers: int | None = 1, chunk: int = 4096
) -> np.ndarray:
    """<U32 [B]: `hash_module(adjacency[i], labels[i])` for every graph of a batch.

    adjacency: 0/1 [B, n, n] (row = source); labels: int [B, n]. `workers` > 1 hashes chunks on that
    many processes (None: all usable cores); the result is the same either way.
    """
    adj = np.asarray(adjacency).astype(np.int64, copy=False)
    lab = np.asarray(labels).astype(np.int64, copy=False)
    if adj.ndim != 3 or adj.shape[1] != adj.shape[2] or lab.shape != adj.shape[:2]:
        raise ValueError(f"expected adjacency [B, n, n] and labels [B, n]; got {adj.shape} and {lab.shape}")
    workers = default_workers() if workers is None else max(1, int(workers))
    if workers == 1 or adj.shape[0] <= chunk:
        return _hash_chunk((adj, lab)) if adj.shape[0] else np.zeros(0, dtype="<U32")
    with _context().Pool(workers) as pool:
        parts = pool.map(_hash_chunk, list(_chunks(adj, lab, chunk)))
    return np.concatenate(parts)


class HashPool:
    """A pool of hashing processes kept open across many batches (the DARTS sampler hashes
    batch after batch); `map` keeps the input order. With one worker it hashes in this process."""

    def __init__(self, workers: int | None = None, chunk: int = 2048):
        self.workers = default_workers() if workers is None else max(1, int(workers))
        self.chunk = chunk
        self._pool = _context().Pool(self.workers) if self.workers > 1 else None

    def map(self, adjacency: np.ndarray, labels: np.ndarray) -> np.ndarray:
        adj = np.asarray(adjacency).astype(np.int64, copy=False)
        lab = np.asarray(labels).astype(np.int64, copy=False)
        if adj.shape[0] == 0:
            return np.zeros(0, dtype="<U32")
        if self._pool is None:
            return _hash_chunk((adj, lab))
        size = max(1, min(self.chunk, -(-adj.shape[0] // self.workers)))
        return np.concatenate(self._pool.map(_hash_chunk, list(_chunks(adj, lab, size))))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> HashPool:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self._pool is not None and exc_type is not None:
            self._pool.terminate()  # interrupted: do not wait for queued chunks
            self._pool.join()
            self._pool = None
        self.close()
