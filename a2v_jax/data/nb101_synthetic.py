"""Synthetic NAS-Bench-101 record files with the official layout, for benchmarks and tests.

The real `nasbench_only108.tfrecord` (~500 MB) is a public download that tests cannot rely on, so
the reader's speed is measured on a file of the same shape: 423,624 cells x 3 repeats =
1,270,872 records, each `[hash, 108, adjacency, operations, base64(ModelMetrics)]` with three
evaluations (initialisation, halfway, final) as in the official file. Cells have 2-7 vertices in
the proportions of the real space; hashes are MD5 hex digests, values plausible. Metrics are
encoded with NumPy in the fixed protobuf layout (the same bytes `protobuf.encode_metrics` writes).
"""

from __future__ import annotations

import binascii
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .tfrecord import TFRecordWriter

NUM_CELLS = 423_624
VERTEX_COUNTS = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}
"""Cells of the real NB101 space by vertex count."""
INNER_OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")


@dataclass(frozen=True)
class SyntheticCells:
    hash: np.ndarray  # <U32
    adjacency: list[str]
    operations: list[str]


def synthetic_cells(n: int = NUM_CELLS, seed: int = 0) -> SyntheticCells:
    rng = np.random.default_rng(seed)
    counts = np.array(list(VERTEX_COUNTS.values()), dtype=np.float64)
    k = rng.choice(np.array(list(VERTEX_COUNTS)), size=n, p=counts / counts.sum())
    raw = rng.bytes(16 * n)
    hashes = np.array([hashlib.md5(raw[16 * i : 16 * i + 16]).hexdigest() for i in range(n)], dtype="<U32")
    bits = (rng.random((n, 7, 7)) < 0.3) & np.triu(np.ones((7, 7), dtype=bool), 1)
    bits[:, 0, 1] = True
    text = (bits.astype(np.uint8) + ord("0")).tobytes().decode()
    adjacency = []
    operations = []
    inner = rng.integers(0, 3, size=(n, 5))
    for i in range(n):
        ki = int(k[i])
        rows = text[49 * i : 49 * i + 49]
        adjacency.append("".join(rows[7 * r : 7 * r + ki] for r in range(ki)))
        operations.append(",".join(["input", *(INNER_OPS[j] for j in inner[i, : ki - 2]), "output"]))
    return SyntheticCells(hashes, adjacency, operations)


def cells_from_cellset(cells, op_names) -> SyntheticCells:
    """The hashes and graphs of a real cell set (e.g. the NB101 space) as record fields, so a
    synthetic file can carry real hashes and official graphs."""
    ops = np.asarray(cells.ops)
    adj = np.asarray(cells.adjacency)
    n_real = (ops >= 0).sum(axis=1)
    names = list(op_names)
    adjacency, operations = [], []
    text = (adj.astype(np.uint8) + ord("0")).reshape(adj.shape[0], -1).tobytes().decode()
    width = adj.shape[1]
    for i in range(ops.shape[0]):
        k = int(n_real[i])
        rows = text[width * width * i : width * width * (i + 1)]
        adjacency.append("".join(rows[width * r : width * r + k] for r in range(k)))
        operations.append(",".join(names[j] for j in ops[i, :k]))
    return SyntheticCells(np.asarray(cells.hash, dtype="<U32"), adjacency, operations)


