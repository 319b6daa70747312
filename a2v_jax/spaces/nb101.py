"""NAS-Bench-101: all 423,624 cells, validity as the official API decides it, and mutation neighbours.

Encoding (the CellSet contract): adjacency uint8 [N, 7, 7] upper-triangular (row = source), ops
int8 [N, 7] indices into `OP_NAMES`, the one-hot order arch2vec uses (input, conv1x1, conv3x3,
maxpool3x3, output). A cell of n < 7 vertices fills rows 0..n-1 (output at n-1) and is zero-padded
after, with `PAD_OP` (-1) ops, as the published preprocessing pads. The official dataset labels
vertices differently (-1 input, -2 output, 0 conv3x3, 1 conv1x1, 2 maxpool3x3; public JSON exports
pad with -3): `from_official` / `to_official` convert.

Row order: cells sorted by their official hash. Each cell is stored in the official dataset's own
canonical form (the first labelled graph of its hash class met by nasbench/scripts/generate_graphs.py),
so a cell's adjacency equals `module_adjacency` of the official record; `nb101_canonical` explains
how the enumeration gets there without hashing 1.3 million graphs.

Validity has two named rules:
* "official" (default): `nasbench.api.NASBench.is_valid(ModelSpec(matrix, ops))` on the cell's
  real vertices: the matrix must be 0/1 and upper-triangular (ModelSpec rejects anything else),
  padding a suffix without edges; after pruning the vertices off every input->output path: input and
  output connected, <= 7 vertices, <= 9 edges, first op input, last op output, interior ops among the
  three. A vertex that is pruned away may carry any op, exactly as in the API.
* "published": what arch2vec's pretraining counted as valid for a decoding: all 7 vertices are real
  (no padding: the output must be vertex 6), the adjacency is `(A > 0.5).triu(1)` (the lower
  triangle is ignored rather than rejected), then the same API check. A cell with fewer than 7
  vertices, decoded perfectly with its zero padding, is therefore invalid under this rule.
"""

from __future__ import annotations

import contextvars
import hashlib
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import CorruptFileError, cache_dir, load_npz, save_npz
from . import nb101_bits as bits_
from . import nb101_canonical as canon
from .base import FORMAT_VERSION, PAD_OP, CellSet, SearchSpace
from .graph_hash import hash_module
from .profile import DatasetProfile, SpaceProfile

OP_NAMES: tuple[str, ...] = ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output")
INPUT, CONV1X1, CONV3X3, MAXPOOL3X3, OUTPUT = range(5)
INTERIOR_OPS = (CONV1X1, CONV3X3, MAXPOOL3X3)

NUM_CELLS = 423_624
CELLS_BY_VERTICES = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}
"""Known facts of NAS-Bench-101 (its paper and generator log): unique cells by vertex count."""

RULES = ("official", "published")

OFFICIAL_OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
"""The official `available_ops`; a label is an index into it (-1 input, -2 output)."""

_OP_TO_LABEL = np.array([-1, 1, 0, 2, -2], dtype=np.int8)  # op index -> official label
_LABEL_TO_OP = np.array([PAD_OP, OUTPUT, INPUT, CONV3X3, CONV1X1, MAXPOOL3X3], dtype=np.int8)  # label + 3 -> op
_NAME_TO_OP = {name: i for i, name in enumerate(OP_NAMES)}

_PROGRESS: contextvars.ContextVar[bool | None] = contextvars.ContextVar("nb101_progress", default=None)

NEIGHBOURS_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Analysis:
    """A batch of cells after the official pruning.

    valid [B]; n [B] vertices after pruning; bits [B] pruned edge masks (`nb101_bits`); labels
    int8 [B, 7] pruned official labels (-3 past n). n, bits and labels are meaningful where valid.
    """

    valid: np.ndarray
    n: np.ndarray
    bits: np.ndarray
    labels: np.ndarray


