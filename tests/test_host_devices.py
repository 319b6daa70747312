"""The search command line runs one CPU device a core by default (a2v_jax.host_devices): the seeds
are sharded over the cores, and the traces are the same as on one device."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from search_problems import synthetic_benchmark

from a2v_jax.host_devices import XLA_COUNT_FLAG, accelerator_expected, cores, planned_count
from a2v_jax.search.__main__ import main
from a2v_jax.search.report import load_run

ROOT = Path(__file__).resolve().parents[1]


def test_planned_count_leaves_a_chosen_count_alone():
    assert planned_count("", -1, 8) == 8
    assert planned_count("--xla_cpu_multi_thread_eigen=false", -1, 2) == 2
    assert planned_count(f"{XLA_COUNT_FLAG}=4", -1, 8) is None  # the user's XLA_FLAGS
    assert planned_count("", 3, 8) is None  # jax_num_cpu_devices already set
    assert planned_count("", 0, 8) is None
    assert planned_count("", -1, 1) is None  # one core: nothing to split
    assert planned_count("", -1, 96, accelerator=True) is None  # a TPU VM: the seeds run on the TPU


def test_accelerator_expected_from_the_platforms_or_the_plugins(monkeypatch, tmp_path):
    assert not accelerator_expected("cpu") and not accelerator_expected("cpu,cuda")
    assert accelerator_expected("tpu") and accelerator_expected("cuda,cpu")
    # unset: an installed plugin decides; none (whatever this environment holds):
    real = importlib.util.find_spec
    with monkeypatch.context() as m:
        m.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("libtpu", "jax_plugins") else real(name, *a))
        assert not accelerator_expected(None)
    # a fake xla_cuda12 plugin
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "jax_plugins" / "xla_cuda12").mkdir(parents=True)
    (tmp_path / "jax_plugins" / "xla_cuda12" / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    assert accelerator_expected(None)


def _cli(bench: Path, out: Path, extra_env: dict[str, str], *flags: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]), **extra_env)
    cmd = [sys.executable, "-m", "a2v_jax.search", "--space", "nb201", "--dataset", "toy", "--seeds", "5",
           "--budget", "600", "--benchmark", str(bench), "--method", "rs", "--out", str(out), "--no-plots", *flags]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((out / "summary.json").read_text())


def test_cli_shards_seeds_over_the_cores_with_the_same_traces(tmp_path):
    bench = tmp_path / "bench.npz"
    synthetic_benchmark().save(bench)
    # in this process JAX has started with one device: the command line leaves it so
    assert main(["--space", "nb201", "--dataset", "toy", "--seeds", "5", "--budget", "600", "--benchmark", str(bench),
                 "--method", "rs", "--out", str(tmp_path / "here"), "--quiet", "--no-plots"]) == 0
    here_summary, here = load_run(tmp_path / "here")
    assert here_summary["devices"] == 1

    assert _cli(bench, tmp_path / "fresh", {})["devices"] == min(cores(), 5)  # CI's 2 cores: 2 devices
    _, fresh = load_run(tmp_path / "fresh")
    for key in here:
        assert np.array_equal(here[key], fresh[key], equal_nan=True), key

    # a device count the user chose wins: XLA_FLAGS without --devices keeps one device
    chosen = _cli(bench, tmp_path / "chosen", {"XLA_FLAGS": f"{XLA_COUNT_FLAG}=3"})
    assert chosen["devices"] == 1
    # --devices N uses the claimed devices without any XLA flag
    if cores() >= 2:
        assert _cli(bench, tmp_path / "two", {}, "--devices", "2")["devices"] == 2
