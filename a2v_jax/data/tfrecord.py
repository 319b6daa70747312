"""TFRecord files without TensorFlow: a checked streaming reader and a writer.

A TFRecord file is a sequence of records, each framed as

    uint64 length (little-endian) | uint32 masked CRC32C of those 8 bytes | payload | uint32 masked CRC32C of payload

The reader checks both CRCs of every record and raises `TFRecordError`, naming the file and the
byte offset of the bad record, on a mismatch or a truncated file: a silently corrupt benchmark
table is worse than none. It streams in blocks (`iter_blocks`), so memory stays at about one block
whatever the file size; payload CRCs of a whole block are checked in one vectorised pass
(`crc32c_many`), and length CRCs through a small cache (the lengths of real files take a few
hundred values).

The writer exists for test fixtures and benchmarks; it writes atomically (temp file + rename).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from .._io import CorruptFileError, atomic_path
from .crc32c import crc32c_many, mask, masked_crc32c

HEADER_BYTES = 12
FOOTER_BYTES = 4
DEFAULT_BLOCK_BYTES = 1 << 25
_HEADER = struct.Struct("<QI")


class TFRecordError(CorruptFileError):
    """A TFRecord file is corrupt or truncated; `path` and `offset` say where."""

    def __init__(self, path: str | os.PathLike, offset: int, problem: str) -> None:
        self.path = str(path)
        self.offset = int(offset)
        self.problem = problem
        super().__init__(f"{self.path}: {problem} (record at byte offset {self.offset})")


@dataclass(frozen=True)
class RecordBlock:
    """A run of whole, checked records: payload i is `data[starts[i] : starts[i] + lengths[i]]`."""

    data: bytes
    starts: np.ndarray
    lengths: np.ndarray
    offset: int
    """File offset of `data[0]`."""
    first_index: int
    """Index of the block's first record in the file."""

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def payload(self, i: int) -> bytes:
        s = int(self.starts[i])
        return self.data[s : s + int(self.lengths[i])]

    def payloads(self) -> list[bytes]:
        d = self.data
        return [d[s : s + n] for s, n in zip(self.starts.tolist(), self.lengths.tolist(), strict=True)]

    @property
    def used_bytes(self) -> int:
        """Bytes of `data` that the block's records span."""
        return int(self.starts[-1] + self.lengths[-1]) + FOOTER_BYTES if len(self) else 0

    @property
    def record_offsets(self) -> np.ndarray:
        """File offset of each record's header."""
        return self.offset + self.starts - HEADER_BYTES


class _LengthCrc(dict):
    """Masked CRC of each 8-byte length field seen so far."""

    def __missing__(self, length: int) -> int:
        value = masked_crc32c(struct.pack("<Q", length))
        if len(self) < 1 << 16:
            self[length] = value
        return value


def _frame(
    data: bytes, offset: int, path: str | os.PathLike, crcs: _LengthCrc
) -> tuple[list[int], list[int], int, int | None]:
    """Walk the record headers in `data`, checking each length CRC.

    Returns payload starts and lengths of the whole records, the number of bytes they span, and
    the full size of the first incomplete record when its header is already in `data`.
    """
    starts: list[int] = []
    lengths: list[int] = []
    pos = 0
    end_of_data = len(data)
    unpack = _HEADER.unpack_from
    pending = None
    while pos + HEADER_BYTES <= end_of_data:
        length, length_crc = unpack(data, pos)
        if length_crc != crcs[length]:
            raise TFRecordError(path, offset + pos, "length CRC mismatch (corrupt record header)")
        end = pos + HEADER_BYTES + length + FOOTER_BYTES
        if end > end_of_data:
            pending = end - pos
            break
        starts.append(pos + HEADER_BYTES)
        lengths.append(length)
        pos = end
    return starts, lengths, pos, pending


