"""A finished pretraining run as a model: `load_model(run_dir)` -> encode cells, decode latents.

    model = load_model("runs/pretrain-nb201-arch2vec-reference-seed0")
    mu = model.encode([0, 1, 2])              # float32 [3, n, d]: mu of every vertex (eval mode)
    ops, adjacency = model.decode(mu)         # int8 [3, n], uint8 [3, n, n]
    model.embed([0, 1, 2])                    # float32 [3, d]: the run's readout (what embeddings.npz holds)

Decoding is the one validity / uniqueness use: op = argmax of the op logits, edge where p > 0.5 on
the strict upper triangle (`metrics.decode_latents`). Everything runs in eval mode (BatchNorm
running statistics, z = mu), as the exported embeddings do.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from ..graphs import graph_set, make_batch
from ..model import GraphAutoencoder, ModelConfig
from ..rundir import read_kind
from ..spaces import CellSet, get_space
from .config import PretrainConfig
from .export import CHECKPOINT_NAME
from .metrics import decode_latents


class LoadError(ValueError):
    """The folder is not a finished pretraining run of one model."""


@dataclass
class LoadedModel:
    """A trained autoencoder and the configuration it was trained with."""

    config: PretrainConfig
    model_config: ModelConfig
    variables: dict[str, Any]
    folder: Path

    @property
    def space(self) -> str:
        return self.config.space

    @property
    def num_nodes(self) -> int:
        return self.model_config.num_nodes

    @property
    def latent(self) -> int:
        return self.model_config.latent

    @cached_property
    def cells(self) -> CellSet:
        """The cell set the run trained on (the space's, cut to `limit` like the run)."""
        from .run import load_cells

        return load_cells(self.config)[1]

    @cached_property
    def _module(self) -> GraphAutoencoder:
        return GraphAutoencoder(self.model_config)

    @cached_property
    def _encode(self):
        def encode(variables, data, index):
            batch = make_batch(data, index)
            return self._module.apply(variables, batch.graph, False, method=GraphAutoencoder.encode)[0]

        return jax.jit(encode)

    @cached_property
    def _decode(self):
        def decode(variables, z):
            return decode_latents(lambda z: self._module.apply(variables, z, method=GraphAutoencoder.decode), z)

        return jax.jit(decode)

    def _cells_of(self, cells: Any) -> CellSet:
        if isinstance(cells, CellSet):
            return cells
        if isinstance(cells, tuple) and len(cells) == 2:
            adjacency, ops = (np.asarray(a) for a in cells)
            return CellSet(self.space, adjacency, ops, np.zeros(len(ops), "<U32"))
        index = np.atleast_1d(np.asarray(cells))
        if index.dtype.kind not in "iu":
            raise TypeError("encode takes cell indices, a CellSet or an (adjacency, ops) pair")
        if index.size and (index.min() < 0 or index.max() >= len(self.cells)):
            raise IndexError(f"cell indices must lie in [0, {len(self.cells)}), got [{index.min()}, {index.max()}]")
        c = self.cells
        return CellSet(c.space, c.adjacency[index], c.ops[index], c.hash[index])

    def encode(self, cells: Any, batch: int = 4096) -> np.ndarray:
        """mu of every vertex, float32 [B, n, d], of cell indices (into the run's cell set), a
        `CellSet` or an (adjacency [B, n, n], ops [B, n]) pair."""
        cells = self._cells_of(cells)
        data = graph_set(cells, get_space(self.space).num_ops)
        parts = []
        for start in range(0, len(cells), batch):
            index = jnp.arange(start, min(start + batch, len(cells)), dtype=jnp.int32)
            parts.append(np.asarray(self._encode(self.variables, data, index)))
        if not parts:
            return np.zeros((0, self.num_nodes, self.latent), np.float32)
        return np.concatenate(parts)

    def embed(self, cells: Any) -> np.ndarray:
        """Architecture embeddings [B, d] with the run's readout (as in its embeddings.npz)."""
        cells = self._cells_of(cells)
        mu = self.encode(cells)
        if self.config.readout == "mean":
            return mu.mean(axis=1)
        return (mu * (np.asarray(cells.ops) >= 0)[..., None]).sum(axis=1)

    def decode(self, z: Any) -> tuple[np.ndarray, np.ndarray]:
        """Cells of latent codes z [B, n, d]: ops int8 [B, n] (argmax), adjacency uint8 [B, n, n]
        (p > 0.5 on the strict upper triangle)."""
        z = jnp.asarray(z, jnp.float32)
        if z.ndim != 3 or z.shape[1:] != (self.num_nodes, self.latent):
            raise ValueError(f"z must be [B, {self.num_nodes}, {self.latent}], got {tuple(z.shape)}")
        ops, adjacency = self._decode(self.variables, z)
        return np.asarray(ops), np.asarray(adjacency)


def load_model(run_dir: str | Path) -> LoadedModel:
    """The trained model of a finished one-member run folder (or a member folder of a batch)."""
    folder = Path(run_dir)
    kind = read_kind(folder)
    if kind == "pretrain-batch":
        members = sorted(p.name for p in folder.iterdir() if read_kind(p) == "pretrain")
        raise LoadError(f"{folder} is a batch of pretraining runs; load one of its members, e.g. "
                        f"{folder / (members[0] if members else 'seed-0')}")
    if kind != "pretrain":
        what = "an unfinished run (still <out>.partial?)" if folder.name.endswith(".partial") else "not a pretraining run folder"
        raise LoadError(f"{folder} is {what}" + (f" (it holds a {kind} run)" if kind else ""))
    try:
        saved = json.loads((folder / "config.json").read_text())
        payload = serialization.msgpack_restore((folder / CHECKPOINT_NAME).read_bytes())
    except (OSError, ValueError) as e:
        raise LoadError(f"{folder}: cannot read its config.json / {CHECKPOINT_NAME} ({e})") from e
    fields = {f.name for f in dataclasses.fields(PretrainConfig)}
    config = PretrainConfig(**{k: v for k, v in saved.items() if k in fields})
    model_config = ModelConfig(**saved["model_config"])
    state = payload["state"]
    variables = {"params": jax.tree_util.tree_map(jnp.asarray, state["params"]),
                 "batch_stats": jax.tree_util.tree_map(jnp.asarray, state.get("batch_stats") or {})}
    return LoadedModel(config, model_config, variables, folder)


__all__ = ["LoadError", "LoadedModel", "load_model"]
