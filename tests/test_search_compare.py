"""`python -m a2v_jax.search compare`: CIs and pairwise tests in every output, one run, refused mixes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from search_problems import synthetic_benchmark

from a2v_jax.search.__main__ import main
from a2v_jax.search.api import run_search
from a2v_jax.search.report import (
    BUDGET_FRACTIONS,
    IncomparableRunsError,
    budget_points,
    compare,
    final_values,
    regret_curve,
    time_grid,
    values_at_budget,
)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    bench = synthetic_benchmark()
    for preset in ("reference", "fixed"):
        run_search(space="nb201", dataset="toy", method="rs", preset=preset, seeds=40, budget=600.0,
                   benchmark=bench, quiet=True, plots=False, out=d / f"rs-{preset}")
    return d


def test_compare_two_runs_has_cis_and_pairwise_tests(folders, tmp_path, capsys):
    runs = [folders / "rs-reference", folders / "rs-fixed"]
    assert main(["compare", *map(str, runs), "--out", str(tmp_path), "--band", "ci", "--resamples", "500"]) == 0
    printed = capsys.readouterr().out
    assert "test % 95% CI" in printed and "P(A > B) final test" in printed and "p=" in printed
    result = json.loads((tmp_path / "compare.json").read_text())
    st = result["statistics"]
    assert st["budget_points"] == {"kind": "time", "budget": 600.0, "fractions": list(BUDGET_FRACTIONS),
                                   "values": [150.0, 300.0, 450.0, 600.0]}
    assert [m["name"] for m in st["metrics"]] == ["final_test"] + [f"test_regret_at_{p}pct" for p in (25, 50, 75, 100)]
    for name in ("rs-reference", "rs-fixed"):
        d = st["runs"][name]["final_test"]
        summary = json.loads((folders / name / "summary.json").read_text())
        assert d["mean"] == pytest.approx(summary["final_test_mean"]) and d["n"] == 40
        assert d["ci_low"] <= d["mean"] <= d["ci_high"]
        # the regret at 100% of the budget is the final regret
        assert st["runs"][name]["test_regret_at_100pct"]["mean"] == pytest.approx(summary["final_test_regret_mean"])
    assert len(st["pairwise"]) == 5 and {p["a"] for p in st["pairwise"]} == {"rs-reference"}
    for p in st["pairwise"]:
        assert 0 <= p["ci_low"] <= p["p_improve"] <= p["ci_high"] <= 1 and 0 <= p["p_value"] <= 1
    md = (tmp_path / "compare.md").read_text()
    d = st["runs"]["rs-fixed"]["final_test"]
    assert f"| [{100 * d['ci_low']:.2f}, {100 * d['ci_high']:.2f}] |" in md  # the CI, in the markdown table
    assert "Pairwise" in md and md.count("| rs-reference | rs-fixed |") == 1
    assert "25% (150 s)" in md and "100% (600 s)" in md
    assert (tmp_path / "compare.png").stat().st_size > 0


def test_compare_of_one_run(folders, tmp_path, capsys):
    assert main(["compare", str(folders / "rs-fixed"), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "rs-fixed" in printed and "test % 95% CI" in printed and "Pairwise" not in printed
    result = json.loads((tmp_path / "compare.json").read_text())
    assert result["statistics"]["pairwise"] == [] and list(result["statistics"]["runs"]) == ["rs-fixed"]
    assert "Pairwise" not in (tmp_path / "compare.md").read_text()


@pytest.mark.parametrize("field,value", [("dataset", "cifar100"), ("space", "nb101")])
def test_compare_refuses_runs_of_different_data(folders, tmp_path, capsys, field, value):
    other = tmp_path / "other"
    shutil.copytree(folders / "rs-fixed", other)
    summary = json.loads((other / "summary.json").read_text())
    summary[field] = value
    (other / "summary.json").write_text(json.dumps(summary))
    assert main(["compare", str(folders / "rs-reference"), str(other), "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: runs on different spaces/datasets cannot be compared") and err.count("\n") == 1
    assert "nb201/toy: rs-reference" in err and f"{value if field == 'space' else 'nb201'}/" in err
    assert not (tmp_path / "cmp").exists()
    with pytest.raises(IncomparableRunsError):
        compare([folders / "rs-reference", other], tmp_path / "cmp")


def test_compare_bad_options(folders, tmp_path, capsys):
    assert main(["compare", str(folders / "rs-fixed"), "--resamples", "5", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: --resamples must be at least 100")
    assert main(["compare", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "not a search run folder" in capsys.readouterr().err


def test_values_at_budget_follow_the_budget_rule():
    """At time t the incumbent is the best of the queries begun before t; 100% is the final one."""
    traces = {
        "time": np.array([[100.0, 250.0, 700.0, 0.0], [400.0, 650.0, 0.0, 0.0]]),
        "incumbent_test": np.array([[0.5, 0.6, 0.9, 0.0], [0.7, 0.8, 0.0, 0.0]]),
        "count": np.array([3, 2]),
    }
    points = {"kind": "time", "values": [50.0, 100.0, 250.0, 600.0], "fractions": [0, 0, 0, 1]}
    got = values_at_budget(traces, points)
    # seed 0 begins queries at 0, 100, 250; seed 1 at 0, 400
    np.testing.assert_allclose(got, [[0.5, 0.5, 0.6, 0.9], [0.7, 0.7, 0.7, 0.8]])
    np.testing.assert_allclose(values_at_budget(traces, {"kind": "queries", "values": [1, 2, 3]}),
                               [[0.5, 0.6, 0.9], [0.7, 0.8, 0.8]])
    assert budget_points([{"budget_seconds": 800.0}, {"budget_seconds": 600.0}])["values"] == [150.0, 300.0, 450.0, 600.0]
    assert budget_points([{"budget_seconds": None, "max_queries": 10}])["values"] == [3.0, 5.0, 8.0, 10.0]


def test_regret_curve_bands(folders):
    from a2v_jax.search.report import load_run

    summary, traces = load_run(folders / "rs-fixed")
    grid = time_grid(traces, 20)
    best = summary["oracle"]["best_test"]
    iqr = regret_curve(traces, best, grid, band="iqr")
    ci = regret_curve(traces, best, grid, band="ci")
    np.testing.assert_allclose(iqr["low"], iqr["q25"])
    assert (ci["low"] <= ci["mean"] + 1e-12).all() and (ci["mean"] <= ci["high"] + 1e-12).all()
    assert final_values(traces)["test"].shape == (40,)
    with pytest.raises(ValueError, match="unknown band"):
        regret_curve(traces, best, grid, band="sd")