def iter_blocks(
    path: str | os.PathLike, block_bytes: int = DEFAULT_BLOCK_BYTES, verify: bool = True, digest: Any = None
) -> Iterator[RecordBlock]:
    """Stream a TFRecord file as blocks of whole records, every CRC checked when `verify`.

    `digest` (e.g. a `hashlib.sha256()`) is fed every byte read, so a caller gets the file's
    checksum without reading it twice.
    """
    path = Path(path)
    crcs = _LengthCrc()
    with open(path, "rb") as f:
        carry = b""
        offset = 0  # file offset of carry[0]
        index = 0
        want = block_bytes
        eof = False
        while True:
            chunk = f.read(max(want - len(carry), 1)) if not eof else b""
            if not chunk:
                eof = True
            elif digest is not None:
                digest.update(chunk)
            data = carry + chunk if carry else chunk
            if not data:
                return
            starts, lengths, used, pending = _frame(data, offset, path, crcs)
            if not starts:
                if eof:
                    _raise_truncated(path, offset, len(data), pending)
                want = max(block_bytes, (pending or 0) + HEADER_BYTES)  # one record larger than a block
                carry = data
                continue
            block = RecordBlock(
                data, np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64), offset, index
            )
            if verify:
                _check_payloads(block, path)
            yield block
            index += len(block)
            carry = data[used:]
            offset += used
            want = block_bytes
            if eof and carry:
                _, _, _, pending = _frame(carry, offset, path, crcs)  # a bad header is reported as such
                _raise_truncated(path, offset, len(carry), pending)


def _raise_truncated(path: Path, offset: int, available: int, full: int | None) -> None:
    if available < HEADER_BYTES:
        detail = f"file ends inside a record header ({available} of {HEADER_BYTES} bytes)"
    elif full:
        detail = f"file ends inside a record ({available} of {full} bytes)"
    else:
        detail = "file ends inside a record"
    raise TFRecordError(path, offset, f"truncated file: {detail}")


def _check_payloads(block: RecordBlock, path: Path) -> None:
    buf = np.frombuffer(block.data, dtype=np.uint8)
    ends = block.starts + block.lengths
    stored = buf[ends[:, None] + np.arange(4)].astype(np.uint32)
    stored = stored[:, 0] | (stored[:, 1] << 8) | (stored[:, 2] << 16) | (stored[:, 3] << 24)
    bad = mask(crc32c_many(buf, block.starts, block.lengths)) != stored
    if bad.any():
        i = int(np.argmax(bad))
        raise TFRecordError(
            path, int(block.record_offsets[i]), f"payload CRC mismatch in record {block.first_index + i}"
        )


def iter_records(path: str | os.PathLike, verify: bool = True, block_bytes: int = DEFAULT_BLOCK_BYTES) -> Iterator[bytes]:
    """Every payload of the file, in order."""
    for block in iter_blocks(path, block_bytes=block_bytes, verify=verify):
        yield from block.payloads()


def read_records(path: str | os.PathLike, verify: bool = True) -> list[bytes]:
    return list(iter_records(path, verify=verify))


def encode_records(payloads: list[bytes]) -> bytes:
    """The framed bytes of `payloads` (CRCs computed in one vectorised pass)."""
    if not payloads:
        return b""
    lengths = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=len(payloads))
    joined = b"".join(payloads)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    data_crc = mask(crc32c_many(joined, starts, lengths)).tolist()
    crcs = _LengthCrc()
    pack = _HEADER.pack
    out = []
    for p, n, c in zip(payloads, lengths.tolist(), data_crc, strict=True):
        out.append(pack(n, crcs[n]))
        out.append(p)
        out.append(struct.pack("<I", c))
    return b"".join(out)


class TFRecordWriter:
    """Write records to `path` atomically: the file appears only when the writer closes cleanly.

        with TFRecordWriter(path) as w:
            for payload in payloads:
                w.write(payload)
    """

    def __init__(self, path: str | os.PathLike, flush_records: int = 65536) -> None:
        self.path = Path(path)
        self.count = 0
        self._flush_records = flush_records
        self._pending: list[bytes] = []
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self._file = open(self._tmp, "wb")

    def write(self, payload: bytes) -> None:
        self._pending.append(bytes(payload))
        self.count += 1
        if len(self._pending) >= self._flush_records:
            self._flush()

    def _flush(self) -> None:
        self._file.write(encode_records(self._pending))
        self._pending = []

    def close(self, error: BaseException | None = None) -> None:
        if self._file.closed:
            return
        try:
            if error is None:
                self._flush()
                self._file.flush()
                os.fsync(self._file.fileno())
        finally:
            self._file.close()
        if error is None:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(type(error), error, error.__traceback__)

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(exc)


def write_tfrecord(path: str | os.PathLike, payloads: Iterable[bytes]) -> int:
    """Write every payload to a TFRecord file at `path` (atomically); returns the record count."""
    with TFRecordWriter(path) as w:
        for p in payloads:
            w.write(p)
    return w.count
