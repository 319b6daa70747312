"""DARTS: a seeded sample of unique cells, encoded as arch2vec encodes them.

A DARTS cell (`Genotype`) has two inputs c_{k-2}, c_{k-1} (nodes 0, 1) and four blocks; block b
sums two ops, each applied to one earlier node (0, 1, or block j-2 for input j >= 2), and the
output concatenates the four blocks. A genotype here is int8 [8, 2]: row 2b+i is (op, input) of
op i of block b, op an index into `PRIMITIVES`, in the published code's order (none, max_pool_3x3,
avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5).

arch2vec's encoding is an 11-node op-on-node DAG (preprocessing/gen_isomorphism_graphs.py):
node 0 = c_{k-2}, 1 = c_{k-1}, nodes 2+2b and 3+2b = the two ops of block b, node 10 = output.
An op with input 0 or 1 gets the edge from that node; an op with input j >= 2 gets edges from both
op nodes of block j-2; every op node feeds the output. Node labels (`OP_NAMES`): 0, 1, op index + 2,
10 (11-way one-hot). arch2vec uses the same cell as normal and reduction cell.

Validity (for decoder outputs; `is_valid` never raises on malformed input), three named rules:
* "paper" (default): the six checks of the paper's appendix B, read on this encoding, after labels
  outside 0..10 are rejected: 1) nodes 0 and 1 are the inputs c_{k-2}, c_{k-1} and no other node is
  an input; 2) node 10 is the output and no other node is; 3) every node but the inputs has a
  predecessor; 4) every node but the output has a successor; 5) each intermediate node (a block)
  takes two edges from previous nodes: each of its two op nodes has exactly one input, so its
  predecessors are {0}, {1}, or both op nodes {2+2j, 3+2j} of an earlier block j; 6) the matrix is
  binary and strictly upper-triangular. `paper_checks` gives each check separately.
* "exact": the decoding is the encoding of a genotype (`cell_to_genotype` inverts it): "paper", and
  every op node feeds the output, nothing else does, and the inputs have no predecessor.
* "published": arch2vec's `is_valid_darts` (utils/utils.py), exactly: op 0 is c_{k-2}, op 1 is
  c_{k-1}, the last op is the output, ops 2-9 are primitives, each op node of block b has at least
  one edge from a node before the block (rows 0..2b+1), and no op node of blocks 0-2 has one from a
  later block (rows from 2b+4). It never checks the output's or the inputs' edges and allows several
  predecessors per op node, an edge between the two op nodes of a block, half of a block as input
  and op nodes without successor. The published pretraining applies it to `(A > 0.5).triu(1)`.

The cell set is a sample (`darts_sample`): genotypes drawn as the published code draws them, kept
while the mobile ImageNet network stays under 600M multiply-adds (`darts_macs`), deduplicated by the
NAS-Bench-101 graph hash, in sampling order. `CellSet.extra` holds `genotype` int8 [N, 8, 2] and
`macs` int64 [N]. `load(num=, seed=, macs=)` caches each sample as its own file; `macs` is the
counting convention of the 600M filter: "thop" (default, what the published sample used) or
"mult_adds" (conv and linear multiply-adds only; see `darts_macs`). The first n cells of a sample
are the same whatever num was asked for.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .._io import CorruptFileError, save_npz
from .base import FORMAT_VERSION, CellSet, SearchSpace
from .darts_macs import CONVENTIONS, MOBILE_LIMIT, PRIMITIVES, network_macs
from .darts_sample import Sample, sample_cells
from .profile import SpaceProfile

OP_NAMES: tuple[str, ...] = ("c_k-2", "c_k-1", *PRIMITIVES, "output")
INPUT0, INPUT1, OUTPUT = 0, 1, 10
NUM_NODES = 11
DEFAULT_NUM = 600_000
MAX_NUM = 10_000_000
"""The largest sample `load`/`build` accept: about an hour and a half of sampling on two cores
(600,000 cells take about 5 minutes) and 1.2 GB of adjacency matrices."""
DEFAULT_SEED = 0
DEFAULT_MACS = "thop"

RULES = ("paper", "exact", "published")
PAPER_CHECKS = ("inputs", "output", "predecessors", "successors", "two_inputs", "upper_triangular")
"""Names of the paper's six checks, in its order (see the module docstring)."""

