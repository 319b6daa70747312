"""NAS-Bench-101 from the official TFRecord file, without TensorFlow.

Each record of `nasbench_only108.tfrecord` (3 per cell: 1,270,872 records) or `nasbench_full.tfrecord`
(12 per cell: epoch budgets 4, 12, 36, 108 x 3 repeats) is a JSON list

    [module_hash, epochs, raw_adjacency ('0'/'1', row-major, n*n), raw_operations ('input,...,output'),
     base64 of a serialized ModelMetrics]

ModelMetrics holds the evaluations made during one training run: [0] at initialisation, [1] halfway,
[2] at the end (the official `nasbench.api` reads [1] and [2]; we read [-1] as final, which is
[2] in the official files). `read_records` turns the file into per-record arrays; `build_table`
joins them with the space's cell set by hash and averages the repeats.

Column definitions of the table (row i = cell i of `get_space("nb101").load()`), all at the chosen
epoch budget (108 by default), "final" meaning evaluation_data[-1]:

- `valid_repeats`, `test_repeats`, `train_repeats` [N, R]: final validation / test / train accuracy of
  each training repeat (file order; NaN where a cell has fewer than R repeats), fractions;
- `time_repeats` [N, R]: final `training_time` of each repeat, seconds (training only, no evaluation);
- `valid_mean`, `test_mean`, `time_mean`: their means over the repeats present;
- `params`: trainable parameters (of the first repeat; all repeats agree in the official file);
- `repeats`: number of repeats found.

Roles, as arch2vec's preprocessing/gen_json.py builds its data: reward = valid = `valid_mean`,
test = `test_mean`, time = `time_mean` (it averages final_validation_accuracy,
final_test_accuracy and final_training_time over the three 108-epoch repeats).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import re
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import CorruptFileError
from .benchmark import Benchmark
from .protobuf import METRIC_COLUMNS, ProtobufError, decode_metrics_many, encode_evaluation, encode_metrics
from .tfrecord import DEFAULT_BLOCK_BYTES, RecordBlock, iter_blocks, write_tfrecord

OP_NAMES = ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "output")
HASH_LABELS = {"conv3x3-bn-relu": 0, "conv1x1-bn-relu": 1, "maxpool3x3": 2}
"""The official hash labels of the inner ops (input -1, output -2)."""
DEFAULT_EPOCHS = 108
MAX_VERTICES = 7
PAD = -1
_HEX32 = re.compile(r"(?:[0-9a-f]{32})*")
_OP_INDEX = {name: i for i, name in enumerate(OP_NAMES)}
_OPS_ID: dict[str, int] = {}
_OPS_ROWS: list[list[int]] = []
_OPS_TABLE: list[np.ndarray] = [np.zeros((0, MAX_VERTICES), dtype=np.int8)]


def _register_ops(text: str) -> int:
    """Row id of a raw operations string in the ops table, or -1 unless it runs input, inner ops, output."""
    if text in _OPS_ID:
        return _OPS_ID[text]
    codes = [_OP_INDEX.get(n, -9) for n in text.split(",")]
    if codes[0] != 0 or codes[-1] != len(OP_NAMES) - 1 or any(c not in (1, 2, 3) for c in codes[1:-1]):
        return -1
    _OPS_ROWS.append(codes + [PAD] * (MAX_VERTICES - len(codes)))
    _OPS_ID[text] = len(_OPS_ROWS) - 1
    return _OPS_ID[text]


def _ops_table() -> np.ndarray:
    """Padded OP_NAMES indices of every operations string registered so far, by row id."""
    if _OPS_TABLE[0].shape[0] != len(_OPS_ROWS):
        _OPS_TABLE[0] = np.array(_OPS_ROWS, dtype=np.int8).reshape(-1, MAX_VERTICES)
    return _OPS_TABLE[0]


class NB101FormatError(CorruptFileError):
    """A record that frames and checksums correctly but is not a NAS-Bench-101 record."""


@dataclass(frozen=True)
class NB101Records:
    """Every record of a file as arrays (one row per record, file order)."""

    hash: np.ndarray  # <U32
    epochs: np.ndarray  # int32
    num_vertices: np.ndarray  # int8
    adjacency: np.ndarray  # uint8 [R, 7, 7], the record's graph zero-padded after its vertices
    ops: np.ndarray  # int8 [R, 7], indices into OP_NAMES, PAD (-1) past the vertices
    metrics: dict[str, np.ndarray]  # METRIC_COLUMNS, float64
    offset: np.ndarray  # int64, file offset of each record
    path: str
    sha256: str | None
    size: int
    slow_path: int  # records whose metrics took the general protobuf decoder

    def __len__(self) -> int:
        return int(self.hash.shape[0])


if sys.version_info >= (3, 11):

    def _b64(text: str) -> bytes:
        return binascii.a2b_base64(text, strict_mode=True)
else:  # pragma: no cover

    def _b64(text: str) -> bytes:
        import base64

        return base64.b64decode(text, validate=True)


def _bad(path: str, offset: int, problem: str) -> NB101FormatError:
    return NB101FormatError(f"{path}: {problem} (record at byte offset {offset})")


_DECODE = json.JSONDecoder().raw_decode


def _parse_json(block: RecordBlock, path: str) -> list:
    """Each payload parsed on its own (as fast as one big array, and no payload can spill into
    its neighbour)."""
    rows = []
    decode = _DECODE
    for p in block.payloads():
        try:
            text = p.decode()
            row, end = decode(text)
            if end != len(text) and text[end:].strip():
                raise ValueError(f"extra data after the JSON value at character {end}")
        except (ValueError, UnicodeDecodeError) as e:
            try:  # leading whitespace is legal JSON that raw_decode does not skip
                row = json.loads(p)
            except (ValueError, UnicodeDecodeError):
                raise _bad(path, int(block.record_offsets[len(rows)]), f"payload is not JSON ({e})") from e
        rows.append(row)
    return rows


def _parse_block(block: RecordBlock, path: str) -> dict[str, Any]:
    rows = _parse_json(block, path)
    offsets = block.record_offsets
    shape_ok = [type(r) is list and len(r) == 5 for r in rows]
    if not all(shape_ok):
        i = shape_ok.index(False)
        raise _bad(path, int(offsets[i]), "payload is not a 5-element JSON list [hash, epochs, adjacency, ops, metrics]")
    hashes, epochs, adjs, opss, b64s = (list(c) for c in zip(*rows, strict=True))
    for column, kind, name in ((hashes, str, "hash"), (epochs, int, "epochs"), (adjs, str, "adjacency"),
                               (opss, str, "operations"), (b64s, str, "metrics")):
        wrong = [type(v) is not kind for v in column]
        if any(wrong):
            i = wrong.index(True)
            raise _bad(path, int(offsets[i]), f"{name} is {type(column[i]).__name__}, expected {kind.__name__}")
    epoch_ok = [0 < e < 1 << 31 for e in epochs]
    if not all(epoch_ok):
        i = epoch_ok.index(False)
        raise _bad(path, int(offsets[i]), f"epochs {epochs[i]} is not a positive 32-bit count")
    hash_len = np.fromiter(map(len, hashes), dtype=np.int64, count=len(hashes))
    if (hash_len != 32).any() or not _HEX32.fullmatch("".join(hashes)):
        i = int(np.argmax(hash_len != 32)) if (hash_len != 32).any() else next(
            k for k, h in enumerate(hashes) if not _HEX32.fullmatch(h))
        raise _bad(path, int(offsets[i]), f"module hash {hashes[i]!r} is not 32 lowercase hex digits")
    adj_len = np.fromiter(map(len, adjs), dtype=np.int64, count=len(adjs))
    dim = np.rint(np.sqrt(adj_len)).astype(np.int64)
    n_ops = np.fromiter((s.count(",") + 1 for s in opss), dtype=np.int64, count=len(opss))
    bad = (dim * dim != adj_len) | (n_ops != dim) | (dim < 2) | (dim > MAX_VERTICES)
    if bad.any():
        i = int(np.argmax(bad))
        raise _bad(path, int(offsets[i]), f"adjacency of {adj_len[i]} entries and {n_ops[i]} operations do not "
                   f"make a cell of 2-{MAX_VERTICES} vertices")
    m = len(rows)
    ids = np.fromiter((_OPS_ID.get(o, -1) for o in opss), dtype=np.int64, count=m)
    for i in np.flatnonzero(ids < 0).tolist():  # operation strings not seen before
        ids[i] = _register_ops(opss[i])
        if ids[i] < 0:
            raise _bad(path, int(offsets[i]), f"operations {opss[i]!r} are not input, NB101 ops, output")
    ops = _ops_table()[ids]
    adjacency = np.zeros((m, MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
    for n in np.unique(dim).tolist():
        sel = np.flatnonzero(dim == n)
        digits = np.frombuffer("".join([adjs[i] for i in sel.tolist()]).encode("ascii", "replace"), dtype=np.uint8) - np.uint8(48)
        if (digits > 1).any():
            i = int(sel[int(np.argmax((digits > 1).reshape(sel.shape[0], -1).any(axis=1)))])
            raise _bad(path, int(offsets[i]), "adjacency string holds characters other than 0 and 1")
        adjacency[sel, :n, :n] = digits.reshape(-1, n, n)
    blobs = []
    for i, s in enumerate(b64s):
        try:
            blobs.append(_b64(s))
        except (binascii.Error, ValueError) as e:
            raise _bad(path, int(offsets[i]), f"metrics field is not base64 ({e})") from e
    try:
        metrics, slow = decode_metrics_many(blobs)
    except ProtobufError as e:
        raise _bad(path, int(offsets[e.index or 0]), f"metrics are not a ModelMetrics message ({e.problem})") from e
    return {
        "hash": np.array(hashes, dtype="<U32"),
        "epochs": np.array(epochs, dtype=np.int32),
        "num_vertices": dim.astype(np.int8),
        "adjacency": adjacency,
        "ops": ops,
        "metrics": metrics,
        "offset": offsets,
        "slow": int(slow.sum()),
    }


def read_records(
    path: str | os.PathLike, block_bytes: int = DEFAULT_BLOCK_BYTES, progress: bool = False
) -> NB101Records:
    """Parse every record of an NB101 TFRecord file into arrays, checking CRCs and format.

    Raises TFRecordError (framing, CRC, truncation) or NB101FormatError (content), each naming
    the file and the byte offset of the first bad record.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    size = path.stat().st_size
    digest = hashlib.sha256()
    parts: list[dict[str, Any]] = []
    bar = _progress(size, progress, f"reading {path.name}")
    try:
        for block in iter_blocks(path, block_bytes=block_bytes, digest=digest):
            parts.append(_parse_block(block, str(path)))
            if bar is not None:
                bar.update(block.used_bytes)
    finally:
        if bar is not None:
            bar.close()
    if not parts:
        raise NB101FormatError(f"{path}: holds no records")
    return NB101Records(
        hash=np.concatenate([p["hash"] for p in parts]),
        epochs=np.concatenate([p["epochs"] for p in parts]),
        num_vertices=np.concatenate([p["num_vertices"] for p in parts]),
        adjacency=np.concatenate([p["adjacency"] for p in parts]),
        ops=np.concatenate([p["ops"] for p in parts]),
        metrics={c: np.concatenate([p["metrics"][c] for p in parts]) for c in METRIC_COLUMNS},
        offset=np.concatenate([p["offset"] for p in parts]),
        path=str(path),
        sha256=digest.hexdigest(),
        size=size,
        slow_path=sum(p["slow"] for p in parts),
    )


