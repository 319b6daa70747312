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

`compare` adds interval estimates and pairwise tests (`a2v_jax.search.stats`): per run the 95%
bootstrap CI of the mean, median and IQR of the final test accuracy and of the test regret at four
points of the budget (`BUDGET_FRACTIONS`, see `values_at_budget`), and per pair of runs the
probability of improvement P(A > B) with its bootstrap CI and the Mann-Whitney U p-value.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, load_npz, save_npz, write_json
from . import stats

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


BANDS = {"iqr": "25-75% of seeds", "ci": "95% bootstrap CI of the mean"}


def regret_curve(traces: dict[str, np.ndarray], best_test: float, grid: np.ndarray, band: str = "iqr") -> dict[str, np.ndarray]:
    """Mean test regret at each grid time, with a band (`low`, `high`): the seeds' interquartile
    range (`iqr`, how spread the seeds are) or the 95% bootstrap CI of the mean (`ci`, how well
    the mean is known)."""
    if band not in BANDS:
        raise ValueError(f"unknown band {band!r}; choose one of {', '.join(BANDS)}")
    v = value_at_times(traces["time"], traces["incumbent_test"].astype(np.float64), traces["count"], grid)
    regret = best_test - v
    with np.errstate(all="ignore"):
        out = {
            "time": grid,
            "mean": np.nanmean(regret, axis=0),
            "q25": np.nanpercentile(regret, 25, axis=0),
            "q75": np.nanpercentile(regret, 75, axis=0),
            "started": np.mean(~np.isnan(v), axis=0),
            "band": band,
        }
    out["low"], out["high"] = (out["q25"], out["q75"]) if band == "iqr" else stats.mean_ci_band(regret)
    return out


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
            c["time"], np.maximum(c["low"] * 100, FLOOR), np.maximum(c["high"] * 100, FLOOR),
            color=line.get_color(), alpha=0.15, lw=0,
        )
    band = curves[0][1].get("band", "iqr") if curves else "iqr"
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("simulated wall-clock time [s]")
    ax.set_ylabel(f"test regret [%] (mean; band {BANDS[band]})")
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

BUDGET_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


class IncomparableRunsError(ValueError):
    """Runs that cannot share one table (different spaces or datasets)."""


def budget_points(summaries: list[dict[str, Any]], fractions: tuple[float, ...] = BUDGET_FRACTIONS) -> dict[str, Any]:
    """Where runs are compared during the search: fractions of the simulated-time budget.

    The budget is the smallest time budget among the runs (so every run has reached every point);
    runs with a query budget only are compared at fractions of the smallest query budget.
    """
    seconds = [s["budget_seconds"] for s in summaries if s.get("budget_seconds") is not None]
    if seconds:
        total, kind = float(min(seconds)), "time"
    else:
        total, kind = float(min(s["max_queries"] for s in summaries)), "queries"
    values = [f * total for f in fractions]
    if kind == "queries":
        values = [float(max(1, int(np.ceil(v)))) for v in values]
    return {"kind": kind, "budget": total, "fractions": list(fractions), "values": values}


def values_at_budget(traces: dict[str, np.ndarray], points: dict[str, Any], key: str = "incumbent_test") -> np.ndarray:
    """[S, P]: each seed's incumbent value at each budget point.

    Time points follow the budget rule of the searches (a query is made while the time spent
    before it is below the budget): at time t the incumbent is the best of the queries begun
    before t. So the point at 100% of a run's own budget is its final incumbent, and every seed has
    an incumbent at any t > 0. Query points: the incumbent after that many queries (or after the
    seed's last query if it made fewer).
    """
    count = traces["count"].astype(np.int64)
    value = traces[key].astype(np.float64)
    cap = value.shape[1]
    at = np.asarray(points["values"], np.float64)
    if points["kind"] == "time":
        used = np.arange(cap)[None, :] < count[:, None]
        begun = np.concatenate([np.zeros((value.shape[0], 1)), traces["time"][:, :-1].astype(np.float64)], axis=1)
        begun = np.where(used, begun, np.inf)
        k = (begun[:, :, None] < at[None, None, :]).sum(axis=1)  # [S, P] queries begun before each point
    else:
        k = np.minimum(at.astype(np.int64)[None, :], count[:, None])
    out = np.take_along_axis(value, np.maximum(k - 1, 0), axis=1)
    return np.where(k > 0, out, np.nan)


def _point_label(points: dict[str, Any], i: int) -> str:
    unit = "s" if points["kind"] == "time" else "queries"
    return f"{round(100 * points['fractions'][i])}% ({points['values'][i]:,.0f} {unit})"


