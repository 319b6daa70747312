"""How long the NAS-Bench-101 cell set takes: full enumeration (and its phases), cached load,
mutation-neighbour table, batched validity and lookup.

    python benchmarks/bench_nb101_enumeration.py [--repeats 3] [--build-repeats 1] [--workers N]

Writes benchmarks/results/nb101_enumeration.json. Times are medians over repeats; the machine's load
average is recorded before and after, since a shared machine makes single runs noisy.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax._io import write_json  # noqa: E402
from a2v_jax.spaces import nb101_canonical as canon  # noqa: E402
from a2v_jax.spaces.nb101 import SPACE  # noqa: E402


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the hashing workers): less noisy than wall
    time on a shared machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, repeats: int) -> tuple[float, list[float], list[float], object]:
    times, cpus, out = [], [], None
    for _ in range(repeats):
        c0, t0 = cpu_seconds(), time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(cpu_seconds() - c0)
    return statistics.median(times), times, cpus, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the quick phases (median reported)")
    parser.add_argument("--build-repeats", type=int, default=1, help="repeats of the full build and neighbour table")
    parser.add_argument("--workers", type=int, default=None, help="hashing processes (default: all cores)")
    parser.add_argument("--cache", default=None, help="cache root to use (default: a temporary folder)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "nb101_enumeration.json"))
    args = parser.parse_args(argv)

    tmp = None
    if args.cache is None:
        tmp = tempfile.TemporaryDirectory(prefix="a2v_bench_nb101_")
        cache = Path(tmp.name)
    else:
        cache = Path(args.cache)
    load_before = os.getloadavg()
    rows: list[tuple[str, float, list[float], list[float], str]] = []

    def record(name: str, fn, repeats: int, note: str = ""):
        median, times, cpus, out = timed(fn, repeats)
        rows.append((name, median, times, cpus, note))
        print(f"{name:<36} {median:9.3f} s  (cpu {statistics.median(cpus):8.3f} s)  {note}", flush=True)
        return out

    def note(text: str) -> None:
        rows[-1] = (*rows[-1][:4], text)
        print(f"{'':<36} {text}", flush=True)

    def table_fresh():
        canon.matrix_table.cache_clear()
        return canon.matrix_table()

    table = record("matrix table", table_fresh, args.repeats, "")
    note(f"{len(table):,} full-DAG matrices, {len(table.perms):,} renumberings")
    n, bits, labels = record("canonical classes", canon.enumerate_classes, args.repeats)
    note(f"{n.size:,} classes")
    record(
        "MD5 of class representatives",
        lambda: canon.hash_graphs(n, bits, labels, workers=args.workers),
        args.build_repeats,
        f"workers={args.workers or 'all cores'} ({os.cpu_count()} cores)",
    )
    cells = record(
        "full build (all phases)", lambda: SPACE.build(progress=False, workers=args.workers), args.build_repeats
    )
    path = SPACE.cache_path(cache)
    record("write cache", lambda: SPACE.write(cells, path), args.repeats)
    note(f"{path.stat().st_size / 2**20:.0f} MiB")
    loaded = record("cached load (in process)", lambda: SPACE.load(cache=cache), args.repeats, "read + checks")
    code = (
        "import time; t=time.perf_counter(); from a2v_jax.spaces import get_space; "
        f"get_space('nb101').load(cache={str(cache)!r}); print(time.perf_counter()-t)"
    )

    def fresh_process_load() -> float:
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        return float(out.stdout.strip())

    inner = [fresh_process_load() for _ in range(args.repeats)]
    rows.append(("cached load (new process, + import)", statistics.median(inner), inner, [], ""))
    print(f"{rows[-1][0]:<36} {rows[-1][1]:9.3f} s", flush=True)
    table_nb = record(
        "neighbour table (build)", lambda: SPACE.neighbours(loaded, rebuild=True), args.build_repeats
    )
    note(f"{table_nb.shape}, mean {float((table_nb >= 0).sum(1).mean()):.2f} per cell")
    record("neighbour table (cached)", lambda: SPACE.neighbours(loaded), args.repeats)

    rng = np.random.default_rng(0)
    adj = np.triu(rng.random((10_000, 7, 7)) < 0.3, 1).astype(np.uint8)
    ops = rng.integers(0, 5, (10_000, 7)).astype(np.int8)
    ops[:, 0], ops[:, 6] = 0, 4
    valid = record("is_valid_batch, 10,000 decodings", lambda: SPACE.is_valid_batch(adj, ops), args.repeats)
    note(f"{int(valid.sum()):,} valid")
    record("lookup, 10,000 decodings", lambda: SPACE.lookup(loaded, adj, ops), args.repeats, "no MD5")
    load_after = os.getloadavg()

    result = {
        "benchmark": "nb101_enumeration",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in load_after],
        },
        "config": vars(args),
        "phases": [
            {
                "phase": name,
                "median_s": round(m, 4),
                "times_s": [round(t, 4) for t in ts],
                "cpu_s": [round(c, 4) for c in cs],
                "note": text,
            }
            for name, m, ts, cs, text in rows
        ],
    }
    out = write_json(args.out, result)
    print(f"\nload average before {load_before}, after {load_after}; results in {out}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