BLOCK_OF_NODE = np.array([-1, -1, 0, 0, 1, 1, 2, 2, 3, 3, -1])
_MAX_INPUT = np.repeat(np.arange(2, 6), 2)  # op e (block e//2) may read inputs 0..e//2+1


def _input_patterns() -> np.ndarray:
    """bool [8, 5, 11]: for op node 2+e, the predecessor column of input j (False rows: j not allowed)."""
    pat = np.zeros((8, 5, NUM_NODES), dtype=bool)
    for e in range(8):
        for j in range(_MAX_INPUT[e]):
            if j < 2:
                pat[e, j, j] = True
            else:
                pat[e, j, [2 * j - 2, 2 * j - 1]] = True
    return pat


_PATTERNS = _input_patterns()
_PATTERN_OK = _PATTERNS.any(axis=2)  # [8, 5]: input j allowed for op e


# --- genotypes and the 11-node encoding ---------------------------------------------------------


def check_genotypes(genotype: Any) -> np.ndarray:
    """int8 [..., 8, 2] of well-formed genotypes; ValueError naming what is wrong."""
    g = np.asarray(genotype)
    if g.shape[-2:] != (8, 2) or g.dtype.kind not in "iu":
        raise ValueError(f"a genotype is an integer array [..., 8, 2] of (op, input); got {g.dtype}{g.shape}")
    ops, inputs = g[..., 0], g[..., 1]
    if g.size and ((ops < 0) | (ops > 7)).any():
        raise ValueError(f"genotype ops must be indices 0..7 into {PRIMITIVES}")
    if g.size and ((inputs < 0) | (inputs >= _MAX_INPUT)).any():
        raise ValueError("the inputs of block b must lie in 0..b+1 (c_{k-2}, c_{k-1}, or an earlier block)")
    return g.astype(np.int8)


def genotype_to_cell(genotype: Any) -> tuple[np.ndarray, np.ndarray]:
    """(adjacency uint8 [..., 11, 11], ops int8 [..., 11]) of genotypes int [..., 8, 2]."""
    g = check_genotypes(genotype)
    shape = g.shape[:-2]
    flat = g.reshape(-1, 8, 2)
    count = flat.shape[0]
    adj = np.zeros((count, NUM_NODES, NUM_NODES), dtype=np.uint8)
    # the predecessor column of op node 2+e is a table lookup on (e, input)
    adj[:, :, 2:10] = _PATTERNS[np.arange(8), flat[:, :, 1]].transpose(0, 2, 1)
    adj[:, 2:10, OUTPUT] = 1
    ops = np.empty((count, NUM_NODES), dtype=np.int8)
    ops[:, 0], ops[:, 1], ops[:, OUTPUT] = INPUT0, INPUT1, OUTPUT
    ops[:, 2:10] = flat[:, :, 0] + 2
    return adj.reshape(*shape, NUM_NODES, NUM_NODES), ops.reshape(*shape, NUM_NODES)


def cell_to_genotype(adjacency: Any, ops: Any) -> np.ndarray:
    """int8 [8, 2] genotype of one encoded cell; ValueError if it is not one ("exact" rule)."""
    try:
        adj, op = np.asarray(adjacency), np.asarray(ops)
        ok = bool(valid_batch(adj[None], op[None], "exact")[0])
    except (TypeError, ValueError, OverflowError, IndexError):
        ok = False
    if not ok:
        raise ValueError("not the encoding of a DARTS genotype (see DartsSpace.is_valid, rule 'exact')")
    return _read_genotypes(adj[None] == 1, op[None].astype(np.int64))[0]


