"""Read pickled data files without letting them run code.

`pickle.load` calls whatever callable a file names, so a tampered download could execute
anything. These files are plain data (a dict of NumPy arrays; a pandas DataFrame), so the
unpickler resolves only the handful of NumPy/pandas/builtins names such data needs and refuses
everything else with an error naming the file and the forbidden global.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
from pathlib import Path
from typing import Any

from .._io import CorruptFileError

_NUMPY = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}
_PANDAS = {
    ("pandas.core.frame", "DataFrame"),
    ("pandas.core.series", "Series"),
    ("pandas.core.internals.managers", "BlockManager"),
    ("pandas.core.internals.managers", "SingleBlockManager"),
    ("pandas.core.internals.blocks", "new_block"),
    ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.indexes.base", "Index"),
    ("pandas.core.indexes.range", "RangeIndex"),
}
_BUILTINS = {("builtins", "slice")}
ALLOWED = frozenset(_NUMPY | _PANDAS | _BUILTINS)


class UnsafePickleError(CorruptFileError):
    """A pickle names a global outside the allowed data types."""


class _DataUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: str, allowed: frozenset[tuple[str, str]]) -> None:
        super().__init__(file)
        self._path = path
        self._allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._allowed:
            raise UnsafePickleError(
                f"{self._path}: refuses to load {module}.{name}: only plain NumPy/pandas data is read from pickles"
            )
        if module.startswith("numpy.core.") or module.startswith("numpy._core."):
            # NumPy 2 moved numpy.core to numpy._core; resolve whichever this NumPy has.
            tail = module.split(".", 2)[2]
            for base in ("numpy._core", "numpy.core"):
                try:
                    return getattr(importlib.import_module(f"{base}.{tail}"), name)
                except (ImportError, AttributeError):
                    continue
        return getattr(importlib.import_module(module), name)


def load_pickle(path: str | os.PathLike, allowed: frozenset[tuple[str, str]] = ALLOWED) -> Any:
    """Unpickle `path` allowing only `allowed` globals; any failure names the file."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(2)
        if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
            # binary pickles (protocol 2+) start with PROTO; anything else (text, CSV, a protocol-0
            # pickle) is refused up front, as interpreting arbitrary bytes as opcodes can take minutes
            raise CorruptFileError(f"{path}: not a pickle file of protocol 2-5 (starts with {head!r})")
        f.seek(0)
        try:
            return _DataUnpickler(f, str(path), allowed).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
                ImportError, MemoryError, UnicodeDecodeError) as e:
            raise CorruptFileError(f"{path}: not a readable pickle ({type(e).__name__}: {e})") from e
