"""Benchmark tables: what each cell of a space scored, aligned with the space's cell order.

Every table is one `Benchmark`, cached at `$A2V_CACHE/benchmarks/<space>-<dataset>.npz`:

    from a2v_jax.data import load_benchmark
    bench = load_benchmark("nb201", "cifar100")     # built on first use from the public files
    bench.reward, bench.test, bench.time, bench.oracle()

NB201 tables are built from the three public files in `$A2V_DATA/nb201` (or wherever
`python -m a2v_jax.data download nb201` put them); the NB101 table from the official
`nasbench_only108.tfrecord` (`python -m a2v_jax.data build nb101 --tfrecord PATH`).
"""

from __future__ import annotations

import os
from pathlib import Path

from .._io import DATA_ENV, CorruptFileError, cache_dir, shared_data_dir
from .benchmark import ROLES, Benchmark
from .names import UnknownNameError, benchmark_datasets, dataset_name, space_name


class BenchmarkNotAvailable(FileNotFoundError):
    """No cached table and nothing to build it from; the message says which command to run."""


def benchmark_path(space: str, dataset: str, cache: str | os.PathLike | None = None, epochs: int | None = None) -> Path:
    """Cache file of a table: `<cache>/benchmarks/<space>-<dataset>.npz` (NB101 at other than 108
    epochs: `nb101-cifar10-<E>ep.npz`)."""
    sp = space_name(space)
    ds = dataset_name(sp, dataset)
    root = Path(cache) if cache is not None else cache_dir()
    suffix = f"-{int(epochs)}ep" if sp == "nb101" and epochs not in (None, 108) else ""
    return root / "benchmarks" / f"{sp}-{ds}{suffix}.npz"


def nb201_source_dirs() -> list[Path]:
    """Where NB201 source files are looked for: `$A2V_DATA/nb201` (default ../shared/data/nb201),
    then the download folder `$A2V_CACHE/sources/nb201`."""
    return [shared_data_dir() / "nb201", default_download_dir()]


def default_download_dir() -> Path:
    """`$A2V_DATA/nb201` when A2V_DATA is set, else `$A2V_CACHE/sources/nb201`."""
    if os.environ.get(DATA_ENV):
        return shared_data_dir() / "nb201"
    return cache_dir() / "sources" / "nb201"


def build_nb201(
    source_dir: str | os.PathLike | None = None, cache: str | os.PathLike | None = None, verify: bool = True
) -> dict[str, Path]:
    """Build and cache the three NB201 tables; returns their paths by dataset."""
    from .nb201 import build_tables, have_sources

    folder = Path(source_dir) if source_dir is not None else next((d for d in nb201_source_dirs() if have_sources(d)), None)
    if folder is None:
        raise BenchmarkNotAvailable(_nb201_hint())
    tables = build_tables(folder, verify=verify)
    return {d: t.save(benchmark_path("nb201", d, cache)) for d, t in tables.items()}


def build_nb101(
    tfrecord: str | os.PathLike,
    cache: str | os.PathLike | None = None,
    cells=None,
    epochs: int = 108,
    allow_missing: bool = False,
    progress: bool = False,
) -> Path:
    """Build and cache the NB101 table from the official TFRecord file; returns its path."""
    from .nb101 import build_nb101 as _build

    table = _build(tfrecord, cells=cells, epochs=epochs, allow_missing=allow_missing, progress=progress)
    return table.save(benchmark_path("nb101", "cifar10", cache, epochs=epochs))


def _nb201_hint() -> str:
    where = ", ".join(str(d) for d in nb201_source_dirs())
    return (
        f"no NAS-Bench-201 table cached and no source files in {where}; run "
        "`python -m a2v_jax.data download nb201` (or `python -m a2v_jax.data build nb201 --source DIR` "
        "with local copies)"
    )


def load_benchmark(
    space: str,
    dataset: str = "cifar10",
    cache: str | os.PathLike | None = None,
    rebuild: bool = False,
    source_dir: str | os.PathLike | None = None,
    epochs: int | None = None,
) -> Benchmark:
    """The table of `space` on `dataset`, from the cache; NB201 tables are built on demand from
    the public files when they are at hand. Raises BenchmarkNotAvailable naming the command to run."""
    sp = space_name(space)
    ds = dataset_name(sp, dataset)
    path = benchmark_path(sp, ds, cache, epochs=epochs)
    corrupt: CorruptFileError | None = None
    if path.exists() and not rebuild:
        try:
            return Benchmark.load(path)
        except CorruptFileError as e:
            if sp != "nb201":
                raise CorruptFileError(f"{e}; rebuild it with `python -m a2v_jax.data build nb101 --tfrecord PATH`") from e
            corrupt = e
    if sp == "nb201":
        try:
            build_nb201(source_dir, cache)
        except BenchmarkNotAvailable as e:
            if corrupt is not None:
                raise CorruptFileError(f"{corrupt}; cannot rebuild: {e}") from corrupt
            raise
        return Benchmark.load(path)
    raise BenchmarkNotAvailable(
        f"no NAS-Bench-101 table at {path}; build it from the official file with "
        "`python -m a2v_jax.data build nb101 --tfrecord /path/to/nasbench_only108.tfrecord`"
    )


__all__ = [
    "ROLES",
    "Benchmark",
    "BenchmarkNotAvailable",
    "UnknownNameError",
    "benchmark_datasets",
    "benchmark_path",
    "build_nb101",
    "build_nb201",
    "dataset_name",
    "load_benchmark",
    "space_name",
]
