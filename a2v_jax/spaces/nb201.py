"""NAS-Bench-201: its 15,625 cells in official index order, as arch2vec encodes them.

A NAS-Bench-201 cell is a 4-node DAG whose six edges (0->1, 0->2, 1->2, 0->3, 1->3, 2->3) each carry
one of five ops. arch2vec turns it into an 8-node op-on-node DAG, one node per edge:

    node:  0    1       2       3       4       5       6       7
           in   e(0>1)  e(0>2)  e(1>2)  e(0>3)  e(1>3)  e(2>3)  out

with the fixed edges in->{1,2,4}, 1->{3,5}, 2->6, 3->6, {4,5,6}->out (`ADJACENCY`): the encoding of
every cell has the same adjacency and differs only in the ops of nodes 1-6. Ops index `OP_NAMES`,
arch2vec's one-hot order (input, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3, skip_connect, none, output).
The node order is also the order of the edges in the official architecture string
`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, so `parse_arch` / `format_arch` are a direct read-off.

Row order of the cell set: the official index order, embedded as package data (`nb201_order`), so
row i is NAS-Bench-201 architecture i and lines up with every public file of the benchmark.

A compact code names a cell: its six edge ops (op index - 1, so 0..4) as base-5 digits, node 1 the
most significant (`encode_codes` / `decode_codes`); codes are not the official index.

Validity (for decoder outputs; `is_valid` never raises on malformed input) has two named rules:
* "official" (default): the decoding is exactly the encoding of a NAS-Bench-201 cell, that is of an
  architecture string the official API accepts: node 0 input, node 7 output, nodes 1-6 each one of
  the five cell ops, and the adjacency exactly `ADJACENCY` (0/1 entries).
* "published": arch2vec's `is_valid_nasbench201`: op 0 is input, the last op is output, ops 2..6 are
  cell ops. It never looks at the adjacency, and its loop starts at node 2 (copied from the DARTS
  check, whose nodes 0 and 1 are both inputs), so node 1 may be anything, even input or output.

`graph_hash` is the NAS-Bench-101 hash with the op indices as labels. The fixed DAG has no
non-trivial automorphism, so the 15,625 cells have 15,625 distinct hashes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._io import CorruptFileError
from .base import CellSet, SearchSpace
from .hash_batch import hash_graphs
from .nb201_order import NUM_CELLS, official_codes
from .profile import DatasetProfile, SpaceProfile

OP_NAMES: tuple[str, ...] = (
    "input",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "none",
    "output",
)
INPUT, OUTPUT = 0, 6
CELL_OPS: tuple[str, ...] = OP_NAMES[1:6]
"""The five ops an edge of a NAS-Bench-201 cell can carry (indices 1..5)."""

EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""(source, target) in the 4-node NB201 cell of the edge held by nodes 1..6 of the encoding."""

ADJACENCY = np.zeros((8, 8), dtype=np.uint8)
for _src, _dst in ((0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)):
    ADJACENCY[_src, _dst] = 1
ADJACENCY.setflags(write=False)

RULES = ("official", "published")
NUM_NEIGHBOURS = 24
"""One op change away: 6 edges x 4 other ops."""

_NAME_TO_OP = {name: i for i, name in enumerate(OP_NAMES)}
_POWERS = 5 ** np.arange(5, -1, -1, dtype=np.int64)  # node 1 is the most significant digit


# --- architecture strings ---------------------------------------------------------------------


