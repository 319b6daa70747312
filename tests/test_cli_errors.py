"""Bad input to the data and spaces commands gives one `error:` line, fast, with nothing lost."""

from __future__ import annotations

import numpy as np
import pytest

from a2v_jax.data import benchmark_path
from a2v_jax.data.__main__ import main as data_main
from a2v_jax.data.benchmark import Benchmark
from a2v_jax.spaces.__main__ import main as spaces_main


def _one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("num, says", [("0", "positive integer"), ("999999999999", "more than the 10,000,000 cells")])
def test_darts_sample_size_is_checked_before_sampling(num, says, tmp_path, capsys):
    assert spaces_main(["darts", "--num", num, "--cache", str(tmp_path)]) == 1
    assert says in _one_error_line(capsys.readouterr().err)
    assert not any(tmp_path.rglob("*.npz"))


def test_tfrecord_path_is_checked_before_the_space_is_built(tmp_path, capsys, monkeypatch):
    import a2v_jax.spaces as spaces

    def no_build(name):
        raise AssertionError("the NB101 space was loaded before the --tfrecord path was checked")

    monkeypatch.setattr(spaces, "get_space", no_build)
    assert data_main(["--cache", str(tmp_path), "build", "nb101", "--tfrecord", str(tmp_path)]) == 1
    assert "is a folder" in _one_error_line(capsys.readouterr().err)
    assert data_main(["--cache", str(tmp_path), "build", "nb101", "--tfrecord", str(tmp_path / "none.tfrecord")]) == 1
    assert "no such file" in _one_error_line(capsys.readouterr().err)


def test_offline_download_names_the_local_build(tmp_path, capsys):
    code = data_main(["--cache", str(tmp_path), "download", "nb201", "--dest", str(tmp_path / "src"),
                      "--url-base", "http://127.0.0.1:9", "--timeout", "5", "--quiet"])
    assert code == 1
    assert "python -m a2v_jax.data build nb201 --source DIR" in _one_error_line(capsys.readouterr().err)


def test_info_counts_cells_without_results(tmp_path, capsys):
    n = 50
    rng = np.random.default_rng(0)
    cols = {k: rng.uniform(0.8, 0.95, n) for k in ("reward", "valid", "test")}
    cols["time"] = rng.uniform(10, 20, n)
    for k in cols:
        cols[k][:7] = np.nan
    Benchmark("nb101", "cifar10", cols, {}).save(benchmark_path("nb101", "cifar10", tmp_path))
    assert data_main(["--cache", str(tmp_path), "info", "nb101"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("nb101 / cifar10: 50 cells, 7 of them without results")
