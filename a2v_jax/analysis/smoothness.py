"""Smoothness of an encoding (paper §4.1, Fig 3): latent L2 distance against graph edit distance.

The cells: a random walk of `length` (1,000) distinct cells, consecutive ones one edit apart, as
the paper samples them. Each step moves to a uniformly drawn neighbour of the current cell, from
the space's mutation table (`SearchSpace.neighbours`) restricted to neighbours one edit away, that
has not been visited yet; only when all of them have been does it pass through a visited one (the
walk then ends with more steps than cells; `steps` in the JSON says how many). The walk starts at
a random cell with the most vertices of the space.

"One edit away": every NB201 neighbour is (one edge's op). An NB101 neighbour is one edit of the
stored, pruned cell; when the edit cuts vertices off every input-output path the official pruning
removes them and the result is several edits away (see `edit_distance`). Those are the neighbours
with fewer vertices, and they are left out, so the walk keeps its vertex count: the published
script also walked through 7-vertex cells only. DARTS has no mutation table (its cell set is a
sample of a space of ~10^9 cells, so a cell one edit away is almost never in it): there the cells
are a uniform random sample of the same size, and the edit distances are correspondingly larger.

For every pair of these cells: the edit distance (`edit_distance`) and, per encoding, the L2
distance of their rows. Reported per encoding and edit distance: count, mean, and the box-plot
statistics that are drawn (quartiles, whiskers at the furthest points within 1.5 IQR, no
outliers drawn); the Spearman rank correlation of L2 with edit distance over all pairs; the
median L2 at edit distances 1..6 and whether it increases strictly over them.
"""

from __future__ import annotations

import time
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..spaces import CellSet, SearchSpace
from .edit_distance import EditDistance

MONOTONE_RANGE = tuple(range(1, 7))


@partial(jax.jit, static_argnames=("length", "max_steps"))
def _random_walk(neighbours: jax.Array, start: jax.Array, key: jax.Array, length: int, max_steps: int):
    count = neighbours.shape[0]

    def cond(carry):
        _, _, _, distinct, steps, _ = carry
        return (distinct < length) & (steps < max_steps)

    def body(carry):
        current, visited, cells, distinct, steps, k = carry
        k, sub = jax.random.split(k)
        row = neighbours[current]
        real = row >= 0
        fresh = real & ~visited[jnp.maximum(row, 0)]
        allowed = jnp.where(fresh.any(), fresh, real)
        choice = jax.random.categorical(sub, jnp.where(allowed, 0.0, -jnp.inf))
        nxt = jnp.where(allowed.any(), row[choice], current)
        new = ~visited[nxt]
        cells = jnp.where(new, cells.at[distinct].set(nxt), cells)
        return nxt, visited.at[nxt].set(True), cells, distinct + new, steps + 1, k

    visited = jnp.zeros(count, dtype=bool).at[start].set(True)
    cells = jnp.full(length, -1, dtype=jnp.int32).at[0].set(start)
    out = jax.lax.while_loop(cond, body, (start, visited, cells, jnp.int32(1), jnp.int32(0), key))
    return out[2], out[3], out[4]


