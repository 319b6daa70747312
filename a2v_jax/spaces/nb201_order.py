"""The official NAS-Bench-201 index order, embedded so the cell set builds with no download.

NAS-Bench-201 numbers its 15,625 cells in an order fixed when the benchmark was trained; it is not
a product order over the six edges, so it cannot be computed and has to be stored. Every public
file of the benchmark lists its rows in this order (the `cellstr` column of the mini-bench pickle,
`ArchitectureString` of the NATS-Bench CSV, the official `.pth`'s `meta_archs`).

The package stores it as `data/nb201_order.npz`: `codes`, uint16 [15625], the base-5 code of cell i
(see `nb201.encode_codes`), and `sha1`, a digest of the codes that catches a damaged file.

Regenerate (or verify) it from any public file:

    python -m a2v_jax.spaces.nb201_order path/to/nats_bench.csv          # or the .pd / a text file
    python -m a2v_jax.spaces.nb201_order path/to/file --check            # compare, write nothing
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np

from .._io import CorruptFileError, load_npz, save_npz

NUM_CELLS = 15_625
ORDER_FILE = Path(__file__).resolve().parent / "data" / "nb201_order.npz"


def codes_digest(codes: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(codes, dtype="<u2").tobytes()).hexdigest()


@lru_cache(maxsize=1)
def _load_codes(path: str) -> np.ndarray:
    z = load_npz(path, required=("codes", "sha1"))
    codes = z["codes"]
    if codes.dtype != np.uint16 or codes.shape != (NUM_CELLS,):
        raise CorruptFileError(f"{path}: codes {codes.dtype}{codes.shape}, expected uint16[{NUM_CELLS}]")
    if str(z["sha1"]) != codes_digest(codes):
        raise CorruptFileError(f"{path}: codes do not match their stored digest")
    if not np.array_equal(np.sort(codes), np.arange(NUM_CELLS)):
        raise CorruptFileError(f"{path}: codes are not a permutation of 0..{NUM_CELLS - 1}")
    codes.setflags(write=False)
    return codes


def official_codes(path: str | Path | None = None) -> np.ndarray:
    """uint16 [15625], read-only: the base-5 code of the cell at each official index."""
    return _load_codes(str(path or ORDER_FILE))


def strings_from_file(path: str | Path) -> list[str]:
    """The architecture strings of a public NB201 file, in its row order.

    Accepts the mini-bench pandas pickle (`cellstr`), the NATS-Bench CSV (`ArchitectureString`) or a
    text file of one architecture string per line.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.suffix in (".pd", ".pkl", ".pickle"):
        import pandas as pd

        frame = pd.read_pickle(path)
        column = "cellstr" if "cellstr" in frame.columns else "arch_str"
        if column not in frame.columns:
            raise ValueError(f"{path}: no 'cellstr' column (has {list(frame.columns)})")
        return [str(s) for s in frame[column].tolist()]
    if path.suffix == ".csv":
        import pandas as pd

        frame = pd.read_csv(path, usecols=lambda c: c == "ArchitectureString")
        if "ArchitectureString" not in frame.columns:
            raise ValueError(f"{path}: no 'ArchitectureString' column")
        return [str(s) for s in frame["ArchitectureString"].tolist()]
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def codes_from_file(path: str | Path) -> np.ndarray:
    """uint16 codes of a public file's rows (ValueError naming the row of a malformed string)."""
    from .nb201 import encode_codes, parse_arch

    strings = strings_from_file(path)
    ops = np.empty((len(strings), 6), dtype=np.int8)
    for i, s in enumerate(strings):
        try:
            ops[i] = parse_arch(s)[1:7]
        except ValueError as e:
            raise ValueError(f"{path}: row {i}: {e}") from e
    return encode_codes(ops)


def write_codes(codes: np.ndarray, path: str | Path = ORDER_FILE) -> Path:
    codes = np.asarray(codes, dtype=np.uint16)
    if codes.shape != (NUM_CELLS,) or not np.array_equal(np.sort(codes), np.arange(NUM_CELLS)):
        raise ValueError(f"expected a permutation of the {NUM_CELLS:,} cells, got {codes.shape[0]:,} codes")
    out = save_npz(path, compressed=True, codes=codes, sha1=np.array(codes_digest(codes)))
    _load_codes.cache_clear()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.spaces.nb201_order",
        description="Regenerate (or --check) the embedded NAS-Bench-201 index order from a public file: "
        "mini-bench-arch-cell-accs.pd, nats_bench.csv, or a text file of architecture strings.",
    )
    p.add_argument("source", type=Path, help="public file listing the 15,625 architectures in index order")
    p.add_argument("--out", type=Path, default=ORDER_FILE, help=f"where to write (default {ORDER_FILE})")
    p.add_argument("--check", action="store_true", help="only compare the file's order with the embedded one")
    args = p.parse_args(argv)
    try:
        codes = codes_from_file(args.source)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.check:
        ours = official_codes(args.out)
        if codes.shape != ours.shape or not np.array_equal(codes, ours):
            bad = np.flatnonzero(codes != ours)[0] if codes.shape == ours.shape else None
            print(f"differs from {args.out}" + (f" first at index {bad}" if bad is not None else ""))
            return 1
        print(f"{args.source}: same order as {args.out} ({NUM_CELLS:,} cells)")
        return 0
    write_codes(codes, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