def _varint_matrix(values: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group int values by varint size: [(row indices, bytes [m, size])]."""
    size = np.ones(values.shape[0], dtype=np.int64)
    v = values.astype(np.uint64)
    for s in range(1, 10):
        size += (v >= np.uint64(1) << np.uint64(7 * s)).astype(np.int64)
    out = []
    for s in np.unique(size):
        rows = np.flatnonzero(size == s)
        vals = v[rows]
        b = np.zeros((rows.shape[0], s), dtype=np.uint8)
        for j in range(s):
            b[:, j] = ((vals >> np.uint64(7 * j)) & np.uint64(0x7F)).astype(np.uint8)
            if j < s - 1:
                b[:, j] |= 0x80
        out.append((rows, b))
    return out


def encode_metrics_many(
    evaluations: np.ndarray, trainable_parameters: np.ndarray, total_time: np.ndarray
) -> list[bytes]:
    """Serialized ModelMetrics for each row: evaluations float64 [n, E, 5] (current_epoch,
    training_time, train/validation/test accuracy), all fields present, no checkpoint path."""
    n, e, _ = evaluations.shape
    ev = np.zeros((n, e, 47), dtype=np.uint8)
    ev[:, :, 0] = 0x0A  # field 1, length-delimited
    ev[:, :, 1] = 45
    for f in range(5):
        ev[:, :, 2 + 9 * f] = (f + 1) << 3 | 1
        ev[:, :, 3 + 9 * f : 11 + 9 * f] = evaluations[:, :, f].astype("<f8").view(np.uint8).reshape(n, e, 8)
    tail = np.zeros((n, 9), dtype=np.uint8)
    tail[:, 0] = 0x19
    tail[:, 1:] = total_time.astype("<f8").view(np.uint8).reshape(n, 8)
    out: list[bytes] = [b""] * n
    for rows, varint in _varint_matrix(trainable_parameters):
        key = np.full((rows.shape[0], 1), 0x10, dtype=np.uint8)
        mat = np.concatenate([ev[rows].reshape(rows.shape[0], -1), key, varint, tail[rows]], axis=1)
        width = mat.shape[1]
        flat = mat.tobytes()
        for j, r in enumerate(rows.tolist()):
            out[r] = flat[j * width : (j + 1) * width]
    return out


def synthetic_payloads(
    cells: SyntheticCells, repeats: int = 3, epochs: int = 108, seed: int = 1, chunk: int = 65536
) -> Iterator[bytes]:
    """Payloads for every cell x repeat (a cell's repeats consecutive, as in the official file)."""
    rng = np.random.default_rng(seed)
    n = len(cells.hash)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        m = (hi - lo) * repeats
        cell = np.repeat(np.arange(lo, hi), repeats)
        final_t = np.repeat(rng.uniform(400, 5500, size=hi - lo), repeats) * rng.uniform(0.98, 1.02, size=m)
        valid = np.clip(0.955 - rng.gamma(1.5, 0.03, size=m), 0.05, 0.955)
        evals = np.zeros((m, 3, 5))
        evals[:, :, 0] = [0.0, epochs / 2, float(epochs)]
        evals[:, :, 1] = final_t[:, None] * np.array([0.0, 0.5, 1.0])
        evals[:, 0, 2:] = rng.uniform(0.08, 0.12, size=(m, 3))
        evals[:, 1, 2:] = np.clip(valid[:, None] - rng.uniform(0.02, 0.1, size=(m, 3)), 0, 1)
        evals[:, 2, 2] = np.clip(valid + rng.uniform(0.05, 0.1, size=m), 0, 1)
        evals[:, 2, 3] = valid
        evals[:, 2, 4] = np.clip(valid - rng.normal(0.006, 0.004, size=m), 0, 1)
        params = np.repeat(rng.integers(227_274, 49_979_274, size=hi - lo), repeats)
        blobs = encode_metrics_many(evals, params, final_t * 1.08)
        for j in range(m):
            c = int(cell[j])
            b64 = binascii.b2a_base64(blobs[j], newline=False).decode()
            yield f'["{cells.hash[c]}", {epochs}, "{cells.adjacency[c]}", "{cells.operations[c]}", "{b64}"]'.encode()


def write_synthetic(
    path: str | os.PathLike, n: int = NUM_CELLS, repeats: int = 3, seed: int = 0, cells: SyntheticCells | None = None
) -> SyntheticCells:
    """Write a synthetic NB101 file of `n` cells (or of `cells`) x `repeats` records; returns its cells."""
    cells = cells if cells is not None else synthetic_cells(n, seed)
    with TFRecordWriter(path) as w:
        for p in synthetic_payloads(cells, repeats=repeats, seed=seed + 1):
            w.write(p)
    return cells
