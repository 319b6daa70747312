"""The command line end to end on a tiny budget, `compare`, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from search_problems import synthetic_benchmark, synthetic_features, synthetic_neighbours

from a2v_jax._io import save_npz
from a2v_jax.presets import PRESETS
from a2v_jax.search.__main__ import main
from a2v_jax.search.report import TRACE_KEYS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    bench = synthetic_benchmark()
    bench.save(d / "bench.npz")
    save_npz(d / "emb.npz", embeddings=synthetic_features())
    np.save(d / "nbrs.npy", synthetic_neighbours())
    return d


def _run(files, out, *extra):
    return main([
        "--space", "nb201", "--dataset", "toy", "--seeds", "5", "--budget", "600",
        "--benchmark", str(files / "bench.npz"), "--out", str(out), "--quiet", *extra,
    ])


def test_run_writes_every_output_and_compare(files, tmp_path, capsys):
    runs = []
    for method, preset, extra in (("rs", "reference", ()), ("re", "fixed", ("--neighbours", str(files / "nbrs.npy")))):
        out = tmp_path / f"{method}-{preset}"
        assert _run(files, out, "--method", method, "--preset", preset, *extra) == 0
        for name in ("traces.npz", "summary.json", "config.json", "regret_vs_time.png",
                     "ecdf_test_regret.png", "test_vs_queries.png"):
            assert (out / name).stat().st_size > 0, name
        summary = json.loads((out / "summary.json").read_text())
        for key in ("final_valid_mean", "final_valid_role_mean", "final_test_mean", "final_test_std",
                    "seeds", "seconds", "config", "oracle", "final_test_regret_mean", "definitions"):
            assert key in summary, key
        assert summary["seeds"] == 5 and summary["method"] == method and summary["preset"] == preset
        with np.load(out / "traces.npz") as z:
            for key in TRACE_KEYS:
                assert z[key].shape[0] == 5
            count = z["count"]
            final_test = z["incumbent_test"][np.arange(5), count - 1]
            assert summary["final_test_mean"] == pytest.approx(final_test.mean(), rel=1e-6)
            assert (z["time"][np.arange(5), count - 1] >= 600).all()
            inc = z["incumbent_index"][np.arange(5), count - 1]  # reconstructed on the host
            np.testing.assert_allclose(synthetic_benchmark().test[inc], final_test, rtol=1e-6)
        config = json.loads((out / "config.json").read_text())
        assert config["spec"]["method"] == method and config["method_config"]["preset"] == preset
        runs.append(out)
    capsys.readouterr()
    assert main(["compare", *map(str, runs), "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert "rs-reference" in printed and "re-fixed" in printed
    table = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["run"] for r in table["table"]] == ["rs-reference", "re-fixed"]
    assert (tmp_path / "cmp" / "compare.md").read_text().count("\n") == 4
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 0


def test_bo_end_to_end(files, tmp_path):
    """`--method bo` through the CLI: both presets, a small basis net, every output file."""
    for preset in PRESETS:
        out = tmp_path / f"bo-{preset}"
        assert _run(files, out, "--method", "bo", "--preset", preset, "--embeddings", str(files / "emb.npz"),
                    "--budget", "2000", "--set", "epochs=5", "--set", "hidden=32", "--set", "chunk=64") == 0
        for name in ("traces.npz", "summary.json", "config.json", "regret_vs_time.png", "ecdf_test_regret.png"):
            assert (out / name).stat().st_size > 0, name
        summary = json.loads((out / "summary.json").read_text())
        assert summary["method"] == "bo" and summary["preset"] == preset and summary["seeds"] == 5
        assert summary["config"]["epochs"] == 5 and summary["config"]["top_k"] == 1
        with np.load(out / "traces.npz") as z:
            count = z["count"]
            assert (count > 20).all() and (z["time"][np.arange(5), count - 1] >= 2000).all()  # 16 random, then DNGO
            if preset == "fixed":
                for row, c in zip(z["index"], count, strict=True):
                    assert len(set(row[:c].tolist())) == c
        config = json.loads((out / "config.json").read_text())
        assert config["method_config"]["preset"] == preset and config["method_config"]["requery"] == (preset == "reference")


def test_errors_are_clear_and_lose_nothing(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert _run(files, out, "--method", "rs") == 0
    before = (out / "summary.json").read_bytes()
    capsys.readouterr()
    assert _run(files, out, "--method", "rs") == 2  # would overwrite
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "summary.json").read_bytes() == before
    assert _run(files, tmp_path / "x", "--method", "rl") == 2  # no embeddings
    assert "embeddings" in capsys.readouterr().err
    assert _run(files, tmp_path / "x", "--method", "rl", "--embeddings", str(tmp_path / "nope.npz")) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert _run(files, tmp_path / "x", "--method", "rl", "--embeddings", str(bad)) == 2
    assert "not a readable" in capsys.readouterr().err
    save_npz(tmp_path / "short.npz", embeddings=synthetic_features()[:10])
    assert _run(files, tmp_path / "x", "--method", "rl", "--embeddings", str(tmp_path / "short.npz")) == 2
    assert "embeddings for a benchmark of 400" in capsys.readouterr().err
    assert _run(files, tmp_path / "x", "--method", "rs", "--set", "nonsense=1") == 2
    assert "no field" in capsys.readouterr().err
    assert _run(files, tmp_path / "x", "--method", "rl", "--embeddings", str(files / "emb.npz"), "--set", "baseline=abc") == 2
    assert capsys.readouterr().err.strip() == "error: baseline: baseline expects a number, got 'abc'"
    np.save(tmp_path / "emb.npy", synthetic_features())  # a plain array is accepted (no hashes to check)
    assert _run(files, tmp_path / "npy", "--method", "rl", "--embeddings", str(tmp_path / "emb.npy"), "--queries", "20") == 0
    assert _run(files, tmp_path / "x", "--method", "rs", "--embeddings", str(files / "emb.npz")) == 2
    assert "does not use embeddings" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()
    assert main(["--space", "darts", "--method", "rs", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: space 'darts' has no benchmark tables") and err.count("\n") == 1
    assert main(["--space", "nb201", "--dataset", "cifar11", "--method", "rs", "--out", str(tmp_path / "x")]) == 2
    assert "unknown dataset 'cifar11' for nb201; choose one of cifar10, cifar100, ImageNet16-120" in capsys.readouterr().err


def test_help_explains(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for word in ("reference", "fixed", "12,000", "1,500,000", "traces.npz", "compare", "--devices"):
        assert word in text
