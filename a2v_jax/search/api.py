"""`run_search(SearchSpec)`: one call from a benchmark and embeddings to traces, a summary and plots.

The CLI (`python -m a2v_jax.search`) and notebooks both go through here; `SearchSpec` is the one
place where a search's options and their defaults are declared (the CLI is generated from it).

A search runs as a few host-side seed batches (`seed_batch`, default all seeds at once), each a
sequence of compiled segments of about a second (`runner.BatchedRun`). Between segments the host
shows progress (a bar on a terminal, a line every few seconds otherwise), writes a checkpoint now
and then, and reacts to Ctrl-C / SIGTERM: the checkpoint is written and the run stops, to be
continued with `resume` (bit for bit the same result as an uninterrupted run). The run folder is
written to `<out>.partial` and swapped in for `<out>` only when complete (`a2v_jax.rundir`).

Several processes (`a2v_jax.distributed`, e.g. one per host) run one search together when JAX's
distributed runtime joined them: each calls `run_search` with the same spec, the seeds are split
over a mesh of every process's devices, and process 0 alone writes the run folder and shows
progress. Each process loads the inputs itself; before anything runs they compare the spec and
digests of the loaded data (`check_same`), and any error while preparing stops all of them with
the same message. Between segments they also agree on the next segment's length, on when to
write a checkpoint and on whether to stop (a signal on any process stops all at the same point).
Every process reads the checkpoint on `resume`, so the run folder must be on a file system they
share.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import numpy as np

from .. import distributed, presets, rundir
from .._io import write_json
from ..cli import option
from ..spaces import get_profile, space_key
from . import checkpoint, report
from .build import SearchData, default_budget, gather_inputs, load_benchmark_for, make_problem
from .methods import METHODS, get_method, make_config, method_key
from .runner import BatchedRun, make_mesh, seed_keys

KIND = "search"
SEGMENT_SECONDS = 1.0  # target length of one compiled segment: how soon Ctrl-C and progress are seen
LOG_SECONDS = 10.0  # progress line interval when stderr is not a terminal


class _StoppedInBatch(KeyboardInterrupt):
    """Ctrl-C / SIGTERM inside a seed batch, carrying the batch's latest whole states for the checkpoint."""

    def __init__(self, states: Any):
        super().__init__()
        self.states = states


class SearchInterrupted(KeyboardInterrupt):
    """A search stopped by Ctrl-C or SIGTERM after writing its checkpoint (the message says where)."""


@dataclass(frozen=True)
class SearchSpec:
    """Everything that defines a search run (saved as config.json); each default is declared here."""

    space: str = option("nb201", "search space with benchmark tables: nb201 or nb101")
    dataset: str = option("cifar10", "dataset of the space's benchmark (nb201: cifar10, cifar100, ImageNet16-120; nb101: cifar10)")
    method: str = option("rl", "search method (see below)", choices=tuple(METHODS))
    seeds: int = option(500, "independent runs, all in one computation")
    base_seed: int = option(0, "seed ids are base-seed .. base-seed+seeds-1; each run depends only on its id")
    preset: str = option("fixed", presets.PRESET_HELP, choices=presets.PRESETS)
    budget: float | None = option(None, "simulated-seconds budget (default: the dataset's published budget, see below)")
    queries: int | None = option(None, "query budget (alone, or with --budget: whichever ends first)")
    embeddings: Path | None = option(None, "embeddings.npz ([N, d] in cell order, with hashes) or a .npy [N, d]; methods over embeddings need it")
    benchmark: Path | None = option(None, "a saved Benchmark .npz to search instead of the space's own table")
    neighbours: Path | None = option(None, "mutation table .npy/.npz int32 [N, K] (default: the space's)")
    devices: int | None = option(None, "shard seeds over this many devices (default: the command line on a CPU "
                                 "with several cores runs one device a core, as many as there are seeds (a2v_jax.host_devices); "
                                 "otherwise, and from Python, one device)")
    seed_batch: int | None = option(None, "run seeds in host-side batches of this size (bounded memory; a checkpoint after each)")
    seed_chunk: int | None = option(None, "in-graph chunks of this many vmapped seeds (lax.map; default: the method's choice for the platform and problem, e.g. bo on CPU: 50 a device)")
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Fields of the method's Config (`--set KEY=VALUE`)."""
    out: Path | None = option(None, "run folder (written to OUT.partial and moved to OUT when complete)")
    overwrite: bool = option(False, "replace the search run already in --out (or discard an interrupted one)")
    resume: bool = option(False, "continue the interrupted search in OUT.partial (same options)")
    plots: bool = option(True, "write the PNG plots")
    quiet: bool = option(False, "no status lines or progress")
    checkpoint_seconds: float = option(60.0, "during a long seed batch, write a checkpoint at most this often")

    def to_json(self) -> dict[str, Any]:
        """The spec as JSON values (paths as text, arrays described by shape)."""

        def value(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return f"<array {v.dtype}{list(v.shape)}>"
            if isinstance(v, Path):
                return str(v)
            if hasattr(v, "columns") and hasattr(v, "space"):  # a Benchmark object
                return f"<Benchmark {v.space}/{v.dataset}>"
            return v

        return {f.name: value(getattr(self, f.name)) for f in dataclasses.fields(self)}


# Spec fields that may differ when a run is resumed (they do not change what is computed).
RESUMABLE = frozenset({"out", "overwrite", "resume", "plots", "quiet", "checkpoint_seconds", "devices"})
# Spec fields whose text may differ between the processes of one run: only process 0 prints, and
# input files are compared by what they hold (the paths may differ from host to host).
PER_PROCESS = frozenset({"quiet", "embeddings", "benchmark", "neighbours"})


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
            write_json(out / "config.json", {"spec": self.spec.to_json(), "method_config": dataclasses.asdict(self.config)}),
        ]
        if plots:
            paths += report.plot_run(out, self.traces, self.summary)
        return paths


