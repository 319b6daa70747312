"""NAS-Bench-101 space: the enumeration against official facts and data, validity, hashing, caches,
and the mutation-neighbour table against a slow reference."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from a2v_jax._io import CorruptFileError, load_npz, save_npz
from a2v_jax.spaces import get_space, hash_module, prune
from a2v_jax.spaces.base import PAD_OP, CellSet
from a2v_jax.spaces.nb101 import (
    CELLS_BY_VERTICES,
    CONV1X1,
    CONV3X3,
    INPUT,
    MAXPOOL3X3,
    NUM_CELLS,
    OUTPUT,
    SPACE,
)
from a2v_jax.spaces.nb101_bits import NUM_EDGE_BITS
from a2v_jax.spaces.nb101_canonical import matrix_table
from a2v_jax.spaces.nb101_neighbours import mutation_count

ROOT = Path(__file__).resolve().parents[1]
KNOWN_HASH = "00005c142e6f48ac74fdcf73e3439874"
LABEL = {INPUT: -1, CONV3X3: 0, CONV1X1: 1, MAXPOOL3X3: 2, OUTPUT: -2}  # op index -> official label


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "a2v_jax.spaces", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env=os.environ.copy(),
    )


@pytest.fixture(scope="session")
def cells() -> CellSet:
    """The full cell set, enumerated once per session.

    Built through the CLI in a fresh interpreter (so the hashing may use every core), over a
    deliberately broken cache file that the build must detect and replace.
    """
    path = SPACE.cache_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PK\x03\x04 truncated")
        result = run_cli("nb101", "--json")
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads(result.stdout)
        assert summary["count"] == NUM_CELLS and Path(summary["path"]) == path
    return SPACE.load()


@pytest.fixture(scope="session")
def neighbours(cells) -> np.ndarray:
    return SPACE.neighbours(cells)


def cell(edges: list[tuple[int, int]], ops: list[int], size: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """A cell in this space's encoding from an edge list and op indices (padded to `size`)."""
    adj = np.zeros((size, size), dtype=np.uint8)
    for x, y in edges:
        adj[x, y] = 1
    op = np.full(size, PAD_OP, dtype=np.int8)
    op[: len(ops)] = ops
    return adj, op


def chain(n: int) -> tuple[np.ndarray, np.ndarray]:
    return cell([(i, i + 1) for i in range(n - 1)], [INPUT] + [CONV3X3] * (n - 2) + [OUTPUT], size=max(n, 7))


def slow_hash(adj: np.ndarray, ops: np.ndarray) -> str | None:
    """Reference: official pruning and hash, with the official validity checks written out."""
    n = int((ops != PAD_OP).sum())
    pruned = prune(adj[:n, :n], [int(o) for o in ops[:n]])
    if pruned is None:
        return None
    m, op = pruned
    if len(op) > 7 or m.sum() > 9 or op[0] != INPUT or op[-1] != OUTPUT:
        return None
    if any(o not in (CONV1X1, CONV3X3, MAXPOOL3X3) for o in op[1:-1]):
        return None
    return hash_module(m, [LABEL[o] for o in op])


# --- the enumeration --------------------------------------------------------------------------------


def test_counts_and_order(cells):
    assert len(cells) == NUM_CELLS
    counts = dict(zip(*np.unique(cells.num_vertices, return_counts=True), strict=True))
    assert {int(k): int(v) for k, v in counts.items()} == CELLS_BY_VERTICES
    assert cells.hash.dtype == np.dtype("<U32")
    assert (cells.hash[1:] > cells.hash[:-1]).all()  # sorted and unique
    assert cells.adjacency.dtype == np.uint8 and cells.adjacency.shape == (NUM_CELLS, 7, 7)
    assert cells.ops.dtype == np.int8 and cells.ops.shape == (NUM_CELLS, 7)
    assert not np.tril(cells.adjacency).any()  # strictly upper-triangular
    assert cells.index_of(KNOWN_HASH).item() >= 0


