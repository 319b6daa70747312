"""Several processes as one search (`a2v_jax.distributed`): two CPU processes on 127.0.0.1 with two
devices each give the traces of a one-process run; a signal on one of them stops both with a
checkpoint that both resume; bad input (an unreachable coordinator, different arguments,
--devices) fails fast with one line on every process.

Each process is a subprocess (the device count and the distributed runtime are fixed when JAX
starts); the one-process reference runs in this process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from multiprocess_helpers import ROOT, errors, free_port, run_together
from multiprocess_helpers import env as _env
from search_problems import synthetic_benchmark, synthetic_features

from a2v_jax import distributed
from a2v_jax._io import save_npz
from a2v_jax.search.api import SearchSpec, run_search

SEEDS = 8


def _cli(files: Path, out: Path, pid: int, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "a2v_jax.search", "--space", "nb201", "--dataset", "toy", "--method", "rl",
            "--seeds", str(SEEDS), "--budget", "3000", "--benchmark", str(files / "bench.npz"),
            "--embeddings", str(files / "emb.npz"), "--no-plots", "--out", str(out),
            "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(pid),
            "--distributed-timeout", "120", *extra]


def _traces(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "traces.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    synthetic_benchmark().save(d / "bench.npz")
    save_npz(d / "emb.npz", embeddings=synthetic_features())
    return d


@pytest.fixture(scope="module")
def reference(files, tmp_path_factory):
    """The same search in one process, one device."""
    out = tmp_path_factory.mktemp("one") / "run"
    run_search(SearchSpec(space="nb201", dataset="toy", method="rl", seeds=SEEDS, budget=3000.0,
                          benchmark=files / "bench.npz", embeddings=files / "emb.npz", quiet=True, plots=False, out=out))
    return _traces(out)


def test_two_processes_give_the_one_process_traces(files, reference, tmp_path):
    out = tmp_path / "two"
    port = free_port()
    # in-graph seed chunks too: chunks of 4 seeds, each split over the 4 devices of both processes
    p0, p1 = run_together([_cli(files, out, pid, port, "--seed-chunk", "4") for pid in (0, 1)])
    assert p0.returncode == 0 and p1.returncode == 0, p0.stderr + p1.stderr
    assert "rl (fixed) on nb201/toy, 8 seeds" in p0.stdout and p1.stdout == ""  # process 0 alone prints
    assert "cpu x4 over 2 processes" in p0.stderr and "compiling" not in p1.stderr
    got = _traces(out)
    assert sorted(got) == sorted(reference)
    for k in reference:
        np.testing.assert_array_equal(got[k], reference[k], err_msg=k)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["devices"] == 4


SCRIPT = r"""
import os, signal, sys
from pathlib import Path
from a2v_jax import distributed
from a2v_jax.search import runner
from a2v_jax.search.api import SearchInterrupted, SearchSpec, run_search

port, pid, files, out, mode = sys.argv[1:]
pid = int(pid)
distributed.initialize(distributed.Options(coordinator=f"127.0.0.1:{port}", num_processes=2, process_id=pid))
advance, calls = runner.BatchedRun.advance, [0]

def signalled_on_process_1(self, states, steps):
    calls[0] += 1
    if pid == 1 and calls[0] == 4:  # as if SIGTERM reached this process only, at its fourth segment
        os.kill(os.getpid(), signal.SIGTERM)
    return advance(self, states, steps)

if mode == "cut":
    runner.BatchedRun.advance = signalled_on_process_1
spec = SearchSpec(space="nb201", dataset="toy", method="rl", seeds=8, budget=3000.0, benchmark=Path(files) / "bench.npz",
                  embeddings=Path(files) / "emb.npz", quiet=True, plots=False, out=Path(out), seed_batch=4,
                  checkpoint_seconds=0.0, resume=mode == "resume")
try:
    run_search(spec)
    print("FINISHED")
except SearchInterrupted as e:
    print("INTERRUPTED", e)
