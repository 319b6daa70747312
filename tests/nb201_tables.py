"""NAS-Bench-201 arrays for the search tests, built straight from the public files in the shared data folder.

The project's own loader (`a2v_jax.data.load_benchmark`) and the NB201 space module
(`SPACE.neighbours`) are the real sources; this small builder follows the recipe of the data
folder's README so that the search code can be tested on real accuracies on its own:

- reward: 12-epoch cifar10-valid accuracy (mini file) on CIFAR-10, 200-epoch x-valid elsewhere;
- valid:  200-epoch validation accuracy (cifar10-valid x-valid, or x-valid);
- test:   200-epoch test accuracy (cifar10 ori-test, or x-test);
- time:   200-epoch runtime, times 12/200 on CIFAR-10 (an approximation of the 12-epoch time).

It also gives the NB201 mutation neighbours (one of the six edge ops changed: 24 per cell) and a
structured stand-in embedding: the one-hot op encoding of a cell (6 edges x 5 ops) projected to
16 dimensions by a fixed Gaussian matrix, which keeps similar cells close as a learned
embedding would.
"""

from __future__ import annotations

import pickle
from functools import cache

import numpy as np

from a2v_jax._io import shared_data_dir
from a2v_jax.data.benchmark import Benchmark

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
FILES = ("nb201/mini-bench-arch-cell-accs.pd", "nb201/metric_vals.pkl", "nb201/nats_bench.csv")
DATASETS = ("cifar10", "cifar100", "imagenet16-120")


def _per_arch(metric: dict) -> tuple[np.ndarray, np.ndarray]:
    """Mean accuracy (percent) and runtime per architecture from the per-seed rows of metric_vals.pkl."""
    runtime = np.asarray(metric["runtime"], np.float64)
    size = np.asarray(metric["size_in_mb"], np.float64)
    acc = 100.0 - np.asarray(metric["loss"], np.float64)
    start = np.r_[True, (np.diff(runtime) != 0) | (np.diff(size) != 0)]
    group = np.cumsum(start) - 1
    if group[-1] + 1 != 15625:
        raise ValueError(f"metric_vals.pkl splits into {group[-1] + 1} architectures, expected 15,625")
    return np.bincount(group, acc) / np.bincount(group), runtime[start]


@cache
def _raw() -> dict:
    import pandas as pd

    root = shared_data_dir()
    mini = pd.read_pickle(root / FILES[0])
    with open(root / FILES[1], "rb") as f:
        metric = pickle.load(f)
    csv = pd.read_csv(root / FILES[2])
    if not (mini["cellstr"].to_numpy() == csv["ArchitectureString"].to_numpy()).all():
        raise ValueError("mini file and nats_bench.csv disagree on the architecture order")
    return {"mini": mini, "metric": metric, "csv": csv}


@cache
def nb201_benchmark(dataset: str = "cifar10") -> Benchmark:
    raw = _raw()
    mini, csv, metric = raw["mini"], raw["csv"], raw["metric"]
    if dataset == "cifar10":
        valid, runtime = _per_arch(metric["cifar10"])
        cols = {
            "reward": mini["cifar10-val"].to_numpy() / 100.0,
            "valid": valid / 100.0,
            "test": csv["CIFAR10TestAccuracy200Epochs"].to_numpy() / 100.0,
            "time": runtime * 12.0 / 200.0,
        }
    elif dataset in ("cifar100", "imagenet16-120"):
        key, column = {"cifar100": ("cifar100", "CIFAR100TestAccuracy200Epochs"),
                       "imagenet16-120": ("imagenet", "ImageNetTestAccuracy200Epochs")}[dataset]
        ori_test, runtime = _per_arch(metric[key])
        x_test = csv[column].to_numpy()
        x_valid = 2.0 * ori_test - x_test
        cols = {"reward": x_valid / 100.0, "valid": x_valid / 100.0, "test": x_test / 100.0, "time": runtime}
    else:
        raise KeyError(dataset)
    cols = {k: np.asarray(v, np.float64) for k, v in cols.items()}
    return Benchmark("nb201", dataset, cols, {"source": "tests/nb201_tables.py"})


def arch_ops() -> np.ndarray:
    """int [15625, 6]: the op index (into NB201_OPS) on each of the six edges, in official order."""
    strings = _raw()["mini"]["cellstr"].to_numpy()
    lookup = {name: i for i, name in enumerate(NB201_OPS)}
    ops = np.array(
        [[lookup[tok.split("~")[0]] for tok in s.replace("+", "").split("|") if tok] for s in strings],
        np.int64,
    )
    if ops.shape != (15625, 6):
        raise ValueError(f"unexpected NB201 op table shape {ops.shape}")
    return ops


@cache
def nb201_neighbours() -> np.ndarray:
    """int32 [15625, 24]: every cell one edge-op change away, in a fixed order."""
    ops = arch_ops()
    code = ops @ (5 ** np.arange(6))
    index_of = np.full(5**6, -1, np.int64)
    index_of[code] = np.arange(len(code))
    cols = []
    for edge in range(6):
        for shift in range(1, 5):
            new = ops.copy()
            new[:, edge] = (new[:, edge] + shift) % 5
            cols.append(index_of[new @ (5 ** np.arange(6))])
    out = np.stack(cols, axis=1).astype(np.int32)
    assert (out >= 0).all()
    return out


@cache
def onehot_embeddings(dim: int = 16, seed: int = 0) -> np.ndarray:
    """float32 [15625, dim]: one-hot ops (6 x 5) times a fixed Gaussian projection (a structured stand-in)."""
    onehot = np.eye(5)[arch_ops()].reshape(-1, 30)
    proj = np.random.default_rng(seed).normal(size=(30, dim)) / np.sqrt(dim)
    return (onehot @ proj).astype(np.float32)