def test_official_data_reproduced(cells, data_file):
    """Every hash of the real NAS-Bench-101 subset, and its canonical matrix and ops."""
    data = json.loads(data_file("nb101/nasbench-vis-1k.json").read_text())
    adj, ops = SPACE.from_official(np.array(data["adjacency"]), np.array(data["operations"]))
    assert (adj.shape, ops.shape) == ((1000, 7, 7), (1000, 7))
    assert [SPACE.graph_hash(a, o) for a, o in zip(adj, ops, strict=True)] == data["key"]
    rows = cells.index_of(data["key"])
    np.testing.assert_array_equal(cells.adjacency[rows], adj)
    np.testing.assert_array_equal(cells.ops[rows], ops)
    np.testing.assert_array_equal(SPACE.lookup(cells, adj, ops), rows)
    assert KNOWN_HASH in data["key"]


def test_small_spaces_match_the_official_procedure(cells):
    """Up to 5 vertices, run the official generator's loop literally (hash every labelled graph,
    keep the first per hash) and compare with the cells."""
    expected = {}
    for n in range(2, 6):
        pairs = [(x, y) for y in range(1, n) for x in range(y)]  # bit x + y(y-1)/2 is edge x->y
        for bits in range(2 ** len(pairs)):
            m = np.zeros((n, n), dtype=np.int64)
            for e, (x, y) in enumerate(pairs):
                m[x, y] = (bits >> e) & 1
            if not (m[: n - 1].any(axis=1).all() and m[:, 1:].any(axis=0).all()) or m.sum() > 9:
                continue
            for labeling in itertools.product(range(3), repeat=n - 2):
                labels = [-1, *labeling, -2]
                expected.setdefault(hash_module(m, labels), (m, labels))
    small = np.flatnonzero(cells.num_vertices <= 5)
    assert len(expected) == small.size == 1 + 6 + 84 + 2441
    to_op = {-1: INPUT, 0: CONV3X3, 1: CONV1X1, 2: MAXPOOL3X3, -2: OUTPUT}
    for row in small:
        m, labels = expected[cells.hash[row]]
        n = m.shape[0]
        np.testing.assert_array_equal(cells.adjacency[row, :n, :n], m)
        assert cells.ops[row, :n].tolist() == [to_op[x] for x in labels]


def test_cells_are_first_in_enumeration_order(cells):
    """A random labelled graph of the generator's loop maps to a cell that comes no later."""
    table = matrix_table()  # every full DAG with <= 9 edges, as the generator filters them
    vertices = cells.num_vertices
    rng = np.random.default_rng(3)
    for r in rng.choice(np.flatnonzero(table.n >= 6), 300, replace=False):
        n, bits = int(table.n[r]), int(table.bits[r])
        pairs = [(x, y) for y in range(1, n) for x in range(y)]
        adj = np.zeros((n, n), dtype=np.int64)
        for e, (x, y) in enumerate(pairs):
            adj[x, y] = (bits >> e) & 1
        assert adj[: n - 1].any(axis=1).all() and adj[:, 1:].any(axis=0).all() and adj.sum() <= 9
        labels = [-1, *rng.integers(0, 3, n - 2).tolist(), -2]
        row = cells.index_of(hash_module(adj, labels)).item()
        cell_bits = sum(int(cells.adjacency[row, x, y]) << e for e, (x, y) in enumerate(pairs))
        to_label = {CONV3X3: 0, CONV1X1: 1, MAXPOOL3X3: 2}
        cell_labels = [to_label[o] for o in cells.ops[row, 1 : n - 1].tolist()]
        assert vertices[row] == n
        assert (cell_bits, cell_labels) <= (bits, labels[1:-1])


def test_every_cell_looks_itself_up(cells):
    np.testing.assert_array_equal(SPACE.lookup(cells, cells.adjacency, cells.ops), np.arange(NUM_CELLS))


# --- validity and hashing -----------------------------------------------------------------------------


