"""What a pretraining run leaves on disk: checkpoints, per-epoch and final metrics, embeddings,
and for a batch of members the summary over seeds.

One member's folder (a run of kind "pretrain"; the run folder itself for one seed, `seed-<s>/`
inside a batch) holds:
- `config.json`: the member's `PretrainConfig` (as a one-seed run of that seed would write it)
  plus the model configuration and the cell counts;
- `metrics.jsonl`: one line per epoch; `metrics.json`: the last epoch's line plus run totals;
- `checkpoint.msgpack`: the member's whole `TrainState` (parameters, batch statistics, optimizer
  state, key, split, batch order, the epoch's sums, the on-device history), the host's metric
  history and the number of steps done; `--resume` continues from it bit for bit;
- `embeddings.npz`: `embeddings` float32 [N, d] in the space's cell order, `hash` [N], `readout`.

A batch (kind "pretrain-batch") holds `config.json` (the batch's config and its member list),
`summary.json` (mean and std over seeds of every Table 1 metric, per sweep point) and one member
folder per member. Every file is written atomically (`a2v_jax._io`).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import serialization

from .. import _io

CHECKPOINT_NAME = "checkpoint.msgpack"
CHECKPOINT_FORMAT = 2

TABLE1_METRICS = ("reconstruction_accuracy", "architecture_accuracy", "op_accuracy", "edge_accuracy",
                  "validity", "uniqueness", "validity_published", "uniqueness_published")
"""The final-epoch metrics of paper Table 1 (and the published code's variants of them)."""


class ResumeError(RuntimeError):
    """A run folder cannot be resumed (no checkpoint, or it belongs to a different configuration)."""


# ---------------------------------------------------------------------- checkpoints


def save_checkpoint(path: Path, state: Any, history: list[dict], config: dict, steps: int) -> None:
    """One member's state (host arrays, no member axis) with its history and config."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "config": json.dumps(config),
        "history": json.dumps(history),
        "steps": int(steps),
        "state": serialization.to_state_dict(state),
    }
    data = serialization.msgpack_serialize(payload)
    _io.atomic_write(path, lambda f: f.write(data))


def load_checkpoint(path: Path, template: Any) -> tuple[Any, list[dict], dict, int]:
    """(state, history, config, steps) of a member checkpoint; `template` gives the state's structure."""
    path = Path(path)
    try:
        payload = serialization.msgpack_restore(path.read_bytes())
        fmt = int(payload["format"])
    except FileNotFoundError:
        raise ResumeError(f"nothing to resume: {path} does not exist") from None
    except Exception as e:  # msgpack errors: not a checkpoint at all
        raise ResumeError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from e
    if fmt != CHECKPOINT_FORMAT:
        raise ResumeError(f"{path}: checkpoint format {fmt}, expected {CHECKPOINT_FORMAT} (written by another "
                          "version of a2v_jax); start afresh with --overwrite")
    try:
        state = serialization.from_state_dict(template, payload["state"])
        history = json.loads(payload["history"])
        config = json.loads(payload["config"])
        steps = int(payload["steps"])
    except Exception as e:  # structure errors: a checkpoint of another model
        raise ResumeError(f"{path}: not a checkpoint of this model ({type(e).__name__}: {e})") from e
    return state, history, config, steps


def check_resumable(saved: dict, current: dict, resumable: frozenset[str], path: Path) -> None:
    """Refuse to resume a checkpoint whose configuration differs from `current` outside `resumable`
    (callers pass `saved` through `config.with_defaults` so settings added since compare as their defaults)."""
    diff = {k: (saved.get(k), v) for k, v in current.items() if k not in resumable and saved.get(k) != v}
    if diff:
        listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ResumeError(f"{path} was written by a different configuration ({listed}); start afresh with --overwrite")


def member_slice(tree: Any, i: int) -> Any:
    return jax.tree_util.tree_map(lambda x: np.asarray(x[i]), tree)


def stack_members(trees: list[Any]) -> Any:
    return jax.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)


# ---------------------------------------------------------------------- files


def write_history(folder: Path, history: list[dict]) -> None:
    text = "".join(json.dumps(m) + "\n" for m in history).encode()
    _io.atomic_write(folder / "metrics.jsonl", lambda f: f.write(text))


def write_embeddings(folder: Path, embeddings: np.ndarray, hashes: np.ndarray, readout: str) -> Path:
    return _io.save_npz(folder / "embeddings.npz", embeddings=np.asarray(embeddings, np.float32),
                        hash=np.asarray(hashes), readout=np.array(readout))


def summarise(finals: list[dict], groups: list[tuple[dict, list[int]]]) -> list[dict]:
    """Mean and (sample) std over the members of each group of every Table 1 metric and the loss.

    groups: (sweep point, indices into `finals`) per point of the sweep (one group without a sweep).
    """
    out = []
    for point, rows in groups:
        members = [finals[i] for i in rows]
        metrics = {}
        for key in (*TABLE1_METRICS, "loss"):
            values = [float(m[key]) for m in members if key in m]
            if not values:
                continue
            metrics[key] = {"mean": statistics.fmean(values),
                            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                            "values": values}
        out.append({"sweep": point, "seeds": [m["seed"] for m in members], "metrics": metrics})
    return out


def format_epoch(m: dict) -> str:
    """One line per epoch for the terminal."""
    text = (f"epoch {m['epoch']}: loss {m['loss']:.4f}  recon {m['reconstruction_accuracy']:.4f} "
            f"(ops {m['op_accuracy']:.4f}, edges {m['edge_accuracy']:.4f})")
    if "validity" in m:
        text += (f"  validity {m['validity']:.4f} uniqueness {m['uniqueness']:.4f}  [published checks: "
                 f"{m['validity_published']:.4f} / {m['uniqueness_published']:.4f}]")
    return text


__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "TABLE1_METRICS", "ResumeError", "check_resumable", "format_epoch",
           "load_checkpoint", "member_slice", "save_checkpoint", "stack_members", "summarise", "write_embeddings",
           "write_history"]