def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=desc)


_REQUIRED = ("final_validation_accuracy", "final_test_accuracy", "final_training_time", "trainable_parameters")


def build_table(
    records: NB101Records,
    cells: Any,
    epochs: int = DEFAULT_EPOCHS,
    allow_missing: bool = False,
    dataset: str = "cifar10",
    op_names: Sequence[str] | None = None,
) -> Benchmark:
    """Join records to `cells` (a CellSet: `hash`, `index_of`) and average the repeats.

    A record whose hash is not a cell is an error; so is a cell without records unless
    `allow_missing` (then its row is NaN). With `op_names` (the space's vocabulary, what
    `cells.ops` indexes) each record's graph is also compared with its cell's: the count of
    records that differ is `metadata["graph_mismatches"]` (a warning when not 0: the hash
    matched but the stored graph is another isomorph, or the join is wrong).
    """
    keep = np.flatnonzero(records.epochs == epochs)
    if keep.shape[0] == 0:
        have = sorted({int(e) for e in np.unique(records.epochs)})
        raise NB101FormatError(f"{records.path}: no records at {epochs} epochs (the file has {have})")
    hashes = records.hash[keep]
    try:
        idx = cells.index_of(hashes)
    except KeyError as e:
        h = str(e.args[0]).split()[1] if e.args else "?"
        where = keep[np.flatnonzero(hashes == h)[:1]]
        at = f" (record at byte offset {int(records.offset[where[0]])})" if where.shape[0] else ""
        raise NB101FormatError(
            f"{records.path}: {e.args[0] if e.args else e}{at}; is the cell set the full NB101 space?"
        ) from e
    m = {c: records.metrics[c][keep] for c in records.metrics}
    for c in _REQUIRED:
        missing = np.isnan(m[c])
        if missing.any():
            i = keep[int(np.argmax(missing))]
            raise NB101FormatError(f"{records.path}: record lacks {c} (record at byte offset {int(records.offset[i])})")
    mismatches = None
    if op_names is not None:
        mismatches = _graph_mismatches(records, keep, idx, cells, op_names)
        if mismatches:
            warnings.warn(
                f"{records.path}: {mismatches} records have another graph than their cell in the cell set "
                "(same hash): the cell set does not store the official form of those cells",
                stacklevel=2,
            )
    n = len(cells)
    counts = np.bincount(idx, minlength=n)
    order = np.argsort(idx, kind="stable")
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.shape[0]) - first[idx[order]]
    reps = int(counts.max())

    def per_repeat(values: np.ndarray) -> np.ndarray:
        out = np.full((n, reps), np.nan)
        out[idx, rank] = values
        return out

    valid = per_repeat(m["final_validation_accuracy"])
    test = per_repeat(m["final_test_accuracy"])
    train = per_repeat(m["final_train_accuracy"])
    times = per_repeat(m["final_training_time"])
    params_r = per_repeat(m["trainable_parameters"])
    empty = counts == 0
    if empty.any() and not allow_missing:
        raise NB101FormatError(
            f"{records.path}: {int(empty.sum())} of {n} cells have no record at {epochs} epochs "
            f"(first: {cells.hash[int(np.argmax(empty))]}); pass allow_missing to keep them as NaN"
        )
    with warnings.catch_warnings():  # all-NaN rows of missing cells stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        valid_mean = np.nanmean(valid, axis=1)
        test_mean = np.nanmean(test, axis=1)
        time_mean = np.nanmean(times, axis=1)
        params_disagree = int((np.nanmax(params_r, axis=1) != np.nanmin(params_r, axis=1))[~empty].sum())
    params = params_r[:, 0]
    columns = {
        "reward": valid_mean,
        "valid": valid_mean,
        "test": test_mean,
        "time": time_mean,
        "valid_mean": valid_mean,
        "test_mean": test_mean,
        "time_mean": time_mean,
        "valid_repeats": valid,
        "test_repeats": test,
        "train_repeats": train,
        "time_repeats": times,
        "params": np.where(np.isnan(params), -1, params).astype(np.int64),
        "repeats": counts.astype(np.int8),
    }
    frac, sec = "fraction", "seconds"
    metadata = {
        "epochs": int(epochs),
        "num_repeats": reps,
        "units": {
            "reward": frac, "valid": frac, "test": frac, "time": sec, "valid_mean": frac, "test_mean": frac,
            "time_mean": sec, "valid_repeats": frac, "test_repeats": frac, "train_repeats": frac,
            "time_repeats": sec, "params": "count", "repeats": "count",
        },
        "roles": {"reward": "valid_mean", "valid": "valid_mean", "test": "test_mean", "time": "time_mean"},
        "role_notes": (
            f"means over the training repeats at {epochs} epochs of the final evaluation (evaluation_data[-1]): "
            "validation accuracy (reward, valid), test accuracy (test), training_time in seconds (time), "
            "as arch2vec's preprocessing/gen_json.py averages final_validation_accuracy, final_test_accuracy "
            "and final_training_time over the three repeats"
        ),
        "sources": [
            {"name": Path(records.path).name, "path": records.path, "sha256": records.sha256, "bytes": records.size,
             "records": len(records), "records_used": int(keep.shape[0])}
        ],
        "cells": {"count": n, "path": str(getattr(cells, "path", None))},
        "missing_cells": int(empty.sum()),
        "params_disagree": params_disagree,
        "graph_mismatches": mismatches,
        "protobuf_general_path": int(records.slow_path),
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return Benchmark("nb101", dataset, columns, metadata)


def _graph_mismatches(records: NB101Records, keep: np.ndarray, idx: np.ndarray, cells: Any, op_names: Sequence[str]) -> int:
    index = {name: i for i, name in enumerate(OP_NAMES)}
    unknown = [o for o in op_names if o not in index]
    if unknown:
        raise ValueError(f"op names {unknown} are not NB101 operations {OP_NAMES}")
    to_ours = np.array([index[o] for o in op_names] + [PAD], dtype=np.int8)  # PAD (-1) maps to PAD
    cell_adj = np.asarray(cells.adjacency)
    cell_ops = np.asarray(cells.ops)
    if cell_adj.shape[1:] != (MAX_VERTICES, MAX_VERTICES) or cell_ops.shape[1:] != (MAX_VERTICES,):
        raise ValueError(f"cell set arrays {cell_adj.shape} / {cell_ops.shape} are not NB101's [N, 7, 7] / [N, 7]")
    bad = 0
    for lo in range(0, keep.shape[0], 1 << 18):  # bounded temporaries
        k, c = keep[lo : lo + (1 << 18)], idx[lo : lo + (1 << 18)]
        differs = (cell_adj[c] != records.adjacency[k]).any(axis=(1, 2))
        differs |= (to_ours[cell_ops[c]] != records.ops[k]).any(axis=1)
        bad += int(differs.sum())
    return bad


def build_nb101(
    tfrecord: str | os.PathLike,
    cells: Any = None,
    epochs: int = DEFAULT_EPOCHS,
    allow_missing: bool = False,
    progress: bool = False,
) -> Benchmark:
    """Read the official file and build the table against `cells` (default: the NB101 space)."""
    path = Path(tfrecord)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give the path of nasbench_only108.tfrecord itself")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path} (the official nasbench_only108.tfrecord)")
    op_names = None
    if cells is None:
        from ..spaces import get_space

        space = get_space("nb101")
        cells = space.load(verbose=progress)
        op_names = space.op_names
    records = read_records(tfrecord, progress=progress)
    return build_table(records, cells, epochs=epochs, allow_missing=allow_missing, op_names=op_names)


# -- writing (fixtures, benchmarks) ------------------------------------------------------------


def encode_record(
    module_hash: str,
    epochs: int,
    adjacency: np.ndarray,
    operations: Sequence[str],
    evaluations: Sequence[dict[str, float]],
    trainable_parameters: int,
    total_time: float,
) -> bytes:
    """One payload in the official layout: JSON list, metrics as base64 protobuf."""
    adj = np.asarray(adjacency).astype(np.int64)
    raw_adj = "".join(str(int(v)) for v in adj.reshape(-1))
    metrics = encode_metrics([encode_evaluation(**e) for e in evaluations], trainable_parameters, total_time)
    row = [module_hash, int(epochs), raw_adj, ",".join(operations), binascii.b2a_base64(metrics, newline=False).decode()]
    return json.dumps(row).encode()


def write_records(path: str | os.PathLike, payloads: Iterable[bytes]) -> int:
    return write_tfrecord(path, payloads)
