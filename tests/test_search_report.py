"""Plots of search runs: written to files without touching the process's matplotlib backend, and
the comparison figure notebooks display; the list of installed methods."""

from __future__ import annotations

import importlib.util

import matplotlib
import pytest
from search_problems import synthetic_benchmark, synthetic_neighbours

from a2v_jax.search.api import run_search
from a2v_jax.search.methods import METHODS, available_methods
from a2v_jax.search.report import compare_figure, plot_run


@pytest.fixture(scope="module")
def runs():
    bench = synthetic_benchmark()
    return [run_search(space="synthetic", dataset="cifar10", method=m, seeds=4, budget=600.0, benchmark=bench,
                       neighbours=synthetic_neighbours(), progress=False, plots=False) for m in ("rs", "re")]


def test_plots_leave_the_backend_alone(runs, tmp_path):
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's inline backend: saving must not replace it
    try:
        paths = plot_run(tmp_path, runs[0].traces, runs[0].summary)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    assert [p.name for p in paths] == ["regret_vs_time.png", "ecdf_test_regret.png", "test_vs_queries.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_figure_has_three_panels(runs):
    fig = compare_figure([(r.summary["method"], r.summary, r.traces) for r in runs])
    axes = fig.get_axes()
    assert len(axes) == 3
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["rs", "re"]
    assert axes[1].get_xlabel() == "final test regret [%]"
    with pytest.raises(ValueError):
        compare_figure([])


def test_available_methods_lists_installed_modules():
    names = available_methods()
    assert names == [m for m in METHODS if importlib.util.find_spec(METHODS[m].module) is not None]
    assert {"rl", "rs", "re"} <= set(names)