def analyse(adjacency: Any, ops: Any, rule: str = "official") -> Analysis:
    """Validity and pruned form of a batch: adjacency [B, V, V], ops [B, V] in this space's encoding.

    Raises ValueError on an unknown rule, on arrays of the wrong rank or shape, or on non-numeric
    arrays; any malformed value inside well-shaped arrays just makes that cell invalid.
    """
    if rule not in RULES:
        raise ValueError(f"unknown validity rule {rule!r}; choose one of {', '.join(RULES)}")
    adj = np.asarray(adjacency)
    op = np.asarray(ops)
    if adj.ndim != 3 or adj.shape[1] != adj.shape[2] or op.shape != adj.shape[:2] or adj.shape[1] < 1:
        raise ValueError(f"expected adjacency [B, V, V] and ops [B, V]; got {adj.shape} and {op.shape}")
    if adj.dtype.kind not in "biuf" or op.dtype.kind not in "biuf":
        raise ValueError(f"adjacency and ops must be numeric; got {adj.dtype} and {op.dtype}")
    batch, size = op.shape
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    if rule == "official":
        ok = ((adj == 0) | (adj == 1)).all(axis=(1, 2))
        edges = adj == 1
        ok &= ~(edges & ~upper).any(axis=(1, 2))
    else:
        edges = (adj > 0.5) & upper
        ok = np.ones(batch, dtype=bool)
    with np.errstate(invalid="ignore"):
        plausible = (op >= PAD_OP) & (op < len(OP_NAMES))  # before any cast can wrap a huge value
        if op.dtype.kind == "f":
            plausible &= op == np.round(op)
    op = np.where(plausible, op, -99).astype(np.int64)
    in_range = (op >= 0) & (op < len(OP_NAMES))
    if rule == "official":
        real = op != PAD_OP
        n_real = real.sum(axis=1)
        ok &= (real == (np.arange(size) < n_real[:, None])).all(axis=1)  # padding is a suffix
        ok &= ~(edges & ~(real[:, :, None] & real[:, None, :])).any(axis=(1, 2))  # without edges
        ok &= (in_range | ~real).all(axis=1) & (n_real >= 2)
        output = np.maximum(n_real - 1, 0)
    else:
        real = np.ones(op.shape, dtype=bool)
        output = np.full(batch, size - 1)
    labels = official_labels(op)
    connected, kept, n, bits, pruned_labels = bits_.prune(edges, labels, output, real, canon.PAD_LABEL)
    ok &= connected & (n <= bits_.MAX_VERTICES)
    ok &= bits_.popcount(np.where(ok, bits, 0)) <= bits_.MAX_EDGES
    rows = np.arange(batch)
    ok &= op[:, 0] == INPUT
    ok &= op[rows, output] == OUTPUT
    interior = kept.copy()
    interior[:, 0] = False
    interior[rows, output] = False
    ok &= ~(interior & ~np.isin(op, INTERIOR_OPS)).any(axis=1)
    return Analysis(ok, np.where(ok, n, 0), np.where(ok, bits, 0), pruned_labels.astype(np.int8))


def official_labels(ops: Any) -> np.ndarray:
    """int8 official labels of op indices (-3 on padding, -4 on anything outside the vocabulary)."""
    op = np.asarray(ops).astype(np.int64)
    inside = (op >= 0) & (op < len(OP_NAMES))
    labels = np.where(inside, _OP_TO_LABEL[np.clip(op, 0, len(OP_NAMES) - 1)], canon.PAD_LABEL - 1)
    return np.where(op == PAD_OP, canon.PAD_LABEL, labels).astype(np.int8)


