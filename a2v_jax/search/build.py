"""From files to a `Problem`: benchmark table, embeddings, mutation neighbours, budget.

A search needs four aligned columns (reward, test, cost; `valid` for reporting) from a `Benchmark`,
plus whatever its strategy `NEEDS`: embeddings, the space's mutation table, or the cells' graphs.
Each source is checked against the others (row counts, and embedding hashes against the space's
cells when both are available) so that a misaligned file fails loudly instead of silently searching
the wrong architectures.

Cells without results (an NB101 table built with `allow_missing` keeps NaN rows for cells absent
from its source file) are left out of the `Problem`: a search only ever queries cells it can score.
`SearchData.cells` maps the problem's rows back to the benchmark's cell indices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import CorruptFileError, load_npz
from ..data.benchmark import Benchmark
from ..embeddings import load_embeddings  # noqa: F401  (where search.api and benchmarks import it from)
from ..spaces import get_profile, get_space
from .problem import Problem


def default_budget(space: str, dataset: str) -> float:
    """The published runs' budget in simulated seconds for a space's dataset (its profile)."""
    return get_profile(space).dataset(dataset).budget


def load_benchmark_for(space: str, dataset: str, benchmark: Benchmark | str | Path | None = None) -> Benchmark:
    """The benchmark table: given, read from a saved `.npz`, or from `a2v_jax.data.load_benchmark`."""
    if isinstance(benchmark, Benchmark):
        bench = benchmark
    elif benchmark is not None:
        path = Path(benchmark)
        if not path.is_file():
            raise FileNotFoundError(f"benchmark file {path} does not exist" if not path.exists() else f"{path} is not a file")
        bench = Benchmark.load(path)
    else:
        from ..data import load_benchmark

        bench = load_benchmark(space, dataset)
    if bench.space.lower() != space.lower():
        raise ValueError(f"benchmark is for space {bench.space!r}, not {space!r}")
    return bench


def space_neighbours(space: str) -> np.ndarray:
    """int32 [N, K] mutation neighbours (-1 padded) from the space module's `neighbours(cells)`."""
    sp = get_space(space)
    return np.asarray(sp.neighbours(sp.load()), np.int32)


def load_neighbours(path: str | Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"neighbours file {path} does not exist" if not path.exists() else f"{path} is not a file")
    if path.suffix == ".npz":
        arr = load_npz(path, required=("neighbours",))["neighbours"]
    else:
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise CorruptFileError(f"{path}: not a readable .npy file ({e})") from e
    return np.asarray(arr, np.int32)


@dataclass
class SearchData:
    """A `Problem` over the cells of `benchmark` that have results, and the map back.

    cells: int [M] benchmark index of each problem row (all cells when none is missing).
    """

    benchmark: Benchmark
    problem: Problem
    cells: np.ndarray

    @property
    def missing(self) -> int:
        return len(self.benchmark) - int(self.cells.size)

    def to_benchmark_index(self, index: np.ndarray) -> np.ndarray:
        """Problem row indices (-1 = none) as benchmark cell indices."""
        index = np.asarray(index)
        return np.where(index >= 0, self.cells[np.maximum(index, 0)], -1).astype(index.dtype)


def make_problem(
    benchmark: Benchmark,
    features: np.ndarray | None = None,
    budget: float | None = None,
    queries: int | None = None,
    neighbours: np.ndarray | None = None,
    cells: tuple[np.ndarray, np.ndarray, int] | None = None,
) -> SearchData:
    """A `Problem` over the benchmark's reward/test/time columns (features [N, 0] if none given),
    restricted to the cells with results. `cells`: (adjacency, ops, number of op kinds) of every
    benchmark row, for strategies that encode the graphs themselves."""
    n = len(benchmark)
    if budget is not None and not budget > 0:
        raise ValueError(f"budget must be positive, got {budget}")
    keep = benchmark.has_results()
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise ValueError(f"the {benchmark.space}/{benchmark.dataset} table has no cell with results")
    if features is None:
        features = np.zeros((n, 0), np.float32)
    if neighbours is not None and rows.size < n:
        neighbours = np.asarray(neighbours)
        new_row = np.full(n + 1, -1, np.int64)  # index -1 (no neighbour) reads the last entry
        new_row[rows] = np.arange(rows.size)
        neighbours = new_row[neighbours[rows]].astype(np.int32)
    pick = (lambda a: np.asarray(a)[rows]) if rows.size < n else np.asarray  # noqa: E731
    if cells is not None:
        cells = (pick(cells[0]), pick(cells[1]), int(cells[2]))
    problem = Problem.create(
        pick(features),
        pick(benchmark.reward),
        pick(benchmark.test),
        pick(benchmark.time),
        max_time=float("inf") if budget is None else float(budget),
        max_queries=queries,
        neighbours=neighbours,
        cells=cells,
    )
    return SearchData(benchmark, problem, rows)


def describe_need(need: str) -> str:
    return {"features": "architecture embeddings (--embeddings)", "neighbours": "the space's mutation table",
            "cells": "the cells' graphs"}.get(need, need)


def gather_inputs(
    needs: frozenset[str], space: str, bench: Benchmark, embeddings: Any = None, neighbours: Any = None, method: str = "?"
) -> dict[str, Any]:
    """The inputs a strategy `NEEDS`, loaded and checked; refuses inputs it does not use."""
    out: dict[str, Any] = {}
    n = len(bench)
    if "features" in needs:
        if embeddings is None:
            raise ValueError(f"method {method!r} searches over embeddings: give --embeddings (an embeddings.npz)")
        out["features"] = (
            np.asarray(embeddings, np.float32) if isinstance(embeddings, np.ndarray) else load_embeddings(embeddings, n, space)
        )
        if out["features"].shape[0] != n or out["features"].ndim != 2:
            raise ValueError(f"embeddings {out['features'].shape} do not match the {n:,} cells of the benchmark")
    elif embeddings is not None:
        raise ValueError(f"method {method!r} does not use embeddings; leave out --embeddings")
    if "neighbours" in needs:
        if neighbours is None:
            out["neighbours"] = space_neighbours(space)
        elif isinstance(neighbours, np.ndarray):
            out["neighbours"] = np.asarray(neighbours, np.int32)
        else:
            out["neighbours"] = load_neighbours(neighbours)
    elif neighbours is not None:
        raise ValueError(f"method {method!r} does not use a mutation table; leave out --neighbours")
    if "cells" in needs:
        out["cells"] = space_cells(space, n)
    return out


def space_cells(space: str, count: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(adjacency, ops, number of op kinds) of the space's cells, checked against a table of `count` rows."""
    sp = get_space(space)
    cells = sp.load()
    if len(cells) != count:
        raise ValueError(
            f"the benchmark has {count:,} rows but the {space} space {len(cells):,} cells: methods that encode "
            "the cells' graphs need a table in the space's cell order"
        )
    return cells.adjacency, cells.ops, sp.num_ops