def test_dangling_vertex_is_pruned(cells):
    # 0->1->2->6, 0->3->6, and 4 hangs off 1 with no way to the output; 5 feeds nothing.
    adj, ops = cell([(0, 1), (1, 2), (2, 6), (0, 3), (3, 6), (1, 4), (5, 6)], [0, 2, 1, 3, 2, 1, 4])
    pruned_adj, pruned_ops = cell([(0, 1), (1, 2), (2, 4), (0, 3), (3, 4)], [0, 2, 1, 3, 4])
    assert SPACE.is_valid(adj, ops) and SPACE.is_valid(pruned_adj, pruned_ops)
    assert SPACE.graph_hash(adj, ops) == SPACE.graph_hash(pruned_adj, pruned_ops)
    row = cells.index_of(SPACE.graph_hash(adj, ops)).item()
    assert SPACE.lookup(cells, adj[None], ops[None]).tolist() == [row]
    # A pruned-away vertex may carry any op (the API checks ops after pruning).
    ops_bad_dangling = ops.copy()
    ops_bad_dangling[4] = OUTPUT
    assert SPACE.is_valid(adj, ops_bad_dangling)


def test_disconnected_is_invalid():
    adj, ops = cell([(0, 1), (1, 2), (3, 4), (4, 6)], [0, 2, 2, 2, 2, 1, 4])
    assert not SPACE.is_valid(adj, ops)
    with pytest.raises(ValueError, match="not a valid"):
        SPACE.graph_hash(adj, ops)


def test_edge_limit_counts_after_pruning():
    ops = [0, 1, 2, 3, 1, 2, 4]
    ten = [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 6), (2, 6), (3, 6), (4, 6), (5, 6)]
    assert not SPACE.is_valid(*cell(ten, ops))
    nine = [(i, i + 1) for i in range(6)] + [(0, 6), (0, 2), (1, 3)]
    assert SPACE.is_valid(*cell(nine, ops))
    # 10 edges before pruning, 8 after: vertex 5 loses its way out and goes with both in-edges.
    assert SPACE.is_valid(*cell(ten[:-1] + [(4, 5)], ops))
    assert not SPACE.is_valid(*cell([(x, y) for y in range(1, 7) for x in range(y)], ops))


def test_vertex_limit():
    assert SPACE.is_valid(*chain(7))
    assert not SPACE.is_valid(*chain(8))
    # An 8-vertex matrix whose extra vertex is pruned is a 7-vertex cell, as for the official API.
    adj, ops = chain(8)
    adj[6, 7] = 0
    adj[5, 7] = 1
    adj[2, 6] = 1
    assert SPACE.is_valid(adj, ops)
    assert SPACE.graph_hash(adj, ops) == SPACE.graph_hash(*chain(7))


def test_bad_ops_are_invalid():
    adj, ops = chain(7)
    for position, op in [(3, INPUT), (3, OUTPUT), (3, 7), (3, PAD_OP), (0, CONV3X3), (6, MAXPOOL3X3)]:
        bad = ops.copy()
        bad[position] = op
        assert not SPACE.is_valid(adj, bad), (position, op)


def test_output_must_be_last():
    # Output op at vertex 5 while vertex 6 is a real conv: the last vertex is not the output.
    adj, ops = cell([(0, 1), (1, 5), (5, 6)], [0, 2, 2, 2, 2, 4, 2])
    assert not SPACE.is_valid(adj, ops)
    # Padding must be a suffix, and padding vertices have no edges.
    adj, ops = chain(5)
    assert SPACE.is_valid(adj, ops)
    gap = ops.copy()
    gap[2], gap[5] = PAD_OP, CONV3X3
    assert not SPACE.is_valid(adj, gap)
    wired = adj.copy()
    wired[4, 6] = 1
    assert not SPACE.is_valid(wired, ops)


