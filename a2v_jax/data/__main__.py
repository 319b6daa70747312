"""`python -m a2v_jax.data {build,download,info}`: make and inspect the benchmark tables."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .._io import CorruptFileError
from . import (
    BenchmarkNotAvailable,
    UnknownNameError,
    benchmark_path,
    build_nb101,
    build_nb201,
    dataset_name,
    default_download_dir,
    load_benchmark,
    space_name,
)

EPILOG = """\
examples:
  python -m a2v_jax.data download nb201                 # fetch the 3 public files (sha256-checked), build
  python -m a2v_jax.data build nb201 --source DIR       # build from local copies of the 3 files
  python -m a2v_jax.data build nb101 --tfrecord nasbench_only108.tfrecord
  python -m a2v_jax.data info nb201 --dataset cifar100 --json

Tables are cached at $A2V_CACHE/benchmarks/<space>-<dataset>.npz (default ~/.cache/a2v_jax).
Accuracies are fractions, times seconds. Datasets: nb101: cifar10; nb201: cifar10, cifar100,
ImageNet16-120 (aliases such as imagenet, CIFAR-100 accepted).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m a2v_jax.data",
        description="Build, download and inspect benchmark tables (what every cell of a space scored).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--cache", default=None, help="cache root (overrides $A2V_CACHE)")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser(
        "build",
        help="build a table from local files",
        description=(
            "nb201: build the cifar10, cifar100 and ImageNet16-120 tables from mini-bench-arch-cell-accs.pd, "
            "metric_vals.pkl and nats_bench.csv (in --source, else $A2V_DATA/nb201 or the download folder); "
            "their sha256 must match the published files. nb101: read the official nasbench_only108.tfrecord "
            "(or nasbench_full.tfrecord with --epochs) without TensorFlow and join it with the NB101 cell set."
        ),
    )
    b.add_argument("space", help="nb101 or nb201")
    b.add_argument("--source", default=None, help="nb201: folder holding the three source files")
    b.add_argument("--no-verify", action="store_true", help="nb201: skip the sha256 check of the source files")
    b.add_argument("--tfrecord", default=None, help="nb101: path of nasbench_only108.tfrecord")
    b.add_argument("--epochs", type=int, default=108, help="nb101: epoch budget to tabulate (default 108)")
    b.add_argument(
        "--allow-missing", action="store_true", help="nb101: keep cells without records as NaN rows instead of failing"
    )
    b.add_argument("--quiet", action="store_true", help="no progress bars")

    d = sub.add_parser(
        "download",
        help="fetch the public NB201 files, check their sha256, build",
        description=(
            "Download the three public NAS-Bench-201 files from their repositories at fixed commits, check each "
            "sha256 (a mismatch fails and keeps nothing), then build the tables."
        ),
    )
    d.add_argument("space", help="nb201 (the NB101 file is a manual download: use build nb101 --tfrecord)")
    d.add_argument("--dest", default=None, help=f"where to put the files (default {default_download_dir()})")
    d.add_argument("--url-base", default=None, help="fetch <URL-BASE>/<file name> instead (an http(s):// mirror or file:// folder)")
    d.add_argument("--source", default=None, help="take the files from this local folder instead (checked the same way)")
    d.add_argument("--timeout", type=float, default=60.0, help="seconds before a stalled download fails")
    d.add_argument("--no-build", action="store_true", help="only download and check")
    d.add_argument("--quiet", action="store_true", help="no progress bars")

    i = sub.add_parser("info", help="summarise a cached table (oracle values, roles, sources)")
    i.add_argument("space", help="nb101 or nb201")
    i.add_argument("--dataset", default="cifar10", help="cifar10 (default), cifar100 or ImageNet16-120")
    i.add_argument("--epochs", type=int, default=None, help="nb101: the epoch budget of the table")
    i.add_argument("--json", action="store_true", help="print one JSON object")

    args = parser.parse_args(argv)
    try:
        space = space_name(args.space)
        if args.command == "info":
            dataset_name(space, args.dataset)
    except UnknownNameError as e:
        parser.error(str(e))
    try:
        if args.command == "build":
            return _build(parser, args, space)
        if args.command == "download":
            return _download(parser, args, space)
        return _info(args, space)
    except (BenchmarkNotAvailable, CorruptFileError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _build(parser: argparse.ArgumentParser, args: argparse.Namespace, space: str) -> int:
    t0 = time.perf_counter()
    if space == "nb201":
        if args.tfrecord:
            parser.error("--tfrecord is for nb101")
        paths = build_nb201(args.source, args.cache, verify=not args.no_verify)
    else:
        if not args.tfrecord:
            parser.error("build nb101 needs --tfrecord PATH (the official nasbench_only108.tfrecord)")
        paths = {"cifar10": build_nb101(
            args.tfrecord, args.cache, epochs=args.epochs, allow_missing=args.allow_missing, progress=not args.quiet
        )}
    for ds, p in paths.items():
        print(f"{space} {ds}: {p}{_missing_note(space, ds, args.cache, getattr(args, 'epochs', None))}")
    print(f"built in {time.perf_counter() - t0:.1f} s")
    return 0


def _missing_note(space: str, dataset: str, cache, epochs) -> str:
    """', N of M cells without results' when a table holds NaN rows (built with --allow-missing)."""
    bench = load_benchmark(space, dataset, cache=cache, epochs=epochs if space == "nb101" else None)
    if not bench.missing:
        return ""
    return (f" ({bench.missing:,} of {len(bench):,} cells without results: searches use the "
            f"{len(bench) - bench.missing:,} with results)")


def _download(parser: argparse.ArgumentParser, args: argparse.Namespace, space: str) -> int:
    if space != "nb201":
        parser.error(
            "only nb201 downloads automatically; get nasbench_only108.tfrecord from the NAS-Bench-101 release "
            "and run `python -m a2v_jax.data build nb101 --tfrecord PATH`"
        )
    from .nb201 import download_sources

    if args.source and args.url_base:
        parser.error("give --source or --url-base, not both")
    url_base = Path(args.source).resolve().as_uri() if args.source else args.url_base
    dest = Path(args.dest) if args.dest else default_download_dir()
    files = download_sources(dest, url_base=url_base, progress=not args.quiet, timeout=args.timeout)
    for name, p in files.items():
        print(f"{name}: {p} (sha256 ok)")
    if not args.no_build:
        for ds, p in build_nb201(dest, args.cache).items():
            print(f"{space} {ds}: {p}")
    return 0


def _info(args: argparse.Namespace, space: str) -> int:
    ds = dataset_name(space, args.dataset)
    t0 = time.perf_counter()
    bench = load_benchmark(space, ds, cache=args.cache, epochs=args.epochs)
    seconds = time.perf_counter() - t0
    summary = {
        "space": space,
        "dataset": ds,
        **bench.oracle(),
        "cells_without_results": bench.missing,
        "path": str(benchmark_path(space, ds, args.cache, epochs=args.epochs)),
        "load_seconds": round(seconds, 4),
        "columns": {k: bench.units.get(k, "") for k in bench.columns},
        "roles": bench.metadata.get("roles", {}),
        "role_notes": bench.metadata.get("role_notes", ""),
        "sources": [{k: s.get(k) for k in ("name", "sha256")} for s in bench.metadata.get("sources", [])],
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    missing = f", {summary['cells_without_results']:,} of them without results" if summary["cells_without_results"] else ""
    print(f"{space} / {ds}: {summary['count']:,} cells{missing}  ({summary['path']}, loaded in {seconds:.3f} s)")
    for role in ("reward", "valid", "test"):
        print(f"  best {role:<6} {summary[f'best_{role}']:.6f}  at index {summary[f'best_{role}_index']}")
    print("  roles:   " + ", ".join(f"{r} = {c}" for r, c in summary["roles"].items()))
    print(f"  notes:   {summary['role_notes']}")
    print("  columns: " + ", ".join(f"{k} [{u}]" if u else k for k, u in summary["columns"].items()))
    for s in summary["sources"]:
        print(f"  source:  {s['name']}  sha256 {s['sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