@dataclass
class Plan:
    """A resolved search: what runs, on which data, with which settings."""

    spec: SearchSpec
    module: ModuleType
    config: Any
    data: SearchData
    budget: float | None


class _Status:
    """Status lines and progress on stderr: a bar on a terminal, a line every LOG_SECONDS otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self._bar = None
        self._last = 0.0

    def say(self, text: str) -> None:
        if self.enabled:
            self.close()
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def progress(self, label: str, share: float, started: float) -> None:
        if not self.enabled:
            return
        if self.tty:
            if self._bar is None:
                from tqdm.auto import tqdm

                self._bar = tqdm(total=100, desc=label, unit="% budget", leave=False, bar_format=
                                 "{desc}: {percentage:3.0f}% of the budget |{bar}| {elapsed}<{remaining}")
            self._bar.set_description(label)
            self._bar.n = round(100 * share, 1)
            self._bar.refresh()
        elif time.perf_counter() - self._last >= LOG_SECONDS:
            self._last = time.perf_counter()
            sys.stderr.write(f"{label}: {100 * share:.0f}% of the budget spent, {time.perf_counter() - started:.0f} s\n")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def plan_search(spec: SearchSpec) -> Plan:
    """Resolve names, load and check every input, build the problem (nothing is run yet)."""
    if spec.seeds < 1:
        raise ValueError(f"seeds must be positive, got {spec.seeds}")
    for name in ("seed_batch", "seed_chunk", "devices", "queries"):
        value = getattr(spec, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    space = space_key(spec.space)
    module = get_method(spec.method)
    name = method_key(spec.method)
    config = make_config(module, space, spec.preset, **spec.overrides)
    if spec.benchmark is None:
        dataset = get_profile(space).dataset(spec.dataset).name
    else:
        dataset = spec.dataset
    bench = load_benchmark_for(space, dataset, spec.benchmark)
    budget = spec.budget
    if budget is None and spec.queries is None:
        budget = default_budget(space, dataset)
    inputs = gather_inputs(module.NEEDS, space, bench, spec.embeddings, spec.neighbours, name)
    data = make_problem(bench, inputs.get("features"), budget, spec.queries, inputs.get("neighbours"), inputs.get("cells"))
    spec = dataclasses.replace(spec, space=space, dataset=bench.dataset, method=name)
    return Plan(spec, module, config, data, budget)


def run_search(spec: SearchSpec | None = None, /, **fields: Any) -> SearchResult:
    """Run `spec.seeds` independent searches and summarise them (saved to `spec.out` if given).

    `run_search(SearchSpec(...))`, or `run_search(method="rl", seeds=100, embeddings=...)` for the
    same fields as keywords; `embeddings`, `benchmark` and `neighbours` may also be arrays / a
    `Benchmark` object from Python. Raises `SearchInterrupted` after saving a checkpoint when
    stopped (Ctrl-C, SIGTERM) with an `out` folder.
    """
    spec = SearchSpec(**fields) if spec is None else dataclasses.replace(spec, **fields)
    main = distributed.is_main()
    status = _Status(not spec.quiet and main)
    with distributed.together("preparing the search"):
        if spec.out is not None and main:
            rundir.Staging.check(spec.out, KIND, overwrite=spec.overwrite, resume=spec.resume)
        plan = plan_search(spec)
        mesh = _mesh(spec)
    _check_same_everywhere(plan)
    staging = None
    with distributed.together("opening the run folder"):
        if spec.out is not None and main:
            staging = rundir.Staging.open(spec.out, KIND, overwrite=spec.overwrite, resume=spec.resume)
            _check_resumable(staging, plan.spec)
            write_json(staging.path / "config.json", {"spec": plan.spec.to_json(), "method_config": dataclasses.asdict(plan.config)})
    ckpt_path = None if spec.out is None else rundir.partial_path(spec.out) / checkpoint.NAME
    resumed = staging.resumed if staging is not None else spec.resume
    raw, timing = _execute(plan, mesh, ckpt_path, resumed, status)
    result = _summarise(plan, raw, timing)
    if staging is not None:
        paths = result.save(staging.path, plots=spec.plots)
        (staging.path / checkpoint.NAME).unlink(missing_ok=True)
        staging.commit(method=plan.spec.method, space=plan.spec.space, dataset=plan.spec.dataset)
        status.say(f"wrote {', '.join(p.name for p in paths)} to {spec.out}")
    return result


def _mesh(spec: SearchSpec):
    """The device mesh: --devices K, or, with several processes, every process's devices."""
    devices = distributed.mesh_devices(spec.devices, "seeds")
    return make_mesh(devices) if devices else None