def _cell_keys(n: np.ndarray, bits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Canonical keys of pruned graphs, -1 where the graph is not valid."""
    return canon.canonical_keys(n, bits, labels)


@contextmanager
def _progress(show: bool | None) -> Iterator[None]:
    token = _PROGRESS.set(show)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


class NB101Space(SearchSpace):
    name = "nb101"
    num_nodes = 7
    op_names = OP_NAMES
    rules = RULES

    # --- validity, hashing, conversion -------------------------------------------------------

    def is_valid_batch(self, adjacency: Any, ops: Any, rule: str | None = None) -> np.ndarray:
        """bool [B]: `is_valid` of each cell of adjacency [B, V, V], ops [B, V] (about 1 us a cell).

        Rules: see the module docstring ("official" by default).
        """
        return analyse(adjacency, ops, self.check_rule(rule)).valid

    def graph_hash(self, adjacency: Any, ops: Any) -> str:
        """Official hash (`ModelSpec.hash_spec`) of a valid cell; ValueError for an invalid one."""
        a = analyse(np.asarray(adjacency)[None], np.asarray(ops)[None])
        if not a.valid[0]:
            raise ValueError("not a valid NAS-Bench-101 cell (see NB101Space.is_valid)")
        n = int(a.n[0])
        return hash_module(bits_.unpack(a.bits[0], n).astype(np.int64), a.labels[0, :n].tolist())

    def from_official(self, matrix: Any, ops: Any) -> tuple[np.ndarray, np.ndarray]:
        """This space's encoding (uint8 [..., 7, 7], int8 [..., 7]) of official cells.

        `ops` holds op names ('input', 'conv3x3-bn-relu', ...) or official integer labels (-1
        input, -2 output, 0 conv3x3, 1 conv1x1, 2 maxpool3x3, -3 padding); matrices of fewer than 7
        vertices are zero-padded. Works on one cell or a batch.
        """
        m = np.asarray(matrix)
        o = np.asarray(ops)
        if o.dtype.kind in "USO":
            names = o.astype(str)
            unknown = sorted(set(names.ravel().tolist()) - set(_NAME_TO_OP))
            if unknown:
                raise ValueError(f"unknown NAS-Bench-101 ops {unknown}; expected {', '.join(OP_NAMES)}")
            op = np.vectorize(_NAME_TO_OP.__getitem__, otypes=[np.int8])(names) if names.size else names.astype(np.int8)
        else:
            labels = o.astype(np.int64)
            if labels.size and (labels.min() < -3 or labels.max() > 2):
                raise ValueError("official labels must be in -3..2 (-1 input, -2 output, 0..2 ops, -3 padding)")
            op = _LABEL_TO_OP[labels + 3]
        size = m.shape[-1]
        if m.ndim < 2 or m.shape[-2] != size or op.shape[-1] != size or size > self.num_nodes:
            raise ValueError(f"matrix {m.shape} and ops {o.shape} are not a cell of up to 7 vertices")
        pad = self.num_nodes - size
        adj = np.pad(m, [(0, 0)] * (m.ndim - 2) + [(0, pad), (0, pad)]).astype(np.uint8)
        op = np.pad(op, [(0, 0)] * (op.ndim - 1) + [(0, pad)], constant_values=PAD_OP).astype(np.int8)
        return adj, op

    def to_official(self, adjacency: Any, ops: Any) -> tuple[np.ndarray, list[str]]:
        """(matrix [n, n], op names) of one cell without its padding, as `ModelSpec` takes them."""
        op = np.asarray(ops)
        keep = op != PAD_OP
        n = int(keep.sum())
        return np.asarray(adjacency)[:n, :n].astype(np.int64), [OP_NAMES[i] for i in op[:n]]

    # --- the cell set -------------------------------------------------------------------------

    def load(
        self, cache: str | Path | None = None, rebuild: bool = False, verbose: bool = False, **options: Any
    ) -> CellSet:
        """The 423,624 cells, from `<cache>/nb101/cells.npz` when sound, else enumerated (about 20-40 s)."""
        with _progress(verbose or None):
            return super().load(cache=cache, rebuild=rebuild, verbose=verbose, **options)

    def build(self, progress: bool | None = None, workers: int | None = None) -> CellSet:
        """Enumerate every cell as the official generator does; see `nb101_canonical`.

        progress: show a progress bar on stderr (default: when stderr is a terminal or `load` was
        called with verbose=True). workers: processes for the MD5 hashing (default: all cores).
        """
        if progress is None:
            progress = _PROGRESS.get()
        if progress is None:
            progress = sys.stderr.isatty()
        say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
        t0 = time.perf_counter()
        n, bits, labels = canon.enumerate_classes()
        say(f"nb101: {n.size:,} isomorphism classes enumerated in {time.perf_counter() - t0:.1f} s; hashing")
        hashes = canon.hash_graphs(n, bits, labels, workers=workers, progress=progress)
        # The official rule: the first graph per hash in enumeration order (classes are in that order).
        _, first = np.unique(hashes, return_index=True)
        if first.size != n.size:
            warnings.warn(
                f"{n.size - first.size} isomorphism classes share a hash with an earlier one; keeping the "
                "first graph per hash (the official rule)",
                RuntimeWarning,
                stacklevel=2,
            )
        counts = {int(k): int(v) for k, v in zip(*np.unique(n[first], return_counts=True), strict=True)}
        if counts != CELLS_BY_VERTICES:
            raise RuntimeError(f"enumeration found {counts} cells by vertex count, expected {CELLS_BY_VERTICES}")
        order = first[np.argsort(hashes[first], kind="stable")]
        n, bits, labels, hashes = n[order], bits[order], labels[order], hashes[order]
        adjacency = bits_.unpack(bits).astype(np.uint8)
        ops = _LABEL_TO_OP[labels.astype(np.int64) + 3]
        say(f"nb101: {hashes.size:,} cells in {time.perf_counter() - t0:.1f} s")
        return CellSet(self.name, adjacency, ops, hashes)

    def write(self, cells: CellSet, path: str | Path) -> Path:
        """As `SearchSpace.write`, plus a SHA-1 of the arrays so that any damage is caught on reading."""
        arrays = {k: v for k, v in cells.arrays().items() if k != "content_sha1"}
        return save_npz(
            path,
            format_version=np.int64(FORMAT_VERSION),
            space=np.array(self.name),
            content_sha1=np.array(_content_digest(cells)),
            **arrays,
        )

    def read(self, path: str | Path) -> CellSet:
        cells = super().read(path)
        extra = {k: v for k, v in cells.extra.items() if k != "content_sha1"}
        return CellSet(cells.space, cells.adjacency, cells.ops, cells.hash, cells.path, extra)

    def check(self, cells: CellSet, path: str | Path) -> None:
        """Reject a cell set that is not exactly the NAS-Bench-101 space in its canonical forms."""
        stored = cells.extra.get("content_sha1")
        if stored is None or stored.shape != () or str(stored) != _content_digest(cells):
            raise CorruptFileError(f"{path}: arrays do not match their stored checksum")
        count = len(cells)
        if count != NUM_CELLS:
            raise CorruptFileError(f"{path}: {count:,} cells, NAS-Bench-101 has {NUM_CELLS:,}")
        h = cells.hash
        if h.dtype != np.dtype("<U32") or not (h[1:] > h[:-1]).all():
            raise CorruptFileError(f"{path}: hashes are not sorted, unique 32-character strings")
        counts = {int(k): int(v) for k, v in zip(*np.unique(cells.num_vertices, return_counts=True), strict=True)}
        if counts != CELLS_BY_VERTICES:
            raise CorruptFileError(f"{path}: cells by vertex count {counts}, expected {CELLS_BY_VERTICES}")
        adj, ops = cells.adjacency, cells.ops
        n = cells.num_vertices
        size = self.num_nodes
        vertex = np.arange(size)
        real = vertex < n[:, None]
        inside = real[:, :, None] & real[:, None, :] & np.triu(np.ones((size, size), dtype=bool), 1)
        interior = real & (vertex > 0) & (vertex < (n - 1)[:, None])
        sound = (
            ((adj == 0) | ((adj == 1) & inside)).all(axis=(1, 2))
            & ((ops != PAD_OP) == real).all(axis=1)
            & (ops[:, 0] == INPUT)
            & (ops[np.arange(count), n - 1] == OUTPUT)
            & (~interior | np.isin(ops, INTERIOR_OPS)).all(axis=1)
            & (adj.sum(axis=(1, 2), dtype=np.int64) <= bits_.MAX_EDGES)
        )
        if not sound.all():
            raise CorruptFileError(f"{path}: row {int(np.argmin(sound))} is not a well-formed cell")
        own = self.cell_keys(cells)
        if not (np.diff(np.sort(own)) > 0).all():
            raise CorruptFileError(f"{path}: two rows hold the same cell")
        rng = np.random.default_rng(1)
        sample = np.sort(rng.choice(count, size=2048, replace=False))
        a = analyse(adj[sample], ops[sample])
        if not a.valid.all():
            raise CorruptFileError(f"{path}: row {int(sample[np.argmin(a.valid)])} is not a valid cell")
        if (_cell_keys(a.n, a.bits, a.labels) != own[sample]).any():
            raise CorruptFileError(f"{path}: some rows are not in the official canonical form")
        super().check(cells, path)

    def cell_keys(self, cells: CellSet) -> np.ndarray:
        """int64 [N] canonical key of each cell (enumeration order; see `nb101_canonical`).

        Cells are stored in canonical form, so a key is read off the arrays directly."""
        cached = cells.__dict__.get("_nb101_keys")
        if cached is None:
            n = cells.num_vertices
            labels = official_labels(cells.ops)
            cached = canon.pack_key(n, bits_.pack(cells.adjacency), canon.labeling_rank(n, labels))
            object.__setattr__(cells, "_nb101_keys", cached)
        return cached

    def lookup(self, cells: CellSet, adjacency: Any, ops: Any, rule: str = "official") -> np.ndarray:
        """int64 [B]: row in `cells` of each cell of a batch (pruned, any vertex numbering), -1 if
        invalid or not in `cells`. Exact, vectorised, no MD5: the canonical form is looked up."""
        a = analyse(adjacency, ops, rule)
        return self._rows_of_keys(cells, np.where(a.valid, _cell_keys(a.n, a.bits, a.labels), -1))

    def _rows_of_keys(self, cells: CellSet, keys: np.ndarray) -> np.ndarray:
        index = cells.__dict__.get("_nb101_key_index")
        if index is None:
            order = np.argsort(self.cell_keys(cells), kind="stable")
            index = (self.cell_keys(cells)[order], order)
            object.__setattr__(cells, "_nb101_key_index", index)
        sorted_keys, order = index
        pos = np.clip(np.searchsorted(sorted_keys, keys), 0, len(order) - 1)
        return np.where((sorted_keys[pos] == keys) & (keys >= 0), order[pos], -1)

    # --- mutation neighbours --------------------------------------------------------------------

    def neighbours_path(self, cells: CellSet) -> Path:
        folder = cells.path.parent if cells.path is not None else cache_dir() / self.name
        return folder / "neighbours.npz"

    def neighbours(self, cells: CellSet, rebuild: bool = False, progress: bool | None = None) -> np.ndarray:
        """int32 [N, K]: rows of the cells one mutation away from each cell, -1 padded.

        A mutation acts on a cell's real vertices: flip one upper-triangular edge, or change one
        interior op to another of the three. The result is pruned; it counts if valid, is not the
        cell itself, and is in `cells`. Rows are sorted ascending. Cached beside the cell set as
        `neighbours.npz` (for the full space) and checked against the cells' hashes when read.
        """
        from .nb101_neighbours import mutation_neighbours

        digest = _digest(cells.hash)
        full = len(cells) == NUM_CELLS
        path = self.neighbours_path(cells)
        if full and path.exists() and not rebuild:
            try:
                return self._read_neighbours(path, cells, digest)
            except CorruptFileError as e:
                print(f"neighbour table {path} is unusable ({e}); rebuilding", file=sys.stderr)
        if progress is None:
            progress = sys.stderr.isatty()
        table = mutation_neighbours(self, cells, progress=progress)
        if full:
            save_npz(
                path,
                format_version=np.int64(NEIGHBOURS_FORMAT_VERSION),
                cells_digest=np.array(digest),
                neighbours=table,
            )
        return table

    def _read_neighbours(self, path: Path, cells: CellSet, digest: str) -> np.ndarray:
        z = load_npz(path, required=("format_version", "cells_digest", "neighbours"))
        if int(z["format_version"]) != NEIGHBOURS_FORMAT_VERSION:
            raise CorruptFileError(f"{path}: format version {int(z['format_version'])}")
        if str(z["cells_digest"]) != digest:
            raise CorruptFileError(f"{path}: built for a different cell set")
        t = z["neighbours"]
        if t.dtype != np.int32 or t.ndim != 2 or t.shape[0] != len(cells) or t.shape[1] < 1:
            raise CorruptFileError(f"{path}: neighbours {t.dtype}{t.shape}, expected int32[{len(cells)}, K]")
        if t.min() < -1 or t.max() >= len(cells) or (t == np.arange(len(cells))[:, None]).any():
            raise CorruptFileError(f"{path}: neighbour indices out of range or pointing at the cell itself")
        return t


def _digest(hashes: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(hashes).data).hexdigest()


def _content_digest(cells: CellSet) -> str:
    digest = hashlib.sha1()  # damage detection, not security; sha1 runs at GB/s here
    for a in (cells.adjacency, cells.ops, cells.hash):
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(np.ascontiguousarray(a).data)
    return digest.hexdigest()


SPACE = NB101Space()


PROFILE = SpaceProfile(
    name="nb101",
    title="NAS-Bench-101",
    pretrain_epochs=8,
    datasets=(
        DatasetProfile(
            "cifar10",
            budget=1_500_000.0,
            reward="108-epoch validation accuracy, mean over the three training repeats",
            test="108-epoch test accuracy, mean over the three training repeats",
            aliases=("c10",),
        ),
    ),
    search={
        "rl": {"baseline": 0.95},
        "bo": {"top_k": 5, "target": 0.95},
        "re": {"population": 50, "sample_size": 10, "sample_replace": False},
        "rl-supervised": {"baseline": 0.95},
        "bo-supervised": {"top_k": 5, "target": 0.95},
        "rl-discrete": {"lr": 0.1, "optimizer": "sgd", "init_std": 0.0},
        "bo-discrete": {"top_k": 5, "target": 0.95},
    },
)
