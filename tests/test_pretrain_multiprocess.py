"""One pretraining over several processes (`a2v_jax.distributed`): two CPU processes on 127.0.0.1
with two devices each train four members; SIGTERM on one of them stops both with a checkpoint,
the same command with --resume on both finishes the run, and the result is the one-process run
of the same seeds. Only process 0 writes or prints; different arguments stop both processes.

Each "host" has its own working folder and the same relative --out; the second host reaches the
first one's run folder through a link, as a file system shared between hosts would show it.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
from multiprocess_helpers import errors, free_port, run_together

from a2v_jax import _io
from a2v_jax.pretrain import PretrainConfig, run

SETTINGS = dict(seeds=4, epochs=2, batch_size=32, chunk_steps=4, prior_samples=200, limit=100)  # 3 steps an epoch
# XLA:CPU compiles without its expensive LLVM passes in the processes (JAX caches compiled programs
# from process 0 only, so process 1 compiles everything in both runs): half the time; the numbers
# move by float rounding only (measured: 3e-5 of the loss), far inside the tolerances below
FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
TIMING = {"seconds", "steps_per_second", "prior_check_seconds", "embedding_seconds", "total_train_seconds",
          "compile_seconds"}

SCRIPT = r"""
import importlib, os, signal, sys
from a2v_jax import distributed
from a2v_jax.pretrain import __main__ as cli

run = importlib.import_module("a2v_jax.pretrain.run")  # the module (the package exports the function `run`)
agree = run._Run.agree

def signalled_on_process_1(self, stop, due):  # as if SIGTERM reached process 1 only, after its first chunk
    if distributed.process_index() == 1:
        os.kill(os.getpid(), signal.SIGTERM)
    return agree(self, stop, due)

if sys.argv[1] == "cut":
    run._Run.agree = signalled_on_process_1
sys.exit(cli.main(sys.argv[2:]))
"""


def _args(port: int, pid: int, **changed) -> list[str]:
    options = {**SETTINGS, **changed}
    return [*(f"--{k.replace('_', '-')}={v}" for k, v in options.items()), "--no-progress", "--out", "run",
            "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(pid),
            "--distributed-timeout", "120"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same four seeds in one process, on one device."""
    return run(PretrainConfig(**SETTINGS, progress=False, out=str(tmp_path_factory.mktemp("one") / "run")))


def test_two_processes_stop_together_resume_and_give_the_one_process_run(reference, tmp_path):
    hosts = [tmp_path / "host0", tmp_path / "host1"]
    for h in hosts:
        h.mkdir()
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)

    def both(mode: str, *extra: str):
        port = free_port()
        return run_together([[sys.executable, str(script), mode, *_args(port, pid), *extra] for pid in (0, 1)],
                            cwds=hosts, xla_flags=FAST_COMPILE)

    cut = both("cut")
    for p in cut:
        assert p.returncode == 130, p.stdout + p.stderr
        assert "done:" not in p.stdout
    partial = hosts[0] / "run.partial"
    assert not (hosts[0] / "run").exists() and (partial / "seed-3" / "checkpoint.msgpack").is_file()
    assert [len((partial / f"seed-{s}" / "metrics.jsonl").read_text().splitlines()) for s in range(4)] == [1] * 4
    assert os.listdir(hosts[1]) == []  # process 1 wrote nothing

    (hosts[1] / "run.partial").symlink_to(partial, target_is_directory=True)
    p0, p1 = both("resume", "--resume")
    assert p0.returncode == 0 and p1.returncode == 0, p0.stderr + p1.stderr
    assert p0.stdout.lstrip().startswith("done: run  4 members") and p1.stdout == ""  # process 0 alone prints
    assert os.listdir(hosts[1]) == ["run.partial"]  # still only the link: process 1 wrote nothing

    out = hosts[0] / "run"
    for i, one in enumerate(reference.runs):
        folder = out / f"seed-{i}"
        got = json.loads((folder / "metrics.json").read_text())
        assert got["seed"] == i and sorted(got) == sorted(one.metrics)
        history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        assert [h["epoch"] for h in history] == [1, 2]
        for epoch, want in zip(history, one.history, strict=True):
            assert abs(epoch["loss"] - want["loss"]) < 1e-3 * abs(want["loss"]), (epoch, want)
        # members on their own devices train as on one device up to XLA's per-device compilation
        # (last-bit differences that Adam amplifies: up to 1.4e-3 in the embeddings measured, see
        # test_pretrain_sharding.py); rates of 200 prior samples or 10 held-out cells move by a
        # flipped prediction at most, and so does the count of distinct decodings of those samples
        # (measured on an AVX-512 machine: 4 against 5 for one member)
        for key, want in one.metrics.items():
            if key in TIMING:
                continue
            if key.startswith("loss"):
                assert abs(got[key] - want) < 1e-3 * abs(want) + 1e-6, (i, key, got[key], want)
            elif isinstance(want, float):
                assert abs(got[key] - want) <= 0.02, (i, key, got[key], want)
            elif key == "distinct_decodings":
                assert abs(got[key] - want) <= 0.02 * SETTINGS["prior_samples"], (i, key, got[key], want)
            else:
                assert got[key] == want, (i, key)
        emb = _io.load_npz(folder / "embeddings.npz")
        np.testing.assert_array_equal(emb["hash"], reference.hashes)
        assert np.abs(emb["embeddings"] - one.embeddings).max() < 1e-2, i
    summary = json.loads((out / "summary.json").read_text())
    assert summary["members"] == [f"seed-{s}" for s in range(4)]


def test_different_arguments_stop_every_process(tmp_path):
    port = free_port()
    p0, p1 = run_together([[sys.executable, "-m", "a2v_jax.pretrain", *_args(port, pid, seeds=4 + pid)]
                           for pid in (0, 1)], cwds=[tmp_path, tmp_path])
    for p in (p0, p1):
        assert p.returncode == 1, p.stderr
        (line,) = errors(p)
        assert "different arguments" in line and "seeds" in line and "process 1" in line, line
    assert os.listdir(tmp_path) == []

    port = free_port()  # a bad value on one process only: its error stops the other one too
    p0, p1 = run_together([[sys.executable, "-m", "a2v_jax.pretrain", *_args(port, pid, limit=100 - 99 * pid)]
                           for pid in (0, 1)], cwds=[tmp_path, tmp_path])
    assert p0.returncode == 1 and p1.returncode == 1, p0.stderr + p1.stderr
    (line0,) = errors(p0)
    (line1,) = errors(p1)
    assert "process 1 stopped while reading the arguments: limit must be at least 2" in line0, line0
    assert "limit must be at least 2" in line1 and "process 1 stopped" not in line1, line1
    assert os.listdir(tmp_path) == []
