"""One table format for what every cell of a space scored on one dataset.

A `Benchmark` is a set of named float columns, each aligned with the space's cell order (row i is
cell i of `get_space(space).load()`), plus metadata saying where the numbers came from. Four
columns have fixed roles, because search needs exactly these:

- `reward`: what a search observes when it queries a cell (a validation accuracy);
- `valid`:  the final validation accuracy (reported as `best_valid`);
- `test`:   the test accuracy a search reports for its incumbent;
- `time`:   the simulated seconds charged for querying the cell.

Accuracies are fractions in [0, 1], times seconds, everywhere. Which source column plays which
role is recorded in `metadata["roles"]` (e.g. NB201 CIFAR-10 rewards the 12-epoch cifar10-valid
accuracy and charges an approximated 12-epoch time, as the paper does).

Beyond the first contract: a column may be 2-D ([N, R]: one value per training repeat or seed) or
hold text (NB201's architecture strings, for alignment checks); `metadata["units"]` names each
column's unit and `metadata["sources"]` the files (with sha256) a table was built from. A role
column that is the same array as the named column it stands for is stored once and restored as
an alias on load, which keeps NB101's 423,624-row table small and its load well under a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import CorruptFileError, load_npz, save_npz

ROLES = ("reward", "valid", "test", "time")
FORMAT_VERSION = 2
"""2: role columns may be stored as aliases of named columns (`stored_as_alias`); 1 is read too."""
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Benchmark:
    space: str
    dataset: str
    columns: dict[str, np.ndarray]
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [r for r in ROLES if r not in self.columns]
        if missing:
            raise ValueError(f"benchmark {self.space}/{self.dataset} lacks role columns {missing}")
        sizes = {k: np.shape(v) for k, v in self.columns.items()}
        if len({s[0] if s else -1 for s in sizes.values()}) != 1:
            raise ValueError(f"benchmark columns differ in length: {sizes}")
        for role, col in self.metadata.get("roles", {}).items():
            if col not in self.columns:
                raise ValueError(f"role {role!r} names column {col!r}, which the table lacks")
        unknown = sorted(set(self.metadata.get("units", {})) - set(self.columns))
        if unknown:
            raise ValueError(f"units given for columns the table lacks: {unknown}")

    def __len__(self) -> int:
        return int(np.shape(self.columns["reward"])[0])

    @property
    def reward(self) -> np.ndarray:
        return self.columns["reward"]

    @property
    def valid(self) -> np.ndarray:
        return self.columns["valid"]

    @property
    def test(self) -> np.ndarray:
        return self.columns["test"]

    @property
    def time(self) -> np.ndarray:
        return self.columns["time"]

    @property
    def units(self) -> dict[str, str]:
        """Unit of each column (`fraction`, `seconds`, `count`, ...), where recorded."""
        return dict(self.metadata.get("units", {}))

    def has_results(self) -> np.ndarray:
        """bool [N]: cells whose reward, test and time are all known (NB101 tables built with
        `allow_missing` hold NaN rows for cells absent from the source file)."""
        ok = np.ones(len(self), bool)
        for role in ("reward", "test", "time"):
            col = np.asarray(self.columns[role], dtype=np.float64)
            ok &= np.isfinite(col.reshape(len(self), -1)).all(axis=1)
        return ok

    @property
    def missing(self) -> int:
        """Number of cells without results (see `has_results`)."""
        return int((~self.has_results()).sum())

    def oracle(self) -> dict[str, float | int]:
        """Best values over the whole table: regret is measured against these."""
        out: dict[str, float | int] = {"count": len(self)}
        for role in ("reward", "valid", "test"):
            col = np.asarray(self.columns[role], dtype=np.float64)
            i = int(np.nanargmax(col))
            out[f"best_{role}"] = float(col[i])
            out[f"best_{role}_index"] = i
        return out

    def save(self, path: str | Path) -> Path:
        roles = self.metadata.get("roles", {})
        aliases = {
            r: c for r, c in roles.items()
            if r in ROLES and c != r and c in self.columns and _same(self.columns[r], self.columns[c])
        }
        meta = {
            **self.metadata, "space": self.space, "dataset": self.dataset, "oracle": self.oracle(),
            "stored_as_alias": aliases,
        }
        return save_npz(
            path,
            format_version=np.int64(FORMAT_VERSION),
            metadata=np.array(json.dumps(meta)),
            **{f"col_{k}": np.asarray(v) for k, v in self.columns.items() if k not in aliases},
        )

    @classmethod
    def load(cls, path: str | Path) -> Benchmark:
        z = load_npz(path, required=("format_version", "metadata"))
        if int(z["format_version"]) not in READABLE_VERSIONS:
            raise CorruptFileError(
                f"{path}: benchmark format {int(z['format_version'])}, this version reads {READABLE_VERSIONS}"
            )
        try:
            meta = json.loads(str(z["metadata"]))
        except json.JSONDecodeError as e:
            raise CorruptFileError(f"{path}: metadata is not JSON ({e})") from e
        columns = {k[4:]: v for k, v in z.items() if k.startswith("col_")}
        for role, col in meta.pop("stored_as_alias", {}).items():
            if col not in columns:
                raise CorruptFileError(f"{path}: role {role!r} refers to missing column {col!r}")
            columns[role] = columns[col]
        try:
            return cls(meta.pop("space"), meta.pop("dataset"), columns, meta)
        except (KeyError, ValueError) as e:
            raise CorruptFileError(f"{path}: {e}") from e


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a is b:
        return True
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))