"""


def test_signal_on_one_process_stops_both_and_both_resume(files, reference, tmp_path):
    out = tmp_path / "cut"
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)

    def pair(mode):
        port = free_port()
        return run_together([[sys.executable, str(script), str(port), str(pid), str(files), str(out), mode] for pid in (0, 1)])

    cut = pair("cut")
    for p in cut:
        assert p.returncode == 0 and p.stdout.strip().startswith("INTERRUPTED"), p.stdout + p.stderr
    assert "checkpoint written" in cut[0].stdout and not out.exists()
    assert (out.with_name("cut.partial") / "checkpoint.npz").is_file()
    resumed = pair("resume")
    for p in resumed:
        assert p.returncode == 0 and p.stdout.strip() == "FINISHED", p.stdout + p.stderr
    got = _traces(out)
    for k in reference:
        np.testing.assert_array_equal(got[k], reference[k], err_msg=k)


def test_bad_input_on_any_process_stops_every_process(files, tmp_path):
    out = tmp_path / "mismatch"
    port = free_port()
    p0, p1 = run_together([_cli(files, out, 0, port), _cli(files, out, 1, port, "--seeds", "9")])
    for p in (p0, p1):
        assert p.returncode == 2, p.stderr
        (line,) = errors(p)
        assert "different arguments" in line and "seeds" in line and "process 1" in line, line
    assert not out.exists() and not out.with_name("mismatch.partial").exists()

    port = free_port()  # an input missing on one host only: that process's error stops the other too
    missing = tmp_path / "elsewhere" / "emb.npz"
    p0, p1 = run_together([_cli(files, out, 0, port), _cli(files, out, 1, port, "--embeddings", str(missing))])
    assert p0.returncode == 2 and p1.returncode == 2, p0.stderr + p1.stderr
    (line0,) = errors(p0)
    (line1,) = errors(p1)
    assert "process 1 stopped while preparing the search" in line0 and str(missing) in line0, line0
    assert str(missing) in line1 and "process 1 stopped" not in line1, line1

    port = free_port()  # --devices must cover every process's devices
    p0, p1 = run_together([_cli(files, out, pid, port, "--devices", "2") for pid in (0, 1)])
    for p in (p0, p1):
        assert p.returncode == 2 and "leave out --devices" in "".join(errors(p)), p.stderr


def test_unreachable_coordinator_is_a_clear_error_not_a_hang(files, tmp_path):
    t0 = time.perf_counter()
    (p,) = run_together([_cli(files, tmp_path / "x", 1, free_port())[:-2] + ["--distributed-timeout", "2"]], timeout=120)
    assert p.returncode == 2
    (line,) = errors(p)
    assert "could not reach the coordinator at 127.0.0.1:" in line and "within 2 s" in line, p.stderr
    assert time.perf_counter() - t0 < 120


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(num_processes=2, process_id=0), "needs --coordinator"),
        (dict(num_processes=2, coordinator="h:1"), "needs --process-id"),
        (dict(num_processes=2, coordinator="h:1", process_id=2), "0 .. 1"),
        (dict(num_processes=2, coordinator="nohost", process_id=0), "HOST:PORT"),
        (dict(num_processes=0), "at least 1"),
        (dict(coordinator="h:1"), "need --num-processes"),
        (dict(distributed_timeout=0.0), "positive"),
    ],
)
def test_bad_options_are_one_lineerrors(options, message, monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match=message):
        distributed.Options(**options).resolved()


def test_environment_variables_and_cluster_detection(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("SLURM_", "OMPI_", "TPU_", "MEGASCALE_", "JAX_COORDINATOR", "JAX_NUM_PROC", "JAX_PROCESS")):
            monkeypatch.delenv(name)
    assert distributed.detected_cluster() is None
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "10.0.0.1:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "4")
    monkeypatch.setenv("JAX_PROCESS_ID", "3")
    got = distributed.Options().resolved()
    assert (got.coordinator, got.num_processes, got.process_id) == ("10.0.0.1:1234", 4, 3)
    assert distributed.Options(num_processes=1).resolved().num_processes == 1  # the flag wins
    slurm = dict(SLURM_JOB_ID="7", SLURM_STEP_NODELIST="n[1-2]", SLURM_NTASKS="1", SLURM_PROCID="0", SLURM_LOCALID="0")
    for k, v in slurm.items():
        monkeypatch.setenv(k, v)
    assert distributed.detected_cluster() is None  # one task: nothing to join
    monkeypatch.setenv("SLURM_NTASKS", "2")
    assert distributed.detected_cluster() == "SLURM"
    for k in slurm:
        monkeypatch.delenv(k)
    monkeypatch.setenv("TPU_WORKER_HOSTNAMES", "t0,t1,t2,t3")
    assert distributed.detected_cluster() == "Cloud TPU slice"


def test_busy_coordinator_port_is_named():
    with socket.socket() as s:
        s.bind(("", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(distributed.DistributedError, match=f"cannot listen on port {port}"):
            distributed._check_port_free(f"127.0.0.1:{port}")


def test_one_process_helpers_are_plain():
    """Alone, agreement is trivial and gathering is device_get."""
    with distributed.together("doing nothing"):
        pass
    distributed.check_same({"seeds": 1})
    assert distributed.gather_values(np.arange(3)).shape == (1, 3)
    assert distributed.digest({"a": 1}) != distributed.digest({"a": 2})
    assert distributed.digest(np.zeros(3, np.float32)) != distributed.digest(np.zeros(3, np.float64))


def test_a_launcher_jax_cannot_read_is_a_clear_error(files, tmp_path):
    """The environment says several TPU hosts, but JAX finds no coordinator there: one error line."""
    env = {k: v for k, v in _env().items() if not k.startswith(("SLURM_", "OMPI_", "KUBERNETES_", "JAX_COORD"))}
    env["TPU_WORKER_HOSTNAMES"] = "t0,t1"
    p = subprocess.run(_cli(files, tmp_path / "x", 0, 1)[:-8], env=env, cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 2
    (line,) = errors(p)
    assert "Cloud TPU slice (detected)" in line and "--num-processes 1" in line, p.stderr