def parse_arch(arch: str) -> np.ndarray:
    """int8 [8] ops of the encoding of an official architecture string (ValueError if malformed)."""
    if not isinstance(arch, str):
        raise ValueError(f"an architecture string must be a str, not {type(arch).__name__}")
    text = arch.strip()
    groups = text.split("+")
    if len(groups) != 3:
        raise ValueError(
            f"malformed NAS-Bench-201 architecture {arch!r}: expected 3 '+'-separated node groups, got {len(groups)}"
        )
    ops = [INPUT]
    for node, group in enumerate(groups, start=1):
        if len(group) < 2 or not (group.startswith("|") and group.endswith("|")):
            raise ValueError(
                f"malformed NAS-Bench-201 architecture {arch!r}: group {group!r} must be wrapped in '|'"
            )
        entries = group[1:-1].split("|")
        if len(entries) != node:
            raise ValueError(
                f"malformed NAS-Bench-201 architecture {arch!r}: node {node} needs {node} incoming edges, "
                f"group {group!r} has {len(entries)}"
            )
        for source, entry in enumerate(entries):
            name, sep, src = entry.partition("~")
            if not sep:
                raise ValueError(
                    f"malformed NAS-Bench-201 architecture {arch!r}: edge {entry!r} lacks '~source'"
                )
            if src != str(source):
                raise ValueError(
                    f"malformed NAS-Bench-201 architecture {arch!r}: edge {entry!r} of node {node} "
                    f"should come from node {source}"
                )
            if name not in CELL_OPS:
                raise ValueError(
                    f"unknown NAS-Bench-201 op {name!r} in {arch!r}; expected one of {', '.join(CELL_OPS)}"
                )
            ops.append(_NAME_TO_OP[name])
    ops.append(OUTPUT)
    return np.array(ops, dtype=np.int8)


def format_arch(ops: Any) -> str:
    """The official architecture string of a cell's ops (int [8] in this encoding)."""
    op = _checked_ops(ops)
    names = [OP_NAMES[int(o)] for o in op[1:7]]
    parts, k = [], 0
    for node in (1, 2, 3):
        parts.append("|" + "|".join(f"{names[k + s]}~{s}" for s in range(node)) + "|")
        k += node
    return "+".join(parts)


def arch_to_cell(arch: str) -> tuple[np.ndarray, np.ndarray]:
    """(adjacency uint8 [8, 8], ops int8 [8]) of an official architecture string."""
    return ADJACENCY.copy(), parse_arch(arch)


def cell_to_arch(adjacency: Any, ops: Any) -> str:
    """Official architecture string of a cell; ValueError if it is not one ("official" rule)."""
    if not SPACE.is_valid(adjacency, ops):
        raise ValueError("not the encoding of a NAS-Bench-201 cell (see NB201Space.is_valid)")
    return format_arch(ops)


def _checked_ops(ops: Any) -> np.ndarray:
    op = np.asarray(ops)
    if op.shape != (8,) or op.dtype.kind not in "iu":
        raise ValueError(f"expected integer ops of shape (8,), got {op.dtype}{op.shape}")
    if op[0] != INPUT or op[7] != OUTPUT or not np.all((op[1:7] >= 1) & (op[1:7] <= 5)):
        raise ValueError(f"ops {op.tolist()} are not a NAS-Bench-201 cell (input, 6 cell ops, output)")
    return op


# --- codes ------------------------------------------------------------------------------------


def encode_codes(edge_ops: Any) -> np.ndarray:
    """uint16 [...] base-5 codes of edge ops int [..., 6] (op indices 1..5, nodes 1..6 in order)."""
    e = np.asarray(edge_ops, dtype=np.int64)
    if e.shape[-1:] != (6,) or (e.size and (e.min() < 1 or e.max() > 5)):
        raise ValueError("edge ops must be op indices 1..5 in an array of shape [..., 6]")
    return ((e - 1) @ _POWERS).astype(np.uint16)


