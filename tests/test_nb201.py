"""NAS-Bench-201 space: strings, official order, validity rules, hashing, cache, neighbours."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from a2v_jax._io import CorruptFileError, save_npz
from a2v_jax.spaces import get_space
from a2v_jax.spaces.graph_hash import hash_module
from a2v_jax.spaces.hash_batch import hash_graphs
from a2v_jax.spaces.nb201 import (
    ADJACENCY,
    OP_NAMES,
    SPACE,
    decode_codes,
    encode_codes,
    format_arch,
    parse_arch,
)
from a2v_jax.spaces.nb201_order import ORDER_FILE, codes_from_file, official_codes

ARCH0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    return SPACE.load(cache=tmp_path_factory.mktemp("nb201"))


def test_face():
    assert get_space("nb201") is SPACE
    assert get_space("NAS-Bench-201".replace("NAS-Bench-", "nb")) is SPACE
    assert SPACE.name == "nb201" and SPACE.num_nodes == 8
    assert OP_NAMES == (
        "input",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "none",
        "output",
    )
    expected = np.zeros((8, 8), int)
    for s, d in [(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)]:
        expected[s, d] = 1
    np.testing.assert_array_equal(ADJACENCY, expected)


def test_architecture_zero(cells):
    assert SPACE.arch_strings(cells)[0] == ARCH0
    np.testing.assert_array_equal(cells.ops[0], [0, 3, 1, 4, 1, 4, 4, 6])
    assert SPACE.index_of_arch(cells, ARCH0).tolist() == [0]


def test_string_round_trip_all(cells):
    strings = SPACE.arch_strings(cells)
    assert len(set(strings)) == 15_625
    for row, s in zip(cells.ops, strings, strict=True):
        np.testing.assert_array_equal(parse_arch(s), row)
        assert format_arch(parse_arch(s)) == s
    rows = SPACE.index_of_arch(cells, strings[::997])
    np.testing.assert_array_equal(rows, np.arange(15_625)[::997])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|", "3 '+'-separated"),
        ("avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|none~2|", "wrapped in '|'"),
        ("|avg_pool_3x3~0|+|nor_conv_1x1~0|+|none~0|none~1|none~2|", "needs 2 incoming edges"),
        ("|avg_pool_3x3|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|none~2|", "lacks '~source'"),
        (
            "|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|none~2|",
            "should come from node 0",
        ),
        ("|conv_7x7~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|none~2|", "unknown NAS-Bench-201 op"),
        ("|input~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|none~2|", "unknown NAS-Bench-201 op"),
        ("", "3 '+'-separated"),
    ],
)
def test_malformed_strings(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_arch(text)


def test_parse_rejects_non_strings():
    with pytest.raises(ValueError, match="must be a str"):
        parse_arch(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a NAS-Bench-201 cell"):
        format_arch([0, 1, 1, 1, 1, 1, 1, 0])


def test_codes_round_trip():
    codes = np.arange(15_625)
    edge_ops = decode_codes(codes)
    assert edge_ops.min() == 1 and edge_ops.max() == 5
    np.testing.assert_array_equal(encode_codes(edge_ops), codes)
    with pytest.raises(ValueError):
        encode_codes([[0, 1, 1, 1, 1, 1]])


def test_order_matches_data_files(data_file, cells):
    """The embedded order is the row order of both public files."""
    import pandas as pd

    mini = data_file("nb201/mini-bench-arch-cell-accs.pd")
    csv = data_file("nb201/nats_bench.csv")
    strings = SPACE.arch_strings(cells)
    assert pd.read_pickle(mini)["cellstr"].tolist() == strings
    assert pd.read_csv(csv)["ArchitectureString"].tolist() == strings
    np.testing.assert_array_equal(codes_from_file(mini), official_codes())
    np.testing.assert_array_equal(codes_from_file(csv), official_codes())


def test_order_regeneration_script(data_file, tmp_path):
    out = tmp_path / "order.npz"
    source = data_file("nb201/nats_bench.csv")
    run = [sys.executable, "-m", "a2v_jax.spaces.nb201_order"]
    subprocess.run([*run, str(source), "--out", str(out)], check=True, cwd=ROOT, capture_output=True)
    assert out.read_bytes() and np.array_equal(official_codes(out), official_codes())
    done = subprocess.run([*run, str(source), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    other = tmp_path / "shuffled.txt"
    strings = [format_arch(np.r_[0, r, 6]) for r in decode_codes(official_codes())]
    other.write_text("\n".join(strings[1:] + strings[:1]))
    done = subprocess.run([*run, str(other), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1 and "first at index 0" in done.stdout


def test_embedded_order_is_package_data():
    assert ORDER_FILE.exists() and ORDER_FILE.stat().st_size < 40_000
    setup = (ROOT / "setup.cfg").read_text()
    assert "[options.package_data]" in setup and "data/*.npz" in setup
    codes = official_codes()
    assert codes.dtype == np.uint16 and sorted(codes.tolist()) == list(range(15_625))
    assert codes.tolist() != sorted(codes.tolist())  # not a product order


def test_damaged_order_file(tmp_path):
    bad = tmp_path / "order.npz"
    codes = official_codes().copy()
    save_npz(bad, codes=codes, sha1=np.array("0" * 40))
    with pytest.raises(CorruptFileError, match="digest"):
        official_codes(bad)


VALID_OPS = np.array([0, 3, 1, 4, 1, 4, 4, 6])


def test_validity_official_and_published():
    adj = ADJACENCY.copy()
    assert SPACE.is_valid(adj, VALID_OPS) and SPACE.is_valid(adj, VALID_OPS, rule="published")
    assert SPACE.is_valid(adj.astype(np.float32), VALID_OPS.astype(np.float64))

    node1_input = VALID_OPS.copy()
    node1_input[1] = 0  # published loop starts at node 2: node 1 is never checked
    assert not SPACE.is_valid(adj, node1_input)
    assert SPACE.is_valid(adj, node1_input, rule="published")

    wrong_adj = adj.copy()
    wrong_adj[0, 3] = 1  # the published check never looks at the adjacency
    assert not SPACE.is_valid(wrong_adj, VALID_OPS)
    assert SPACE.is_valid(wrong_adj, VALID_OPS, rule="published")
    missing = adj.copy()
    missing[6, 7] = 0
    assert not SPACE.is_valid(missing, VALID_OPS)

    for position, op in [(0, 1), (7, 5), (3, 6), (4, 0), (2, 7)]:
        bad = VALID_OPS.copy()
        bad[position] = op
        assert not SPACE.is_valid(adj, bad)
        assert not SPACE.is_valid(adj, bad, rule="published")


@pytest.mark.parametrize(
    ("adjacency", "ops"),
    [
        (ADJACENCY, VALID_OPS[:7]),
        (ADJACENCY[:7, :7], VALID_OPS),
        (ADJACENCY, np.array(["input"] * 8)),
        (ADJACENCY, VALID_OPS + 0.5),
        (ADJACENCY, np.where(np.arange(8) == 3, np.nan, VALID_OPS)),
        (np.full((8, 8), np.nan), VALID_OPS),
        (None, None),
        ("garbage", [1, 2]),
        ([[0, 1], [0]], VALID_OPS),
        (ADJACENCY, [0, 3, 1, 4, 1, 4, 4, 2**70]),
    ],
)
def test_validity_never_raises(adjacency, ops):
    assert SPACE.is_valid(adjacency, ops) is False
    assert isinstance(SPACE.is_valid(adjacency, ops, rule="published"), bool)


def test_validity_unknown_rule_and_batch(cells):
    with pytest.raises(ValueError, match="unknown validity rule"):
        SPACE.is_valid(ADJACENCY, VALID_OPS, rule="strict")
    assert SPACE.is_valid_batch(cells.adjacency, cells.ops).all()
    assert SPACE.is_valid_batch(cells.adjacency, cells.ops, rule="published").all()
    noisy = cells.ops[:100].copy()
    noisy[:, 5] = 6
    assert not SPACE.is_valid_batch(cells.adjacency[:100], noisy).any()


def test_hashes(cells):
    assert cells.hash.dtype == np.dtype("<U32")
    assert np.unique(cells.hash).size == 15_625
    for i in (0, 1, 7777, 15_624):
        expected = hash_module(ADJACENCY, cells.ops[i].tolist())
        assert cells.hash[i] == expected == SPACE.graph_hash(cells.adjacency[i], cells.ops[i])
    np.testing.assert_array_equal(cells.index_of(cells.hash[[5, 3, 9]]), [5, 3, 9])


def test_fast_hash_matches_hash_module():
    rng = np.random.default_rng(0)
    adj = np.triu(rng.integers(0, 2, (200, 9, 9)), 1)
    labels = rng.integers(-3, 12, (200, 9))
    fast = hash_graphs(adj, labels)
    assert fast.tolist() == [hash_module(a, lab.tolist()) for a, lab in zip(adj, labels, strict=True)]
    np.testing.assert_array_equal(hash_graphs(adj, labels, workers=2, chunk=64), fast)


def test_hash_workers_after_jax_import():
    """With JAX loaded the workers come from a fork server (forking JAX's threads can deadlock)."""
    script = (
        "import jax, numpy as np\n"
        "from a2v_jax.spaces.hash_batch import HashPool, _context, hash_graphs\n"
        "from a2v_jax.spaces.graph_hash import hash_module\n"
        "assert _context().get_start_method() == 'forkserver'\n"
        "rng = np.random.default_rng(0)\n"
        "adj = np.triu(rng.integers(0, 2, (300, 8, 8)), 1); lab = rng.integers(0, 7, (300, 8))\n"
        "ref = [hash_module(a, l.tolist()) for a, l in zip(adj, lab)]\n"
        "assert hash_graphs(adj, lab, workers=2, chunk=50).tolist() == ref\n"
        "with HashPool(2, chunk=64) as pool:\n"
        "    assert pool.map(adj, lab).tolist() == ref\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert "fork()" not in done.stderr


def test_cache_round_trip_and_damage(tmp_path):
    first = SPACE.load(cache=tmp_path)
    assert first.path == tmp_path / "nb201" / "cells.npz" and first.path.exists()
    again = SPACE.load(cache=tmp_path)
    np.testing.assert_array_equal(again.ops, first.ops)
    np.testing.assert_array_equal(again.hash, first.hash)

    # a cache in the wrong order is rebuilt, never used
    arrays = {k: v for k, v in np.load(first.path).items()}
    arrays["ops"] = arrays["ops"][::-1].copy()
    arrays["hash"] = arrays["hash"][::-1].copy()
    save_npz(first.path, **arrays)
    with pytest.raises(CorruptFileError, match="not official architecture"):
        SPACE.read(first.path)
    rebuilt = SPACE.load(cache=tmp_path)
    np.testing.assert_array_equal(rebuilt.ops, first.ops)

    arrays["ops"], arrays["hash"] = arrays["ops"][:100], arrays["hash"][:100]
    arrays["adjacency"] = arrays["adjacency"][:100]
    save_npz(first.path, **arrays)
    with pytest.raises(CorruptFileError, match="NAS-Bench-201 has 15,625"):
        SPACE.read(first.path)


def test_neighbours(cells):
    nbrs = SPACE.neighbours(cells)
    assert nbrs.shape == (15_625, 24) and nbrs.dtype == np.int32
    assert nbrs.min() >= 0 and not (nbrs == np.arange(15_625)[:, None]).any()
    assert all(len(set(row)) == 24 for row in nbrs[:500].tolist())
    # symmetric: j is a neighbour of i exactly when i is one of j
    pairs = {(i, int(j)) for i, row in enumerate(nbrs) for j in row}
    assert all((j, i) in pairs for i, j in pairs)
    # each differs in exactly one edge op, column 4p+k changes edge p
    for i in (0, 1234, 15_624):
        diff = cells.ops[nbrs[i]] != cells.ops[i]
        assert (diff.sum(axis=1) == 1).all()
        np.testing.assert_array_equal(np.argmax(diff, axis=1), np.repeat(np.arange(1, 7), 4))
        for p in range(6):
            changed = cells.ops[nbrs[i, 4 * p : 4 * p + 4], p + 1]
            assert changed.tolist() == sorted(set(range(1, 6)) - {int(cells.ops[i, p + 1])})


def test_neighbours_of_a_subset(cells):
    from a2v_jax.spaces.base import CellSet

    keep = np.arange(0, 15_625, 2)
    sub = CellSet("nb201", cells.adjacency[keep], cells.ops[keep], cells.hash[keep])
    nbrs = SPACE.neighbours(sub)
    full = SPACE.neighbours(cells)[keep]
    expected = np.where(full % 2 == 0, full // 2, -1)
    np.testing.assert_array_equal(nbrs, expected)


def test_cli_json(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "a2v_jax.spaces", "nb201", "--json", "--cache", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(done.stdout)
    assert summary["space"] == "nb201" and summary["count"] == 15_625 and summary["vertices"] == {"8": 15_625}
    assert Path(summary["path"]).exists()
