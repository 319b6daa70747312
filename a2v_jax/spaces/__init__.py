"""Search spaces: NAS-Bench-101, NAS-Bench-201 and DARTS behind one small face (see `base`).

Each space is one module defining `SPACE` (a `SearchSpace`: vocabulary, validity, hashing, cached
cells, mutation neighbours) and `PROFILE` (a `SpaceProfile`: datasets with benchmark tables,
budgets, pretraining epochs, the published search settings). A new space is such a module plus
one line in `_MODULES`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .base import PAD_OP, CellSet, SearchSpace
from .graph_hash import hash_module, prune
from .profile import DatasetProfile, NoBenchmarkError, SpaceProfile, UnknownDatasetError

_MODULES = {"nb101": "nb101", "nb201": "nb201", "darts": "darts"}

SPACE_NAMES: tuple[str, ...] = tuple(_MODULES)


class UnknownSpaceError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def space_key(name: str) -> str:
    """The registry name of a space (case, '-' and '_' ignored); UnknownSpaceError if there is none."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in _MODULES:
        raise UnknownSpaceError(f"unknown search space {name!r}; choose one of {', '.join(SPACE_NAMES)}")
    return key


def _module(name: str) -> ModuleType:
    return importlib.import_module(f".{_MODULES[space_key(name)]}", __name__)


def get_space(name: str) -> SearchSpace:
    """The space called `name` (one of SPACE_NAMES, case-insensitive)."""
    return _module(name).SPACE


def get_profile(name: str) -> SpaceProfile:
    """The profile of the space called `name` (datasets, budgets, epochs, published settings)."""
    return _module(name).PROFILE


def spaces_with_benchmarks() -> tuple[str, ...]:
    """Names of the spaces that have benchmark tables (searchable out of the box)."""
    return tuple(n for n in SPACE_NAMES if get_profile(n).datasets)


__all__ = [
    "PAD_OP",
    "SPACE_NAMES",
    "CellSet",
    "DatasetProfile",
    "NoBenchmarkError",
    "SearchSpace",
    "SpaceProfile",
    "UnknownDatasetError",
    "UnknownSpaceError",
    "get_profile",
    "get_space",
    "hash_module",
    "prune",
    "space_key",
    "spaces_with_benchmarks",
]
