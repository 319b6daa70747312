"""Where the benchmark scripts get NB201 tables, neighbours and embeddings.

The project's own sources come first (`a2v_jax.data.load_benchmark`, the nb201 space module's
`neighbours`); where this installation lacks them, the builder used by the tests
(tests/nb201_tables.py, straight from the public files in the shared data folder) stands in, and
the scripts record which source was used.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _tests_builder():
    sys.path.insert(0, str(ROOT / "tests"))
    import nb201_tables

    return nb201_tables


def nb201_benchmark(dataset: str):
    """(Benchmark, source description)."""
    try:
        from a2v_jax.data import load_benchmark  # type: ignore[attr-defined]
    except ImportError:
        return _tests_builder().nb201_benchmark(dataset), "tests/nb201_tables.py (a2v_jax.data.load_benchmark not installed)"
    return load_benchmark("nb201", dataset), "a2v_jax.data.load_benchmark"


def nb201_neighbours():
    try:
        from a2v_jax.search.build import space_neighbours

        return space_neighbours("nb201"), "nb201 space module"
    except (ImportError, KeyError, RuntimeError):
        return _tests_builder().nb201_neighbours(), "tests/nb201_tables.py (nb201 space module lacks neighbours)"


def stand_in_embeddings() -> tuple[np.ndarray, str]:
    """One-hot ops projected to 16-d, divided by 4: structured, but not learned (see tests/test_search_quality.py)."""
    return _tests_builder().onehot_embeddings() / 4, "one-hot op encoding x fixed Gaussian projection / 4 (stand-in)"
