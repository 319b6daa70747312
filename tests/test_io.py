"""Atomic writes and the cache/data locations every module relies on."""

from __future__ import annotations

import numpy as np
import pytest

from a2v_jax import _io


def test_atomic_write_leaves_target_untouched_on_failure(tmp_path):
    target = tmp_path / "table.npz"
    _io.save_npz(target, x=np.arange(3))
    before = target.read_bytes()

    def broken(f):
        f.write(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        _io.atomic_write(target, broken)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["table.npz"]  # no temporary left behind


def test_load_npz_names_the_file_when_corrupt(tmp_path):
    path = tmp_path / "cells.npz"
    _io.save_npz(path, a=np.arange(10))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(_io.CorruptFileError, match="cells.npz"):
        _io.load_npz(path)
    _io.save_npz(path, a=np.arange(10))
    with pytest.raises(_io.CorruptFileError, match="missing arrays"):
        _io.load_npz(path, required=("a", "b"))


def test_locations_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("A2V_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("A2V_DATA", str(tmp_path / "d"))
    assert _io.cache_dir() == tmp_path / "c"
    assert _io.shared_data_dir() == tmp_path / "d"
    monkeypatch.delenv("A2V_CACHE")
    assert _io.cache_dir().name == "a2v_jax"


def test_write_json_roundtrip_numpy_values(tmp_path):
    import json

    path = _io.write_json(tmp_path / "m.json", {"a": np.float32(0.5), "b": np.arange(2), "c": tmp_path})
    assert json.loads(path.read_text()) == {"a": 0.5, "b": [0, 1], "c": str(tmp_path)}


def test_written_files_get_ordinary_permissions(tmp_path):
    import os

    path = _io.write_json(tmp_path / "summary.json", {"a": 1})
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)
