"""NAS-Bench-101 from TFRecord: protobuf decoding, record parsing, the join by hash, the table.

The fixture is a TFRecord file in the official layout written by the project's writer: 334 real
cells (official hashes and graphs from nasbench-vis-1k.json) x 3 training repeats = 1,002 records.
The real `nasbench_only108.tfrecord` is not among the shared files, so the known record of the real
file (hash 00005c142e6f48ac74fdcf73e3439874: mean validation 0.92642, mean test 0.92061) is planted
in the fixture with exactly those means: the test checks the parse/join/average path, not the real
file's contents. `test_real_file` does that when A2V_NB101_TFRECORD points at the real file.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from a2v_jax._io import CorruptFileError
from a2v_jax.data import BenchmarkNotAvailable, benchmark_path, load_benchmark
from a2v_jax.data import __main__ as cli
from a2v_jax.data.benchmark import Benchmark
from a2v_jax.data.nb101 import NB101FormatError, build_table, encode_record, read_records
from a2v_jax.data.protobuf import (
    METRIC_COLUMNS,
    ProtobufError,
    decode_metrics,
    decode_metrics_many,
    encode_evaluation,
    encode_metrics,
)
from a2v_jax.data.tfrecord import TFRecordError, write_tfrecord
from a2v_jax.spaces.base import PAD_OP, CellSet

KNOWN_HASH = "00005c142e6f48ac74fdcf73e3439874"
KNOWN_VALID, KNOWN_TEST = 0.92642, 0.92061
OPS = {0: "conv3x3-bn-relu", 1: "conv1x1-bn-relu", 2: "maxpool3x3"}
VOCAB = ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output")


# -- protobuf ------------------------------------------------------------------------------------


def _random_messages(n, seed=0):
    rng = np.random.default_rng(seed)
    blobs = []
    for _ in range(n):
        n_eval = 3 if rng.random() < 0.8 else int(rng.integers(0, 5))
        evals = []
        for j in range(n_eval):
            vals = [float(54 * j), float(rng.uniform(0, 5000)), *rng.random(3).tolist()]
            if rng.random() < 0.1:
                vals[int(rng.integers(0, 5))] = None
            cp = f"gs://bucket/model.ckpt-{int(rng.integers(1, 10**6))}" if rng.random() < 0.1 else None
            evals.append(encode_evaluation(*vals, checkpoint_path=cp))
        params = int(rng.integers(0, 2**31 - 1)) if rng.random() < 0.95 else int(rng.integers(-(2**31), 0))
        blobs.append(encode_metrics(evals, params if rng.random() < 0.97 else None,
                                    float(rng.uniform(0, 9000)) if rng.random() < 0.97 else None))
    return blobs


def test_fast_protobuf_path_equals_general_decoder():
    blobs = _random_messages(3000)
    blobs += [encode_metrics([encode_evaluation(0.0, 0, 0.1, 0.1, 0.1)] * 3, 1000 + i, 1.0) for i in range(200)]
    cols, slow = decode_metrics_many(blobs)
    assert slow.sum() < len(blobs)  # the fast path did most of the work
    for i, b in enumerate(blobs):
        ref = decode_metrics(b)
        for c in METRIC_COLUMNS:
            assert np.array_equal(cols[c][i], ref[c], equal_nan=True), (i, c)


def test_protobuf_semantics():
    ev = [encode_evaluation(0.0, 0.0, 0.1, 0.1, 0.1), encode_evaluation(54.0, 700.5, 0.8, 0.7, 0.69),
          encode_evaluation(108.0, 1401.0, 1.0, 0.93, 0.92)]
    m = decode_metrics(encode_metrics(ev, 8_555_530, 1500.25))
    assert m["final_validation_accuracy"] == 0.93 and m["final_test_accuracy"] == 0.92
    assert m["final_training_time"] == 1401.0 and m["final_current_epoch"] == 108.0
    assert m["halfway_validation_accuracy"] == 0.7 and m["num_evaluations"] == 3
    assert m["trainable_parameters"] == 8_555_530 and m["total_time"] == 1500.25
    # negative int32 (10-byte varint), unknown fields skipped, repeated scalar: last wins
    extra = bytes([7 << 3 | 0]) + b"\x96\x01" + bytes([8 << 3 | 5]) + struct.pack("<f", 1.5)
    dup = bytes([3 << 3 | 1]) + struct.pack("<d", 7.0)
    m = decode_metrics(encode_metrics(ev[:1], -5, 1.0) + extra + dup)
    assert m["trainable_parameters"] == -5 and m["total_time"] == 7.0 and np.isnan(m["halfway_training_time"])
    assert np.isnan(decode_metrics(b"")["final_validation_accuracy"])


@pytest.mark.parametrize(
    "blob, problem",
    [
        (b"\x0a\x05\x09\x00", "truncated"),
        (b"\x0b", "wire type 3"),
        (b"\x10\x80\x80", "truncated varint"),
        (b"\x0a\x02\x08\x01", "wire type 0"),  # current_epoch as a varint
        (b"\x11" + bytes(8), "wire type 1"),  # trainable_parameters as a double
        (b"\x00\x01", "field number 0"),
    ],
)
def test_malformed_protobuf_is_rejected(blob, problem):
    with pytest.raises(ProtobufError, match=problem):
        decode_metrics(blob)
    with pytest.raises(ProtobufError, match="message 1"):
        decode_metrics_many([encode_metrics([], 1, 1.0), blob])


# -- the fixture file ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def vis(request):
    from conftest import require_data

    path = require_data("nb101/nasbench-vis-1k.json")
    return json.loads(Path(path).read_text())


def _cellset(vis, order):
    """A CellSet of the vis-1k cells in `order` (so the join is not the identity)."""
    adj = np.array(vis["adjacency"], dtype=np.float64).astype(np.uint8)[order]
    raw_ops = np.array(vis["operations"])[order]
    ops = np.full(raw_ops.shape, PAD_OP, dtype=np.int8)
    for code, name in [(-1, "input"), (-2, "output"), *OPS.items()]:
        ops[raw_ops == code] = VOCAB.index(name)
    return CellSet("nb101", adj, ops, np.array(vis["key"], dtype="<U32")[order])


def _cell_graph(vis, i):
    ops = vis["operations"][i]
    keep = [j for j, o in enumerate(ops) if o != -3]
    adj = np.array(vis["adjacency"][i])[np.ix_(keep, keep)].astype(int)
    names = ["input"] + [OPS[ops[j]] for j in keep[1:-1]] + ["output"]
    return adj, names


def _fixture_records(vis, n_cells=334, seed=0):
    """Payloads and the values planted in them: cell i gets repeats (valid, test, time, train)."""
    rng = np.random.default_rng(seed)
    payloads, planted = [], []
    for i in range(n_cells):
        h = vis["key"][i]
        adj, names = _cell_graph(vis, i)
        base_valid = vis["108_final_validation_accuracy"][i]
        base_time = vis["final_training_time"][i]
        if h == KNOWN_HASH:
            valid = [KNOWN_VALID - 0.004, KNOWN_VALID + 0.001, KNOWN_VALID + 0.003]
            test = [KNOWN_TEST + 0.002, KNOWN_TEST - 0.005, KNOWN_TEST + 0.003]
        else:
            valid = [base_valid, *(base_valid + rng.normal(0, 0.004, 2)).tolist()]
            test = (np.array(valid) - rng.uniform(0.001, 0.01, 3)).tolist()
        times = [base_time, *(base_time * rng.uniform(0.97, 1.03, 2)).tolist()]
        train = rng.uniform(0.99, 1.0, 3).tolist()
        for r in range(3):
            evals = [
                {"current_epoch": 0.0, "training_time": 0.0, "train_accuracy": 0.1, "validation_accuracy": 0.1,
                 "test_accuracy": 0.1},
                {"current_epoch": 54.0, "training_time": times[r] / 2, "train_accuracy": 0.8,
                 "validation_accuracy": valid[r] - 0.05, "test_accuracy": test[r] - 0.05},
                {"current_epoch": 108.0, "training_time": times[r], "train_accuracy": train[r],
                 "validation_accuracy": valid[r], "test_accuracy": test[r]},
            ]
            payloads.append(encode_record(h, 108, adj, names, evals, vis["trainable_parameters"][i], times[r] * 1.1))
            planted.append((i, r, valid[r], test[r], times[r], train[r]))
    return payloads, planted


@pytest.fixture(scope="module")
def fixture_file(vis, tmp_path_factory):
    payloads, planted = _fixture_records(vis)
    path = tmp_path_factory.mktemp("nb101") / "nasbench_fixture.tfrecord"
    write_tfrecord(path, payloads)
    return path, payloads, planted


def test_fixture_reads_back_exactly(fixture_file, vis):
    path, payloads, planted = fixture_file
    assert len(payloads) == 1002
    rec = read_records(path)
    assert len(rec) == 1002 and rec.slow_path == 0
    for k, (i, _r, v, t, tm, tr) in enumerate(planted):
        assert rec.hash[k] == vis["key"][i]
        assert rec.metrics["final_validation_accuracy"][k] == v
        assert rec.metrics["final_test_accuracy"][k] == t
        assert rec.metrics["final_training_time"][k] == tm
        assert rec.metrics["final_train_accuracy"][k] == tr
        assert rec.metrics["trainable_parameters"][k] == vis["trainable_parameters"][i]
        assert rec.metrics["num_evaluations"][k] == 3
    assert (rec.epochs == 108).all()
    assert rec.num_vertices.tolist() == [sum(o != -3 for o in vis["operations"][i]) for i, *_ in planted]
    # record offsets are the framing offsets
    assert rec.offset.tolist() == np.cumsum([0] + [16 + len(p) for p in payloads[:-1]]).tolist()
    import hashlib

    assert rec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_table_has_the_right_means_at_the_right_indices(fixture_file, vis):
    path, _, planted = fixture_file
    order = np.random.default_rng(1).permutation(1000)
    cells = _cellset(vis, order)
    bench = build_table(read_records(path), cells, allow_missing=True)
    assert len(bench) == 1000
    row_of = {int(c): k for k, c in enumerate(order)}  # vis index -> cell set row
    by_cell = {}
    for i, r, v, t, tm, _tr in planted:
        by_cell.setdefault(i, []).append((r, v, t, tm))
    for i, reps in by_cell.items():
        row = row_of[i]
        reps.sort()
        np.testing.assert_array_equal(bench.columns["valid_repeats"][row], [x[1] for x in reps])
        np.testing.assert_array_equal(bench.columns["test_repeats"][row], [x[2] for x in reps])
        assert bench.valid[row] == pytest.approx(np.mean([x[1] for x in reps]), abs=1e-15)
        assert bench.reward[row] == bench.valid[row]
        assert bench.test[row] == pytest.approx(np.mean([x[2] for x in reps]), abs=1e-15)
        assert bench.time[row] == pytest.approx(np.mean([x[3] for x in reps]), rel=1e-15)
        assert bench.columns["params"][row] == vis["trainable_parameters"][i]
        assert bench.columns["repeats"][row] == 3
    known = int(cells.index_of(KNOWN_HASH)[0])
    assert bench.valid[known] == pytest.approx(KNOWN_VALID, abs=1e-12)
    assert bench.test[known] == pytest.approx(KNOWN_TEST, abs=1e-12)
    missing = [row_of[i] for i in range(334, 1000)]
    assert np.isnan(bench.valid[missing]).all() and (bench.columns["repeats"][missing] == 0).all()
    o = bench.oracle()
    finite = [row_of[i] for i in by_cell]
    assert o["best_valid"] == np.max(bench.valid[finite]) and o["best_test"] == np.max(bench.test[finite])
    assert bench.valid[o["best_valid_index"]] == o["best_valid"]
    assert bench.units["time"] == "seconds" and bench.units["valid"] == "fraction"
    assert bench.metadata["roles"] == {"reward": "valid_mean", "valid": "valid_mean", "test": "test_mean",
                                       "time": "time_mean"}
    assert bench.metadata["sources"][0]["records"] == 1002


def test_missing_cells_and_foreign_hashes_are_errors(fixture_file, vis):
    path, payloads, _ = fixture_file
    rec = read_records(path)
    with pytest.raises(NB101FormatError, match="666 of 1000 cells have no record"):
        build_table(rec, _cellset(vis, np.arange(1000)))
    small = _cellset(vis, np.arange(1, 334))  # lacks cell 0, the first three records
    with pytest.raises(NB101FormatError, match=f"hash {KNOWN_HASH} is not a cell.*byte offset 0"):
        build_table(rec, small)
    with pytest.raises(NB101FormatError, match=r"no records at 36 epochs \(the file has \[108\]\)"):
        build_table(rec, _cellset(vis, np.arange(334)), epochs=36)


def test_exact_table_with_the_exact_cell_set(fixture_file, vis):
    path, _, _ = fixture_file
    rec = read_records(path)
    cells = _cellset(vis, np.arange(334))
    bench = build_table(rec, cells, op_names=VOCAB)
    assert not np.isnan(bench.valid).any() and (bench.columns["repeats"] == 3).all()
    assert bench.metadata["missing_cells"] == 0 and bench.metadata["params_disagree"] == 0
    assert bench.metadata["graph_mismatches"] == 0  # every record's graph is its cell's
    for k in (0, 500, 1001):  # and the records' decoded graphs are the vis-1k graphs
        i = k // 3
        np.testing.assert_array_equal(rec.adjacency[k], cells.adjacency[i])
        np.testing.assert_array_equal(rec.ops[k], cells.ops[i])
    tampered = _cellset(vis, np.arange(334))
    tampered.adjacency[5, 0, 6] ^= 1
    with pytest.warns(UserWarning, match="3 records have another graph"):
        assert build_table(rec, tampered, op_names=VOCAB).metadata["graph_mismatches"] == 3


def test_corrupt_byte_and_truncation_in_the_fixture(fixture_file, tmp_path):
    path, payloads, _ = fixture_file
    raw = bytearray(path.read_bytes())
    rec = 500
    start = sum(16 + len(p) for p in payloads[:rec])
    raw[start + 12 + 100] ^= 0x01
    bad = tmp_path / "corrupt.tfrecord"
    bad.write_bytes(bytes(raw))
    with pytest.raises(TFRecordError, match=f"byte offset {start}"):
        read_records(bad)
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(TFRecordError, match="truncated"):
        read_records(cut)


@pytest.mark.parametrize(
    "payload, problem",
    [
        (b"not json", "not JSON"),
        (b'{"a": 1}', "5-element JSON list"),
        (b'["abc", 108, "0100", "input,output", ""]', "32 lowercase hex"),
        (b'["' + b"a" * 32 + b'", "108", "0100", "input,output", ""]', "epochs is str"),
        (b'["' + b"a" * 32 + b'", 108, "01000", "input,output", ""]', "do not make a cell"),
        (b'["' + b"a" * 32 + b'", 108, "0120", "input,output", ""]', "other than 0 and 1"),
        (b'["' + b"a" * 32 + b'", 108, "01\\u00e90", "input,output", ""]', "other than 0 and 1"),
        (b'["' + b"a" * 32 + b'", 99999999999, "0100", "input,output", ""]', "positive 32-bit"),
        (b'["' + b"a" * 32 + b'", 108, "0100", "conv3x3-bn-relu,output", ""]', "not input, NB101 ops, output"),
        (b'["' + b"a" * 32 + b'", 108, "010001000", "input,conv5x5,output", ""]', "not input, NB101 ops, output"),
        (b'["' + b"a" * 32 + b'", 108, "' + b"0" * 64 + b'", "input' + b",maxpool3x3" * 6 + b',output", ""]',
         "2-7 vertices"),
        (b'["' + b"a" * 32 + b'", 108, "0100", "input,output", "@@@"]', "not base64"),
        (b'["' + b"a" * 32 + b'", 108, "0100", "input,output", "Cw=="]', "not a ModelMetrics"),
    ],
)
def test_bad_record_content_names_the_offset(fixture_file, tmp_path, payload, problem):
    _, payloads, _ = fixture_file
    items = payloads[:7] + [payload] + payloads[7:10]
    path = tmp_path / "bad.tfrecord"
    write_tfrecord(path, items)
    offset = sum(16 + len(p) for p in items[:7])
    with pytest.raises(NB101FormatError, match=problem) as e:
        read_records(path)
    assert f"byte offset {offset}" in str(e.value) and str(path) in str(e.value)


def test_wrong_file_type_and_missing_file(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a,b,c\n1,2,3\n" * 50)
    with pytest.raises(TFRecordError):
        read_records(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_records(tmp_path / "absent.tfrecord")


# -- caching, loading, CLI -------------------------------------------------------------------------


def test_saved_table_loads_identically(fixture_file, vis, tmp_path):
    path, _, _ = fixture_file
    bench = build_table(read_records(path), _cellset(vis, np.arange(334)))
    out = bench.save(benchmark_path("nb101", "cifar10", tmp_path))
    assert out.name == "nb101-cifar10.npz"
    back = load_benchmark("nb101", "CIFAR-10", cache=tmp_path)
    assert back.oracle() == bench.oracle() and back.metadata["epochs"] == 108
    for k, v in bench.columns.items():
        np.testing.assert_array_equal(back.columns[k], v)
    with np.load(out) as z:  # role columns that repeat a named column are stored once
        assert "col_reward" not in z.files and "col_valid_mean" in z.files


def test_missing_nb101_table_says_what_to_run(tmp_path):
    with pytest.raises(BenchmarkNotAvailable, match="build nb101 --tfrecord"):
        load_benchmark("nb101", "cifar10", cache=tmp_path)
    with pytest.raises(KeyError, match="choose one of cifar10"):
        load_benchmark("nb101", "cifar100", cache=tmp_path)
    bad = benchmark_path("nb101", "cifar10", tmp_path)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"garbage")
    with pytest.raises(CorruptFileError, match="rebuild it"):
        load_benchmark("nb101", "cifar10", cache=tmp_path)


def test_cli_build_and_info(fixture_file, vis, tmp_path, monkeypatch, capsys):
    import a2v_jax.spaces as spaces

    path, _, _ = fixture_file
    cells = _cellset(vis, np.arange(334))

    class FixtureSpace:
        op_names = VOCAB

        def load(self, **_):
            return cells

    monkeypatch.setattr(spaces, "get_space", lambda name: FixtureSpace())
    assert cli.main(["--cache", str(tmp_path), "build", "nb101", "--tfrecord", str(path), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["--cache", str(tmp_path), "info", "nb101", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    bench = build_table(read_records(path), cells)
    for k in ("count", "best_valid", "best_valid_index", "best_test", "best_test_index"):
        assert info[k] == bench.oracle()[k]
    assert cli.main(["--cache", str(tmp_path), "build", "nb101", "--tfrecord", str(tmp_path / "nope")]) == 1
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["build", "nb101"])  # --tfrecord is required
    assert "--tfrecord" in capsys.readouterr().err


def test_benchmark_format_versions(tmp_path):
    from a2v_jax._io import save_npz

    cols = {r: np.array([0.1, 0.3, 0.2]) for r in ("reward", "valid", "test", "time")}
    meta = {"space": "nb201", "dataset": "cifar10"}
    v1 = save_npz(tmp_path / "v1.npz", format_version=np.int64(1), metadata=np.array(json.dumps(meta)),
                  **{f"col_{k}": v for k, v in cols.items()})
    assert Benchmark.load(v1).oracle()["best_valid_index"] == 1
    v9 = save_npz(tmp_path / "v9.npz", format_version=np.int64(9), metadata=np.array(json.dumps(meta)),
                  **{f"col_{k}": v for k, v in cols.items()})
    with pytest.raises(CorruptFileError, match="benchmark format 9"):
        Benchmark.load(v9)
    with pytest.raises(CorruptFileError, match="not a readable .npz"):
        Benchmark.load(tmp_path.joinpath("junk.npz").write_bytes(b"junk") and tmp_path / "junk.npz")


def test_benchmark_contract_rejects_bad_tables():
    col = np.zeros(3)
    with pytest.raises(ValueError, match="lacks role columns"):
        Benchmark("nb101", "cifar10", {"reward": col})
    with pytest.raises(ValueError, match="names column"):
        Benchmark("nb101", "cifar10", dict.fromkeys(("reward", "valid", "test", "time"), col), {"roles": {"reward": "x"}})


@pytest.fixture(scope="module")
def nb101_space():
    """The real NB101 space and its 423,624 cells, built the way tests/test_nb101.py builds them
    (over a broken cache file, through the CLI) when no test has built them yet this session."""
    import subprocess
    import sys

    from a2v_jax.spaces import get_space

    space = get_space("nb101")
    path = space.cache_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PK\x03\x04 truncated")
        result = subprocess.run([sys.executable, "-m", "a2v_jax.spaces", "nb101", "--json"],
                                cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, result.stderr[-3000:]
    return space, space.load()


def test_fixture_joins_the_real_nb101_space(fixture_file, nb101_space, vis):
    path, _, planted = fixture_file
    space, cells = nb101_space
    assert len(cells) == 423_624
    with pytest.raises(NB101FormatError, match="423290 of 423624 cells have no record"):
        build_table(read_records(path), cells, op_names=space.op_names)
    bench = build_table(read_records(path), cells, allow_missing=True, op_names=space.op_names)
    # the records carry the official graphs of vis-1k; the space stores each cell in official form
    assert bench.metadata["graph_mismatches"] == 0
    assert bench.metadata["missing_cells"] == 423_624 - 334
    rows = cells.index_of([vis["key"][i] for i in range(334)])
    assert (bench.columns["repeats"][rows] == 3).all() and int(bench.columns["repeats"].sum()) == 1002
    for i, r, v, t, _tm, _tr in planted[::37]:
        assert bench.columns["valid_repeats"][rows[i], r] == v and bench.columns["test_repeats"][rows[i], r] == t
    known = int(cells.index_of(KNOWN_HASH)[0])
    assert bench.valid[known] == pytest.approx(KNOWN_VALID, abs=1e-12)
    assert bench.test[known] == pytest.approx(KNOWN_TEST, abs=1e-12)
    assert bench.oracle()["best_valid_index"] in set(rows.tolist())


def test_cli_builds_against_the_real_space(fixture_file, nb101_space, tmp_path, capsys):
    path, _, _ = fixture_file
    args = ["--cache", str(tmp_path), "build", "nb101", "--tfrecord", str(path), "--quiet"]
    assert cli.main(args) == 1  # most cells have no record in the fixture
    assert "have no record" in capsys.readouterr().err and not (tmp_path / "benchmarks").exists()
    assert cli.main([*args, "--allow-missing"]) == 0
    capsys.readouterr()
    assert cli.main(["--cache", str(tmp_path), "info", "nb101", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == 423_624 and info["columns"]["time"] == "seconds"
    bench = load_benchmark("nb101", "cifar10", cache=tmp_path)
    assert info["best_test"] == np.nanmax(bench.test) and bench.metadata["graph_mismatches"] == 0


@pytest.mark.skipif(not os.environ.get("A2V_NB101_TFRECORD"), reason="set A2V_NB101_TFRECORD to the real file")
def test_real_file():  # pragma: no cover - needs the 500 MB official file
    from a2v_jax.spaces import get_space

    rec = read_records(os.environ["A2V_NB101_TFRECORD"])
    assert len(rec) == 1_270_872
    bench = build_table(rec, get_space("nb101").load())
    i = int(get_space("nb101").load().index_of(KNOWN_HASH)[0])
    assert bench.valid[i] == pytest.approx(KNOWN_VALID, abs=5e-6)
    assert bench.test[i] == pytest.approx(KNOWN_TEST, abs=5e-6)
    assert bench.oracle()["best_test"] == pytest.approx(0.943175752957662, abs=1e-12)
    assert bench.oracle()["best_valid"] == pytest.approx(0.9505542318026224, abs=1e-12)


def test_full_file_with_several_epoch_budgets(vis, tmp_path):
    """nasbench_full.tfrecord holds 4, 12, 36 and 108 epochs x 3 repeats per cell, in any order."""
    payloads, want = [], {}
    for i in range(20):
        adj, names = _cell_graph(vis, i)
        for e in (4, 12, 36, 108):
            for r in range(3):
                v = 0.5 + e / 1000 + r / 100 + i / 10000
                evals = [{"current_epoch": 0.0, "training_time": 0.0, "validation_accuracy": 0.1, "test_accuracy": 0.1,
                          "train_accuracy": 0.1},
                         {"current_epoch": e / 2, "training_time": e, "validation_accuracy": v / 2,
                          "test_accuracy": v / 2, "train_accuracy": v / 2},
                         {"current_epoch": float(e), "training_time": 10.0 * e + r, "validation_accuracy": v,
                          "test_accuracy": v - 0.01, "train_accuracy": 1.0}]
                payloads.append(encode_record(vis["key"][i], e, adj, names, evals, 1000 + i, 1.0))
                want.setdefault((i, e), []).append(v)
    order = np.random.default_rng(0).permutation(len(payloads))
    path = tmp_path / "full.tfrecord"
    write_tfrecord(path, [payloads[k] for k in order])
    rec = read_records(path)
    cells = _cellset(vis, np.arange(20))
    for e in (4, 12, 36, 108):
        bench = build_table(rec, cells, epochs=e)
        assert bench.metadata["epochs"] == e and bench.metadata["sources"][0]["records_used"] == 60
        for i in range(20):
            assert bench.valid[i] == pytest.approx(np.mean(want[(i, e)]), abs=1e-15)
            assert bench.time[i] == pytest.approx(10.0 * e + 1, abs=1e-12)
            assert sorted(bench.columns["valid_repeats"][i]) == sorted(want[(i, e)])
    assert benchmark_path("nb101", "cifar10", tmp_path, epochs=36).name == "nb101-cifar10-36ep.npz"
    assert benchmark_path("nb101", "cifar10", tmp_path, epochs=108).name == "nb101-cifar10.npz"


def test_json_whitespace_and_single_evaluation_records(vis, tmp_path):
    adj, names = _cell_graph(vis, 0)
    one = encode_record(KNOWN_HASH, 108, adj, names, [{"current_epoch": 108.0, "training_time": 5.0,
                        "validation_accuracy": 0.9, "test_accuracy": 0.8, "train_accuracy": 1.0}], 7, 6.0)
    path = tmp_path / "ws.tfrecord"
    write_tfrecord(path, [b"  " + one + b"\n", one])
    rec = read_records(path)
    assert rec.metrics["final_validation_accuracy"].tolist() == [0.9, 0.9]
    assert np.isnan(rec.metrics["halfway_validation_accuracy"]).all()
    assert rec.metrics["num_evaluations"].tolist() == [1, 1]


def _protobuf_classes():
    """ModelMetrics / EvaluationData built by the protobuf library from model_metrics.proto's schema."""
    pytest.importorskip("google.protobuf")
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name="a2v_test_model_metrics.proto", package="a2vtest", syntax="proto2")
    ev = fd.message_type.add(name="EvaluationData")
    for i, name in enumerate(("current_epoch", "training_time", "train_accuracy", "validation_accuracy",
                              "test_accuracy"), start=1):
        ev.field.add(name=name, number=i, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    ev.field.add(name="checkpoint_path", number=6, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    mm = fd.message_type.add(name="ModelMetrics")
    mm.field.add(name="evaluation_data", number=1, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED,
                 type_name=".a2vtest.EvaluationData")
    mm.field.add(name="trainable_parameters", number=2, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    mm.field.add(name="total_time", number=3, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return (message_factory.GetMessageClass(pool.FindMessageTypeByName("a2vtest.ModelMetrics")),
            message_factory.GetMessageClass(pool.FindMessageTypeByName("a2vtest.EvaluationData")))


def test_wire_format_agrees_with_the_protobuf_library():
    ModelMetrics, _ = _protobuf_classes()
    rng = np.random.default_rng(3)
    blobs = []
    for _ in range(300):  # library-encoded -> our decoder
        m = ModelMetrics()
        for j in range(int(rng.integers(1, 5))):
            e = m.evaluation_data.add()
            e.current_epoch, e.training_time = 54.0 * j, float(rng.uniform(0, 5000))
            e.train_accuracy, e.validation_accuracy, e.test_accuracy = rng.random(3).tolist()
            if rng.random() < 0.2:
                e.checkpoint_path = f"gs://b/model.ckpt-{rng.integers(1, 10**6)}"
        m.trainable_parameters = int(rng.integers(-(2**31), 2**31 - 1))
        m.total_time = float(rng.uniform(0, 9000))
        blobs.append(m.SerializeToString())
        got = decode_metrics(blobs[-1])
        last = m.evaluation_data[-1]
        assert got["final_validation_accuracy"] == last.validation_accuracy
        assert got["final_test_accuracy"] == last.test_accuracy
        assert got["final_training_time"] == last.training_time
        assert got["trainable_parameters"] == m.trainable_parameters and got["total_time"] == m.total_time
    cols, _ = decode_metrics_many(blobs)
    for i, b in enumerate(blobs):
        assert cols["final_validation_accuracy"][i] == ModelMetrics.FromString(b).evaluation_data[-1].validation_accuracy
    # our encoder -> the library
    ours = encode_metrics([encode_evaluation(0.0, 0.0, 0.1, 0.2, 0.3, "p"), encode_evaluation(108.0, 9.5, 1.0, 0.9, 0.8)],
                          -7, 12.5)
    m = ModelMetrics.FromString(ours)
    assert m.trainable_parameters == -7 and m.total_time == 12.5 and m.evaluation_data[0].checkpoint_path == "p"
    assert [e.validation_accuracy for e in m.evaluation_data] == [0.2, 0.9]
    assert m.SerializeToString() == ours