def test_matrix_must_be_upper_triangular_and_binary():
    adj, ops = chain(7)
    lower = adj.copy()
    lower[3, 1] = 1
    assert not SPACE.is_valid(lower, ops)
    assert SPACE.is_valid(lower, ops, rule="published")  # the published code takes triu(1)
    diagonal = adj.copy()
    diagonal[2, 2] = 1
    assert not SPACE.is_valid(diagonal, ops)
    two = adj.copy()
    two[0, 3] = 2
    assert not SPACE.is_valid(two, ops)
    assert SPACE.is_valid(adj.astype(np.float32), ops.astype(np.float64))


def test_published_rule():
    adj, ops = chain(7)
    assert SPACE.is_valid(adj, ops, rule="published")
    probabilities = np.where(adj == 1, 0.9, 0.2) + np.tril(np.full((7, 7), 0.7))
    assert SPACE.is_valid(probabilities, ops, rule="published")
    # A padded cell, decoded perfectly, is invalid: vertex 6 is then the output and unreachable.
    small, small_ops = chain(5)
    assert SPACE.is_valid(small, small_ops)
    assert not SPACE.is_valid(small, small_ops, rule="published")
    decoded_ops = np.where(small_ops == PAD_OP, INPUT, small_ops)  # argmax of an all-zero row
    assert not SPACE.is_valid(small, decoded_ops, rule="published")
    with pytest.raises(ValueError, match="unknown validity rule"):
        SPACE.is_valid(adj, ops, rule="paper")


@pytest.mark.parametrize(
    "adjacency, ops",
    [
        (None, None),
        ("abc", "def"),
        ([[1, 2], [3]], [0, 4]),
        (np.full((7, 7), np.nan), np.zeros(7)),
        (np.zeros((7, 6)), np.zeros(7)),
        (np.zeros((2, 7, 7)), np.zeros((2, 7))),
        (np.zeros((7, 7)), np.zeros(6)),
        (np.zeros((7, 7), dtype=complex), np.zeros(7)),
        (np.zeros((7, 7), dtype=object), np.zeros(7)),
        (np.zeros((0, 0)), np.zeros(0)),
        (np.ones((1, 1)), np.array([0])),
        (chain(7)[0], np.array([0, 1.5, 2, 2, 2, 2, 4])),
        (chain(7)[0], np.array([0, np.inf, 2, 2, 2, 2, 4])),
        (chain(7)[0], np.array([0, 2**40, 2, 2, 2, 2, 4])),
    ],
)
def test_garbage_is_invalid_not_an_error(adjacency, ops):
    assert SPACE.is_valid(adjacency, ops) is False
    assert SPACE.is_valid(adjacency, ops, rule="published") is False


def test_batch_agrees_with_single():
    rng = np.random.default_rng(0)
    adj = (rng.random((3000, 7, 7)) < 0.35).astype(np.uint8)
    adj[:1500] = np.triu(adj[:1500], 1)
    ops = rng.integers(0, 5, (3000, 7)).astype(np.int8)
    ops[::2, 0], ops[::2, 6] = INPUT, OUTPUT
    ops[:300, 5:] = PAD_OP
    adj[:300, 5:, :] = 0
    adj[:300, :, 5:] = 0
    for rule in ("official", "published"):
        batch = SPACE.is_valid_batch(adj, ops, rule=rule)
        single = np.array([SPACE.is_valid(a, o, rule=rule) for a, o in zip(adj, ops, strict=True)])
        np.testing.assert_array_equal(batch, single)
        assert 0 < batch.sum() < len(batch)
    upper = np.tril(adj).sum(axis=(1, 2)) == 0  # the reference assumes what ModelSpec enforces
    reference = np.array([slow_hash(a, o) is not None for a, o in zip(adj[upper], ops[upper], strict=True)])
    np.testing.assert_array_equal(SPACE.is_valid_batch(adj, ops)[upper], reference)
    with pytest.raises(ValueError):
        SPACE.is_valid_batch(adj[0], ops[0])


