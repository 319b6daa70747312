"""TFRecord framing and CRC32C: exact round trips, and every kind of damage caught with its offset."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from a2v_jax.data.crc32c import crc32c, crc32c_many, mask, masked_crc32c
from a2v_jax.data.tfrecord import (
    TFRecordError,
    TFRecordWriter,
    encode_records,
    iter_blocks,
    iter_records,
    read_records,
    write_tfrecord,
)


def test_crc32c_known_vectors():
    # RFC 3720 (iSCSI) appendix B.4 and the classic check value
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283  # continuation


def test_mask_matches_tensorflow_definition():
    for c in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert mask(c) == ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    arr = np.array([0, 1, 0xE3069283, 0xFFFFFFFF], dtype=np.uint32)
    assert mask(arr).tolist() == [mask(int(c)) for c in arr]


def test_batch_crc_equals_scalar_on_every_length_and_order():
    rng = np.random.default_rng(0)
    payloads = [rng.integers(0, 256, size=int(n), dtype=np.uint8).tobytes() for n in rng.integers(0, 70, 400)]
    payloads += [b"", b"a", b"ab", b"abc", b"abcd", bytes(200)]
    buf = b"".join(payloads)
    lengths = np.array([len(p) for p in payloads])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    order = rng.permutation(len(payloads))
    want = np.array([crc32c(p) for p in payloads], dtype=np.uint32)
    for chunk in (1, 64, 1 << 21):  # tiny chunks force many groups of different widths
        got = crc32c_many(buf, starts[order], lengths[order], chunk_bytes=chunk)
        np.testing.assert_array_equal(got, want[order])


def _payloads(n=300, seed=0):
    rng = np.random.default_rng(seed)
    out = [rng.integers(0, 256, size=int(k), dtype=np.uint8).tobytes() for k in rng.integers(0, 600, n)]
    out[5] = b""
    out[7] = bytes(5000)  # larger than the smallest block size used below
    return out


def _offset(payloads, i):
    return sum(16 + len(p) for p in payloads[:i])


@pytest.mark.parametrize("block_bytes", [64, 1000, 1 << 20])
def test_round_trip_streams_in_blocks(tmp_path, block_bytes):
    payloads = _payloads()
    path = tmp_path / "x.tfrecord"
    assert write_tfrecord(path, payloads) == len(payloads)
    assert list(iter_records(path, block_bytes=block_bytes)) == payloads
    blocks = list(iter_blocks(path, block_bytes=block_bytes))
    assert sum(len(b) for b in blocks) == len(payloads)
    offsets = np.concatenate([b.record_offsets for b in blocks])
    assert offsets.tolist() == [_offset(payloads, i) for i in range(len(payloads))]
    assert [b.first_index for b in blocks] == np.cumsum([0] + [len(b) for b in blocks[:-1]]).tolist()


def test_framing_is_the_documented_layout(tmp_path):
    path = tmp_path / "one.tfrecord"
    write_tfrecord(path, [b"hello"])
    raw = path.read_bytes()
    assert raw == (
        struct.pack("<Q", 5) + struct.pack("<I", masked_crc32c(struct.pack("<Q", 5)))
        + b"hello" + struct.pack("<I", masked_crc32c(b"hello"))
    )
    assert encode_records([b"hello"]) == raw


def test_empty_file_has_no_records(tmp_path):
    path = tmp_path / "empty.tfrecord"
    path.write_bytes(b"")
    assert read_records(path) == []


@pytest.mark.parametrize(
    "where, problem",
    [(0, "length CRC"), (3, "length CRC"), (9, "length CRC"), (12, "payload CRC"), (40, "payload CRC"), (-1, "payload CRC")],
)
def test_one_corrupt_byte_is_caught_with_its_offset(tmp_path, where, problem):
    payloads = _payloads()
    path = tmp_path / "x.tfrecord"
    write_tfrecord(path, payloads)
    raw = bytearray(path.read_bytes())
    rec = next(i for i, p in enumerate(payloads) if i > 40 and len(p) > 100)
    start = _offset(payloads, rec)
    pos = start + where if where >= 0 else start + 16 + len(payloads[rec]) - 1  # -1: last CRC byte
    raw[pos] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(TFRecordError) as e:
        read_records(path)
    assert e.value.offset == start
    assert problem in str(e.value) and str(path) in str(e.value) and f"byte offset {start}" in str(e.value)


@pytest.mark.parametrize("cut", [1, 5, 15, 16, 100])
def test_truncated_file_is_caught(tmp_path, cut):
    payloads = _payloads()
    path = tmp_path / "x.tfrecord"
    write_tfrecord(path, payloads)
    raw = path.read_bytes()
    path.write_bytes(raw[:-cut])
    last = _offset(payloads, len(payloads) - 1)
    with pytest.raises(TFRecordError, match="truncated") as e:
        read_records(path)
    assert e.value.offset == last and str(path) in str(e.value)


def test_not_a_tfrecord_file(tmp_path):
    path = tmp_path / "text.tfrecord"
    path.write_bytes(b"this is a plain text file, not framed records\n" * 20)
    with pytest.raises(TFRecordError, match="length CRC") as e:
        read_records(path)
    assert e.value.offset == 0


def test_writer_leaves_nothing_when_interrupted(tmp_path):
    path = tmp_path / "x.tfrecord"
    with pytest.raises(RuntimeError):
        with TFRecordWriter(path, flush_records=2) as w:
            for p in _payloads(10):
                w.write(p)
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    write_tfrecord(path, [b"old"])
    with pytest.raises(RuntimeError):
        with TFRecordWriter(path) as w:
            w.write(b"new")
            raise RuntimeError("interrupted")
    assert read_records(path) == [b"old"] and len(list(tmp_path.iterdir())) == 1


def test_unverified_read_skips_payload_crc(tmp_path):
    payloads = _payloads(20)
    path = tmp_path / "x.tfrecord"
    write_tfrecord(path, payloads)
    raw = bytearray(path.read_bytes())
    raw[_offset(payloads, 3) + 12] ^= 1
    path.write_bytes(bytes(raw))
    got = read_records(path, verify=False)
    assert len(got) == 20 and got[3] != payloads[3] and got[4] == payloads[4]
