"""The one face every search space shows, and the cached cell set behind it.

A space is a small object (name, node count, op vocabulary, validity, hash) plus a *cell set*:
every architecture the project works with, as dense arrays. Everything downstream (graph batches,
benchmark tables, embeddings, search) is aligned with the cell set's row order, so the order is
part of each space's contract and is stated in its module.

Cell sets are expensive to build (NB101 is enumerated, DARTS sampled), so they are written once
to `<cache>/<space>/<name>.npz` and reloaded. A cache that fails any consistency check is
rebuilt, never used.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import CorruptFileError, cache_dir, load_npz, save_npz
from .graph_hash import hash_module

PAD_OP = -1
"""`ops` value of a padding vertex (its one-hot row is all zeros)."""

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CellSet:
    """Every cell of a space (or a sample of it) as arrays aligned by row.

    adjacency: uint8 [N, n, n], upper-triangular, row = source, zero-padded past a cell's vertices.
    ops:       int8  [N, n], indices into the space's `op_names`; `PAD_OP` (-1) on padding vertices.
    hash:      <U32  [N], the NB101 graph hash of each cell.
    """

    space: str
    adjacency: np.ndarray
    ops: np.ndarray
    hash: np.ndarray
    path: Path | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ops.shape[0])

    @property
    def num_vertices(self) -> np.ndarray:
        """Real (unpadded) vertex count of each cell."""
        return (self.ops != PAD_OP).sum(axis=1)

    def index_of(self, hashes: Any) -> np.ndarray:
        """Row index of each hash; raises KeyError naming the first hash not in the set."""
        hashes = np.atleast_1d(np.asarray(hashes, dtype="<U32"))
        order = self._hash_order()
        pos = np.searchsorted(self.hash, hashes, sorter=order)
        pos = np.clip(pos, 0, len(self) - 1)
        idx = order[pos]
        bad = self.hash[idx] != hashes
        if bad.any():
            raise KeyError(f"hash {hashes[np.argmax(bad)]} is not a cell of {self.space}")
        return idx

    def _hash_order(self) -> np.ndarray:
        cached = self.__dict__.get("_order")
        if cached is None:
            cached = np.argsort(self.hash, kind="stable")
            object.__setattr__(self, "_order", cached)
        return cached

    def arrays(self) -> dict[str, np.ndarray]:
        return {"adjacency": self.adjacency, "ops": self.ops, "hash": self.hash, **self.extra}


class SearchSpace(ABC):
    """A search space: vocabulary, validity, hashing, and its cached cell set."""

    name: str
    num_nodes: int
    op_names: tuple[str, ...]
    build_options: tuple[str, ...] = ()
    """Keyword options `build`/`load` accept (e.g. DARTS: `num`, `seed`)."""

    @property
    def num_ops(self) -> int:
        return len(self.op_names)

    rules: tuple[str, ...] = ()
    """Names of the validity rules `is_valid` accepts; the first is the default."""

    def is_valid(self, adjacency: Any, ops: Any, rule: str | None = None) -> bool:
        """Whether one (adjacency, ops) pair in this space's encoding is an architecture of the space.

        Used on decoder outputs, so anything malformed (wrong shapes, non-numbers, NaN, ragged
        lists) is simply not valid; only an unknown `rule` raises ValueError.
        """
        rule = self.check_rule(rule)
        try:
            return bool(self.is_valid_batch(np.asarray(adjacency)[None], np.asarray(ops)[None], rule)[0])
        except (TypeError, ValueError, OverflowError, IndexError):
            return False

    def check_rule(self, rule: str | None) -> str:
        """`rule`, or the default rule for None; ValueError naming the choices for an unknown one."""
        if rule is None:
            return self.rules[0]
        if rule not in self.rules:
            raise ValueError(f"unknown validity rule {rule!r}; choose one of {', '.join(self.rules)}")
        return rule

    @abstractmethod
    def is_valid_batch(self, adjacency: Any, ops: Any, rule: str | None = None) -> np.ndarray:
        """bool [B]: `is_valid` of each row of adjacency [B, n, n], ops [B, n]."""

    def graph_hash(self, adjacency: Any, ops: Any) -> str:
        """The NB101 graph hash of one cell in this space's encoding, op indices as labels (the
        published code's choice for every space; NB101 overrides it with the official labels)."""
        adj, op = np.asarray(adjacency), np.asarray(ops)
        n = self.num_nodes
        if adj.shape != (n, n) or op.shape != (n,):
            raise ValueError(f"expected adjacency ({n}, {n}) and ops ({n},), got {adj.shape} and {op.shape}")
        return hash_module(adj.astype(np.int64), op.astype(np.int64).tolist())

    @abstractmethod
    def build(self, **options: Any) -> CellSet:
        """Compute the cell set from scratch (no cache)."""

    def neighbours(self, cells: CellSet) -> np.ndarray:
        """int32 [N, K]: rows of `cells` one mutation away from each cell, -1 padded.

        What a mutation is belongs to the space; regularized evolution samples from these rows.
        """
        raise NotImplementedError(f"search space {self.name!r} defines no mutation neighbours")

    def cache_name(self, **options: Any) -> str:
        """File stem of the cache for these build options."""
        return "cells"

    def cache_path(self, root: str | Path | None = None, **options: Any) -> Path:
        base = Path(root) if root is not None else cache_dir()
        return base / self.name / f"{self.cache_name(**options)}.npz"

    def load(
        self, cache: str | Path | None = None, rebuild: bool = False, verbose: bool = False, **options: Any
    ) -> CellSet:
        """The cell set, from the cache when it is there and sound, else built and cached."""
        path = self.cache_path(cache, **options)
        if path.exists() and not rebuild:
            try:
                return self.read(path)
            except CorruptFileError as e:
                if verbose:
                    print(f"cache {path} is unusable ({e}); rebuilding")
        t0 = time.perf_counter()
        cells = self.build(**options)
        if verbose:
            print(f"built {len(cells):,} {self.name} cells in {time.perf_counter() - t0:.1f} s")
        self.write(cells, path)
        return CellSet(cells.space, cells.adjacency, cells.ops, cells.hash, path, cells.extra)

    def write(self, cells: CellSet, path: str | Path) -> Path:
        return save_npz(
            path,
            format_version=np.int64(FORMAT_VERSION),
            space=np.array(self.name),
            **cells.arrays(),
        )

    def read(self, path: str | Path) -> CellSet:
        """Load and check a cached cell set; any inconsistency raises CorruptFileError."""
        z = load_npz(path, required=("format_version", "space", "adjacency", "ops", "hash"))
        if int(z["format_version"]) != FORMAT_VERSION:
            raise CorruptFileError(f"{path}: format version {int(z['format_version'])}, expected {FORMAT_VERSION}")
        if str(z["space"]) != self.name:
            raise CorruptFileError(f"{path}: holds space {str(z['space'])!r}, expected {self.name!r}")
        adj, ops, hashes = z.pop("adjacency"), z.pop("ops"), z.pop("hash")
        for key in ("format_version", "space"):
            z.pop(key)
        n = self.num_nodes
        if adj.dtype != np.uint8 or adj.ndim != 3 or adj.shape[1:] != (n, n):
            raise CorruptFileError(f"{path}: adjacency {adj.dtype}{adj.shape}, expected uint8[N,{n},{n}]")
        count = adj.shape[0]
        if ops.dtype != np.int8 or ops.shape != (count, n):
            raise CorruptFileError(f"{path}: ops {ops.dtype}{ops.shape}, expected int8[{count},{n}]")
        if hashes.shape != (count,) or hashes.dtype.kind != "U":
            raise CorruptFileError(f"{path}: hash {hashes.dtype}{hashes.shape}, expected str[{count}]")
        if count and (ops.min() < PAD_OP or ops.max() >= self.num_ops):
            raise CorruptFileError(f"{path}: op index outside [-1, {self.num_ops})")
        cells = CellSet(self.name, adj, ops, hashes, Path(path), z)
        self.check(cells, path)
        return cells

    def check(self, cells: CellSet, path: str | Path) -> None:
        """Cheap semantic checks of a loaded cell set (count, spot-checked hashes); raise CorruptFileError."""
        count = len(cells)
        if count == 0:
            raise CorruptFileError(f"{path}: empty cell set")
        rng = np.random.default_rng(0)
        for i in rng.choice(count, size=min(8, count), replace=False):
            if self.graph_hash(cells.adjacency[i], cells.ops[i]) != cells.hash[i]:
                raise CorruptFileError(f"{path}: row {i} does not match its hash")