def _check_same_everywhere(plan: Plan) -> None:
    """Refuse a multi-process run whose processes were given different options or data."""
    if not distributed.multi():
        return
    values: dict[str, Any] = {k: v for k, v in plan.spec.to_json().items() if k not in PER_PROCESS}
    values["method_config"] = dataclasses.asdict(plan.config)
    problem = plan.data.problem
    for name in ("features", "reward", "test", "cost", "neighbours"):
        values[f"data:{name}"] = np.asarray(getattr(problem, name))
    values["data:budget"] = [float(np.asarray(problem.max_time)), problem.max_queries]
    distributed.check_same(values, "arguments or input files")


def _check_resumable(staging: rundir.Staging, spec: SearchSpec) -> None:
    if not staging.resumed:
        return
    try:
        saved = json.loads((staging.path / "config.json").read_text())["spec"]
    except (OSError, ValueError, KeyError) as e:
        raise rundir.RunFolderError(f"{staging.path}: no readable config.json to resume from ({e})") from e
    now = spec.to_json()
    diff = {k: (saved.get(k), v) for k, v in now.items() if k not in RESUMABLE and saved.get(k) != v}
    if diff:
        listed = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in sorted(diff.items()))
        raise rundir.RunFolderError(f"{staging.path} holds a search with other options ({listed}); resume with the same options")