def random_walk(neighbours: np.ndarray, start: int, length: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """(int64 [<= length] distinct cells in the order first met, steps taken) of a self-avoiding-
    where-possible random walk through a -1 padded neighbour table (at most 20 x length steps)."""
    if length < 1:
        raise ValueError(f"a walk needs at least one cell, got length {length}")
    table = jnp.asarray(np.asarray(neighbours, dtype=np.int32))
    key = jax.random.fold_in(jax.random.key(seed), 0x3A1C)
    cells, distinct, steps = _random_walk(table, jnp.int32(start), key, length, 20 * length)
    return np.asarray(cells)[: int(distinct)].astype(np.int64), int(steps)


def one_edit_neighbours(space: SearchSpace, cells: CellSet) -> np.ndarray | None:
    """int32 [N, K] mutation neighbours one edit away (see the module docstring); None when the
    space has no mutation table."""
    try:
        table = np.asarray(space.neighbours(cells), dtype=np.int32)
    except NotImplementedError:
        return None
    n = cells.num_vertices
    same = (table >= 0) & (n[np.maximum(table, 0)] == n[:, None])
    return np.where(same, table, -1).astype(np.int32)


def walk_cells(space: SearchSpace, cells: CellSet, length: int, seed: int = 0) -> tuple[np.ndarray, dict]:
    """(cells int64 [M], how they were drawn) for the smoothness analysis."""
    rng = np.random.default_rng([seed, 0x5300])
    length = min(length, len(cells))
    table = one_edit_neighbours(space, cells)
    if table is None:
        chosen = np.sort(rng.choice(len(cells), length, replace=False))
        return chosen, {"kind": "uniform sample", "reason": f"the {space.name} space has no mutation-neighbour table",
                        "cells": int(chosen.size)}
    n = cells.num_vertices
    candidates = np.flatnonzero((n == n.max()) & (table >= 0).any(axis=1))
    start = int(rng.choice(candidates))
    walk, steps = random_walk(table, start, length, seed)
    return walk, {"kind": "random walk", "start": start, "steps": steps, "cells": int(walk.size),
                  "neighbours": "one edit away, same vertex count"}


def pair_l2(values: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """float64 [Q] L2 distance of rows i[k], j[k] (through the Gram matrix of the rows involved)."""
    x = np.asarray(values, dtype=np.float64)
    x = x - x.mean(axis=0)
    gram = x @ x.T
    sq = np.diag(gram)
    return np.sqrt(np.maximum(sq[i] + sq[j] - 2.0 * gram[i, j], 0.0))


def box_stats(values: np.ndarray) -> dict[str, float]:
    """The numbers a box plot draws (matplotlib's convention: whiskers at 1.5 IQR) and the mean."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    iqr = q3 - q1
    lo = v[v >= q1 - 1.5 * iqr][0]
    hi = v[v <= q3 + 1.5 * iqr][-1]
    return {"count": int(v.size), "mean": float(v.mean()), "q1": float(q1), "median": float(med),
            "q3": float(q3), "whislo": float(lo), "whishi": float(hi)}


def smoothness(
    space: SearchSpace, cells: CellSet, encodings: dict[str, np.ndarray], walk: np.ndarray, drawn: dict,
    progress=None,
) -> dict:
    """The smoothness analysis over `walk` (cell rows), for encodings {name: [N, d]}."""
    from scipy.stats import spearmanr

    t0 = time.perf_counter()
    ed = EditDistance.of(space.name, cells.adjacency[walk], cells.ops[walk])
    i, j = np.triu_indices(walk.size, k=1)
    dist = ed.pairs(i, j)
    consecutive = ed.pairs(np.arange(walk.size - 1), np.arange(1, walk.size))
    ed_seconds = time.perf_counter() - t0
    values = np.unique(dist)
    results = {}
    for name, f in encodings.items():
        l2 = pair_l2(np.asarray(f)[walk], i, j)
        by = {int(e): box_stats(l2[dist == e]) for e in values}
        rho, p = spearmanr(l2, dist)
        medians = {e: by[e]["median"] for e in MONOTONE_RANGE if e in by}
        med = [medians.get(e, np.nan) for e in MONOTONE_RANGE]
        results[name] = {
            "spearman_rho": float(rho),
            "spearman_p": float(p),
            "median_l2_by_edit_distance_1_to_6": {str(e): v for e, v in medians.items()},
            "median_increases_1_to_6": bool(np.all(np.diff(med) > 1e-9 * np.nanmax(np.abs(med))))
            if len(medians) == 6 else None,
            "by_edit_distance": {str(e): s for e, s in by.items()},
        }
        if progress is not None:
            progress(f"smoothness {name}: Spearman rho {rho:.3f}; median L2 at edit distance 1..6: "
                     + " ".join(f"{v:.3g}" for v in med))
    counts = {str(int(e)): int((dist == e).sum()) for e in values}
    return {
        "cells": drawn,
        "walk": walk.tolist(),
        "pairs": int(dist.size),
        "pairs_by_edit_distance": counts,
        "consecutive_edit_distance": {str(int(e)): int((consecutive == e).sum()) for e in np.unique(consecutive)},
        "edit_distance_seconds": ed_seconds,
        "encodings": results,
    }
