"""The checkpoint of an unfinished search: finished seed batches and the state of the current one.

Written atomically into the run's staging folder (`<out>.partial/checkpoint.npz`) after every seed
batch, every `checkpoint_seconds` during a long batch, and when the run is interrupted (Ctrl-C,
SIGTERM). `--resume` reads it back: the finished batches' traces as they were, and the current
batch's states, whose leaves are checked against the structure a fresh `init` gives (so a
checkpoint of another method, batch size or chunking is refused, not misread). The states are
stored exactly, so the resumed run continues bit for bit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._io import CorruptFileError, load_npz, save_npz

NAME = "checkpoint.npz"


def save(path: Path, parts: list[dict[str, np.ndarray]], batch: int, states: Any | None,
         run_seconds: float = 0.0) -> Path:
    """`parts`: raw traces of the finished batches; `batch`: index of the batch in progress;
    `states`: its states (None when it has not started); `run_seconds`: search time spent so far,
    over every session of the run (a resumed run reports its whole cost, not its last session's)."""
    arrays: dict[str, Any] = {"batch": np.int64(batch), "parts": np.int64(len(parts)),
                              "run_seconds": np.float64(run_seconds)}
    for i, part in enumerate(parts):
        arrays.update({f"part{i}/{k}": v for k, v in part.items()})
    if states is not None:
        leaves = jax.device_get(jax.tree_util.tree_leaves(states))
        arrays["leaves"] = np.int64(len(leaves))
        arrays.update({f"state/{i}": np.asarray(x) for i, x in enumerate(leaves)})
    return save_npz(path, **arrays)


def load(path: Path, template: Any) -> tuple[list[dict[str, np.ndarray]], int, Any | None, float]:
    """(parts, batch, states, run seconds so far) from `path`; `template`: a pytree (or shapes) of the
    run's states. Checkpoints written before the run seconds were kept give 0 for them."""
    z = load_npz(path, required=("batch", "parts"))
    parts = []
    for i in range(int(z["parts"])):
        prefix = f"part{i}/"
        parts.append({k[len(prefix):]: v for k, v in z.items() if k.startswith(prefix)})
    states = None
    if "leaves" in z:
        leaves, treedef = jax.tree_util.tree_flatten(template)
        if int(z["leaves"]) != len(leaves):
            raise CorruptFileError(f"{path}: holds {int(z['leaves'])} state arrays, this search has {len(leaves)}")
        loaded = []
        for i, ref in enumerate(leaves):
            x = z[f"state/{i}"]
            if x.shape != tuple(ref.shape) or x.dtype != ref.dtype:
                raise CorruptFileError(
                    f"{path}: state array {i} is {x.dtype}{x.shape}, this search expects {ref.dtype}{tuple(ref.shape)}"
                )
            loaded.append(x)
        states = jax.tree_util.tree_unflatten(treedef, loaded)
    return parts, int(z["batch"]), states, float(z["run_seconds"]) if "run_seconds" in z else 0.0
