"""The NAS-Bench-101 graph hash, shared by every space.

NAS-Bench-101 names a cell by an iterated MD5 over each vertex's (out-degree, in-degree, label)
and its in/out neighbours' hashes (a Weisfeiler-Lehman style refinement, run once per vertex).
The value must be bit-identical to the official `hash_module`, because the official dataset is
keyed by it; the string formats below (`str` of an int tuple, `str` of a sorted list) are part of
that contract. The other spaces reuse it so that uniqueness means the same thing everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def hash_module(matrix: np.ndarray, labeling: Sequence[int]) -> str:
    """Isomorphism-invariant MD5 fingerprint of a labelled DAG.

    `matrix` is a square 0/1 adjacency (row = source); `labeling` gives one int per vertex
    (NB101 uses -1 input, -2 output, 0 conv3x3, 1 conv1x1, 2 maxpool3x3).
    """
    m = np.asarray(matrix)
    n = m.shape[0]
    labels = [int(x) for x in labeling]
    if m.ndim != 2 or m.shape[1] != n or len(labels) != n:
        raise ValueError(f"matrix {m.shape} and labeling of length {len(labels)} do not match")
    out_deg = m.sum(axis=1).tolist()
    in_deg = m.sum(axis=0).tolist()
    preds = [[w for w in range(n) if m[w, v]] for v in range(n)]
    succs = [[w for w in range(n) if m[v, w]] for v in range(n)]
    hashes = [_md5(str((int(out_deg[v]), int(in_deg[v]), labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [
            _md5(
                "".join(sorted(hashes[w] for w in preds[v]))
                + "|"
                + "".join(sorted(hashes[w] for w in succs[v]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return _md5(str(sorted(hashes)))


def prune(matrix: np.ndarray, ops: Sequence) -> tuple[np.ndarray, list] | None:
    """Drop vertices not on some input->output path (the official ModelSpec pruning).

    Returns the pruned (matrix, ops), or None when input and output are disconnected.
    Vertex 0 is the input and vertex n-1 the output; `matrix` must be upper-triangular.
    A single vertex is no cell (the official check `len(extraneous) > n - 2` holds for n = 1).
    """
    m = np.asarray(matrix)
    n = m.shape[0]
    if n < 2:
        return None
    from_input = np.zeros(n, dtype=bool)
    from_input[0] = True
    for v in range(1, n):
        from_input[v] = bool((m[:v, v].astype(bool) & from_input[:v]).any())
    to_output = np.zeros(n, dtype=bool)
    to_output[n - 1] = True
    for v in range(n - 2, -1, -1):
        to_output[v] = bool((m[v, v + 1 :].astype(bool) & to_output[v + 1 :]).any())
    keep = from_input & to_output
    if not keep[0] or not keep[n - 1]:
        return None
    idx = np.flatnonzero(keep)
    return m[np.ix_(idx, idx)].copy(), [ops[i] for i in idx]
