"""The protobuf wire format, by hand, for NAS-Bench-101's `ModelMetrics` (no protobuf dependency).

The schema (nasbench/lib/model_metrics.proto, proto2):

    message ModelMetrics   { repeated EvaluationData evaluation_data = 1;
                             optional int32 trainable_parameters = 2; optional double total_time = 3; }
    message EvaluationData { optional double current_epoch = 1; optional double training_time = 2;
                             optional double train_accuracy = 3; optional double validation_accuracy = 4;
                             optional double test_accuracy = 5; optional string checkpoint_path = 6; }

`decode_metrics` is a general decoder (any field order, repeated scalars: last wins, unknown
fields skipped, as protobuf does). Decoding 1.27M messages that way costs ~20 s of Python, so
`decode_metrics_many` adds a vectorised fast path: messages are grouped by byte length, the first
message of a group is decoded generally while recording its *structure* (every key byte, every
length prefix, the continuation bits of every varint) and where each value sits; every other
message of the group whose structural bytes are identical parses identically by construction
(the wire format is self-delimiting), so its values are read with NumPy at the same offsets.
Messages that differ anywhere in their structure go through the general decoder. The result is
exact either way; the fast path is a speed-up, never an approximation.

Missing values decode as NaN (proto2 would report 0.0, which would pass for a real accuracy).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5

EVAL_FIELDS = ("current_epoch", "training_time", "train_accuracy", "validation_accuracy", "test_accuracy")
"""EvaluationData's double fields, numbered 1..5."""

METRIC_COLUMNS = (
    *(f"final_{f}" for f in EVAL_FIELDS),
    *(f"halfway_{f}" for f in EVAL_FIELDS),
    "trainable_parameters",
    "total_time",
    "num_evaluations",
)
"""What `decode_metrics_many` returns per message. `final_*` is evaluation_data[-1] (the end of
training); `halfway_*` is evaluation_data[1] when there are three evaluations (as the official
API reads them: [0] at initialisation, [1] halfway, [2] final), else NaN."""


class ProtobufError(ValueError):
    """Bytes that are not a well-formed ModelMetrics message; `index` says which of a batch."""

    def __init__(self, problem: str, index: int | None = None) -> None:
        self.problem = problem
        self.index = index
        super().__init__(problem if index is None else f"message {index}: {problem}")


@dataclass
class _Layout:
    """Where a message's structure and values sit, from one general decode."""

    fixed: list[tuple[int, int]] = field(default_factory=list)  # (position, exact byte)
    cont: list[int] = field(default_factory=list)  # varint bytes with the continuation bit set
    stop: list[int] = field(default_factory=list)  # last byte of a varint: continuation bit clear
    doubles: dict[str, int] = field(default_factory=dict)  # column -> position of 8 bytes
    varints: dict[str, tuple[int, int]] = field(default_factory=dict)  # column -> (position, size)


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtobufError("truncated varint")
        b = buf[pos]
        result |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def _fields(buf: bytes, start: int, end: int, layout: _Layout | None):
    """Yield (field number, wire type, value start, value end, decoded value) of one message level."""
    pos = start
    while pos < end:
        key_start = pos
        key, pos = _varint(buf, pos, end)
        if layout is not None:
            layout.fixed.extend((p, buf[p]) for p in range(key_start, pos))
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == VARINT:
            v_start = pos
            value, pos = _varint(buf, pos, end)
            if layout is not None:
                layout.cont.extend(range(v_start, pos - 1))
                layout.stop.append(pos - 1)
            yield number, wire, v_start, pos, value
        elif wire == FIXED64:
            if pos + 8 > end:
                raise ProtobufError("truncated fixed64")
            yield number, wire, pos, pos + 8, struct.unpack_from("<d", buf, pos)[0]
            pos += 8
        elif wire == LENGTH:
            len_start = pos
            size, pos = _varint(buf, pos, end)
            if layout is not None:
                layout.fixed.extend((p, buf[p]) for p in range(len_start, pos))
            if pos + size > end:
                raise ProtobufError("truncated length-delimited field")
            yield number, wire, pos, pos + size, None
            pos += size
        elif wire == FIXED32:
            if pos + 4 > end:
                raise ProtobufError("truncated fixed32")
            yield number, wire, pos, pos + 4, struct.unpack_from("<f", buf, pos)[0]
            pos += 4
        else:
            raise ProtobufError(f"unsupported wire type {wire} (field {number})")
    if pos != end:
        raise ProtobufError("message overruns its length")


