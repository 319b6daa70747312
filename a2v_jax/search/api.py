"""`run_search`: one call from a benchmark and embeddings to traces, a summary and plots.

The CLI (`python -m a2v_jax.search`) and notebooks both go through here. All seeds of a search
run as one compiled computation (or a few equal batches, for progress and memory); compile and
run times are measured apart and saved with the results.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np

from .._io import write_json
from ..data.benchmark import Benchmark
from . import report
from .build import (
    canonical_dataset,
    default_budget,
    load_benchmark_for,
    load_embeddings,
    load_neighbours,
    make_problem,
    space_neighbours,
)
from .methods import get_method, make_config, method_info
from .runner import BatchedRun, make_mesh, seed_keys


@dataclass(frozen=True)
class SearchSpec:
    """What was asked for; saved as config.json beside the results."""

    space: str = "nb201"
    dataset: str = "cifar10"
    method: str = "rl"
    seeds: int = 500
    base_seed: int = 0
    preset: str = "fixed"
    budget: float | None = None
    queries: int | None = None
    embeddings: str | None = None
    benchmark: str | None = None
    neighbours: str | None = None
    devices: int | None = None
    seed_batch: int | None = None
    seed_chunk: int | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    spec: SearchSpec
    config: Any
    traces: dict[str, np.ndarray]
    summary: dict[str, Any]
    seeds: np.ndarray

    def save(self, out_dir: str | Path, plots: bool = True) -> list[Path]:
        """traces.npz, summary.json, config.json and the plots, each written atomically."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [
            report.save_traces(out / "traces.npz", self.traces, self.seeds),
            write_json(out / "summary.json", self.summary),
            write_json(out / "config.json", {"spec": dataclasses.asdict(self.spec),
                                             "method_config": dataclasses.asdict(self.config)}),
        ]
        if plots:
            paths += report.plot_run(out, self.traces, self.summary)
        return paths


