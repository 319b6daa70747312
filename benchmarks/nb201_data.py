"""NAS-Bench-201 arrays for the DNGO benchmarks and tests, built from the public files in the shared data folder.

Follows the recipe of the data folder's README (CIFAR-10, as arch2vec searches it):

- reward: 12-epoch cifar10-valid validation accuracy (mini file `cifar10-val` / 100);
- test:   200-epoch cifar10 test accuracy (`nats_bench.csv` `CIFAR10TestAccuracy200Epochs` / 100);
- cost:   200-epoch training time per architecture from `metric_vals.pkl` (an architecture's rows
  are the run of equal (runtime, size_in_mb)), times 12/200: an approximation of the 12-epoch time.

Features: until the pretrained arch2vec embeddings are available, a stand-in that carries the
space's structure: the one-hot encoding of each cell's six edge operations (6 x 5) projected to 16
dimensions by a fixed Gaussian matrix (seed 0), so cells that share operations lie close together.
"""

from __future__ import annotations

import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np

from a2v_jax._io import shared_data_dir

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
FILES = ("nb201/mini-bench-arch-cell-accs.pd", "nb201/metric_vals.pkl", "nb201/nats_bench.csv")
N_CELLS = 15625


def files_present(root: Path | None = None) -> bool:
    root = shared_data_dir() if root is None else root
    return all((root / f).exists() for f in FILES)


def edge_ops(cellstr: str) -> list[int]:
    """'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' -> the six op indices in string order."""
    ops = [tok.split("~")[0] for tok in cellstr.replace("+", "").split("|") if tok]
    if len(ops) != 6:
        raise ValueError(f"not a NAS-Bench-201 cell string: {cellstr!r}")
    return [OPS.index(o) for o in ops]


def onehot_projection(cellstrs, dim: int = 16, seed: int = 0) -> np.ndarray:
    codes = np.asarray([edge_ops(s) for s in cellstrs])
    onehot = np.zeros((len(codes), 6 * len(OPS)), np.float32)
    onehot[np.arange(len(codes))[:, None], np.arange(6) * len(OPS) + codes] = 1.0
    proj = np.random.default_rng(seed).normal(size=(onehot.shape[1], dim)).astype(np.float32)
    return onehot @ proj / np.sqrt(6.0)


@lru_cache(maxsize=1)
def load_cifar10() -> dict[str, np.ndarray]:
    """features [N,16], reward, test, cost (float64 [N]) in official index order."""
    import pandas as pd

    root = shared_data_dir()
    missing = [f for f in FILES if not (root / f).exists()]
    if missing:
        raise FileNotFoundError(f"missing NAS-Bench-201 files under {root}: {missing}")
    mini = pd.read_pickle(root / FILES[0])
    csv = pd.read_csv(root / FILES[2])
    with open(root / FILES[1], "rb") as f:
        metric = pickle.load(f)["cifar10"]
    if len(mini) != N_CELLS or not (mini["cellstr"].to_numpy() == csv["ArchitectureString"].to_numpy()).all():
        raise ValueError("mini file and nats_bench.csv disagree on the architecture order")
    runtime = np.asarray(metric["runtime"], np.float64)
    size = np.asarray(metric["size_in_mb"], np.float64)
    start = np.r_[True, (np.diff(runtime) != 0) | (np.diff(size) != 0)]
    if start.sum() != N_CELLS:
        raise ValueError(f"metric_vals.pkl splits into {start.sum()} architectures, expected {N_CELLS}")
    return {
        "features": onehot_projection(mini["cellstr"].to_numpy()),
        "reward": mini["cifar10-val"].to_numpy(np.float64) / 100.0,
        "test": csv["CIFAR10TestAccuracy200Epochs"].to_numpy(np.float64) / 100.0,
        "cost": runtime[start] * 12.0 / 200.0,
    }