def test_hash_invariant_under_topological_renumbering(cells):
    rng = np.random.default_rng(1)
    perms = [np.array([0, *p, 6]) for p in itertools.permutations(range(1, 6))]
    checked = 0
    for row in rng.choice(np.flatnonzero(cells.num_vertices == 7), 60, replace=False):
        adj, ops = cells.adjacency[row], cells.ops[row]
        for i in rng.permutation(len(perms)):
            new_adj, new_ops = adj[np.ix_(perms[i], perms[i])], ops[perms[i]]
            if np.tril(new_adj).any() or ((new_adj == adj).all() and (new_ops == ops).all()):
                continue  # not upper-triangular, or the same encoding
            assert SPACE.is_valid(new_adj, new_ops)
            assert SPACE.graph_hash(new_adj, new_ops) == cells.hash[row]
            assert SPACE.lookup(cells, new_adj[None], new_ops[None]).item() == row
            checked += 1
            break
    assert checked > 30


def test_official_conversions():
    adj, ops = chain(5)
    matrix, names = SPACE.to_official(adj, ops)
    assert matrix.shape == (5, 5) and names[0] == "input" and names[-1] == "output"
    back_adj, back_ops = SPACE.from_official(matrix, names)
    np.testing.assert_array_equal(back_adj, adj)
    np.testing.assert_array_equal(back_ops, ops)
    labels = [-1, 0, 0, 0, -2, -3, -3]
    np.testing.assert_array_equal(SPACE.from_official(adj, labels)[1], ops)
    with pytest.raises(ValueError, match="unknown"):
        SPACE.from_official(matrix, ["input", "conv5x5", "conv3x3-bn-relu", "conv3x3-bn-relu", "output"])


# --- caches and CLI ------------------------------------------------------------------------------------


