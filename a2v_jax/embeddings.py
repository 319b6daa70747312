"""Reading an `embeddings.npz` and checking it against the space it claims to describe.

Search (`a2v_jax.search`) and the latent-space analysis (`a2v_jax.analysis`) both take embeddings
files written by pretraining (`embeddings` float [N, d] in the space's cell order, `hash` [N]). A
file whose rows do not line up with the cells would silently describe the wrong architectures, so
every reader goes through `load_embeddings`: the row count must match, every hash (when the file
has them) must be the hash of the cell in that row, and NaN or infinite values are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._io import CorruptFileError, load_npz


def load_embeddings(
    path: str | Path, count: int, space: str | None = None, cells: Any | None = None, what: str = "a benchmark"
) -> np.ndarray:
    """float32 [N, d] from an `embeddings.npz` (`embeddings`, optional `hash`, checked against the
    space's cells) or a plain `.npy` array [N, d] (no hashes: row order is the user's word).

    count: the number of rows expected; space / cells: the hashes are compared with `cells.hash`
    (by default the space's default cell set); what: how error messages name the other side
    ("a benchmark", "the nb201 space"). Raises FileNotFoundError, CorruptFileError (unreadable,
    not float [N, d], NaN or inf) or ValueError (row count or order wrong), each naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"embeddings file {path} does not exist")
    if path.is_dir():
        hint = " (a pretraining run folder? give its embeddings.npz)" if (path / "embeddings.npz").exists() else ""
        raise FileNotFoundError(f"{path} is a folder, not an embeddings file{hint}")
    if path.suffix == ".npy":
        try:
            z = {"embeddings": np.load(path, allow_pickle=False)}
        except (OSError, ValueError) as e:
            raise CorruptFileError(f"{path}: not a readable .npy array ({e})") from e
    else:
        z = load_npz(path, required=("embeddings",))
    emb = np.asarray(z["embeddings"])
    if emb.ndim != 2 or emb.dtype.kind != "f":
        raise CorruptFileError(f"{path}: embeddings must be a float [N, d] array, got {emb.dtype}{emb.shape}")
    if emb.shape[0] != count:
        raise ValueError(f"{path}: {emb.shape[0]:,} embeddings for {what} of {count:,} cells")
    if not np.isfinite(emb).all():
        raise CorruptFileError(f"{path}: embeddings contain NaN or infinite values")
    if "hash" in z and (space is not None or cells is not None):
        if cells is None:
            from .spaces import get_space

            cells = get_space(space).load()
        name = space if space is not None else cells.space
        h = np.asarray(z["hash"]).astype(str)
        expected = np.asarray(cells.hash).astype(str)
        if h.shape != expected.shape:
            raise ValueError(f"{path}: {h.size:,} hashes for the {expected.size:,} cells of {name}")
        bad = np.flatnonzero(h != expected)
        if bad.size:
            raise ValueError(
                f"{path}: embedding rows are not in the {name} cell order ({bad.size:,} hashes differ, first at row {bad[0]})"
            )
    return emb.astype(np.float32)
