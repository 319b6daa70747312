"""The command lines' persistent compilation cache: where it goes, what wins, how to opt out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from a2v_jax import compile_cache

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
from a2v_jax import compile_cache
path = compile_cache.enable(opt_out=len(sys.argv) > 1)
import jax, jax.numpy as jnp
def f(x):  # about a second to compile: past the cache's threshold
    for i in range(20):
        x = jnp.sort(jnp.sin(x) * (i + 1)) @ jnp.ones((7, 7))
    return x
jax.jit(f)(jnp.ones((7, 7))).block_until_ready()
print(path)
"""


def _enable_in_subprocess(tmp_path, *args, **env):
    full = {k: v for k, v in os.environ.items() if k not in (compile_cache.JAX_ENV, compile_cache.ENV)}
    full.update(A2V_CACHE=str(tmp_path / "a2v"), JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT), **env)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, *args], env=full, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def _entries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_cache_goes_under_a2v_cache(tmp_path):
    printed = _enable_in_subprocess(tmp_path)
    folder = tmp_path / "a2v" / compile_cache.SUBDIR
    assert Path(printed) == folder
    assert _entries(folder), "the compiled program was not written to the cache"


def test_an_explicit_jax_cache_dir_wins(tmp_path):
    mine = tmp_path / "mine"
    printed = _enable_in_subprocess(tmp_path, **{compile_cache.JAX_ENV: str(mine)})
    assert Path(printed) == mine
    assert not _entries(tmp_path / "a2v" / compile_cache.SUBDIR)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_opting_out_leaves_jax_alone(tmp_path, how):
    printed = _enable_in_subprocess(tmp_path, *(["--no"] if how == "flag" else []),
                                    **({compile_cache.ENV: "0"} if how == "env" else {}))
    assert printed == "None"
    assert not _entries(tmp_path / "a2v" / compile_cache.SUBDIR)


def test_every_command_line_enables_it(monkeypatch, tmp_path):
    """search, data, spaces, pretrain and analysis call `enable` first thing, with their --no-compile-cache flag."""
    from a2v_jax.analysis.__main__ import main as analysis_main
    from a2v_jax.data.__main__ import main as data_main
    from a2v_jax.pretrain.__main__ import main as pretrain_main
    from a2v_jax.search.__main__ import main as search_main
    from a2v_jax.spaces.__main__ import main as spaces_main

    calls = []
    monkeypatch.setattr(compile_cache, "enable", lambda opt_out=False, root=None: calls.append((opt_out, root)))
    missing = str(tmp_path / "missing.npz")
    assert search_main(["--benchmark", missing, "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert search_main(["--benchmark", missing, "--out", str(tmp_path / "o"), "--quiet", "--no-compile-cache"]) == 2
    with pytest.raises(SystemExit):
        spaces_main(["no-such-space", "--cache", str(tmp_path)])
    with pytest.raises(SystemExit):
        data_main(["--no-compile-cache", "info", "no-such-space"])
    assert pretrain_main(["--no-compile-cache", "--epochs", "0", "--out", str(tmp_path / "p")]) == 1
    assert analysis_main(["all", "--no-compile-cache", "--space", "nb201", "--embeddings", f"x={missing}",
                          "--out", str(tmp_path / "a")]) != 0
    assert calls == [(False, None), (True, None), (False, str(tmp_path)), (True, None), (True, None), (True, None)]


def test_entries_without_an_access_time_do_not_stop_the_cache(tmp_path):
    """An entry written without a size limit (no `-atime` record) made every later write fail."""
    folder = tmp_path / "a2v" / compile_cache.SUBDIR
    folder.mkdir(parents=True)
    (folder / f"jit_old-1234{compile_cache.CACHE_SUFFIX}").write_bytes(b"x" * 10)
    full = {k: v for k, v in os.environ.items() if k not in (compile_cache.JAX_ENV, compile_cache.ENV)}
    full.update(A2V_CACHE=str(tmp_path / "a2v"), JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", SCRIPT], env=full,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in _entries(folder)}
    assert f"jit_old-1234{compile_cache.ATIME_SUFFIX}" in names
    written = [n for n in names if n.startswith("jit_f") and n.endswith(compile_cache.CACHE_SUFFIX)]
    assert written, f"the new program was not cached: {sorted(names)}"


def test_repair_is_a_no_op_on_a_whole_folder(tmp_path):
    (tmp_path / f"k{compile_cache.CACHE_SUFFIX}").write_bytes(b"x")
    assert compile_cache.repair(tmp_path) == 1
    assert compile_cache.repair(tmp_path) == 0
    assert compile_cache.repair(tmp_path / "missing") == 0
