"""Where files live and how they are written.

Every file the project writes goes through here so that an interrupted run never leaves a
half-written cache, table or checkpoint behind: data goes to a temporary file in the target's
folder and is renamed over the target only once complete (rename is atomic on one filesystem).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)

CACHE_ENV = "A2V_CACHE"
DATA_ENV = "A2V_DATA"


def cache_dir() -> Path:
    """Cache root: `$A2V_CACHE`, else `~/.cache/a2v_jax`."""
    root = os.environ.get(CACHE_ENV)
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "a2v_jax"
    return path


def shared_data_dir() -> Path:
    """Folder with the public benchmark files: `$A2V_DATA`, else `../shared/data` beside the checkout."""
    root = os.environ.get(DATA_ENV)
    if root:
        return Path(root).expanduser()
    return Path(__file__).resolve().parents[2] / "shared" / "data"


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` if the block succeeds.

    On any exception the temporary file is removed and `path` is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the permissions open() would give
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call `write(fileobj)` on a temporary binary file, then rename it to `path`."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    data = (json.dumps(obj, indent=indent, sort_keys=False, default=_json_default) + "\n").encode()
    return atomic_write(path, lambda f: f.write(data))


def save_npz(path: str | os.PathLike, compressed: bool = False, **arrays: Any) -> Path:
    """Atomically write arrays to `path` (an `.npz`)."""
    saver = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda f: saver(f, **arrays))


class CorruptFileError(ValueError):
    """A file exists but cannot be read as what it claims to be."""


def load_npz(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Read every array of an `.npz` into memory, failing with the path named if it is unreadable
    or lacks one of `required`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as e:
        raise CorruptFileError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e
    missing = [k for k in required if k not in out]
    if missing:
        raise CorruptFileError(f"{path}: missing arrays {missing} (has {sorted(out)})")
    return out


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
