"""How fast the NB101 TFRecord file is read, checked and tabulated, and how fast tables load.

The official nasbench_only108.tfrecord (1,270,872 records, ~500 MB) is not shipped, so this
writes a synthetic file of the same shape with the project's writer (423,624 cells x 3 repeats,
official record layout, 3 evaluations per record; see a2v_jax.data.nb101_synthetic) and times:

- frame: walking the records with length-CRC checks only (verify=False);
- frame + CRC: the same plus every payload CRC32C (vectorised NumPy);
- parse: the full `read_records` (framing, CRCs, JSON, base64, protobuf, checks) -> arrays;
- table: the join by hash with a 423,624-cell set and the repeat means;
- save / load of the resulting Benchmark, and load of the NB201 tables when they are cached.

With --from-space the records carry the real hashes and official graphs of the NB101 space
(`get_space("nb101").load()`), the table is built against that cell set and every record's graph
is compared with its cell's (graph_mismatches must be 0).

Usage: python benchmarks/bench_nb101_tfrecord.py [--repeats 3] [--cells 423624] [--regenerate] [--from-space]
Prints a table and writes benchmarks/results/nb101_tfrecord.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax._io import cache_dir, write_json  # noqa: E402
from a2v_jax.data import benchmark_path, load_benchmark  # noqa: E402
from a2v_jax.data.benchmark import Benchmark  # noqa: E402
from a2v_jax.data.crc32c import crc32c, crc32c_many  # noqa: E402
from a2v_jax.data.nb101 import build_table, read_records  # noqa: E402
from a2v_jax.data.nb101_synthetic import (  # noqa: E402
    NUM_CELLS,
    cells_from_cellset,
    synthetic_cells,
    write_synthetic,
)
from a2v_jax.data.tfrecord import iter_blocks  # noqa: E402
from a2v_jax.spaces.base import CellSet  # noqa: E402


def timed(fn, repeats):
    runs, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=NUM_CELLS, help="cells in the synthetic file (x3 records)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median reported)")
    ap.add_argument("--regenerate", action="store_true", help="write the synthetic file again")
    ap.add_argument("--from-space", action="store_true", help="use the NB101 space's real hashes and graphs")
    ap.add_argument("--out", default=None, help="JSON output (default benchmarks/results/nb101_tfrecord[_space].json)")
    args = ap.parse_args()

    work = cache_dir() / "bench"
    op_names = None
    if args.from_space:
        from a2v_jax.spaces import get_space

        space = get_space("nb101")
        cellset = space.load(verbose=True)
        op_names = space.op_names
        cells = cells_from_cellset(cellset, op_names)
        args.cells = len(cellset)
        path = work / "space_nb101_x3.tfrecord"
    else:
        cells = synthetic_cells(args.cells)  # same seed as the file's cells
        cellset = CellSet(
            "nb101", np.zeros((args.cells, 7, 7), np.uint8), np.zeros((args.cells, 7), np.int8), cells.hash
        )
        path = work / f"synthetic_nb101_{args.cells}x3.tfrecord"
    rows = []
    write_s = None
    if args.regenerate or not path.exists():
        t0 = time.perf_counter()
        write_synthetic(path, cells=cells)
        write_s = time.perf_counter() - t0
    size = path.stat().st_size
    n_records = 3 * args.cells
    load_before = os.getloadavg()

    frame_s, frame_runs, _ = timed(lambda: sum(len(b) for b in iter_blocks(path, verify=False)), args.repeats)
    crc_s, crc_runs, count = timed(lambda: sum(len(b) for b in iter_blocks(path)), args.repeats)
    assert count == n_records
    parse_s, parse_runs, records = timed(lambda: read_records(path), args.repeats)
    assert len(records) == n_records and records.slow_path == 0

    table_s, table_runs, bench = timed(lambda: build_table(records, cellset, op_names=op_names), args.repeats)
    assert bench.metadata["missing_cells"] == 0
    assert op_names is None or bench.metadata["graph_mismatches"] == 0
    bench_file = work / "benchmarks" / "nb101-cifar10.npz"
    save_s, save_runs, _ = timed(lambda: bench.save(bench_file), args.repeats)
    load_s, load_runs, loaded = timed(lambda: Benchmark.load(bench_file), max(5, args.repeats))
    assert loaded.oracle() == bench.oracle()

    # CRC alone over the whole file, and the plain table-driven CRC for comparison
    raw = np.fromfile(path, dtype=np.uint8)
    starts = np.concatenate([b.starts + b.offset for b in iter_blocks(path, verify=False)])
    lengths = np.concatenate([b.lengths for b in iter_blocks(path, verify=False)])
    crc_only_s, crc_only_runs, _ = timed(lambda: crc32c_many(raw, starts, lengths), args.repeats)
    sample = raw[: 1 << 20].tobytes()
    scalar_s, _, _ = timed(lambda: crc32c(sample), 1)

    nb201 = {}
    try:
        for ds in ("cifar10", "cifar100", "ImageNet16-120"):
            load_benchmark("nb201", ds)  # build once if needed
            p = benchmark_path("nb201", ds)
            s, runs, _ = timed(lambda p=p: Benchmark.load(p), 5)
            nb201[ds] = {"load_seconds": s, "runs": runs}
    except FileNotFoundError as e:
        nb201 = {"skipped": str(e)}

    mb = size / 1e6
    for name, s, runs in (
        ("frame (length CRCs only)", frame_s, frame_runs),
        ("frame + payload CRC32C", crc_s, crc_runs),
        ("payload CRC32C alone (in memory)", crc_only_s, crc_only_runs),
        ("full parse -> arrays", parse_s, parse_runs),
        ("table (join + repeat means)", table_s, table_runs),
        ("Benchmark.save", save_s, save_runs),
        ("Benchmark.load (NB101, 423,624 rows)", load_s, load_runs),
    ):
        rows.append({"step": name, "seconds": s, "runs": runs, "records_per_s": n_records / s, "MB_per_s": mb / s})
    result = {
        "file": {"path": str(path), "bytes": size, "records": n_records, "cells": args.cells,
                 "written_seconds": write_s, "from_space": args.from_space},
        "graph_mismatches": bench.metadata["graph_mismatches"],
        "steps": rows,
        "scalar_crc32c_MB_per_s": (len(sample) / 1e6) / scalar_s,
        "parse_seconds_for_1270872_records": parse_s * 1_270_872 / n_records,
        "nb101_table_bytes": bench_file.stat().st_size,
        "nb201_load": nb201,
        "machine": {"cpus": os.cpu_count(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                    "python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(f"synthetic NB101 file: {n_records:,} records, {mb:.0f} MB ({path})")
    print(f"{'step':<40}{'median s':>10}{'records/s':>14}{'MB/s':>10}")
    for r in rows:
        print(f"{r['step']:<40}{r['seconds']:>10.3f}{r['records_per_s']:>14,.0f}{r['MB_per_s']:>10.1f}")
    print(f"plain table-driven CRC32C: {result['scalar_crc32c_MB_per_s']:.1f} MB/s")
    for ds, v in nb201.items():
        if isinstance(v, dict):
            print(f"Benchmark.load NB201 {ds}: {v['load_seconds'] * 1e3:.1f} ms")
        else:
            print(f"NB201: {v}")
    print(f"load average before/after: {load_before} / {result['machine']['loadavg_after']}")
    out = args.out or str(ROOT / "benchmarks" / "results" / f"nb101_tfrecord{'_space' if args.from_space else ''}.json")
    write_json(out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
