"""Nearest-neighbour walks through the latent space (paper §4.1, Fig 5; appendix Figs 11-13).

From a start cell, each step moves to the cell nearest (L2) to the current one among those not
visited yet (ties go to the lower cell index), as the paper builds its sequences. All starts of one
encoding run as one vmapped `lax.scan`. Reported per encoding and start: the cells, the edit
distance between consecutive cells (`edit_distance`) and its average, and for the figure what each
cell changed with respect to the one before it (ops and new edges, under the best matching of the
two graphs). The same start cells are used for every encoding.

Decoded interpolation (with a pretrained model, `--run DIR`): the two end cells are encoded, the
points (1 - t) z_a + t z_b on the segment between their latent codes (per vertex, as the decoder
takes them) are decoded, and each decoding is checked for validity and looked up in the cell set.
The model comes from `a2v_jax.pretrain.load_model(run_dir)`; `load_model` below is the one place
that touches it, so the analysis depends only on this interface:

    model.space                      the space's name
    model.encode((adjacency, ops))   -> z float [B, n, d] (per-vertex latent means) of a batch of
                                        cells given as an (adjacency [B, n, n], ops [B, n]) pair
    model.decode(z)                  -> (ops int8 [B, n], adjacency uint8 [B, n, n])
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..spaces import CellSet, SearchSpace
from .edit_distance import EditDistance

_DIRECT_LIMIT = 1 << 26
"""Walks x cells x dims up to which distances are computed as sums of squared differences."""


@partial(jax.jit, static_argnames=("steps", "direct"))
def _nearest_walks(x: jax.Array, starts: jax.Array, steps: int, direct: bool) -> jax.Array:
    count = x.shape[0]
    norms = jnp.sum(x * x, axis=1)

    def one(start):
        def step(carry, t):
            current, visited = carry
            c = x[current]
            if direct:
                d2 = jnp.sum((x - c) ** 2, axis=1)
            else:  # |x|^2 - 2 x.c + |c|^2 on centred features: no [N, d] temporary
                d2 = norms - 2.0 * (x @ c) + norms[current]
            d2 = jnp.where(visited, jnp.inf, d2)
            nxt = jnp.argmin(d2).astype(jnp.int32)
            return (nxt, visited.at[nxt].set(True)), nxt

        visited = jnp.zeros(count, dtype=bool).at[start].set(True)
        _, path = jax.lax.scan(step, (start, visited), jnp.arange(steps))
        return jnp.concatenate([start[None], path])

    return jax.vmap(one)(starts)


def nearest_walks(values: np.ndarray, starts, steps: int) -> np.ndarray:
    """int64 [W, steps + 1]: for each start, the start then `steps` nearest unvisited cells (L2).

    Distances are exact sums of squared differences while walks x cells x dims stays under 2^26;
    beyond, |x|^2 - 2 x.c + |c|^2 on mean-centred float32 features (NB101's 364-d path encoding).
    """
    starts = np.atleast_1d(np.asarray(starts, dtype=np.int32))
    count, dim = np.shape(values)
    if steps < 1 or steps >= count:
        raise ValueError(f"a walk takes 1 to {count - 1} steps over {count:,} cells, got {steps}")
    direct = starts.size * count * dim <= _DIRECT_LIMIT
    x = np.asarray(values, dtype=np.float32)
    if not direct:
        x = x - x.mean(axis=0, dtype=np.float64).astype(np.float32)
    return np.asarray(_nearest_walks(jnp.asarray(x), jnp.asarray(starts), steps, direct)).astype(np.int64)


def walk_analysis(
    space: SearchSpace, cells: CellSet, encodings: dict[str, np.ndarray], starts: np.ndarray, steps: int,
    progress=None,
) -> dict:
    """The walk analysis: one nearest walk per start for every encoding {name: [N, d]}."""
    results = {}
    for name, values in encodings.items():
        t0 = time.perf_counter()
        paths = nearest_walks(values, starts, steps)  # [W, steps + 1]
        flat = paths.ravel()
        ed = EditDistance.of(space.name, cells.adjacency[flat], cells.ops[flat])
        slot = np.arange(flat.size).reshape(paths.shape)
        dist, changed, gained, lost = ed.changes(slot[:, :-1].ravel(), slot[:, 1:].ravel())
        vertex = ed.vertex[slot[:, 1:].ravel()]  # [W * steps, S]: b's vertex of each slot
        dist = dist.reshape(len(starts), steps)
        walks = []
        for w, path in enumerate(paths):  # JSON lists, per walk and step
            q = w * steps + np.arange(steps)
            walks.append({
                "cells": path.tolist(),
                "edit_distances": dist[w].tolist(),
                "average_edit_distance": float(dist[w].mean()),
                "changed_vertices": [[]] + [vertex[k][changed[k]].tolist() for k in q],
                "new_edges": [[]] + [vertex[k][np.argwhere(gained[k])].tolist() for k in q],
                "removed_edges": [[]] + [vertex[k][np.argwhere(lost[k])].tolist() for k in q],
            })
        avg = np.array([w["average_edit_distance"] for w in walks])
        results[name] = {
            "walks": walks,
            "average_edit_distance": float(avg.mean()),
            "average_edit_distance_std_over_walks": float(avg.std()),
            "seconds": time.perf_counter() - t0,
        }
        if progress is not None:
            progress(f"walk {name}: average edit distance between consecutive cells {avg.mean():.2f} "
                     f"({len(walks)} walks of {steps} steps)")
    return {"starts": np.asarray(starts).tolist(), "steps": steps, "encodings": results}


class ModelUnavailable(RuntimeError):
    """No pretrained model can be loaded for the decoded interpolation."""


def load_model(run_dir: str) -> Any:
    """The pretrained model of a run folder, through `a2v_jax.pretrain.load_model`."""
    try:
        from ..pretrain import load_model as _load
    except ImportError as e:
        raise ModelUnavailable(
            "this installation's a2v_jax.pretrain has no load_model(run_dir): the decoded interpolation "
            "(--run) is not available; run the walk without --run"
        ) from e
    return _load(run_dir)


def interpolation(model: Any, space: SearchSpace, cells: CellSet, a: int, b: int, points: int) -> dict:
    """Decode `points` latent codes evenly spaced from cell a's to cell b's (both included)."""
    if points < 2:
        raise ValueError(f"an interpolation needs at least 2 points, got {points}")
    model_space = str(getattr(model, "space", space.name)).lower()
    if model_space != space.name:
        raise ValueError(f"the model was pretrained on {model_space}, the analysis is on {space.name}")
    pair = np.array([a, b])
    z = np.asarray(model.encode((cells.adjacency[pair], cells.ops[pair])), dtype=np.float32)
    if z.ndim != 3 or z.shape[:2] != (2, cells.ops.shape[1]):
        raise ValueError(f"model.encode returned {z.shape}, expected [2, {cells.ops.shape[1]}, d]")
    t = np.linspace(0.0, 1.0, points, dtype=np.float32)
    path = (1.0 - t)[:, None, None] * z[0] + t[:, None, None] * z[1]
    ops, adjacency = model.decode(path)
    ops = np.asarray(ops).astype(np.int8)
    adjacency = np.asarray(adjacency).astype(np.uint8)
    valid = space.is_valid_batch(adjacency, ops)
    rows = np.full(points, -1, dtype=np.int64)
    if hasattr(space, "lookup"):  # NB101: pruned and looked up by canonical form
        rows = np.where(valid, space.lookup(cells, adjacency, ops), -1).astype(np.int64)
    else:
        for k in np.flatnonzero(valid):  # a handful of decodings, each hashed once
            try:
                rows[k] = int(cells.index_of(space.graph_hash(adjacency[k], ops[k]))[0])
            except KeyError:
                pass
    return {
        "from": int(a), "to": int(b), "t": t.tolist(),
        "ops": ops.tolist(), "adjacency": adjacency.tolist(),
        "valid": valid.tolist(), "cell": rows.tolist(),
    }
