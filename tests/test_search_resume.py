"""A search stops on Ctrl-C within about a second, keeps what finished, and `--resume` continues it
to exactly the result of an uninterrupted run; run folders are always one whole run of one kind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import chex
import numpy as np
import pytest
from search_problems import synthetic_benchmark, synthetic_features

from a2v_jax import rundir
from a2v_jax._io import save_npz
from a2v_jax.data.benchmark import Benchmark
from a2v_jax.search import runner
from a2v_jax.search.api import SearchInterrupted, SearchSpec, run_search

ROOT = Path(__file__).resolve().parents[1]
SPEC = dict(space="nb201", dataset="toy", method="rl", seeds=6, budget=3000.0, benchmark=synthetic_benchmark(),
            embeddings=synthetic_features(), quiet=True, plots=False)


def _traces(folder: Path) -> dict[str, np.ndarray]:
    with np.load(folder / "traces.npz") as z:
        return {k: z[k] for k in z.files}


def test_interrupted_search_resumes_bitwise(tmp_path, monkeypatch):
    whole = run_search(SearchSpec(**SPEC, out=tmp_path / "whole"))
    calls = {"n": 0}
    advance = runner.BatchedRun.advance

    def interrupt_on_fourth(self, states, steps):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return advance(self, states, steps)

    out = tmp_path / "cut"
    monkeypatch.setattr(runner.BatchedRun, "advance", interrupt_on_fourth)
    # seed batches of 4: the first batch finishes, the second is cut mid-way (checkpoint every segment)
    spec = SearchSpec(**SPEC, out=out, seed_batch=4, checkpoint_seconds=0.0)
    with pytest.raises(SearchInterrupted, match="--resume"):
        run_search(spec)
    assert not out.exists() and (rundir.partial_path(out) / "checkpoint.npz").exists()
    with pytest.raises(rundir.RunFolderError, match="interrupted run is waiting"):
        run_search(spec)
    with pytest.raises(rundir.RunFolderError, match="other options"):
        run_search(spec, resume=True, seeds=7)
    monkeypatch.setattr(runner.BatchedRun, "advance", advance)
    resumed = run_search(spec, resume=True)
    timing = resumed.summary["timing"]  # the stopped session's search time is counted, once
    assert timing["earlier_sessions_run_seconds"] > 0
    assert timing["run_seconds_all_sessions"] == pytest.approx(timing["earlier_sessions_run_seconds"] + timing["run_seconds"])
    assert calls["n"] == 4 and rundir.read_kind(out) == "search" and not rundir.partial_path(out).exists()
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "run.json", "summary.json", "traces.npz"]
    chex.assert_trees_all_equal(_traces(out), _traces(tmp_path / "whole"))
    assert resumed.summary["final_test_mean"] == whole.summary["final_test_mean"]


def test_the_final_checkpoint_keeps_the_batch_progress(tmp_path, monkeypatch):
    """Stopped mid-batch, the checkpoint holds the last whole segment, not the batch's start."""
    from a2v_jax.search import checkpoint

    calls, saved = {"n": 0}, []
    advance, save = runner.BatchedRun.advance, checkpoint.save

    def interrupt_on_third(self, states, steps):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return advance(self, states, steps)

    def record(path, parts, first, states, **kw):
        saved.append(None if states is None else int(np.sum(states.trace.count)))
        return save(path, parts, first, states, **kw)

    monkeypatch.setattr(runner.BatchedRun, "advance", interrupt_on_third)
    monkeypatch.setattr(checkpoint, "save", record)
    with pytest.raises(SearchInterrupted):
        run_search(SearchSpec(**SPEC, out=tmp_path / "cut", checkpoint_seconds=0.0))
    # a checkpoint after each of the two whole segments, then the one written on the stop
    assert len(saved) == 3 and saved[0] < saved[1], saved
    assert saved[2] == saved[1], "the stop's checkpoint lost the segments run since the batch began"


def test_ctrl_c_stops_a_cli_search_quickly_and_resume_finishes_it(tmp_path):
    """A real SIGINT to `python -m a2v_jax.search` running DNGO: exit 130 within seconds, checkpoint kept."""
    bench = synthetic_benchmark()
    bench.save(tmp_path / "bench.npz")
    save_npz(tmp_path / "emb.npz", embeddings=synthetic_features())
    args = [sys.executable, "-m", "a2v_jax.search", "--space", "nb201", "--dataset", "toy", "--method", "bo",
            "--seeds", "4", "--queries", "300", "--benchmark", str(tmp_path / "bench.npz"),
            "--embeddings", str(tmp_path / "emb.npz"), "--set", "epochs=60", "--set", "hidden=32", "--no-plots"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = tmp_path / "bo"
    proc = subprocess.Popen([*args, "--out", str(out)], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:  # wait until it is running
        lines.append(line)
        if "of the budget spent" in line:
            break
    sent = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    stopped_after = time.perf_counter() - sent
    assert proc.returncode == 130, "".join(lines) + rest
    assert "continue with --resume" in rest and "Traceback" not in rest
    assert stopped_after < 10, stopped_after
    assert not out.exists() and (rundir.partial_path(out) / "checkpoint.npz").exists()
    done = subprocess.run([*args, "--out", str(out), "--resume", "--quiet"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    whole = subprocess.run([*args, "--out", str(tmp_path / "whole"), "--quiet"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert whole.returncode == 0, whole.stderr
    chex.assert_trees_all_equal(_traces(out), _traces(tmp_path / "whole"))


def test_cells_without_results_are_never_queried(tmp_path):
    b = synthetic_benchmark()
    cols = {k: np.array(v, np.float64) for k, v in b.columns.items()}
    lost = np.arange(0, len(b), 3)
    for role in ("reward", "valid", "test", "time"):
        cols[role][lost] = np.nan
    holey = Benchmark("nb201", "toy", cols, {})
    assert holey.missing == lost.size
    res = run_search(SearchSpec(**{**SPEC, "benchmark": holey, "method": "rs", "embeddings": None}))
    idx = res.traces["index"]
    assert (idx >= 0).any() and not np.isin(idx[idx >= 0], lost).any()
    assert res.summary["cells_without_results"] == lost.size and np.isfinite(res.summary["final_test_mean"])


def test_a_search_never_replaces_another_kind_of_folder(tmp_path, capsys):
    from a2v_jax.search.__main__ import main

    pre = rundir.Staging.open(tmp_path / "pre", "pretrain")
    (pre.path / "embeddings.npz").write_bytes(b"x")
    pre.commit()
    bench = tmp_path / "bench.npz"
    synthetic_benchmark().save(bench)
    for extra in ([], ["--overwrite"]):
        code = main(["--space", "nb201", "--dataset", "toy", "--method", "rs", "--seeds", "2", "--budget", "100",
                     "--benchmark", str(bench), "--out", str(tmp_path / "pre"), "--quiet", *extra])
        assert code == 2
        assert "holds a pretraining run" in capsys.readouterr().err
    assert (tmp_path / "pre" / "embeddings.npz").read_bytes() == b"x"
    assert json.loads((tmp_path / "pre" / "run.json").read_text())["kind"] == "pretrain"