def comparison_statistics(runs: list[tuple[str, dict[str, Any], dict[str, np.ndarray]]],
                          resamples: int = stats.RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """Per run and per pair of runs: the statistics of `a2v_jax.search.stats` on the final test
    accuracy (higher is better) and on the test regret at each budget point (lower is better)."""
    points = budget_points([s for _, s, _ in runs])
    metrics = [{"name": "final_test", "title": "final test accuracy", "higher_is_better": True}]
    metrics += [{"name": f"test_regret_at_{round(100 * f)}pct", "title": f"test regret at {_point_label(points, i)}",
                 "higher_is_better": False} for i, f in enumerate(points["fractions"])]
    samples = {}
    for name, s, t in runs:
        regret = s["oracle"]["best_test"] - values_at_budget(t, points)
        samples[name] = [final_values(t)["test"], *regret.T]
    per_run = {name: {m["name"]: stats.describe(x, resamples, rng=seed) for m, x in zip(metrics, xs, strict=True)}
               for name, xs in samples.items()}
    pairwise = []
    names = [n for n, _, _ in runs]
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            for m, xa, xb in zip(metrics, samples[a], samples[b], strict=True):
                pairwise.append({"a": a, "b": b, "metric": m["name"],
                                 **stats.compare_pair(xa, xb, m["higher_is_better"], resamples, rng=seed)})
    return {
        "confidence": stats.CONFIDENCE, "resamples": resamples,
        "budget_points": points, "metrics": metrics, "runs": per_run, "pairwise": pairwise,
        "definitions": {
            "ci": "95% bootstrap confidence interval of the mean over seeds (BCa, scipy.stats.bootstrap)",
            "iqr": "25th to 75th percentile over seeds",
            "p_improve": "P(a seed of A beats a seed of B), ties half: Mann-Whitney U_A / (n_A n_B); for regret, "
                         "beating is the lower regret",
            "p_improve_ci": "95% percentile bootstrap, seeds of A and of B resampled independently",
            "p_value": "two-sided Mann-Whitney U test (scipy.stats.mannwhitneyu)",
            "budget_points": "test regret of the incumbent of the queries begun before each fraction of the "
                              "(smallest) budget; 100% is the final incumbent",
        },
    }


COLUMNS = (
    ("run", "run"),
    ("method", "method"),
    ("preset", "preset"),
    ("data", "space/dataset"),
    ("seeds", "seeds"),
    ("queries", "queries"),
    ("valid", "valid % (reward)"),
    ("valid_role", "valid % (valid col.)"),
    ("test", "test % mean +- std"),
    ("test_ci", "test % 95% CI"),
    ("test_median", "test % median [IQR]"),
    ("regret", "test regret %"),
    ("seconds", "wall s"),
)


def _pct(x: float, digits: int = 2) -> str:
    return f"{100 * x:.{digits}f}"


def _interval(d: dict[str, float], digits: int = 2) -> str:
    return f"[{_pct(d['ci_low'], digits)}, {_pct(d['ci_high'], digits)}]"


def _row(name: str, s: dict[str, Any], st: dict[str, Any] | None = None) -> dict[str, Any]:
    pm = lambda k: f"{100 * s[k + '_mean']:.2f} +- {100 * s[k + '_std']:.2f}"  # noqa: E731
    row = {
        "run": name,
        "method": s.get("method", "?"),
        "preset": s.get("preset", "?"),
        "data": f"{s.get('space', '?')}/{s.get('dataset', '?')}",
        "seeds": s["seeds"],
        "queries": f"{s['queries_mean']:.1f}",
        "valid": pm("final_valid"),
        "valid_role": pm("final_valid_role"),
        "test": pm("final_test"),
        "test_ci": "-",
        "test_median": "-",
        "regret": f"{100 * s['final_test_regret_mean']:.3f}",
        "seconds": f"{s.get('seconds', float('nan')):.1f}",
    }
    if st is not None:
        d = st["final_test"]
        row["test_ci"] = _interval(d)
        row["test_median"] = f"{_pct(d['median'])} [{_pct(d['q25'])}, {_pct(d['q75'])}]"
    return row


def _regret_rows(statistics: dict[str, Any]) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """Columns and rows of the test regret at the budget points: mean [95% CI], %."""
    regret = [m for m in statistics["metrics"] if not m["higher_is_better"]]
    points = statistics["budget_points"]
    cols = [("run", "run")] + [(m["name"], _point_label(points, i)) for i, m in enumerate(regret)]
    rows = []
    for name, per in statistics["runs"].items():
        row = {"run": name}
        for m in regret:
            d = per[m["name"]]
            row[m["name"]] = f"{_pct(d['mean'], 3)} {_interval(d, 3)}"
        rows.append(row)
    return cols, rows


def _pair_rows(statistics: dict[str, Any]) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    """Columns and rows of the pairwise comparisons: P(A better than B) [95% CI], p-value."""
    points = statistics["budget_points"]
    cols = [("a", "A"), ("b", "B"), ("final_test", "P(A > B) final test [95% CI], p")]
    regret = [m for m in statistics["metrics"] if not m["higher_is_better"]]
    cols += [(m["name"], f"P(A better) regret at {_point_label(points, i)}") for i, m in enumerate(regret)]
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for p in statistics["pairwise"]:
        row = rows.setdefault((p["a"], p["b"]), {"a": p["a"], "b": p["b"]})
        row[p["metric"]] = f"{p['p_improve']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}], p={p['p_value']:.2g}"
    return cols, list(rows.values())


def markdown_table(rows: list[dict[str, Any]], columns=COLUMNS) -> str:
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(r.get(k, "-")) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body]) + "\n"