class _Status:
    """A one-line status with elapsed seconds on stderr (a batched run has no per-seed progress)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()

    def run(self, label: str, fn, *args):
        if not self.enabled:
            return fn(*args)
        t0 = time.perf_counter()
        stop = threading.Event()
        if self.tty:
            def tick():
                while not stop.wait(0.5):
                    sys.stderr.write(f"\r{label} {time.perf_counter() - t0:.0f} s")
                    sys.stderr.flush()
            th = threading.Thread(target=tick, daemon=True)
            th.start()
        else:
            sys.stderr.write(f"{label}\n")
        try:
            out = fn(*args)
        finally:
            stop.set()
        end = "\r" if self.tty else ""
        sys.stderr.write(f"{end}{label} done in {time.perf_counter() - t0:.1f} s\n")
        sys.stderr.flush()
        return out

    def say(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()


def run_search(
    space: str = "nb201",
    dataset: str = "cifar10",
    method: str = "rl",
    seeds: int = 500,
    embeddings: str | Path | np.ndarray | None = None,
    out: str | Path | None = None,
    budget: float | None = None,
    queries: int | None = None,
    preset: str = "fixed",
    devices: int | None = None,
    base_seed: int = 0,
    benchmark: Benchmark | str | Path | None = None,
    neighbours: str | Path | np.ndarray | None = None,
    seed_batch: int | None = None,
    seed_chunk: int | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    plots: bool = True,
) -> SearchResult:
    """Run `seeds` independent searches of `method` and summarise them (and save to `out` if given).

    space/dataset: which benchmark (`benchmark` may give a `Benchmark` or a saved one instead of the
    project loader). embeddings: `embeddings.npz` path or array [N, d] (rl and bo need them).
    budget: simulated seconds (default per space/dataset, see `build.DEFAULT_BUDGETS`); queries:
    a query budget instead of, or on top of, the time budget. preset: reference|fixed.
    devices: shard seeds over that many devices. seed_batch: run seeds in host-side batches of
    this size (progress bar, bounded memory); seed_chunk: in-graph chunks (see `runner`).
    overrides: fields of the method's Config.
    """
    status = _Status(progress)
    space = space.lower()
    dataset = canonical_dataset(dataset)
    info = method_info(method)
    module = get_method(info.name)
    if seeds < 1:
        raise ValueError(f"seeds must be positive, got {seeds}")
    if budget is None and queries is None:
        budget = default_budget(space, dataset)
    config = make_config(module, space, dataset, preset, overrides)

    bench = load_benchmark_for(space, dataset, benchmark)
    n = len(bench)
    features = None
    if info.needs_features:
        if embeddings is None:
            raise ValueError(f"method {info.name!r} searches over embeddings: give embeddings (an embeddings.npz)")
        if isinstance(embeddings, np.ndarray):
            features = np.asarray(embeddings, np.float32)
        else:
            features = load_embeddings(embeddings, n, space)
    nbrs = None
    if info.needs_neighbours:
        if neighbours is None:
            nbrs = space_neighbours(space)
        elif isinstance(neighbours, np.ndarray):
            nbrs = neighbours
        else:
            nbrs = load_neighbours(neighbours)
    problem = make_problem(bench, features, budget, queries, nbrs)

    mesh = make_mesh(devices) if devices else None
    batch = min(seeds, seed_batch) if seed_batch else seeds
    runner = BatchedRun(module, problem, config, batch, mesh, seed_chunk)
    status.say(
        f"{space}/{dataset} {info.name} ({preset}): {seeds} seeds, budget "
        f"{'-' if budget is None else f'{budget:,.0f} s'}, up to {problem.max_queries} queries a seed, "
        f"{n:,} cells, {jax.devices()[0].platform} x{1 if mesh is None else mesh.size}"
    )
    seed_ids = np.arange(base_seed, base_seed + seeds)
    keys = seed_keys(seed_ids)
    compile_s = status.run("compiling", runner.compile, keys[:batch])
    t0 = time.perf_counter()
    parts = []
    starts = list(range(0, seeds, batch))
    if len(starts) == 1:
        parts.append(status.run(f"running {seeds} seeds as one batched computation", _run_host, runner, keys))
    else:
        from tqdm.auto import tqdm

        for s in tqdm(starts, desc=f"seed batches of {batch}", disable=not progress, unit="batch"):
            parts.append(_run_host(runner, keys[s:s + batch]))
    run_s = time.perf_counter() - t0
    traces = report.complete_traces({k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, bench)
    summary = report.summarize(
        traces,
        bench.oracle(),
        {
            "space": space,
            "dataset": dataset,
            "method": info.name,
            "preset": preset,
            "base_seed": base_seed,
            "budget_seconds": budget,
            "max_queries": problem.max_queries,
            "seconds": compile_s + run_s,
            "timing": {"compile_seconds": compile_s, "run_seconds": run_s},
            "devices": 1 if mesh is None else int(mesh.size),
            "platform": jax.devices()[0].platform,
            "config": dataclasses.asdict(config),
            "benchmark_metadata": {k: v for k, v in bench.metadata.items() if isinstance(v, (str, int, float, dict, list))},
        },
    )
    spec = SearchSpec(
        space=space, dataset=dataset, method=info.name, seeds=seeds, base_seed=base_seed, preset=preset,
        budget=budget, queries=queries,
        embeddings=None if embeddings is None or isinstance(embeddings, np.ndarray) else str(embeddings),
        benchmark=None if benchmark is None or isinstance(benchmark, Benchmark) else str(benchmark),
        neighbours=None if neighbours is None or isinstance(neighbours, np.ndarray) else str(neighbours),
        devices=devices, seed_batch=seed_batch, seed_chunk=seed_chunk, overrides=dict(overrides or {}),
    )
    result = SearchResult(spec, config, traces, summary, seed_ids)
    if out is not None:
        paths = result.save(out, plots=plots)
        status.say(f"wrote {', '.join(p.name for p in paths)} to {Path(out)}")
    return result


def _run_host(runner: BatchedRun, keys) -> dict[str, np.ndarray]:
    return report.raw_traces(jax.block_until_ready(runner(keys)))