def _int32(value: int) -> int:
    value &= (1 << 64) - 1
    value = value - (1 << 64) if value >= 1 << 63 else value
    if not -(1 << 31) <= value < 1 << 31:
        raise ProtobufError(f"trainable_parameters {value} is not an int32")
    return value


def _decode(buf: bytes, layout: _Layout | None = None) -> dict[str, float]:
    """General decode of one ModelMetrics into METRIC_COLUMNS; records the layout if asked."""
    evals: list[tuple[dict[str, float], dict[str, int]]] = []
    out: dict[str, float] = {}
    where: dict[str, int] = {}
    vwhere: dict[str, tuple[int, int]] = {}
    for number, wire, start, end, value in _fields(buf, 0, len(buf), layout):
        if number == 1:
            if wire != LENGTH:
                raise ProtobufError(f"evaluation_data has wire type {wire}")
            values: dict[str, float] = {}
            positions: dict[str, int] = {}
            for n2, w2, s2, _e2, v2 in _fields(buf, start, end, layout):
                if 1 <= n2 <= 5:
                    if w2 != FIXED64:
                        raise ProtobufError(f"EvaluationData field {n2} has wire type {w2}, expected double")
                    values[EVAL_FIELDS[n2 - 1]] = v2
                    positions[EVAL_FIELDS[n2 - 1]] = s2
                elif n2 == 6 and w2 != LENGTH:
                    raise ProtobufError(f"checkpoint_path has wire type {w2}")
            evals.append((values, positions))
        elif number == 2:
            if wire != VARINT:
                raise ProtobufError(f"trainable_parameters has wire type {wire}")
            out["trainable_parameters"] = float(_int32(value))
            vwhere["trainable_parameters"] = (start, end - start)
        elif number == 3:
            if wire != FIXED64:
                raise ProtobufError(f"total_time has wire type {wire}")
            out["total_time"] = value
            where["total_time"] = start
    out["num_evaluations"] = float(len(evals))
    picks = [("final", len(evals) - 1)] + ([("halfway", 1)] if len(evals) == 3 else [])
    for prefix, i in picks:
        if i < 0:
            continue
        values, positions = evals[i]
        for name in EVAL_FIELDS:
            if name in values:
                out[f"{prefix}_{name}"] = values[name]
                where[f"{prefix}_{name}"] = positions[name]
    if layout is not None:
        layout.doubles = where
        layout.varints = vwhere
    return {c: out.get(c, np.nan) for c in METRIC_COLUMNS}


def decode_metrics(buf: bytes) -> dict[str, float]:
    """Decode one serialized ModelMetrics (general path) into METRIC_COLUMNS (NaN where absent)."""
    return _decode(bytes(buf))


