"""Shared fixtures.

Tests that need the public benchmark files read them from `$A2V_DATA` (default `../shared/data`
beside the checkout). In CI (`CI=true`) the files must be there, so a missing file fails; elsewhere
the test is skipped with a note on how to get the files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from a2v_jax import compile_cache
from a2v_jax._io import shared_data_dir

# The command lines turn on JAX's persistent compilation cache, a process-wide setting: a test that
# calls one in-process would switch it on for every later test (and write to the user's cache).
# Tests run without it (subprocesses inherit this); tests/test_compile_cache.py clears it to test it.
os.environ[compile_cache.ENV] = "0"

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

HOW_TO_GET = (
    "set A2V_DATA to a folder holding nb201/{mini-bench-arch-cell-accs.pd,metric_vals.pkl,nats_bench.csv} "
    "and nb101/nasbench-vis-1k.json (see README: `python -m a2v_jax.data download nb201`)"
)


def require_data(relative: str) -> Path:
    """Path of a shared data file: fail in CI if absent, skip elsewhere."""
    path = shared_data_dir() / relative
    if not path.exists():
        message = f"missing data file {path}; {HOW_TO_GET}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def data_file():
    return require_data


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep test caches out of the user's cache unless A2V_CACHE is set explicitly."""
    if "A2V_CACHE" not in os.environ:
        os.environ["A2V_CACHE"] = str(tmp_path_factory.mktemp("a2v_cache"))
    yield


@pytest.fixture(autouse=True, scope="module")
def _fresh_jax_caches():
    """Drop the compiled programs of a test module when it ends, so that one pytest process running
    the whole suite does not carry every module's executables (memory) into the next."""
    yield
    import jax

    jax.clear_caches()
