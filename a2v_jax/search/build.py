"""From files to a `Problem`: benchmark table, embeddings, mutation neighbours, budget.

A search needs four aligned columns (reward, test, cost; `valid` for reporting) from a `Benchmark`,
plus embeddings (REINFORCE, DNGO) or the space's mutation table (evolution). Each source is
checked against the others (row counts, and embedding hashes against the space's cells when both
are available) so that a misaligned file fails loudly instead of silently searching the wrong
architectures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._io import CorruptFileError, load_npz
from ..data.benchmark import Benchmark
from ..embeddings import load_embeddings  # noqa: F401  (where search.api and benchmarks import it from)
from .problem import Problem

DATASET_ALIASES = {
    "cifar10": "cifar10",
    "cifar10-valid": "cifar10",
    "cifar10_valid": "cifar10",
    "cifar10_valid_converged": "cifar10",
    "cifar100": "cifar100",
    "imagenet": "imagenet16-120",
    "imagenet16": "imagenet16-120",
    "imagenet16-120": "imagenet16-120",
    "imagenet16_120": "imagenet16-120",
}

DEFAULT_BUDGETS: dict[tuple[str, str], float] = {
    # simulated seconds, as in the published runs (REFERENCE.md)
    ("nb201", "cifar10"): 12_000.0,
    ("nb201", "cifar100"): 500_000.0,
    ("nb201", "imagenet16-120"): 1_400_000.0,
    ("nb101", "cifar10"): 1_500_000.0,
}


def canonical_dataset(dataset: str) -> str:
    key = str(dataset).lower()
    if key not in DATASET_ALIASES:
        raise KeyError(f"unknown dataset {dataset!r}; choose one of cifar10, cifar100, imagenet16-120")
    return DATASET_ALIASES[key]


def default_budget(space: str, dataset: str) -> float:
    key = (space.lower(), canonical_dataset(dataset))
    if key not in DEFAULT_BUDGETS:
        known = ", ".join(f"{s}/{d}" for s, d in DEFAULT_BUDGETS)
        raise KeyError(f"no default budget for {key[0]}/{key[1]} (known: {known}); give budget or queries")
    return DEFAULT_BUDGETS[key]


def load_benchmark_for(space: str, dataset: str, benchmark: Benchmark | str | Path | None = None) -> Benchmark:
    """The benchmark table: given, read from a saved `.npz`, or from `a2v_jax.data.load_benchmark`."""
    if isinstance(benchmark, Benchmark):
        bench = benchmark
    elif benchmark is not None:
        path = Path(benchmark)
        if not path.exists():
            raise FileNotFoundError(f"benchmark file {path} does not exist")
        bench = Benchmark.load(path)
    else:
        try:
            from ..data import load_benchmark  # type: ignore[attr-defined]
        except ImportError as e:
            raise RuntimeError(
                "this installation has no benchmark loader (a2v_jax.data.load_benchmark); "
                "pass a saved Benchmark file instead (--benchmark PATH)"
            ) from e
        bench = load_benchmark(space, dataset)
    if bench.space.lower() != space.lower():
        raise ValueError(f"benchmark is for space {bench.space!r}, not {space!r}")
    return bench


def space_neighbours(space: str) -> np.ndarray:
    """int32 [N, K] mutation neighbours (-1 padded) from the space module's `neighbours(cells)`."""
    from ..spaces import get_space

    sp = get_space(space)
    fn = getattr(sp, "neighbours", None)
    if fn is None:
        raise RuntimeError(
            f"the {space} space module in this installation has no neighbours(); "
            "pass a neighbour table (--neighbours PATH, an .npy/.npz of int32 [N, K])"
        )
    return np.asarray(fn(sp.load()), np.int32)


def load_neighbours(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"neighbours file {path} does not exist")
    if path.suffix == ".npz":
        z = load_npz(path, required=("neighbours",))
        arr = z["neighbours"]
    else:
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise CorruptFileError(f"{path}: not a readable .npy file ({e})") from e
    return np.asarray(arr, np.int32)


def make_problem(
    benchmark: Benchmark,
    features: np.ndarray | None = None,
    budget: float | None = None,
    queries: int | None = None,
    neighbours: np.ndarray | None = None,
) -> Problem:
    """A `Problem` over the benchmark's reward/test/time columns (features [N, 0] if none given)."""
    n = len(benchmark)
    if features is None:
        features = np.zeros((n, 0), np.float32)
    if budget is not None and not budget > 0:
        raise ValueError(f"budget must be positive, got {budget}")
    return Problem.create(
        features,
        benchmark.reward,
        benchmark.test,
        benchmark.time,
        max_time=float("inf") if budget is None else float(budget),
        max_queries=queries,
        neighbours=neighbours,
    )
