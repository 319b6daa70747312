"""Predictive performance of an encoding (paper §4.1, Fig 2): how well a Gaussian process on the
encoding, trained on a few cells, predicts the accuracy of all the others.

Per seed s (0..seeds-1): `train_size` cells (250, the paper's) drawn without replacement with
`numpy.random.default_rng([seed, s])`, the same cells for every encoding (so encodings are compared
on paired draws); a GP fitted to their test accuracy predicts every other cell. Reported per
encoding, mean +- std over seeds (population std, NumPy's default, as the search reports):
RMSE and Pearson r on the predicted cells whose true test accuracy is above `threshold` (the
paper's filter, 0.8 on NB101) and on all predicted cells; for every encoding also its margin over
the `random` control when that is analysed (the per-seed difference, mean +- std).

The GP (scikit-learn `GaussianProcessRegressor`): kernel C * Matern(nu=2.5) + White (or C * RBF
+ White), one isotropic length scale, its hyperparameters fitted by maximising the log marginal
likelihood (L-BFGS, `restarts` extra random starts), targets normalised. The features are centred
over all cells of the space and scaled by one factor (no labels involved), which keeps each
encoding's L2 geometry, the thing analysed, and lets one length-scale range suit every encoding;
constant features are dropped. (Per-feature z-scores were tried and rejected: they blow up rare
binary features, so that a cell with one rare path of the path encoding lies far from every
training cell and is predicted at the mean: Pearson r 0.33 instead of 0.45 on NB201 CIFAR-10.)
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np

KERNELS = ("matern", "rbf")
PREDICT_CHUNK = 65536


def rescale(values: np.ndarray) -> np.ndarray:
    """float64 [N, d'] of the non-constant features, centred and scaled by ONE factor so that the
    mean squared norm of a row is 1: the encoding's own geometry (its L2 distances up to scale),
    in units that suit one length-scale range for every encoding."""
    x = np.asarray(values, dtype=np.float64)
    x = x - x.mean(axis=0)
    keep = x.std(axis=0) > 1e-12 * max(1.0, float(np.abs(x).max(initial=0.0)))
    if not keep.any():
        raise ValueError("every feature is constant: nothing to regress on")
    x = x[:, keep]
    return x / np.sqrt(np.mean(np.sum(x * x, axis=1)))


def make_gp(dim: int, kernel: str = "matern", restarts: int = 2, seed: int = 0):
    """An unfitted scikit-learn GP regressor for `dim` features rescaled by `rescale`."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choose one of {', '.join(KERNELS)}")
    scale = 1.0  # rows have unit mean squared norm (`rescale`): typical distances are about 1.4
    bounds = (1e-3, 1e2)
    base = Matern(length_scale=scale, length_scale_bounds=bounds, nu=2.5) if kernel == "matern" else RBF(scale, bounds)
    k = ConstantKernel(1.0, (1e-2, 1e2)) * base + WhiteKernel(1e-1, (1e-6, 1e1))
    return GaussianProcessRegressor(k, normalize_y=True, n_restarts_optimizer=restarts, random_state=seed)


def training_sets(count: int, train_size: int, seeds: int, seed: int = 0) -> np.ndarray:
    """int64 [seeds, train_size]: the training cells of each seed (sorted)."""
    if not 2 <= train_size < count:
        raise ValueError(f"train_size must lie in [2, {count}) for {count:,} cells, got {train_size}")
    if seeds < 1:
        raise ValueError(f"seeds must be positive, got {seeds}")
    return np.stack(
        [np.sort(np.random.default_rng([seed, s]).choice(count, train_size, replace=False)) for s in range(seeds)]
    )


def _scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    if true.size < 2 or np.ptp(true) == 0 or np.ptp(pred) == 0:
        r = float("nan")
    else:
        r = float(np.corrcoef(pred, true)[0, 1])
    rmse = float(np.sqrt(np.mean((pred - true) ** 2))) if true.size else float("nan")
    return {"rmse": rmse, "pearson": r, "count": int(true.size)}


