"""A 2-D map of the latent space coloured by accuracy (paper §4.1, Fig 4).

`cells` (10,000, the paper's) cells are drawn at random, the same for every encoding, and their
rows embedded in two dimensions by scikit-learn's Barnes-Hut t-SNE (PCA initialisation, automatic
learning rate, `perplexity`, `angle`; `iterations` 500 by default, half scikit-learn's 1000, which
halves the cost of the map, the bulk of `all`'s time). As the paper does ("average the accuracy in each
small area"), the map is a `grid` x `grid` raster over the extent of the 2-D points: each square
shows the mean test accuracy of the cells that fall in it (empty squares are blank), on a colour
scale, with the paper's highlighting on top: squares whose mean is above `high` red, below `low`
black. The thresholds are per dataset (`THRESHOLDS` in `config`): the paper's red > 92%, black <
82% on NB101, the same on NB201 CIFAR-10 (the same accuracy scale), and on NB201 CIFAR-100 and
ImageNet16-120 the accuracies that leave the same shares of the space's cells above and below as
92% and 82% leave on NB201 CIFAR-10.
"""

from __future__ import annotations

import time

import numpy as np


def tsne(
    values: np.ndarray, perplexity: float = 30.0, iterations: int = 500, seed: int = 0, threads: int = 1,
    angle: float = 0.5,
) -> np.ndarray:
    """float64 [M, 2]: the t-SNE embedding of rows `values` (as they are: the latent geometry), on
    `threads` OpenMP / BLAS threads (on a busy 2-core machine one thread is 4x faster than two)."""
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = np.asarray(values, dtype=np.float64)
    m = x.shape[0]
    if m < 4:
        raise ValueError(f"a t-SNE map needs at least 4 cells, got {m}")
    common = {"perplexity": min(perplexity, (m - 1) / 3), "init": "pca", "learning_rate": "auto",
              "random_state": seed, "angle": angle}
    try:
        model = TSNE(2, max_iter=iterations, **common)
    except TypeError:  # scikit-learn < 1.5 calls it n_iter
        model = TSNE(2, n_iter=iterations, **common)
    with threadpool_limits(threads):
        return model.fit_transform(x)


def area_means(xy: np.ndarray, accuracy: np.ndarray, grid: int) -> dict:
    """Mean accuracy per square of a grid x grid raster over the points' extent (NaN where empty)."""
    lo = xy.min(axis=0)
    hi = xy.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    edges_x = np.linspace(lo[0], lo[0] + span[0], grid + 1)
    edges_y = np.linspace(lo[1], lo[1] + span[1], grid + 1)
    total, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=(edges_x, edges_y), weights=accuracy)
    count, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=(edges_x, edges_y))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return {"x_edges": edges_x, "y_edges": edges_y, "mean": mean, "count": count.astype(np.int64)}


def latent_map(
    encodings: dict[str, np.ndarray], accuracy: np.ndarray, cells: int, high: float, low: float,
    grid: int = 51, perplexity: float = 30.0, iterations: int = 500, seed: int = 0, progress=None,
    threads: int = 1, angle: float = 0.5,
) -> dict:
    """The map analysis: JSON-ready dict with, per encoding, the 2-D points and the area means."""
    y = np.asarray(accuracy, dtype=np.float64)
    count = y.size
    if not low < high:
        raise ValueError(f"the low highlight threshold ({low}) must be below the high one ({high})")
    chosen = np.sort(np.random.default_rng([seed, 0x3A9]).choice(count, min(cells, count), replace=False))
    results = {}
    for name, values in encodings.items():
        t0 = time.perf_counter()
        xy = tsne(np.asarray(values)[chosen], perplexity, iterations, seed, threads, angle)
        areas = area_means(xy, y[chosen], grid)
        mean = areas["mean"]
        filled = np.isfinite(mean)
        results[name] = {
            "xy": np.round(xy, 4).tolist(),
            "area_mean_accuracy": [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in mean],
            "area_count": areas["count"].tolist(),
            "x_edges": areas["x_edges"].tolist(),
            "y_edges": areas["y_edges"].tolist(),
            "areas_filled": int(filled.sum()),
            "areas_high": int((mean[filled] > high).sum()),
            "areas_low": int((mean[filled] < low).sum()),
            "seconds": time.perf_counter() - t0,
        }
        if progress is not None:
            progress(f"map {name}: t-SNE of {chosen.size:,} cells in {results[name]['seconds']:.1f} s")
    return {
        "cells": chosen.tolist(),
        "accuracy": y[chosen].round(6).tolist(),
        "high": high,
        "low": low,
        "grid": grid,
        "perplexity": perplexity,
        "iterations": iterations,
        "angle": angle,
        "encodings": results,
    }
