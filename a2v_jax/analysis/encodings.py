"""What gets analysed: one row per cell of a space, from an embeddings file or a built-in encoding.

An encoding is named. `--embeddings NAME=PATH` reads an `embeddings.npz` (float [N, d]
`embeddings`, optional `hash`; or a bare `.npy` [N, d], whose order cannot be checked) that must be aligned with the space's cell order: its row count and,
when it has hashes, every row's hash are checked against the cell set, and NaN or infinite values
are refused (`a2v_jax.embeddings.load_embeddings`, the same checks search uses). Besides files,
three built-in encodings give the reference points any learned embedding is compared with:

* `onehot`: the discrete adjacency encoding, the strict upper triangle of the adjacency matrix
  flattened, then the one-hot op of every vertex (padding vertices all zero). NB101: 21 + 35 = 56
  features; NB201: 28 + 56 = 84 (the adjacency part is constant); DARTS: 55 + 121 = 176.
* `path` (NB101, NB201): the path encoding of BANANAS (White et al., 2021): one feature per op
  sequence that an input-to-output path can carry, 1 when the cell has such a path. NB101: paths of
  0..5 interior vertices over the three ops, 1 + 3 + ... + 243 = 364 features. NB201: the four
  input-to-output routes of the cell (1, 2 or 3 edges) over the four ops that pass data; a route
  through a `none` edge carries nothing and is no path, so 4 + 16 + 64 = 84 features.
* `random`: a fixed random Gaussian embedding (N(0, 1), 16 dimensions, drawn from `seed`): a code
  that knows nothing about the cells. Any useful encoding must beat it.

Binary built-ins are held as uint8 ([423,624, 364] is 154 MB as uint8, four times that as float);
`Encoding.rows` gives float64 rows of any encoding.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..embeddings import load_embeddings
from ..spaces import PAD_OP, CellSet, space_key

BUILT_IN = ("onehot", "path", "random")
RANDOM_DIM = 16


@dataclass(frozen=True)
class Encoding:
    """One row per cell of a space. `source`: `built-in` or the file it was read from."""

    name: str
    values: np.ndarray
    source: str
    hash_checked: bool = False

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])

    def rows(self, index=None) -> np.ndarray:
        """float64 rows (all rows when index is None)."""
        v = self.values if index is None else self.values[np.asarray(index)]
        return np.asarray(v, dtype=np.float64)

    def describe(self) -> dict:
        return {"name": self.name, "source": self.source, "dim": self.dim, "hash_checked": self.hash_checked}


class EncodingError(ValueError):
    """An encoding cannot be used on this space (unknown name, malformed spec, not defined here)."""


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`NAME=PATH` -> (NAME, PATH); a built-in name -> (name, None)."""
    text = str(spec).strip()
    name, sep, path = text.partition("=")
    if sep:
        name, path = name.strip(), path.strip()
        if not name or not path:
            raise EncodingError(f"expected NAME=PATH, got {spec!r}")
        if name in BUILT_IN:
            raise EncodingError(f"{name!r} names a built-in encoding; call the file something else ({spec!r})")
        return name, path
    if text in BUILT_IN:
        return text, None
    raise EncodingError(
        f"unknown encoding {spec!r}: give a built-in ({', '.join(BUILT_IN)}) or NAME=PATH of an embeddings.npz"
    )


def onehot(space: str, cells: CellSet, num_ops: int) -> np.ndarray:
    """uint8 [N, n(n-1)/2 + n * num_ops]: upper-triangular adjacency, then one-hot ops."""
    n = cells.ops.shape[1]
    iu = np.triu_indices(n, k=1)
    adj = cells.adjacency[:, iu[0], iu[1]].astype(np.uint8)
    ops = cells.ops.astype(np.int64)
    hot = (ops[:, :, None] == np.arange(num_ops)).astype(np.uint8)  # PAD_OP rows stay zero
    return np.concatenate([adj, hot.reshape(len(cells), -1)], axis=1)