def text_table(rows: list[dict[str, Any]], columns=COLUMNS) -> str:
    cells = [[h for _, h in columns]] + [[str(r.get(k, "-")) for k, _ in columns] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(columns))]
    lines = ["  ".join(c[i].ljust(widths[i]) for i in range(len(columns))).rstrip() for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _sections(rows, statistics) -> list[tuple[str, list, list]]:
    """(title, columns, rows) of every table `compare` shows."""
    out = [("", list(COLUMNS), rows)]
    b = statistics["budget_points"]
    unit = "simulated s" if b["kind"] == "time" else "queries"
    out.append((f"Test regret % at fractions of the budget ({b['budget']:,.0f} {unit}): mean [95% CI] over seeds",
                *_regret_rows(statistics)))
    if statistics["pairwise"]:
        out.append(("Pairwise: P(A better than B), a random seed of A against one of B, ties half "
                    "(for regret: lower is better) [95% bootstrap CI], two-sided Mann-Whitney U p-value",
                    *_pair_rows(statistics)))
    return out


def check_comparable(runs: list[tuple[str, dict[str, Any], Any]]) -> None:
    """Refuse runs of different spaces or datasets: their accuracies and regrets are not on one scale."""
    data = {}
    for name, s, _ in runs:
        data.setdefault(f"{s.get('space', '?')}/{s.get('dataset', '?')}", []).append(name)
    if len(data) > 1:
        listed = "; ".join(f"{d}: {', '.join(names)}" for d, names in data.items())
        raise IncomparableRunsError(f"runs on different spaces/datasets cannot be compared ({listed}); compare runs of one space and dataset")


def compare(run_dirs: list[str | Path], out_dir: str | Path, band: str = "iqr",
            resamples: int = stats.RESAMPLES) -> dict[str, Any]:
    """Tables (text, compare.md, compare.json) and one figure (compare.png) for run folders of one
    space and dataset: per run the summary with the 95% CI, median and IQR of the final test
    accuracy and the test regret at `BUDGET_FRACTIONS` of the budget; per pair of runs P(A > B)
    with its CI and the Mann-Whitney p-value (`comparison_statistics`). `band` is the regret
    curves' band: `iqr` (seeds' spread) or `ci` (95% CI of the mean)."""
    if not run_dirs:
        raise ValueError("give at least one run folder")
    if band not in BANDS:
        raise ValueError(f"unknown band {band!r}; choose one of {', '.join(BANDS)}")
    runs = []
    names = [Path(d).resolve().name for d in run_dirs]
    if len(set(names)) < len(names):
        names = [str(Path(d)) for d in run_dirs]
    for name, d in zip(names, run_dirs, strict=False):
        summary, traces = load_run(d)
        runs.append((name, summary, traces))
    check_comparable(runs)
    statistics = comparison_statistics(runs, resamples)
    rows = [_row(n, s, statistics["runs"][n]) for n, s, _ in runs]
    sections = _sections(rows, statistics)
    out_dir = Path(out_dir)
    md = "\n".join((f"{title}\n\n" if title else "") + markdown_table(r, c) for title, c, r in sections)
    with atomic_path(out_dir / "compare.md") as tmp:
        tmp.write_text(md)
    result = {"runs": [{"run": n, "dir": str(d), **{k: v for k, v in s.items() if k != "definitions"}}
                       for (n, s, _), d in zip(runs, run_dirs, strict=False)], "table": rows,
              "statistics": statistics}
    write_json(out_dir / "compare.json", result)

    fig = compare_figure([(name, s, t) for name, s, t in runs], band=band)
    result["paths"] = [str(out_dir / "compare.md"), str(out_dir / "compare.json"), str(_save(fig, out_dir / "compare.png"))]
    result["text"] = "\n\n".join((f"{title}\n" if title else "") + text_table(r, c) for title, c, r in sections)
    return result


def compare_figure(runs: list[tuple[str, dict[str, Any], dict[str, np.ndarray]]], band: str = "iqr"):
    """Regret against time, ECDF of final regret and accuracy against queries for (label, summary,
    traces) triples (a `SearchResult` gives `.summary` and `.traces`); returns the Figure. The
    regret band is the seeds' IQR (`band="iqr"`) or the 95% bootstrap CI of the mean (`"ci"`)."""
    if not runs:
        raise ValueError("give at least one run")
    fig, axes = _figure((17, 4.5), ncols=3)
    curves, finals, qcurves = [], [], []
    datasets = {f"{s.get('space')}/{s.get('dataset')}" for _, s, _ in runs}
    for name, s, t in runs:
        best = s["oracle"]["best_test"]
        label = name if len(datasets) == 1 else f"{name} [{s.get('dataset')}]"
        curves.append((label, regret_curve(t, best, time_grid(t), band=band)))
        finals.append((label, best - final_values(t)["test"]))
        qcurves.append((label, queries_curve(t)))
    _regret_axes(axes[0], curves)
    _ecdf_axes(axes[1], finals)
    _queries_axes(axes[2], qcurves, runs[0][1]["oracle"]["best_test"])
    fig.suptitle(", ".join(sorted(datasets)))
    return fig