def decode_codes(codes: Any) -> np.ndarray:
    """int8 [..., 6] edge ops (1..5) of base-5 codes."""
    c = np.asarray(codes, dtype=np.int64)
    if c.size and (c.min() < 0 or c.max() >= NUM_CELLS):
        raise ValueError(f"codes must lie in [0, {NUM_CELLS})")
    return ((c[..., None] // _POWERS) % 5 + 1).astype(np.int8)


def full_ops(edge_ops: np.ndarray) -> np.ndarray:
    """int8 [..., 8]: input, the six edge ops, output."""
    e = np.asarray(edge_ops, dtype=np.int8)
    shape = e.shape[:-1]
    return np.concatenate(
        [np.full(shape + (1,), INPUT, np.int8), e, np.full(shape + (1,), OUTPUT, np.int8)], axis=-1
    )


# --- validity ---------------------------------------------------------------------------------


def valid_batch(adjacency: Any, ops: Any, rule: str = "official") -> np.ndarray:
    """bool [B]: whether each of adjacency [B, 8, 8], ops [B, 8] is a cell under `rule`.

    Raises ValueError for an unknown rule or arrays of the wrong shape or kind; any value inside
    well-formed arrays merely makes that row invalid.
    """
    if rule not in RULES:
        raise ValueError(f"unknown validity rule {rule!r}; choose one of {', '.join(RULES)}")
    adj, op = np.asarray(adjacency), np.asarray(ops)
    if adj.ndim != 3 or adj.shape[1:] != (8, 8) or op.shape != (adj.shape[0], 8):
        raise ValueError(f"expected adjacency [B, 8, 8] and ops [B, 8]; got {adj.shape} and {op.shape}")
    if adj.dtype.kind not in "biuf" or op.dtype.kind not in "biuf":
        raise ValueError(f"adjacency and ops must be numeric; got {adj.dtype} and {op.dtype}")
    with np.errstate(invalid="ignore"):
        cell_op = (op >= 1) & (op <= 5) & (op == np.round(op) if op.dtype.kind == "f" else True)
        if rule == "published":
            return (op[:, 0] == INPUT) & (op[:, 7] == OUTPUT) & cell_op[:, 2:7].all(axis=1)
        return (
            (op[:, 0] == INPUT)
            & (op[:, 7] == OUTPUT)
            & cell_op[:, 1:7].all(axis=1)
            & (adj == ADJACENCY).all(axis=(1, 2))
        )


class NB201Space(SearchSpace):
    name = "nb201"
    num_nodes = 8
    op_names = OP_NAMES
    rules = RULES

    def is_valid_batch(self, adjacency: Any, ops: Any, rule: str | None = None) -> np.ndarray:
        """bool [B]: `is_valid` of each row of adjacency [B, 8, 8], ops [B, 8] (rules: module docstring)."""
        return valid_batch(adjacency, ops, self.check_rule(rule))

    # --- the cell set --------------------------------------------------------------------------

    def build(self) -> CellSet:
        """All 15,625 cells in official index order (a few seconds: the MD5 hashing)."""
        ops = full_ops(decode_codes(official_codes()))
        adjacency = np.broadcast_to(ADJACENCY, (NUM_CELLS, 8, 8)).copy()
        hashes = hash_graphs(adjacency, ops, workers=1)
        return CellSet(self.name, adjacency, ops, hashes)

    def check(self, cells: CellSet, path: Any) -> None:
        """A cached set must be exactly the 15,625 cells in official order with distinct hashes."""
        if len(cells) != NUM_CELLS:
            raise CorruptFileError(f"{path}: {len(cells):,} cells, NAS-Bench-201 has {NUM_CELLS:,}")
        if not (cells.adjacency == ADJACENCY).all():
            raise CorruptFileError(f"{path}: some adjacency is not the fixed NAS-Bench-201 DAG")
        expected = full_ops(decode_codes(official_codes()))
        if not np.array_equal(cells.ops, expected):
            row = int(np.argmax((cells.ops != expected).any(axis=1)))
            raise CorruptFileError(f"{path}: row {row} is not official architecture {row}")
        if np.unique(cells.hash).size != NUM_CELLS:
            raise CorruptFileError(f"{path}: hashes are not distinct")
        super().check(cells, path)

    # --- lookups -------------------------------------------------------------------------------

    def codes(self, cells: CellSet) -> np.ndarray:
        """uint16 [N] base-5 code of each cell of `cells` (any NB201 cells, in any order)."""
        return encode_codes(cells.ops[:, 1:7])

    def arch_strings(self, cells: CellSet) -> list[str]:
        """Official architecture string of each cell."""
        return [format_arch(row) for row in cells.ops]

    def index_of_arch(self, cells: CellSet, archs: str | list[str]) -> np.ndarray:
        """int64 [B] row of each architecture string in `cells` (KeyError if one is absent)."""
        items = [archs] if isinstance(archs, str) else list(archs)
        wanted = (
            encode_codes(np.stack([parse_arch(a)[1:7] for a in items])) if items else np.zeros(0, np.uint16)
        )
        rows = self._rows_of_codes(cells, wanted)
        if (rows < 0).any():
            raise KeyError(f"architecture {items[int(np.argmax(rows < 0))]!r} is not in this cell set")
        return rows

    def _rows_of_codes(self, cells: CellSet, codes: np.ndarray) -> np.ndarray:
        table = cells.__dict__.get("_nb201_rows")
        if table is None:
            table = np.full(NUM_CELLS, -1, dtype=np.int64)
            table[self.codes(cells)] = np.arange(len(cells))
            object.__setattr__(cells, "_nb201_rows", table)
        return table[np.asarray(codes, dtype=np.int64)]

    def neighbours(self, cells: CellSet) -> np.ndarray:
        """int32 [N, 24]: rows of the cells one op change away from each cell.

        Column 4*p + k holds the cell whose edge p (node p+1) carries the k-th of the four other
        cell ops (ascending op index); -1 where that cell is not in `cells` (never for the full set).
        """
        edge_ops = cells.ops[:, 1:7].astype(np.int64)
        codes = encode_codes(edge_ops).astype(np.int64)
        shift = np.arange(1, 5)  # the other four ops: (op - 1 + shift) mod 5
        columns = []
        for p in range(6):
            digit = edge_ops[:, p] - 1
            new_digit = (digit[:, None] + shift) % 5
            new_digit.sort(axis=1)
            columns.append(codes[:, None] + (new_digit - digit[:, None]) * _POWERS[p])
        neighbour_codes = np.concatenate(columns, axis=1)
        return self._rows_of_codes(cells, neighbour_codes).astype(np.int32)


SPACE = NB201Space()


PROFILE = SpaceProfile(
    name="nb201",
    title="NAS-Bench-201",
    pretrain_epochs=10,
    datasets=(
        DatasetProfile(
            "cifar10",
            budget=12_000.0,
            reward="12-epoch cifar10-valid validation accuracy (what the paper's searches observe)",
            test="200-epoch CIFAR-10 test accuracy (trained on train + valid)",
            aliases=("c10", "cifar10-valid", "cifar10_valid_converged"),
        ),
        DatasetProfile(
            "cifar100",
            budget=500_000.0,
            reward="200-epoch x-valid accuracy",
            test="200-epoch x-test accuracy",
            aliases=("c100",),
        ),
        DatasetProfile(
            "ImageNet16-120",
            budget=1_400_000.0,
            reward="200-epoch x-valid accuracy",
            test="200-epoch x-test accuracy",
            aliases=("imagenet", "imagenet16", "in16", "in16-120"),
        ),
    ),
    search={
        "rl": {"baseline": 0.4},
        "bo": {"top_k": 1, "target": 1.0},
        "re": {"population": 10, "sample_size": 3, "sample_replace": True},
        "rl-supervised": {"baseline": 0.4},
        "bo-supervised": {"top_k": 1, "target": 1.0},
        "rl-discrete": {"lr": 0.01, "optimizer": "adam", "init_std": 1e-3},  # why 0.01: a2v_jax.search.rl_discrete
        "bo-discrete": {"top_k": 1, "target": 1.0},
    },
)
