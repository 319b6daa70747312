"""How long the DARTS cell set takes: sampling 600,000 unique cells (and its phases), writing the
cache, and loading it back.

    python benchmarks/bench_darts_sampling.py [--num 600000] [--seed 0] [--workers N] [--load-repeats 5]

Writes benchmarks/results/darts_sampling.json. The build runs once (it is minutes long); the load is
the median of repeats. Wall and CPU seconds are both recorded (CPU includes the hashing workers), and
the load average before and after, since the machine is shared and single runs are noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax._io import write_json  # noqa: E402
from a2v_jax.spaces.darts import SPACE  # noqa: E402
from a2v_jax.spaces.hash_batch import default_workers  # noqa: E402


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--num", type=int, default=600_000, help="cells to sample (default 600000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers", type=int, default=None, help="hashing processes (default: all usable cores)"
    )
    parser.add_argument(
        "--load-repeats", type=int, default=5, help="repeats of the cached load (median reported)"
    )
    parser.add_argument(
        "--cache", default=None, help="cache root (default: a temporary folder, removed after)"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "darts_sampling.json"))
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    workers = default_workers() if args.workers is None else args.workers

    with tempfile.TemporaryDirectory(prefix="bench_darts_") as tmp:
        cache = Path(args.cache) if args.cache else Path(tmp)
        path = SPACE.cache_path(cache, num=args.num, seed=args.seed)
        load_before = os.getloadavg()
        c0, t0 = cpu_seconds(), time.perf_counter()
        cells, sample = SPACE.build_sample(
            args.num, args.seed, workers=workers, progress=not args.no_progress
        )
        sample_wall, sample_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        t1 = time.perf_counter()
        SPACE.write_sample(cells, path, num=args.num, seed=args.seed)
        write_wall = time.perf_counter() - t1
        size = path.stat().st_size
        loads, load_cpus = [], []
        for _ in range(args.load_repeats):
            c0, t0 = cpu_seconds(), time.perf_counter()
            loaded = SPACE.load(cache=cache, num=args.num, seed=args.seed)
            loads.append(time.perf_counter() - t0)
            load_cpus.append(cpu_seconds() - c0)
            assert len(loaded) == args.num and loaded.path == path
        load_after = os.getloadavg()

    phases = {k: round(v, 3) for k, v in sample.seconds.items()}
    result = {
        "benchmark": "darts_sampling",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "num": args.num,
        "seed": args.seed,
        "workers": workers,
        "drawn": sample.drawn,
        "over_600M": sample.over_limit,
        "hashed": sample.hashed,
        "duplicates": sample.duplicates,
        "sample_wall_s": round(sample_wall, 2),
        "sample_cpu_s": round(sample_cpu, 2),
        "phases_wall_s": phases,
        "write_wall_s": round(write_wall, 2),
        "build_and_cache_wall_s": round(sample_wall + write_wall, 2),
        "cache_bytes": size,
        "load_wall_s": [round(x, 3) for x in loads],
        "load_wall_median_s": round(statistics.median(loads), 3),
        "load_cpu_median_s": round(statistics.median(load_cpus), 3),
        "hash_us_per_cell_wall": round(1e6 * sample.seconds["hash"] / max(sample.hashed, 1), 1),
    }
    write_json(args.out, result)

    rows = [
        ("cells sampled", f"{args.num:,} (seed {args.seed}, {workers} hashing processes)"),
        (
            "genotypes drawn",
            f"{sample.drawn:,} ({sample.over_limit:,} over 600M, {sample.over_limit / sample.drawn:.2%})",
        ),
        ("hashed / duplicates", f"{sample.hashed:,} / {sample.duplicates:,}"),
        *[(f"  phase {k}", f"{v:8.2f} s") for k, v in phases.items()],
        ("sample (wall / cpu)", f"{sample_wall:8.2f} s / {sample_cpu:.2f} s"),
        ("write cache", f"{write_wall:8.2f} s ({size / 2**20:.0f} MiB)"),
        ("build + cache", f"{sample_wall + write_wall:8.2f} s"),
        (
            "cached load (median)",
            f"{statistics.median(loads):8.3f} s over {len(loads)} ({min(loads):.3f}-{max(loads):.3f})",
        ),
        ("hash per cell", f"{result['hash_us_per_cell_wall']:8.1f} us wall"),
        ("load average", f"{load_before[0]:.2f} before, {load_after[0]:.2f} after ({os.cpu_count()} cpus)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"\nDARTS sampling benchmark -> {args.out}")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