def _execute(plan: Plan, mesh: Any, ckpt_path: Path | None, resumed: bool,
             status: _Status) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Run every seed batch in segments; returns the raw traces (seed order) and timings.

    ckpt_path: the run's checkpoint file (None: no run folder); read back only when `resumed`.
    """
    spec = plan.spec
    main = distributed.is_main()
    seed_ids = np.arange(spec.base_seed, spec.base_seed + spec.seeds)
    batch = min(spec.seeds, spec.seed_batch or spec.seeds)
    starts = list(range(0, spec.seeds, batch))
    runner = BatchedRun(plan.module, plan.data.problem, plan.config, batch, mesh, spec.seed_chunk)
    status.say(
        f"{spec.space}/{spec.dataset} {spec.method} ({spec.preset}): {spec.seeds} seeds"
        f"{f' in batches of {batch}' if len(starts) > 1 else ''}, budget "
        f"{'-' if plan.budget is None else f'{plan.budget:,.0f} s'}, up to {plan.data.problem.max_queries} queries a seed, "
        f"{plan.data.problem.num_cells:,} cells"
        f"{f' ({plan.data.missing:,} without results left out)' if plan.data.missing else ''}, "
        f"{jax.devices()[0].platform} x{1 if mesh is None else mesh.size}"
        f"{f' over {distributed.process_count()} processes' if distributed.multi() else ''}"
        f"{f', chunks of {runner.chunk} seeds' if runner.chunked else ''}"
    )
    t0 = time.perf_counter()
    status.say("compiling ...")
    compile_s = runner.compile(seed_keys(seed_ids[:batch]))
    status.say(f"compiled in {compile_s:.1f} s")

    parts: list[dict[str, np.ndarray]] = []
    first, states, earlier_s = 0, None, 0.0
    found = ckpt_path is not None and resumed and ckpt_path.exists()
    shared = f"resuming needs {ckpt_path} on a file system that every process shares"
    distributed.check_same({"checkpoint found": found}, "views of the checkpoint", hint=shared)
    if found:
        template = runner.init(seed_keys(seed_ids[:batch]))  # on every process: it runs on the mesh
        with distributed.together("reading the checkpoint"):
            parts, first, states, earlier_s = checkpoint.load(ckpt_path, template)
        distributed.check_same({"checkpoint": [first, len(parts), states is None]}, "views of the checkpoint",
                               hint=shared)
    if states is not None:
        states = runner.place(states)
    if found:
        status.say(f"resuming from {ckpt_path}: {len(parts)} of {len(starts)} seed batches done")

    run_t0 = time.perf_counter()

    def spent() -> float:  # search seconds over every session of this run
        return earlier_s + time.perf_counter() - run_t0

    previous = None if distributed.multi() else _on_sigterm()
    b = first
    try:
        with distributed.StopFlag() as stop:
            for b in range(first, len(starts)):
                ids = seed_ids[starts[b]:starts[b] + batch]
                if states is None:
                    states = runner.init(seed_keys(ids))
                label = f"batch {b + 1}/{len(starts)}" if len(starts) > 1 else f"{spec.seeds} seeds"
                states = _run_batch(runner, states, status, label, (b, len(starts)), ckpt_path, parts,
                                    spec.checkpoint_seconds, stop, spent)
                parts.append(runner.to_host(report.trace_arrays(states, plan.module), len(ids)))
                states = None
                if ckpt_path is not None and b + 1 < len(starts) and main:
                    checkpoint.save(ckpt_path, parts, b + 1, None, run_seconds=spent())
    except KeyboardInterrupt as err:
        status.close()
        if ckpt_path is None or stop.forced:
            raise
        if isinstance(err, _StoppedInBatch):  # where the batch had got to, not where it began
            states = err.states
        host_states = None if states is None else distributed.to_host(states)
        if main:
            checkpoint.save(ckpt_path, parts, b, host_states, run_seconds=spent())
        raise SearchInterrupted(
            f"interrupted: {len(parts)} of {len(starts)} seed batches finished; checkpoint written to {ckpt_path}; "
            f"continue with --resume (same options)"
        ) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    status.close()
    run_s = time.perf_counter() - run_t0
    raw = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    raw["index"] = plan.data.to_benchmark_index(raw["index"])
    return raw, {"compile_seconds": compile_s, "run_seconds": run_s, "seconds": time.perf_counter() - t0,
                 "earlier_run_seconds": earlier_s, "devices": 1 if mesh is None else int(mesh.size)}


def _run_batch(runner: BatchedRun, states: Any, status: _Status, label: str, position: tuple[int, int],
               ckpt_path: Path | None, parts: list, every: float, stop: distributed.StopFlag,
               spent: Callable[[], float]) -> Any:
    """Segments of about SEGMENT_SECONDS until every seed of the batch is done.

    With several processes the next segment's length, whether to checkpoint now and whether to
    stop are decided from every process's view (one small all-gather a segment), so that all of
    them take the same path through this loop. A stop raises `_StoppedInBatch` with the states of
    the last whole segment, so that the final checkpoint keeps the batch's progress.
    """
    steps, started, saved = 1, time.perf_counter(), time.perf_counter()
    b, total = position
    try:
        done, share = runner.status(states)
        while not done:
            t = time.perf_counter()
            new = runner.advance(states, steps)
            done, share = runner.status(new)  # waits for the segment
            states = new
            dt = time.perf_counter() - t
            due = ckpt_path is not None and not done and time.perf_counter() - saved > every
            if distributed.multi():
                views = distributed.gather_values(np.array([stop.raised, dt, due], np.float32))
                if views[:, 0].any():
                    raise KeyboardInterrupt
                dt, due = float(views[:, 1].max()), bool(views[0, 2])
            status.progress(label, (b + share) / total, started)
            steps = max(1, min(2 * steps, int(steps * SEGMENT_SECONDS / max(dt, 1e-3))))
            if due:
                host_states = distributed.to_host(states)
                if distributed.is_main():
                    checkpoint.save(ckpt_path, parts, b, host_states, run_seconds=spent())
                saved = time.perf_counter()
    except KeyboardInterrupt:
        raise _StoppedInBatch(states) from None
    return states


def _on_sigterm():
    """SIGTERM stops a search like Ctrl-C (checkpoint first); returns the previous handler."""
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return None


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _summarise(plan: Plan, raw: dict[str, np.ndarray], timing: dict[str, float]) -> SearchResult:
    spec, bench = plan.spec, plan.data.benchmark
    extras = {k: raw.pop(k) for k in list(raw) if k not in report.TRACE_KEYS}
    traces = report.complete_traces(raw, bench)
    oracle = bench.oracle() if not plan.data.missing else _oracle_with_results(plan.data)
    summary_extra = plan.module.summary_extras(extras, oracle) if hasattr(plan.module, "summary_extras") else {}
    traces.update(extras)
    profile_ds = _dataset_profile(spec)
    summary = report.summarize(
        traces,
        oracle,
        {
            "space": spec.space,
            "dataset": spec.dataset,
            "method": spec.method,
            "title": plan.module.TITLE,
            "preset": spec.preset,
            "base_seed": spec.base_seed,
            "budget_seconds": plan.budget,
            "max_queries": plan.data.problem.max_queries,
            "cells_searched": int(plan.data.cells.size),
            "cells_without_results": plan.data.missing,
            "reward_column": profile_ds.reward if profile_ds else bench.metadata.get("roles", {}).get("reward", "reward"),
            "test_column": profile_ds.test if profile_ds else bench.metadata.get("roles", {}).get("test", "test"),
            "seconds": timing["seconds"],
            "timing": {"compile_seconds": timing["compile_seconds"], "run_seconds": timing["run_seconds"],
                       # a resumed run: the sessions before this one, and the search time of all of them
                       "earlier_sessions_run_seconds": timing["earlier_run_seconds"],
                       "run_seconds_all_sessions": timing["earlier_run_seconds"] + timing["run_seconds"]},
            "devices": timing["devices"],
            "processes": distributed.process_count(),
            "platform": jax.devices()[0].platform,
            "config": dataclasses.asdict(plan.config),
            "benchmark_metadata": {k: v for k, v in bench.metadata.items() if isinstance(v, (str, int, float, dict, list))},
            **summary_extra,
        },
    )
    seeds = np.arange(spec.base_seed, spec.base_seed + spec.seeds)
    return SearchResult(spec, plan.config, traces, summary, seeds)


def _dataset_profile(spec: SearchSpec):
    try:
        return get_profile(spec.space).dataset(spec.dataset)
    except KeyError:
        return None


def _oracle_with_results(data: SearchData) -> dict[str, Any]:
    """Best values over the cells with results (regret is measured against what can be found)."""
    bench = data.benchmark
    out: dict[str, Any] = {"count": len(bench)}
    for role in ("reward", "valid", "test"):
        col = np.asarray(bench.columns[role], np.float64)
        i = int(data.cells[np.nanargmax(col[data.cells])])
        out[f"best_{role}"] = float(col[i])
        out[f"best_{role}_index"] = i
    return out
