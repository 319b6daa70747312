"""The figures of the latent-space analysis, drawn from the JSON-ready results (so every number a
figure shows is in the analysis's JSON), without pyplot (`a2v_jax.search.report._figure`).

Cells are drawn as their DAGs in the space's encoding: one node per vertex labelled with a short
op name, laid out top to bottom by longest path from the inputs; in a walk, the ops a cell changed
with respect to the cell before it are red, and so are the edges it gained (those it lost: dashed).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..search.report import _figure, _save
from ..spaces import PAD_OP

SHORT = {
    "input": "in", "output": "out", "conv1x1-bn-relu": "1x1", "conv3x3-bn-relu": "3x3", "maxpool3x3": "mp3",
    "nor_conv_1x1": "1x1", "nor_conv_3x3": "3x3", "avg_pool_3x3": "ap3", "skip_connect": "skip", "none": "none",
    "c_k-2": "k-2", "c_k-1": "k-1", "max_pool_3x3": "mp3", "sep_conv_3x3": "sep3", "sep_conv_5x5": "sep5",
    "dil_conv_3x3": "dil3", "dil_conv_5x5": "dil5",
}
CHANGED = "#d62728"
PLAIN_NODE = "#e8eef7"
CHANGED_NODE = "#f7c6c6"


def short_name(name: str) -> str:
    return SHORT.get(name, name[:4])


def _panels(count: int, width: float = 4.2, height: float = 3.8, max_cols: int = 4):
    cols = min(count, max_cols)
    rows = -(-count // cols)
    fig, _ = _figure((width * cols, height * rows), 1)
    fig.clear()
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    return fig, axes[:count]


def _pm(s: dict, scale: float = 1.0, digits: int = 3) -> str:
    return f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f}"


# --- predictive ------------------------------------------------------------------------------------


def predictive_figure(result: dict, title: str):
    """Predicted against true test accuracy (seed 0), one panel per encoding; the paper's view:
    the cells above the threshold."""
    names = list(result["encodings"])
    fig, axes = _panels(len(names), 4.0, 4.3)
    thr = result["threshold"]
    for ax, name in zip(axes, names, strict=True):
        r = result["encodings"][name]
        sc = r["scatter_seed0"]
        true = 100 * np.asarray(sc["true"])
        pred = 100 * np.asarray(sc["predicted"])
        high = true > 100 * thr
        lo = 100 * thr - 1.0
        hi = max(true.max(), float(np.percentile(pred[high], 99.5)) if high.any() else true.max()) + 0.5
        ax.scatter(true[high], pred[high], s=2, alpha=0.35, color="tab:blue", linewidths=0, rasterized=True)
        ax.plot([lo, hi], [lo, hi], color="yellowgreen", linewidth=1.5)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal", "box")
        ax.set_xlabel("test accuracy [%]")
        ax.set_ylabel("predicted accuracy [%]")
        s_high, s_all = r["summary"]["high"], r["summary"]["all"]
        ax.set_title(
            f"{name}\nacc > {100 * thr:g}%: r {_pm(s_high['pearson'])}, RMSE {_pm(s_high['rmse'], 100, 2)}\n"
            f"all: r {_pm(s_all['pearson'])}, RMSE {_pm(s_all['rmse'], 100, 2)}",
            fontsize=8.5,
        )
    fig.suptitle(f"{title}: GP on {result['train_size']} cells, {result['seeds']} seeds (points: seed 0)", fontsize=10)
    fig.tight_layout()
    return fig


# --- smoothness ------------------------------------------------------------------------------------


def smoothness_figure(result: dict, title: str):
    """Box plots of L2 distance by edit distance, one panel per encoding."""
    names = list(result["encodings"])
    fig, axes = _panels(len(names), 4.2, 3.6)
    for ax, name in zip(axes, names, strict=True):
        r = result["encodings"][name]
        keys = sorted(r["by_edit_distance"], key=int)
        stats = [{**r["by_edit_distance"][k], "med": r["by_edit_distance"][k]["median"], "label": k, "fliers": []}
                 for k in keys]
        ax.bxp(stats, showfliers=False, showmeans=False, patch_artist=True,
               boxprops={"facecolor": "#c6dbef"}, medianprops={"color": "black"})
        if len(keys) > 12:
            for label in ax.get_xticklabels()[1::2]:
                label.set_visible(False)
        ax.set_xlabel("edit distance")
        ax.set_ylabel("L2 distance")
        ax.set_title(f"{name}: Spearman ρ = {r['spearman_rho']:.3f}", fontsize=9.5)
    cells = result["cells"]
    how = f"random walk of {cells['cells']:,} cells" if cells["kind"] == "random walk" else f"{cells['cells']:,} sampled cells"
    fig.suptitle(f"{title}: {how}, {result['pairs']:,} pairs", fontsize=10)
    fig.tight_layout()
    return fig


# --- map -------------------------------------------------------------------------------------------


def map_figure(result: dict, title: str, dataset: str):
    """Mean test accuracy per small area of the t-SNE map, one panel per encoding."""
    import matplotlib
    from matplotlib import colors
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Colormap

    names = list(result["encodings"])
    fig, axes = _panels(len(names), 4.6, 4.2)
    cmap: Colormap = matplotlib.colormaps["viridis"].with_extremes(over="red", under="black", bad="white")
    norm = colors.Normalize(vmin=100 * result["low"], vmax=100 * result["high"])
    for ax, name in zip(axes, names, strict=True):
        r = result["encodings"][name]
        mean = np.array([[np.nan if v is None else 100 * v for v in row] for row in r["area_mean_accuracy"]])
        xe, ye = r["x_edges"], r["y_edges"]
        ax.imshow(np.ma.masked_invalid(mean.T), cmap=cmap, norm=norm, origin="lower",
                  extent=[xe[0], xe[-1], ye[0], ye[-1]], aspect="auto", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{name}: {r['areas_high']} areas > {100 * result['high']:g}% (red), "
                     f"{r['areas_low']} < {100 * result['low']:g}% (black)", fontsize=8.5)
    fig.tight_layout(rect=(0, 0, 0.92, 0.95))
    cax = fig.add_axes((0.93, 0.15, 0.015, 0.7))
    fig.colorbar(ScalarMappable(norm, cmap), cax=cax, extend="both", label=f"{dataset} test accuracy [%]")
    fig.suptitle(f"{title}: t-SNE of {len(result['cells']):,} cells, mean accuracy per area "
                 f"({result['grid']} x {result['grid']})", fontsize=10)
    return fig


# --- cells as DAGs ---------------------------------------------------------------------------------


def _layout(adjacency: np.ndarray, real: np.ndarray) -> np.ndarray:
    """float [n, 2] positions: layer (longest path from a source) down, spread across in a layer."""
    n = adjacency.shape[0]
    layer = np.zeros(n, dtype=np.int64)
    for v in range(n):  # vertices are in topological order (upper-triangular adjacency)
        preds = np.flatnonzero(adjacency[:v, v] & real[:v])
        if preds.size:
            layer[v] = layer[preds].max() + 1
    pos = np.zeros((n, 2))
    for lay in np.unique(layer[real]):
        members = np.flatnonzero((layer == lay) & real)
        pos[members, 0] = np.arange(members.size) - (members.size - 1) / 2
        pos[members, 1] = -lay
    return pos


def draw_cell(ax, op_names: Sequence[str], adjacency, ops, changed=(), new_edges=(), removed_edges=(),
              title: str = "") -> None:
    """One cell as a DAG on `ax`: changed ops and gained edges in red, lost edges red and dashed;
    edges that skip a layer are drawn as arcs so that they do not run through other vertices."""
    adj = np.asarray(adjacency).astype(bool)
    op = np.asarray(ops).astype(np.int64)
    real = op != PAD_OP
    adj = adj & real[:, None] & real[None, :]
    pos = _layout(adj, real)
    changed = {int(v) for v in changed}
    new = {(int(a), int(b)) for a, b in np.asarray(new_edges, dtype=np.int64).reshape(-1, 2)}
    lost = [(int(a), int(b)) for a, b in np.asarray(removed_edges, dtype=np.int64).reshape(-1, 2)]
    edges = [(int(u), int(v), "new" if (int(u), int(v)) in new else "kept") for u, v in np.argwhere(adj)]
    for k, (u, v, kind) in enumerate(edges + [(u, v, "lost") for u, v in lost]):
        skip = pos[u, 1] - pos[v, 1] > 1 or (pos[u, 0] == pos[v, 0] and pos[u, 1] == pos[v, 1])
        rad = (0.45 if k % 2 else -0.45) if skip else 0.0
        red = kind != "kept"
        ax.annotate("", xy=pos[v], xytext=pos[u], zorder=1,
                    arrowprops={"arrowstyle": "-" if kind == "lost" else "-|>",
                                "color": CHANGED if red else "#777777", "lw": 1.3 if red else 0.7,
                                "linestyle": "--" if kind == "lost" else "-", "shrinkA": 7, "shrinkB": 7,
                                "mutation_scale": 6, "connectionstyle": f"arc3,rad={rad}"})
    for v in np.flatnonzero(real):
        name = op_names[op[v]] if 0 <= op[v] < len(op_names) else "?"
        hot = v in changed
        ax.text(pos[v, 0], pos[v, 1], short_name(name), ha="center", va="center", fontsize=6, zorder=2,
                color=CHANGED if hot else "black", fontweight="bold" if hot else "normal",
                bbox={"boxstyle": "round,pad=0.25", "fc": CHANGED_NODE if hot else PLAIN_NODE,
                      "ec": CHANGED if hot else "#8899aa", "lw": 0.8})
    xs, ys = pos[real, 0], pos[real, 1]
    ax.set_xlim(xs.min() - 0.8, xs.max() + 0.8)
    ax.set_ylim(ys.min() - 0.6, ys.max() + 0.6)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=7.5, pad=2)


def _panel_width(adjacency: np.ndarray, ops: np.ndarray) -> float:
    """Inches a DAG panel needs: room for the widest layer of any of the cells drawn."""
    widest = 1
    for adj, op in zip(adjacency, ops, strict=True):  # the few cells of a figure
        real = op != PAD_OP
        pos = _layout(adj.astype(bool) & real[:, None] & real[None, :], real)
        _, counts = np.unique(pos[real, 1], return_counts=True)
        widest = max(widest, int(counts.max()))
    return max(1.3, 0.34 * widest + 0.35)


def walk_figure(result: dict, cells, op_names: Sequence[str], title: str, max_walks: int = 3):
    """The first `max_walks` walks of each encoding as rows of DAGs, with the edit distance to the
    previous cell (the averages in the title are over all walks)."""
    names = list(result["encodings"])
    steps = result["steps"]
    starts = result["starts"][:max_walks]
    rows = len(starts) * len(names)
    drawn = {c for n in names for w in result["encodings"][n]["walks"][: len(starts)] for c in w["cells"]}
    panel = _panel_width(cells.adjacency[sorted(drawn)], cells.ops[sorted(drawn)])
    width, height = panel * (steps + 1) + 1.1, 1.6 * rows + 0.8
    fig, _ = _figure((width, height), 1)
    fig.clear()
    axes = fig.subplots(rows, steps + 1, squeeze=False)
    for w in range(len(starts)):
        for e, name in enumerate(names):
            r = result["encodings"][name]["walks"][w]
            row = axes[w * len(names) + e]
            for k, cell in enumerate(r["cells"]):
                label = f"#{cell}" if k == 0 else f"+{r['edit_distances'][k - 1]}"
                draw_cell(row[k], op_names, cells.adjacency[cell], cells.ops[cell], r["changed_vertices"][k],
                          r["new_edges"][k], r.get("removed_edges", [[]] * len(r["cells"]))[k], label)
            row[0].text(-0.08, 0.5, f"{name}\navg {r['average_edit_distance']:.2f}", transform=row[0].transAxes,
                        ha="right", va="center", fontsize=8)
    averages = ", ".join(f"{n} {result['encodings'][n]['average_edit_distance']:.2f}" for n in names)
    drawn = f" (the first {len(starts)} of {len(result['starts'])} walks drawn)" if len(starts) < len(result["starts"]) else ""
    fig.suptitle(f"{title}: from each start, the nearest unvisited cell (L2), {steps} steps{drawn}\n"
                 f"+k: edit distance to the cell before (red: changed ops, new edges; dashed: lost edges); "
                 f"average edit distance: {averages}", fontsize=9)
    fig.subplots_adjust(left=1.1 / width, right=0.995, top=1 - 0.75 / height, bottom=0.01, wspace=0.05, hspace=0.4)
    return fig


def interpolation_figure(result: dict, op_names: Sequence[str], title: str):
    """The decodings along the segment between two cells' latent codes (red: what changed from the
    decoding before)."""
    k = len(result["t"])
    panel = _panel_width(np.asarray(result["adjacency"]), np.asarray(result["ops"]))
    fig, _ = _figure((panel * k + 0.5, 2.1), 1)
    fig.clear()
    axes = fig.subplots(1, k, squeeze=False)[0]
    ops = np.asarray(result["ops"])
    adj = np.asarray(result["adjacency"]).astype(bool)
    for i in range(k):
        cell = result["cell"][i]
        state = f"#{cell}" if cell >= 0 else ("valid, new" if result["valid"][i] else "invalid")
        prev = max(i - 1, 0)  # decodings share the vertex numbering: changes are read position by position
        draw_cell(axes[i], op_names, adj[i], ops[i], np.flatnonzero(ops[i] != ops[prev]),
                  np.argwhere(adj[i] & ~adj[prev]), np.argwhere(adj[prev] & ~adj[i]),
                  title=f"t={result['t'][i]:.2f}\n{state}")
    fig.suptitle(f"{title}: decoded interpolation from cell {result['from']} to cell {result['to']}", fontsize=9)
    fig.subplots_adjust(left=0.01, right=0.99, top=0.72, bottom=0.02, wspace=0.08)
    return fig


def save(fig, path: Path) -> Path:
    return _save(fig, Path(path))