def _corruptions(good: Path, cells: CellSet):
    raw = good.read_bytes()
    arrays = load_npz(good)

    def truncated(path):
        path.write_bytes(raw[: len(raw) // 2])

    def not_a_zip(path):
        path.write_bytes(b"this is not an npz file")

    def missing_hash(path):
        save_npz(path, **{k: v for k, v in arrays.items() if k != "hash"})

    def flipped_edge(path):
        adj = arrays["adjacency"].copy()
        adj[123, 0, 6] ^= 1
        save_npz(path, **{**arrays, "adjacency": adj})

    def wrong_dtype(path):
        save_npz(path, **{**arrays, "ops": arrays["ops"].astype(np.int64)})

    def subset(path):
        SPACE.write(CellSet("nb101", cells.adjacency[:1000], cells.ops[:1000], cells.hash[:1000]), path)

    def unsorted(path):
        order = np.random.default_rng(0).permutation(NUM_CELLS)
        SPACE.write(CellSet("nb101", cells.adjacency[order], cells.ops[order], cells.hash[order]), path)

    def shifted_cells(path):  # a self-consistent checksum over rows that do not match their hashes
        SPACE.write(CellSet("nb101", np.roll(cells.adjacency, 1, 0), np.roll(cells.ops, 1, 0), cells.hash), path)

    def other_space(path):
        save_npz(path, **{**arrays, "space": np.array("nb201")})

    return [truncated, not_a_zip, missing_hash, flipped_edge, wrong_dtype, subset, unsorted, shifted_cells, other_space]


def test_corrupt_cache_is_rebuilt(cells, tmp_path, monkeypatch):
    built = []

    def fake_build(**options):  # the real build is exercised by the session fixture
        built.append(options)
        return CellSet("nb101", cells.adjacency, cells.ops, cells.hash)

    monkeypatch.setattr(SPACE, "build", fake_build)
    sound = load_npz(cells.path)["content_sha1"]
    for i, corrupt in enumerate(_corruptions(cells.path, cells)):
        root = tmp_path / corrupt.__name__
        path = SPACE.cache_path(root)
        path.parent.mkdir(parents=True)
        corrupt(path)
        with pytest.raises(CorruptFileError):
            SPACE.read(path)
        before = len(built)
        loaded = SPACE.load(cache=root)
        assert len(built) == before + 1, corrupt.__name__
        assert (loaded.hash == cells.hash).all()
        if i == 0:
            assert (SPACE.read(path).adjacency == cells.adjacency).all()  # the rebuilt file is sound
        assert load_npz(path)["content_sha1"] == sound


def test_cached_load_is_the_same_cells(cells):
    again = SPACE.load()
    assert again.path == cells.path
    np.testing.assert_array_equal(again.adjacency, cells.adjacency)
    np.testing.assert_array_equal(again.ops, cells.ops)
    np.testing.assert_array_equal(again.hash, cells.hash)
    assert again.extra == {}


def test_cli_json(cells, neighbours):
    result = run_cli("nb101", "--json", "--neighbours")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["space"] == "nb101" and summary["count"] == NUM_CELLS
    assert Path(summary["path"]) == cells.path
    assert summary["vertices"] == {str(k): v for k, v in CELLS_BY_VERTICES.items()}
    assert summary["neighbours"]["shape"] == list(neighbours.shape)
    text = run_cli("nb101")
    assert text.returncode == 0 and "423,624 cells" in text.stdout
    bad = run_cli("nb999")
    assert bad.returncode != 0 and "unknown search space" in bad.stderr


# --- mutation neighbours ----------------------------------------------------------------------------


def slow_neighbours(cells: CellSet, row: int) -> set[int]:
    adj, ops = cells.adjacency[row], cells.ops[row]
    n = int((ops != PAD_OP).sum())
    found = set()
    edits = []
    for y in range(1, n):
        for x in range(y):
            a = adj.copy()
            a[x, y] ^= 1
            edits.append((a, ops))
    for v in range(1, n - 1):
        for op in (CONV1X1, CONV3X3, MAXPOOL3X3):
            if op != ops[v]:
                o = ops.copy()
                o[v] = op
                edits.append((adj, o))
    assert len(edits) == mutation_count(n)
    for a, o in edits:
        h = slow_hash(a, o)
        if h is not None:
            found.add(cells.index_of(h).item())
    found.discard(row)
    return found


def test_neighbours_table(cells, neighbours):
    assert neighbours.dtype == np.int32 and neighbours.shape[0] == NUM_CELLS
    assert neighbours.shape[1] <= NUM_EDGE_BITS + 10
    real = neighbours >= 0
    assert (real[:, :-1] | ~real[:, 1:]).all()  # -1 only as padding at the end
    assert (np.where(real[:, 1:], np.diff(neighbours, axis=1), 1) > 0).all()  # sorted, unique
    assert not (neighbours == np.arange(NUM_CELLS)[:, None]).any()
    assert real.sum(axis=1)[cells.num_vertices >= 3].min() >= 1  # input->output alone has none
    rng = np.random.default_rng(2)
    sample = np.concatenate(
        [np.flatnonzero(cells.num_vertices <= 4), rng.choice(NUM_CELLS, 250, replace=False)]
    )
    for row in sample:
        assert set(neighbours[row][neighbours[row] >= 0].tolist()) == slow_neighbours(cells, row), row


def test_neighbours_cache(cells, neighbours, tmp_path):
    path = SPACE.neighbours_path(cells)
    assert path.exists()
    np.testing.assert_array_equal(SPACE.neighbours(cells), neighbours)
    z = load_npz(path)
    bad = tmp_path / "neighbours.npz"
    save_npz(bad, **{**z, "cells_digest": np.array("0" * 40)})
    with pytest.raises(CorruptFileError, match="different cell set"):
        SPACE._read_neighbours(bad, cells, str(z["cells_digest"]))
    table = z["neighbours"].copy()
    table[5, 0] = 5
    save_npz(bad, **{**z, "neighbours": table})
    with pytest.raises(CorruptFileError, match="itself"):
        SPACE._read_neighbours(bad, cells, str(z["cells_digest"]))
    bad.write_bytes(b"junk")
    with pytest.raises(CorruptFileError):
        SPACE._read_neighbours(bad, cells, str(z["cells_digest"]))


def test_get_space_returns_this_space():
    assert get_space("NB-101") is SPACE
    assert SPACE.op_names == ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output")
    assert SPACE.num_nodes == 7
