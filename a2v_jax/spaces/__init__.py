"""Search spaces: NAS-Bench-101, NAS-Bench-201 and DARTS behind one small face (see `base`)."""

from __future__ import annotations

import importlib

from .base import PAD_OP, CellSet, SearchSpace
from .graph_hash import hash_module, prune

SPACE_NAMES: tuple[str, ...] = ("nb101", "nb201", "darts")

_MODULES = {"nb101": "nb101", "nb201": "nb201", "darts": "darts"}


class UnknownSpaceError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def get_space(name: str) -> SearchSpace:
    """The space called `name` (one of SPACE_NAMES, case-insensitive)."""
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in _MODULES:
        raise UnknownSpaceError(f"unknown search space {name!r}; choose one of {', '.join(SPACE_NAMES)}")
    module = importlib.import_module(f".{_MODULES[key]}", __name__)
    return module.SPACE


__all__ = ["PAD_OP", "SPACE_NAMES", "CellSet", "SearchSpace", "UnknownSpaceError", "get_space", "hash_module", "prune"]
