"""`python -m a2v_jax.spaces SPACE`: build (or load the cached) cell set and summarise it."""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from .._io import CorruptFileError
from . import SPACE_NAMES, UnknownSpaceError, get_space


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m a2v_jax.spaces",
        description=(
            "Build or load the cached cell set of a search space and print a summary. "
            "nb101: all 423,624 NAS-Bench-101 cells, enumerated offline; nb201: the 15,625 NAS-Bench-201 "
            "cells in official index order; darts: a seeded sample of unique DARTS cells (default 600,000). "
            "The cache lives under $A2V_CACHE (default ~/.cache/a2v_jax)."
        ),
    )
    parser.add_argument("space", help=f"one of {', '.join(SPACE_NAMES)}")
    parser.add_argument("--num", type=int, default=None, help="darts: number of cells to sample (default 600000)")
    parser.add_argument("--seed", type=int, default=None, help="darts: sampling seed (default 0)")
    parser.add_argument("--cache", default=None, help="cache root (overrides $A2V_CACHE)")
    parser.add_argument("--rebuild", action="store_true", help="ignore an existing cache and build again")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--neighbours",
        action="store_true",
        help="also build (or load) the mutation-neighbour table used by regularized evolution (nb101)",
    )
    args = parser.parse_args(argv)

    try:
        space = get_space(args.space)
    except UnknownSpaceError as e:
        parser.error(str(e))
    options = {k: v for k, v in (("num", args.num), ("seed", args.seed)) if v is not None}
    unsupported = sorted(set(options) - set(space.build_options))
    if unsupported:
        parser.error(f"{space.name} takes no {', '.join('--' + o for o in unsupported)}")

    t0 = time.perf_counter()
    try:
        cells = space.load(cache=args.cache, rebuild=args.rebuild, verbose=not args.json, **options)
    except (CorruptFileError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - t0

    counts = {int(k): int(v) for k, v in zip(*np.unique(cells.num_vertices, return_counts=True), strict=True)}
    summary = {
        "space": space.name,
        "count": len(cells),
        "path": str(cells.path),
        "seconds": round(seconds, 3),
        "num_nodes": space.num_nodes,
        "op_names": list(space.op_names),
        "vertices": counts,
        **options,
    }
    if args.neighbours:
        t1 = time.perf_counter()
        try:
            table = space.neighbours(cells)
        except NotImplementedError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        real = (table >= 0).sum(axis=1)
        summary["neighbours"] = {
            "shape": list(table.shape),
            "mean": round(float(real.mean()), 3),
            "min": int(real.min()),
            "seconds": round(time.perf_counter() - t1, 3),
        }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{space.name}: {len(cells):,} cells of up to {space.num_nodes} nodes")
        print(f"  ops:      {', '.join(space.op_names)}")
        print(f"  vertices: {', '.join(f'{k}: {v:,}' for k, v in counts.items())}")
        print(f"  cache:    {cells.path}")
        print(f"  time:     {seconds:.2f} s")
        if "neighbours" in summary:
            nb = summary["neighbours"]
            print(
                f"  neighbours: up to {nb['shape'][1]} per cell, mean {nb['mean']:.1f}, min {nb['min']} "
                f"({nb['seconds']:.2f} s)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
