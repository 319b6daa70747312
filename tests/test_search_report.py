"""Plots of search runs: written to files without touching the process's matplotlib backend, and
the comparison figure notebooks display."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest
from matplotlib.figure import Figure
from search_problems import synthetic_benchmark, synthetic_neighbours

from a2v_jax.search.api import run_search
from a2v_jax.search.report import compare, compare_figure, plot_run

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs():
    bench = synthetic_benchmark()
    return [run_search(space="nb201", dataset="toy", method=m, seeds=4, budget=600.0, benchmark=bench,
                       neighbours=synthetic_neighbours() if m == "re" else None, quiet=True, plots=False) for m in ("rs", "re")]


def test_plots_leave_the_backend_alone(runs, tmp_path):
    """Saving run plots, comparing run folders and run_search(out=...) draw without pyplot: the
    process's backend (a notebook's inline one) stays, and no pyplot figure is left open."""
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    plt.switch_backend("svg")  # stands in for a notebook's inline backend: saving must not replace it
    figures_before = plt.get_fignums()
    try:
        paths = plot_run(tmp_path / "one", runs[0].traces, runs[0].summary)
        assert matplotlib.get_backend() == "svg"
        for r in runs:
            r.save(tmp_path / r.summary["method"])
        compared = compare([tmp_path / r.summary["method"] for r in runs], tmp_path / "cmp")
        run_search(space="nb201", dataset="toy", method="rs", seeds=2, budget=300.0,
                   benchmark=synthetic_benchmark(), quiet=True, out=tmp_path / "direct")
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == figures_before
    finally:
        plt.switch_backend(before)
    assert [p.name for p in paths] == ["regret_vs_time.png", "ecdf_test_regret.png", "test_vs_queries.png"]
    written = [*paths, Path(compared["paths"][-1]), *(tmp_path / "direct").glob("*.png")]
    assert len(written) == 3 + 1 + 3
    for p in written:
        assert p.read_bytes()[:8] == PNG


def test_compare_figure_has_one_line_per_run(runs):
    fig = compare_figure([(r.summary["method"], r.summary, r.traces) for r in runs])
    assert isinstance(fig, Figure)
    regret, ecdf, queries = fig.get_axes()
    labels = [r.summary["method"] for r in runs]
    assert [line.get_label() for line in regret.get_lines()] == labels
    assert [line.get_label() for line in ecdf.get_lines()] == labels
    # accuracy against queries: one line per run plus the benchmark's best as a reference line
    assert [line.get_label() for line in queries.get_lines()] == [*labels, "best in benchmark"]
    assert [t.get_text() for t in regret.get_legend().get_texts()] == labels
    assert ecdf.get_xlabel() == "final test regret [%]"
    # each ECDF ends at 1 after one step per seed
    for line, r in zip(ecdf.get_lines(), runs, strict=True):
        y = line.get_ydata()
        assert len(y) == r.summary["seeds"] and y[-1] == 1.0
    with pytest.raises(ValueError):
        compare_figure([])


def test_compare_figure_renders_itself_in_notebooks(runs):
    """Shown as a cell's value even where pyplot never loaded the inline backend's formatters."""
    fig = compare_figure([("rs", runs[0].summary, runs[0].traces)])
    assert fig._repr_png_()[:8] == PNG