def fit_predict(
    x: np.ndarray, y: np.ndarray, train: np.ndarray, kernel: str, restarts: int, seed: int, threads: int = 1
):
    """(predictions float64 [N] for every cell, fitted kernel as text).

    BLAS runs on `threads` threads: the GP's matrices are a few hundred rows, which threads do not
    speed up, and on a busy machine spinning BLAS threads make each Cholesky 40x slower.
    """
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    gp = make_gp(x.shape[1], kernel, restarts, seed)  # imports scikit-learn and SciPy's BLAS first
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a noise level at its bound is a fit
        gp.fit(x[train], y[train])
        pred = np.concatenate([gp.predict(x[i : i + PREDICT_CHUNK]) for i in range(0, len(x), PREDICT_CHUNK)])
    return pred, str(gp.kernel_)


def _summary(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(np.nanmean(v)), "std": float(np.nanstd(v))} if np.isfinite(v).any() else {
        "mean": float("nan"), "std": float("nan")}


def predictive(
    features: dict[str, np.ndarray],
    accuracy: np.ndarray,
    threshold: float,
    seeds: int = 10,
    train_size: int = 250,
    seed: int = 0,
    kernel: str = "matern",
    restarts: int = 0,
    control: str = "random",
    plot_cells: int = 20_000,
    progress: Callable[[str], None] | None = None,
    threads: int = 1,
) -> dict:
    """The predictive analysis over several encodings ({name: [N, d]}) of the same N cells.

    Returns a JSON-ready dict: per encoding the per-seed and summarised scores, the fitted
    kernels, and the points the scatter plot draws (seed 0's predictions of up to `plot_cells`
    predicted cells, a fixed random subset when there are more).
    """
    y = np.asarray(accuracy, dtype=np.float64)
    count = y.size
    if not np.isfinite(y).all():
        raise ValueError("accuracies contain NaN: the benchmark table is incomplete for this dataset")
    for name, f in features.items():
        if np.shape(f)[0] != count:
            raise ValueError(f"encoding {name!r} has {np.shape(f)[0]:,} rows for {count:,} accuracies")
    trains = training_sets(count, train_size, seeds, seed)
    draw_rng = np.random.default_rng([seed, 0xD2A])
    results: dict[str, dict] = {}
    for name, f in features.items():
        t0 = time.perf_counter()
        x = rescale(f)
        per_seed = {"high": [], "all": []}
        kernels = []
        scatter = None
        for s, train in enumerate(trains):  # scikit-learn fits one GP at a time
            pred, fitted = fit_predict(x, y, train, kernel, restarts, seed + s, threads)
            kernels.append(fitted)
            test = np.ones(count, dtype=bool)
            test[train] = False
            high = test & (y > threshold)
            per_seed["high"].append(_scores(pred[high], y[high]))
            per_seed["all"].append(_scores(pred[test], y[test]))
            if s == 0:
                rows = np.flatnonzero(test)
                if rows.size > plot_cells:
                    rows = np.sort(draw_rng.choice(rows, plot_cells, replace=False))
                scatter = {"cell": rows.tolist(), "true": np.round(y[rows], 6).tolist(),
                           "predicted": np.round(pred[rows], 6).tolist()}
        summary = {
            subset: {metric: _summary([p[metric] for p in per_seed[subset]]) for metric in ("rmse", "pearson")}
            for subset in per_seed
        }
        results[name] = {
            "summary": summary,
            "per_seed": per_seed,
            "kernels": kernels,
            "features_used": int(x.shape[1]),
            "seconds": time.perf_counter() - t0,
            "scatter_seed0": scatter,
        }
        if progress is not None:
            s_ = summary["high"]
            progress(
                f"predictive {name}: r {s_['pearson']['mean']:.3f} +- {s_['pearson']['std']:.3f}, "
                f"RMSE {s_['rmse']['mean']:.4f} +- {s_['rmse']['std']:.4f} (acc > {threshold}) "
                f"in {results[name]['seconds']:.1f} s"
            )
    margins = {}
    if control in results:
        for name in results:
            if name == control:
                continue
            margins[name] = {
                subset: {
                    metric: _summary(
                        [a[metric] - b[metric] for a, b in zip(results[name]["per_seed"][subset],
                                                                results[control]["per_seed"][subset], strict=True)]
                    )
                    for metric in ("pearson", "rmse")
                }
                for subset in ("high", "all")
            }
    return {
        "threshold": threshold,
        "seeds": seeds,
        "train_size": train_size,
        "kernel": kernel,
        "restarts": restarts,
        "training_cells": trains.tolist(),
        "encodings": results,
        "margin_over_control": {"control": control if control in results else None, "by_encoding": margins},
    }