def _slot_form(space: str, cells: CellSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(adjacency bool [N, S, S], interior digit int64 [N, S] or -1, S) with the input in slot 0 and
    the output in slot S-1; a digit is the op's index among the ops a path may carry."""
    ops = cells.ops.astype(np.int64)
    if space == "nb201":
        # ops 1..4 carry data (conv1x1, conv3x3, avg_pool, skip); 5 is `none`
        digit = np.where((ops >= 1) & (ops <= 4), ops - 1, -1)
        return cells.adjacency.astype(bool), digit, ops.shape[1]
    n = (ops != PAD_OP).sum(axis=1)
    slot = np.arange(7)[None, :]
    vertex = np.where((slot >= 1) & (slot <= (n - 2)[:, None]), slot, -1)
    vertex[:, 0], vertex[:, 6] = 0, n - 1
    safe = np.maximum(vertex, 0)
    present = vertex >= 0
    rows = np.arange(len(cells))[:, None, None]
    adj = cells.adjacency.astype(bool)[rows, safe[:, :, None], safe[:, None, :]] & present[:, :, None] & present[:, None, :]
    op_of_slot = np.take_along_axis(ops, safe, axis=1)
    digit = np.where(present & (op_of_slot >= 1) & (op_of_slot <= 3), op_of_slot - 1, -1)
    return adj, digit, 7


def _chains(adjacency: np.ndarray, size: int) -> list[tuple[int, ...]]:
    """Interior slot sequences that form an input -> output chain in `adjacency` (bool [S, S])."""
    out = []
    for k in range(size - 1):
        for chain in itertools.combinations(range(1, size - 1), k):
            hops = (0, *chain, size - 1)
            if all(adjacency[u, v] for u, v in itertools.pairwise(hops)):
                out.append(chain)
    return out


def path_encoding(space: str, cells: CellSet) -> np.ndarray:
    """uint8 [N, F]: the BANANAS path encoding (see the module docstring); NB101 and NB201 only."""
    key = space_key(space)
    if key not in ("nb101", "nb201"):
        raise EncodingError(f"the path encoding is defined for nb101 and nb201, not {key}")
    adj, digit, size = _slot_form(key, cells)
    base = 3 if key == "nb101" else 4
    routes = []  # (length, exists [N], code [N]) of every chain of slots input -> ... -> output
    for chain in _chains(adj.any(axis=0), size):
        exists = np.ones(len(cells), dtype=bool)
        for u, v in itertools.pairwise((0, *chain, size - 1)):
            exists &= adj[:, u, v]
        code = np.zeros(len(cells), dtype=np.int64)
        for s in chain:
            exists &= digit[:, s] >= 0
            code = code * base + np.maximum(digit[:, s], 0)
        routes.append((len(chain), exists, code))
    if key == "nb101":
        lengths = list(range(size - 1))  # any chain of 0..5 interior vertices can be a path
    else:  # the chains of the fixed DAG
        from ..spaces.nb201 import ADJACENCY

        lengths = sorted({len(c) for c in _chains(ADJACENCY.astype(bool), size)})
    offset, total = {}, 0
    for k in lengths:
        offset[k] = total
        total += base**k
    out = np.zeros((len(cells), total), dtype=np.uint8)
    for k, exists, code in routes:
        rows = np.flatnonzero(exists)
        out[rows, offset[k] + code[rows]] = 1
    return out


def random_control(count: int, seed: int = 0, dim: int = RANDOM_DIM) -> np.ndarray:
    """float32 [count, dim]: the fixed random Gaussian embedding (a function of seed, count and dim only)."""
    return np.random.default_rng([seed, 0x5EED]).standard_normal((count, dim)).astype(np.float32)


def built_in(name: str, space: str, cells: CellSet, num_ops: int, seed: int = 0) -> Encoding:
    key = space_key(space)
    if name == "onehot":
        return Encoding(name, onehot(key, cells, num_ops), "built-in")
    if name == "path":
        return Encoding(name, path_encoding(key, cells), "built-in")
    if name == "random":
        return Encoding(name, random_control(len(cells), seed), "built-in")
    raise EncodingError(f"unknown built-in encoding {name!r}; choose one of {', '.join(BUILT_IN)}")


def check_array(name: str, values: np.ndarray, cells: CellSet) -> np.ndarray:
    """An in-memory embedding checked as a file would be (row count, finite values)."""
    v = np.asarray(values)
    if v.ndim != 2 or v.dtype.kind not in "fiu":
        raise EncodingError(f"embedding {name!r} must be a numeric [N, d] array, got {v.dtype}{v.shape}")
    if v.shape[0] != len(cells):
        raise EncodingError(
            f"embedding {name!r} has {v.shape[0]:,} rows, but the {cells.space} space has {len(cells):,} cells"
        )
    if v.dtype.kind == "f" and not np.isfinite(v).all():
        raise EncodingError(f"embedding {name!r} contains NaN or infinite values")
    return v


def load_encodings(
    specs, space: str, cells: CellSet, num_ops: int, seed: int = 0, arrays: dict | None = None
) -> list[Encoding]:
    """The encodings named by `specs` (built-in names or NAME=PATH), then the in-memory `arrays`
    ({name: [N, d]}), in that order; duplicate names are an error."""
    out: list[Encoding] = []
    for spec in specs:
        name, path = parse_spec(spec)
        if path is None:
            out.append(built_in(name, space, cells, num_ops, seed))
            continue
        file = Path(path).expanduser()
        values = load_embeddings(file, len(cells), space=cells.space, cells=cells, what=f"the {cells.space} space")
        has_hash = False
        if file.suffix != ".npy":
            with np.load(file, allow_pickle=False) as z:
                has_hash = "hash" in z.files
        out.append(Encoding(name, values, str(file), hash_checked=has_hash))
    for name, values in (arrays or {}).items():
        out.append(Encoding(str(name), check_array(str(name), values, cells), "array"))
    names = [e.name for e in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise EncodingError(f"encoding names must be distinct; given twice: {', '.join(dupes)}")
    if not out:
        raise EncodingError("no encodings to analyse: give --embeddings NAME=PATH and/or built-ins")
    return out