def _read_genotypes(edges: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """int8 [B, 8, 2] of encodings known to be exact."""
    columns = edges[:, :, 2:10].transpose(0, 2, 1)  # [B, 8, 11]: predecessors of each op node
    match = (columns[:, :, None, :] == _PATTERNS[None]).all(axis=3) & _PATTERN_OK[None]
    g = np.empty((edges.shape[0], 8, 2), dtype=np.int8)
    g[:, :, 0] = ops[:, 2:10] - 2
    g[:, :, 1] = np.argmax(match, axis=2)
    return g


def genotype_names(genotype: Any) -> list[tuple[str, int]]:
    """DARTS's list form [('sep_conv_3x3', 0), ...] of one genotype."""
    g = check_genotypes(genotype)
    if g.shape != (8, 2):
        raise ValueError(f"expected one genotype [8, 2], got {g.shape}")
    return [(PRIMITIVES[int(o)], int(i)) for o, i in g.tolist()]


def format_genotype(normal: Any, reduce: Any | None = None) -> str:
    """DARTS `Genotype(...)` text of a cell (reduction cell = normal cell unless given)."""
    n = genotype_names(normal)
    r = n if reduce is None else genotype_names(reduce)
    return f"Genotype(normal={n!r}, normal_concat=[2, 3, 4, 5], reduce={r!r}, reduce_concat=[2, 3, 4, 5])"


def _cell_from_literal(value: Any, what: str) -> np.ndarray:
    if not isinstance(value, list | tuple) or len(value) != 8:
        raise ValueError(f"{what}: expected a list of 8 (op, input) pairs, got {value!r}")
    rows = []
    for k, item in enumerate(value):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise ValueError(f"{what}: entry {k} {item!r} is not an (op, input) pair")
        name, src = item
        if name not in PRIMITIVES:
            raise ValueError(f"{what}: unknown DARTS op {name!r}; expected one of {', '.join(PRIMITIVES)}")
        if not isinstance(src, int) or isinstance(src, bool) or not 0 <= src < _MAX_INPUT[k]:
            raise ValueError(f"{what}: entry {k} reads node {src!r}; block {k // 2} may read 0..{k // 2 + 1}")
        rows.append((PRIMITIVES.index(name), src))
    return np.array(rows, dtype=np.int8)


def _literal(node: ast.expr, what: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as e:
        raise ValueError(f"{what}: only literal lists of (op, input) pairs are allowed ({e})") from e


def _check_concat(node: ast.expr, what: str) -> None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "range"
        and not node.keywords
    ):
        args = [_literal(a, what) for a in node.args]
        if (
            not all(type(a) is int for a in args)
            or not 1 <= len(args) <= 3
            or (len(args) == 3 and args[2] == 0)
        ):
            raise ValueError(f"{what}: malformed range{tuple(args)}")
        span = range(*args)
        value = list(span) if len(span) <= 8 else f"range{tuple(args)}"
    else:
        raw = _literal(node, what)
        value = list(raw) if isinstance(raw, list | tuple) else raw
    if value != [2, 3, 4, 5]:
        raise ValueError(f"{what} must be [2, 3, 4, 5] (every block concatenated), got {value}")


_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


def parse_genotype(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(normal, reduce) int8 [8, 2] of DARTS text: `Genotype(normal=[...], normal_concat=..., reduce=[...],
    reduce_concat=...)`, or a bare list `[('sep_conv_3x3', 0), ...]` (one cell for both)."""
    if not isinstance(text, str):
        raise ValueError(f"a genotype text must be a str, not {type(text).__name__}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"not a DARTS genotype: {text!r} ({e.msg})") from e
    if not isinstance(tree, ast.Call):
        cell = _cell_from_literal(_literal(tree, "cell"), "cell")
        return cell, cell.copy()
    func = tree.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name != "Genotype":
        raise ValueError(f"not a DARTS genotype: expected Genotype(...), got a call to {name!r}")
    if len(tree.args) > len(_FIELDS):
        raise ValueError(f"Genotype takes at most {len(_FIELDS)} fields")
    fields = dict(zip(_FIELDS, tree.args, strict=False))
    for kw in tree.keywords:
        if kw.arg not in _FIELDS:
            raise ValueError(f"unknown Genotype field {kw.arg!r}; expected {', '.join(_FIELDS)}")
        fields[kw.arg] = kw.value
    missing = [f for f in ("normal", "reduce") if f not in fields]
    if missing:
        raise ValueError(f"Genotype lacks {', '.join(missing)}")
    for f in ("normal_concat", "reduce_concat"):
        if f in fields:
            _check_concat(fields[f], f)
    normal = _cell_from_literal(_literal(fields["normal"], "normal"), "normal")
    reduce = _cell_from_literal(_literal(fields["reduce"], "reduce"), "reduce")
    return normal, reduce


# --- validity -------------------------------------------------------------------------------


def _numeric(adjacency: Any, ops: Any) -> tuple[np.ndarray, np.ndarray]:
    adj, op = np.asarray(adjacency), np.asarray(ops)
    if adj.ndim != 3 or adj.shape[1:] != (NUM_NODES, NUM_NODES) or op.shape != (adj.shape[0], NUM_NODES):
        raise ValueError(f"expected adjacency [B, 11, 11] and ops [B, 11]; got {adj.shape} and {op.shape}")
    if adj.dtype.kind not in "biuf" or op.dtype.kind not in "biuf":
        raise ValueError(f"adjacency and ops must be numeric; got {adj.dtype} and {op.dtype}")
    return adj, op


def paper_checks(adjacency: Any, ops: Any) -> dict[str, np.ndarray]:
    """bool [B] per check of the paper's six (`PAPER_CHECKS`) for adjacency [B, 11, 11], ops [B, 11].

    Labels outside 0..10 fail none of these; `valid_batch` rejects them up front.
    """
    adj, op = _numeric(adjacency, ops)
    with np.errstate(invalid="ignore"):
        binary = ((adj == 0) | (adj == 1)).all(axis=(1, 2))
        edges = adj == 1
        upper = np.triu(np.ones((NUM_NODES, NUM_NODES), dtype=bool), 1)
        in_deg = edges.sum(axis=1)
        out_deg = edges.sum(axis=2)
        columns = edges[:, :, 2:10].transpose(0, 2, 1)
        one_input = ((columns[:, :, None, :] == _PATTERNS[None]).all(axis=3) & _PATTERN_OK[None]).any(axis=2)
        return {
            "inputs": (op[:, 0] == INPUT0)
            & (op[:, 1] == INPUT1)
            & ~np.isin(op[:, 2:], (INPUT0, INPUT1)).any(axis=1),
            "output": (op[:, OUTPUT] == OUTPUT) & ~(op[:, :OUTPUT] == OUTPUT).any(axis=1),
            "predecessors": (in_deg[:, 2:] > 0).all(axis=1),
            "successors": (out_deg[:, :OUTPUT] > 0).all(axis=1),
            "two_inputs": one_input.all(axis=1),
            "upper_triangular": binary & ~(edges & ~upper).any(axis=(1, 2)),
        }


def _labels_ok(op: np.ndarray) -> np.ndarray:
    """bool [B]: every label an integer in 0..10."""
    with np.errstate(invalid="ignore"):
        integral = op == np.round(op) if op.dtype.kind == "f" else np.ones(op.shape, dtype=bool)
        return (integral & (op >= 0) & (op <= OUTPUT)).all(axis=1)


def _published(adj: np.ndarray, op: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        integral = op == np.round(op) if op.dtype.kind == "f" else np.ones(op.shape, dtype=bool)
        ok = (op[:, 0] == INPUT0) & (op[:, 1] == INPUT1) & (op[:, -1] == OUTPUT)
        ok &= ((op[:, 2:10] >= 2) & (op[:, 2:10] <= 9) & integral[:, 2:10]).all(axis=1)
        a = adj.astype(np.float64)
        for first, before, after in ((2, 2, 4), (4, 4, 6), (6, 6, 8), (8, 8, None)):
            for v in (first, first + 1):
                ok &= a[:, :before, v].sum(axis=1) > 0
                if after is not None:
                    ok &= ~(a[:, after:, v].sum(axis=1) > 0)
        return ok


def valid_batch(adjacency: Any, ops: Any, rule: str = "paper") -> np.ndarray:
    """bool [B]: validity of each of adjacency [B, 11, 11], ops [B, 11] under `rule`.

    Raises ValueError for an unknown rule or arrays of the wrong shape or kind; any value inside
    well-formed arrays merely makes that row invalid.
    """
    if rule not in RULES:
        raise ValueError(f"unknown validity rule {rule!r}; choose one of {', '.join(RULES)}")
    adj, op = _numeric(adjacency, ops)
    if rule == "published":
        return _published(adj, op)
    checks = paper_checks(adj, op)
    ok = _labels_ok(op) & np.logical_and.reduce(list(checks.values()))
    if rule == "exact":
        edges = adj == 1
        ok &= ~edges[:, :, :2].any(axis=(1, 2))  # inputs have no predecessor
        feeds = np.zeros(NUM_NODES, dtype=bool)
        feeds[2:10] = True
        ok &= (edges[:, :, OUTPUT] == feeds).all(axis=1)  # exactly the op nodes feed the output
    return ok


class DartsSpace(SearchSpace):
    name = "darts"
    num_nodes = NUM_NODES
    op_names = OP_NAMES
    rules = RULES
    build_options = ("num", "seed", "macs")

    def is_valid_batch(self, adjacency: Any, ops: Any, rule: str | None = None) -> np.ndarray:
        """bool [B]: `is_valid` of each row of adjacency [B, 11, 11], ops [B, 11] (rules: module docstring)."""
        return valid_batch(adjacency, ops, self.check_rule(rule))

    # --- the sampled cell set ---------------------------------------------------------------

    @staticmethod
    def _options(
        num: Any = DEFAULT_NUM, seed: Any = DEFAULT_SEED, macs: str = DEFAULT_MACS
    ) -> tuple[int, int, str]:
        if isinstance(num, bool) or not isinstance(num, int | np.integer) or num < 1:
            raise ValueError(f"num must be a positive integer, got {num!r}")
        if num > MAX_NUM:
            raise ValueError(
                f"num={num:,} is more than the {MAX_NUM:,} cells a sample may have (600,000 take about "
                f"5 minutes on two cores; {MAX_NUM:,} about an hour and a half)"
            )
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if macs not in CONVENTIONS:
            raise ValueError(f"unknown MAC convention {macs!r}; choose one of {', '.join(CONVENTIONS)}")
        return int(num), int(seed), macs

    def cache_name(self, num: Any = DEFAULT_NUM, seed: Any = DEFAULT_SEED, macs: str = DEFAULT_MACS) -> str:
        num, seed, macs = self._options(num, seed, macs)
        suffix = "" if macs == DEFAULT_MACS else f"-{macs}"
        return f"cells-n{num}-s{seed}{suffix}"

    def build(
        self,
        num: int = DEFAULT_NUM,
        seed: int = DEFAULT_SEED,
        macs: str = DEFAULT_MACS,
        workers: int | None = None,
        progress: bool | None = None,
    ) -> CellSet:
        """Sample `num` unique cells with `seed` (see `darts_sample.sample_cells`)."""
        return self.build_sample(num, seed, macs, workers=workers, progress=progress)[0]

    def build_sample(
        self,
        num: int = DEFAULT_NUM,
        seed: int = DEFAULT_SEED,
        macs: str = DEFAULT_MACS,
        workers: int | None = None,
        progress: bool | None = None,
    ) -> tuple[CellSet, Sample]:
        """`build`, also returning the sampler's statistics and phase timings."""
        num, seed, macs = self._options(num, seed, macs)
        if progress is None:
            progress = sys.stderr.isatty()
        s = sample_cells(num, seed, convention=macs, workers=workers, progress=progress)
        cells = CellSet(
            self.name, s.adjacency, s.ops, s.hashes, extra={"genotype": s.genotypes, "macs": s.macs}
        )
        return cells, s

    def load(
        self,
        cache: str | Path | None = None,
        rebuild: bool = False,
        verbose: bool = False,
        num: int = DEFAULT_NUM,
        seed: int = DEFAULT_SEED,
        macs: str = DEFAULT_MACS,
        workers: int | None = None,
    ) -> CellSet:
        """The sample for (num, seed, macs), from its cache file when sound, else sampled and cached.

        600,000 cells take a few minutes to sample (the MD5 hashing, on `workers` processes) and
        about a second to load.
        """
        num, seed, macs = self._options(num, seed, macs)
        path = self.cache_path(cache, num=num, seed=seed, macs=macs)
        if path.exists() and not rebuild:
            try:
                cells, meta = self._read(path)
                if meta != {"num": num, "seed": seed, "macs": macs}:
                    raise CorruptFileError(
                        f"{path}: holds the sample {meta}, not num={num} seed={seed} macs={macs}"
                    )
                return cells
            except CorruptFileError as e:
                if verbose:
                    print(f"cache {path} is unusable ({e}); rebuilding", file=sys.stderr)
        cells = self.build(num=num, seed=seed, macs=macs, workers=workers, progress=verbose or None)
        self.write_sample(cells, path, num=num, seed=seed, macs=macs)
        return CellSet(cells.space, cells.adjacency, cells.ops, cells.hash, path, cells.extra)

    def write_sample(
        self, cells: CellSet, path: str | Path, num: int, seed: int, macs: str = DEFAULT_MACS
    ) -> Path:
        """Atomically write a sample with the parameters it was drawn with (`load` checks them)."""
        return save_npz(
            path,
            format_version=np.int64(FORMAT_VERSION),
            space=np.array(self.name),
            sample_num=np.int64(num),
            sample_seed=np.int64(seed),
            sample_macs=np.array(macs),
            **cells.arrays(),
        )

    def write(self, cells: CellSet, path: str | Path) -> Path:
        """Cache a cell set built elsewhere (its sample parameters are recorded as unknown: -1)."""
        return self.write_sample(cells, path, num=-1, seed=-1)

    def _read(self, path: str | Path) -> tuple[CellSet, dict[str, Any]]:
        meta = _read_meta(path)
        cells = super().read(path)
        extra = {k: cells.extra[k] for k in ("genotype", "macs")}
        cells = CellSet(cells.space, cells.adjacency, cells.ops, cells.hash, cells.path, extra)
        if meta["num"] >= 0 and len(cells) != meta["num"]:
            raise CorruptFileError(f"{path}: {len(cells):,} cells, the sample has {meta['num']:,}")
        if meta["macs"] not in CONVENTIONS:
            raise CorruptFileError(f"{path}: unknown MAC convention {meta['macs']!r}")
        self._check_macs(cells, path, meta["macs"])
        return cells, meta

    def read(self, path: str | Path) -> CellSet:
        return self._read(path)[0]

    def check(self, cells: CellSet, path: str | Path) -> None:
        """Every row is the encoding of its genotype, hashes are distinct; spot-checked hashes."""
        g = cells.extra.get("genotype")
        m = cells.extra.get("macs")
        count = len(cells)
        if g is None or g.dtype != np.int8 or g.shape != (count, 8, 2):
            raise CorruptFileError(f"{path}: genotype missing or not int8[{count}, 8, 2]")
        if m is None or m.dtype != np.int64 or m.shape != (count,):
            raise CorruptFileError(f"{path}: macs missing or not int64[{count}]")
        try:
            adj, ops = genotype_to_cell(g)
        except ValueError as e:
            raise CorruptFileError(f"{path}: {e}") from e
        bad = ~((adj == cells.adjacency).all(axis=(1, 2)) & (ops == cells.ops).all(axis=1))
        if bad.any():
            raise CorruptFileError(f"{path}: row {int(np.argmax(bad))} is not the encoding of its genotype")
        if cells.hash.dtype != np.dtype("<U32") or _distinct(cells.hash) != count:
            raise CorruptFileError(f"{path}: hashes are not distinct 32-character strings")
        super().check(cells, path)

    @staticmethod
    def _check_macs(cells: CellSet, path: str | Path, convention: str) -> None:
        macs = cells.extra["macs"]
        expected = network_macs(cells.extra["genotype"], convention=convention)
        if not np.array_equal(macs, expected.astype(np.int64)):
            raise CorruptFileError(f"{path}: stored multiply-adds differ from the genotypes' ({convention})")
        if (macs >= MOBILE_LIMIT).any():
            raise CorruptFileError(f"{path}: some cell is over the {MOBILE_LIMIT / 1e6:.0f}M mobile limit")

    def genotype_texts(self, cells: CellSet, rows: Any) -> list[str]:
        """DARTS `Genotype(...)` text of the given rows (normal = reduction cell)."""
        return [format_genotype(cells.extra["genotype"][int(i)]) for i in np.atleast_1d(rows)]

    def neighbours(self, cells: CellSet) -> np.ndarray:
        raise NotImplementedError(
            "DARTS has no mutation-neighbour table: the cell set is a sample of 600,000 out of billions of "
            "distinct cells, so a cell one op or input change away is almost never in it, and there is "
            "no benchmark table to evolve against. Search DARTS with REINFORCE or DNGO over the embeddings."
        )


def _read_meta(path: str | Path) -> dict[str, Any]:
    """The sample parameters of a cache file, reading nothing else (npz members load lazily)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [
                k
                for k in ("sample_num", "sample_seed", "sample_macs", "genotype", "macs")
                if k not in z.files
            ]
            if missing:
                raise CorruptFileError(f"{path}: missing arrays {missing}")
            return {"num": int(z["sample_num"]), "seed": int(z["sample_seed"]), "macs": str(z["sample_macs"])}
    except (FileNotFoundError, CorruptFileError):
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise CorruptFileError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e


def _distinct(hashes: np.ndarray) -> int:
    """Number of distinct MD5 hex strings, via their 16-byte values (-1 if one is not hex)."""
    if hashes.size == 0:
        return 0
    try:
        raw = np.frombuffer(bytes.fromhex("".join(hashes.tolist())), dtype=">u8")
    except ValueError:
        return -1
    if raw.size != 2 * hashes.size:
        return -1
    hi, lo = raw[0::2], raw[1::2]
    order = np.lexsort((lo, hi))
    hi, lo = hi[order], lo[order]
    return int(hashes.size - ((hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1])).sum())


SPACE = DartsSpace()


PROFILE = SpaceProfile(
    name="darts",
    title="DARTS",
    pretrain_epochs=10,
    no_benchmark_reason="no tabular benchmark exists for DARTS cells: pretrain on it, search needs a "
    "benchmark table of your own (--benchmark)",
    search={
        "rl": {"baseline": 0.95},
        "bo": {"top_k": 5, "target": 0.95},
        "re": {"population": 50, "sample_size": 10, "sample_replace": False},
    },
)
