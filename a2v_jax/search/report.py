"""What a batched search leaves behind: per-seed trace arrays, a summary, plots, comparisons.

Everything here is host-side NumPy over the final states (one row per seed), vectorised over
seeds. Accuracies are fractions in the arrays and JSON; plots show percent.

Definitions used in `summary.json` (also written into it):
- the incumbent of a seed is the queried cell with the highest reward (first found wins ties);
- `final_valid_*`: the incumbent's reward, i.e. the validation accuracy the search observed and
  maximised (NB201 CIFAR-10: 12-epoch cifar10-valid; elsewhere the benchmark's reward column);
- `final_valid_role_*`: the incumbent's `valid` column (NB201 CIFAR-10: 200-epoch cifar10-valid;
  this is what the paper's Table 3 reports as validation accuracy);
- `final_test_*`: the incumbent's test accuracy; std is the population std over seeds (NumPy's
  default, as in the published summary script);
- regrets are against the best value of the same column over the whole benchmark (`oracle`).
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, load_npz, save_npz, write_json

TRACE_KEYS = ("index", "time", "best_reward", "incumbent_test", "count")


def incumbent_indices(index: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """int [S, T]: the incumbent cell after each query (-1 past a seed's last query)."""
    valid = index >= 0
    r = np.where(valid, np.asarray(reward, np.float32)[np.maximum(index, 0)], -np.inf)
    prev = np.maximum.accumulate(np.concatenate([np.full((r.shape[0], 1), -np.inf, r.dtype), r[:, :-1]], 1), axis=1)
    improved = valid & (r > prev)
    t = np.arange(r.shape[1])[None, :]
    pos = np.maximum.accumulate(np.where(improved, t, -1), axis=1)
    inc = np.take_along_axis(index, np.maximum(pos, 0), axis=1)
    return np.where(valid & (pos >= 0), inc, -1)


def trace_arrays(states: Any, strategy: Any = None) -> dict[str, Any]:
    """The Trace fields of a batch of states, plus the strategy's `trace_extras` (per-seed values
    it wants saved beside the trace), as they are (on device, possibly sharded)."""
    tr = states.trace
    out = {k: getattr(tr, k) for k in TRACE_KEYS}
    if strategy is not None and hasattr(strategy, "trace_extras"):
        out.update(strategy.trace_extras(states))
    return out


def raw_traces(states: Any, strategy: Any = None) -> dict[str, np.ndarray]:
    """`trace_arrays` of a finished batch of states as host arrays."""
    return {k: np.asarray(v) for k, v in trace_arrays(states, strategy).items()}


def complete_traces(raw: dict[str, np.ndarray], benchmark: Any) -> dict[str, np.ndarray]:
    """Add the incumbent's cell index and `valid` accuracy after every query."""
    out = dict(raw)
    inc = incumbent_indices(out["index"], benchmark.reward)
    out["incumbent_index"] = inc.astype(np.int32)
    valid = np.asarray(benchmark.valid, np.float64)
    out["incumbent_valid"] = np.where(inc >= 0, valid[np.maximum(inc, 0)], np.nan).astype(np.float32)
    return out


def final_values(traces: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-seed values after the last query."""
    count = traces["count"].astype(np.int64)
    last = np.maximum(count - 1, 0)[:, None]
    pick = lambda a: np.take_along_axis(a, last, axis=1)[:, 0]  # noqa: E731
    return {
        "reward": pick(traces["best_reward"]).astype(np.float64),
        "valid": pick(traces["incumbent_valid"]).astype(np.float64),
        "test": pick(traces["incumbent_test"]).astype(np.float64),
        "time": pick(traces["time"]).astype(np.float64),
        "index": pick(traces["incumbent_index"]),
        "count": count,
    }


def repeated_queries(index: np.ndarray) -> np.ndarray:
    """Per seed: queries of a cell that seed had already queried."""
    srt = np.sort(np.where(index >= 0, index, -1), axis=1)
    return ((srt[:, 1:] == srt[:, :-1]) & (srt[:, 1:] >= 0)).sum(axis=1)


def _stats(x: np.ndarray, prefix: str) -> dict[str, float]:
    return {
        f"{prefix}_mean": float(np.mean(x)),
        f"{prefix}_std": float(np.std(x)),
        f"{prefix}_median": float(np.median(x)),
    }


DEFINITIONS = {
    "incumbent": "per seed, the queried cell with the highest reward (first found wins ties)",
    "final_valid": "the incumbent's reward: the validation accuracy the search observed and maximised",
    "final_valid_role": "the incumbent's 'valid' column (NB201 CIFAR-10: 200-epoch cifar10-valid, the paper's Table 3 validation)",
    "final_test": "the incumbent's test accuracy",
    "std": "population standard deviation over seeds (ddof=0)",
    "regret": "oracle best of the same column over the whole benchmark minus the incumbent's value",
    "units": "accuracies are fractions, times are simulated seconds",
}


def summarize(traces: dict[str, np.ndarray], oracle: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    f = final_values(traces)
    out: dict[str, Any] = dict(extra or {})
    out["seeds"] = int(f["count"].shape[0])
    out.update(_stats(f["reward"], "final_valid"))
    out.update(_stats(f["valid"], "final_valid_role"))
    out.update(_stats(f["test"], "final_test"))
    out.update(_stats(oracle["best_test"] - f["test"], "final_test_regret"))
    out.update(_stats(oracle["best_reward"] - f["reward"], "final_valid_regret"))
    out.update(_stats(oracle["best_valid"] - f["valid"], "final_valid_role_regret"))
    out["found_best_test_share"] = float(np.mean(f["index"] == oracle.get("best_test_index", -2)))
    out["queries_mean"] = float(f["count"].mean())
    out["queries_min"] = int(f["count"].min())
    out["queries_max"] = int(f["count"].max())
    out["simulated_seconds_mean"] = float(f["time"].mean())
    out["repeated_queries_mean"] = float(repeated_queries(traces["index"]).mean())
    out["oracle"] = dict(oracle)
    out["definitions"] = DEFINITIONS
    return out


def save_traces(path: str | Path, traces: dict[str, np.ndarray], seeds: np.ndarray) -> Path:
    return save_npz(path, compressed=True, seed=np.asarray(seeds), **traces)


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    run_dir = Path(run_dir)
    spath, tpath = run_dir / "summary.json", run_dir / "traces.npz"
    for p in (spath, tpath):
        if not p.exists():
            raise FileNotFoundError(f"{run_dir} is not a search run folder: {p.name} is missing")
    try:
        summary = json.loads(spath.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{spath}: not valid JSON ({e})") from e
    return summary, load_npz(tpath, required=TRACE_KEYS)


# ---- curves ---------------------------------------------------------------------------------------


def value_at_times(time: np.ndarray, value: np.ndarray, count: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """[S, G]: each seed's value after its last query at or before each grid time (NaN before its first)."""
    cap = time.shape[1]
    used = np.arange(cap)[None, :] < count[:, None]
    t = np.where(used, time, np.inf)
    out = np.full((time.shape[0], grid.shape[0]), np.nan)
    for g, x in enumerate(grid):  # a loop over grid points (about 100), vectorised over seeds and queries
        k = (t <= x).sum(axis=1)
        has = k > 0
        out[has, g] = value[has, k[has] - 1]
    return out


def time_grid(traces: dict[str, np.ndarray], points: int = 100) -> np.ndarray:
    """Log-spaced times from when every seed has queried once to the end of the longest seed, so
    that the mean at each point is over all seeds."""
    count = traces["count"]
    ran = count > 0
    if not ran.any():
        return np.geomspace(1.0, 10.0, points)
    first = traces["time"][ran, 0]
    last = np.take_along_axis(traces["time"][ran], (count[ran] - 1)[:, None].astype(np.int64), 1)[:, 0]
    lo = max(float(first.max()), 1e-9)
    hi = max(float(last.max()), lo * 1.0001)
    return np.geomspace(lo, hi, points)


def regret_curve(traces: dict[str, np.ndarray], best_test: float, grid: np.ndarray) -> dict[str, np.ndarray]:
    v = value_at_times(traces["time"], traces["incumbent_test"].astype(np.float64), traces["count"], grid)
    regret = best_test - v
    with np.errstate(all="ignore"):
        return {
            "time": grid,
            "mean": np.nanmean(regret, axis=0),
            "q25": np.nanpercentile(regret, 25, axis=0),
            "q75": np.nanpercentile(regret, 75, axis=0),
            "started": np.mean(~np.isnan(v), axis=0),
        }


def queries_curve(traces: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Incumbent test accuracy against the number of queries, a seed's final value carried forward."""
    count = traces["count"].astype(np.int64)
    cap = int(count.max()) if count.size else 0
    q = np.arange(cap)
    idx = np.minimum(q[None, :], np.maximum(count[:, None] - 1, 0))
    v = np.take_along_axis(traces["incumbent_test"][:, :cap].astype(np.float64), idx, axis=1)
    return {"queries": q + 1, "mean": v.mean(0), "q25": np.percentile(v, 25, 0), "q75": np.percentile(v, 75, 0)}


# ---- plots ----------------------------------------------------------------------------------------


def _figure(figsize: tuple[float, float], ncols: int = 1):
    """A figure and its axes, made without pyplot.

    A `matplotlib.figure.Figure` draws to files with the Agg canvas whatever backend pyplot uses,
    so saving plots neither opens windows nor switches the process's backend (switching to Agg
    would silently turn off inline figures in a notebook for the rest of its session). In a
    notebook the returned figure shows as a PNG when it is a cell's value or given to `display`:
    the inline backend registers a PNG formatter for figures only once pyplot has loaded it,
    so the figure also renders itself (`_repr_png_`) for notebooks that never touched pyplot.
    """
    fig = _notebook_figure_class()(figsize=figsize)
    return fig, fig.subplots(1, ncols)


@functools.cache
def _notebook_figure_class() -> type:
    """Defined on first use: matplotlib is imported only when something is plotted."""
    from matplotlib.figure import Figure

    class ReportFigure(Figure):
        """A Figure that renders itself as PNG in notebooks (`_repr_png_`)."""

        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            return buf.getvalue()

    return ReportFigure


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip("."), dpi=120, bbox_inches="tight")
    return path


FLOOR = 1e-5  # regret plotted on a log axis: zeros are drawn at this floor


def plot_run(out_dir: str | Path, traces: dict[str, np.ndarray], summary: dict[str, Any]) -> list[Path]:
    """regret_vs_time.png, ecdf_test_regret.png, test_vs_queries.png for one run."""
    out_dir = Path(out_dir)
    label = f"{summary.get('method', '?')} ({summary.get('preset', '?')})"
    title = f"{summary.get('space', '?')} / {summary.get('dataset', '?')}, {summary['seeds']} seeds"
    best_test = summary["oracle"]["best_test"]
    paths = []

    fig, ax = _figure((6, 4))
    _regret_axes(ax, [(label, regret_curve(traces, best_test, time_grid(traces)))], summary["seeds"])
    ax.set_title(title)
    paths.append(_save(fig, out_dir / "regret_vs_time.png"))

    fig, ax = _figure((6, 4))
    final = best_test - final_values(traces)["test"]
    _ecdf_axes(ax, [(label, final)])
    ax.set_title(title)
    paths.append(_save(fig, out_dir / "ecdf_test_regret.png"))

    fig, ax = _figure((6, 4))
    _queries_axes(ax, [(label, queries_curve(traces))], best_test)
    ax.set_title(title)
    paths.append(_save(fig, out_dir / "test_vs_queries.png"))
    return paths


def _regret_axes(ax, curves, seeds=None) -> None:
    for label, c in curves:
        (line,) = ax.plot(c["time"], np.maximum(c["mean"] * 100, FLOOR), label=label, lw=2)
        ax.fill_between(
            c["time"], np.maximum(c["q25"] * 100, FLOOR), np.maximum(c["q75"] * 100, FLOOR),
            color=line.get_color(), alpha=0.15, lw=0,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("simulated wall-clock time [s]")
    ax.set_ylabel("test regret [%] (mean; band 25-75%)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()


def _ecdf_axes(ax, finals) -> None:
    for label, final in finals:
        x = np.sort(final * 100)
        ax.step(x, np.arange(1, x.size + 1) / x.size, where="post", label=label, lw=2)
    ax.set_xlabel("final test regret [%]")
    ax.set_ylabel("share of seeds (ECDF)")
    ax.grid(True, alpha=0.3)
    ax.legend()


def _queries_axes(ax, curves, best_test) -> None:
    for label, c in curves:
        (line,) = ax.plot(c["queries"], c["mean"] * 100, label=label, lw=2)
        ax.fill_between(c["queries"], c["q25"] * 100, c["q75"] * 100, color=line.get_color(), alpha=0.15, lw=0)
    ax.axhline(best_test * 100, color="k", ls=":", lw=1, label="best in benchmark")
    ax.set_xlabel("queries")
    ax.set_ylabel("incumbent test accuracy [%] (mean; band 25-75%)")
    ax.grid(True, alpha=0.3)
    ax.legend()


# ---- comparing runs -------------------------------------------------------------------------------

COLUMNS = (
    ("run", "run"),
    ("method", "method"),
    ("preset", "preset"),
    ("data", "space/dataset"),
    ("seeds", "seeds"),
    ("queries", "queries"),
    ("valid", "valid % (reward)"),
    ("valid_role", "valid % (valid col.)"),
    ("test", "test %"),
    ("regret", "test regret %"),
    ("seconds", "wall s"),
)


def _row(name: str, s: dict[str, Any]) -> dict[str, Any]:
    pm = lambda k: f"{100 * s[k + '_mean']:.2f} +- {100 * s[k + '_std']:.2f}"  # noqa: E731
    return {
        "run": name,
        "method": s.get("method", "?"),
        "preset": s.get("preset", "?"),
        "data": f"{s.get('space', '?')}/{s.get('dataset', '?')}",
        "seeds": s["seeds"],
        "queries": f"{s['queries_mean']:.1f}",
        "valid": pm("final_valid"),
        "valid_role": pm("final_valid_role"),
        "test": pm("final_test"),
        "regret": f"{100 * s['final_test_regret_mean']:.3f}",
        "seconds": f"{s.get('seconds', float('nan')):.1f}",
    }


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(h for _, h in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    body = ["| " + " | ".join(str(r[k]) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join([head, sep, *body]) + "\n"


def text_table(rows: list[dict[str, Any]]) -> str:
    cells = [[h for _, h in COLUMNS]] + [[str(r[k]) for k, _ in COLUMNS] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(COLUMNS))) for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def compare(run_dirs: list[str | Path], out_dir: str | Path) -> dict[str, Any]:
    """One table (text, markdown, JSON) and one figure for several run folders."""
    if not run_dirs:
        raise ValueError("give at least one run folder")
    runs = []
    names = [Path(d).resolve().name for d in run_dirs]
    if len(set(names)) < len(names):
        names = [str(Path(d)) for d in run_dirs]
    for name, d in zip(names, run_dirs, strict=False):
        summary, traces = load_run(d)
        runs.append((name, summary, traces))
    rows = [_row(n, s) for n, s, _ in runs]
    out_dir = Path(out_dir)
    md = markdown_table(rows)
    with atomic_path(out_dir / "compare.md") as tmp:
        tmp.write_text(md)
    result = {"runs": [{"run": n, "dir": str(d), **{k: v for k, v in s.items() if k != "definitions"}}
                       for (n, s, _), d in zip(runs, run_dirs, strict=False)], "table": rows}
    write_json(out_dir / "compare.json", result)

    fig = compare_figure([(name, s, t) for name, s, t in runs])
    result["paths"] = [str(out_dir / "compare.md"), str(out_dir / "compare.json"), str(_save(fig, out_dir / "compare.png"))]
    result["text"] = text_table(rows)
    return result


def compare_figure(runs: list[tuple[str, dict[str, Any], dict[str, np.ndarray]]]):
    """Regret against time, ECDF of final regret and accuracy against queries for (label, summary,
    traces) triples (a `SearchResult` gives `.summary` and `.traces`); returns the Figure."""
    if not runs:
        raise ValueError("give at least one run")
    fig, axes = _figure((17, 4.5), ncols=3)
    curves, finals, qcurves = [], [], []
    datasets = {f"{s.get('space')}/{s.get('dataset')}" for _, s, _ in runs}
    for name, s, t in runs:
        best = s["oracle"]["best_test"]
        label = name if len(datasets) == 1 else f"{name} [{s.get('dataset')}]"
        curves.append((label, regret_curve(t, best, time_grid(t))))
        finals.append((label, best - final_values(t)["test"]))
        qcurves.append((label, queries_curve(t)))
    _regret_axes(axes[0], curves)
    _ecdf_axes(axes[1], finals)
    _queries_axes(axes[2], qcurves, runs[0][1]["oracle"]["best_test"])
    fig.suptitle(", ".join(sorted(datasets)))
    return fig