def decode_metrics_many(blobs: Sequence[bytes]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Decode many ModelMetrics: float64 arrays per METRIC_COLUMNS, and a bool mask of the
    messages that took the general path. A malformed message raises ProtobufError with its index."""
    n = len(blobs)
    cols = {c: np.full(n, np.nan) for c in METRIC_COLUMNS}
    slow = np.zeros(n, dtype=bool)
    if n == 0:
        return cols, slow
    sizes = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=n)
    order = np.argsort(sizes, kind="stable")
    cuts = np.flatnonzero(np.diff(sizes[order])) + 1
    for group in np.split(order, cuts):
        _decode_group(blobs, group, cols, slow)
    return cols, slow


def _decode_group(blobs: Sequence[bytes], group: np.ndarray, cols: dict[str, np.ndarray], slow: np.ndarray) -> None:
    head = int(group[0])
    layout = _Layout()
    try:
        first = _decode(bytes(blobs[head]), layout)
    except ProtobufError as e:
        raise ProtobufError(e.problem, head) from e
    for c, v in first.items():
        cols[c][head] = v
    rest = group[1:]
    if rest.shape[0] == 0:
        return
    mat = np.frombuffer(b"".join(blobs[i] for i in rest.tolist()), dtype=np.uint8).reshape(rest.shape[0], -1)
    ok = np.ones(rest.shape[0], dtype=bool)
    if layout.fixed:
        pos, want = np.array(layout.fixed, dtype=np.int64).T
        ok &= (mat[:, pos] == want.astype(np.uint8)).all(axis=1)
    if layout.cont:
        ok &= (mat[:, layout.cont] >= 0x80).all(axis=1)
    if layout.stop:
        ok &= (mat[:, layout.stop] < 0x80).all(axis=1)
    fast = rest[ok]
    sub = mat[ok]
    for c in METRIC_COLUMNS:
        if c in layout.doubles:
            p = layout.doubles[c]
            cols[c][fast] = np.ascontiguousarray(sub[:, p : p + 8]).view("<f8")[:, 0]
        elif c in layout.varints:
            p, k = layout.varints[c]
            v = np.zeros(sub.shape[0], dtype=np.uint64)
            for j in range(k):
                v |= (sub[:, p + j].astype(np.uint64) & np.uint64(0x7F)) << np.uint64(7 * j)
            vals = v.view(np.int64)
            if c == "trainable_parameters" and ((vals < -(1 << 31)) | (vals >= 1 << 31)).any():
                bad = int(fast[np.argmax((vals < -(1 << 31)) | (vals >= 1 << 31))])
                raise ProtobufError("trainable_parameters is not an int32", bad)
            cols[c][fast] = vals.astype(np.float64)
        elif c != "num_evaluations":
            cols[c][fast] = np.nan
    cols["num_evaluations"][fast] = first["num_evaluations"]
    for i in rest[~ok].tolist():
        slow[i] = True
        try:
            values = _decode(bytes(blobs[i]))
        except ProtobufError as e:
            raise ProtobufError(e.problem, i) from e
        for c, v in values.items():
            cols[c][i] = v


# -- encoding (test fixtures, benchmarks) ------------------------------------------------------


def _encode_varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_evaluation(
    current_epoch: float | None = None,
    training_time: float | None = None,
    train_accuracy: float | None = None,
    validation_accuracy: float | None = None,
    test_accuracy: float | None = None,
    checkpoint_path: str | None = None,
) -> bytes:
    """One serialized EvaluationData; fields left None are absent."""
    out = bytearray()
    for number, value in enumerate(
        (current_epoch, training_time, train_accuracy, validation_accuracy, test_accuracy), start=1
    ):
        if value is not None:
            out += bytes([number << 3 | FIXED64]) + struct.pack("<d", value)
    if checkpoint_path is not None:
        raw = checkpoint_path.encode()
        out += bytes([6 << 3 | LENGTH]) + _encode_varint(len(raw)) + raw
    return bytes(out)


def encode_metrics(evaluations: Sequence[bytes], trainable_parameters: int | None, total_time: float | None) -> bytes:
    """One serialized ModelMetrics from serialized EvaluationData messages."""
    out = bytearray()
    for ev in evaluations:
        out += bytes([1 << 3 | LENGTH]) + _encode_varint(len(ev)) + ev
    if trainable_parameters is not None:
        out += bytes([2 << 3 | VARINT]) + _encode_varint(int(trainable_parameters))
    if total_time is not None:
        out += bytes([3 << 3 | FIXED64]) + struct.pack("<d", total_time)
    return bytes(out)
