"""`run(AnalysisConfig(...))`: the analyses over a space's encodings, written as one run folder.

The run folder (`rundir`, kind "analysis") holds `config.json`, and per analysis `<name>.json`
(every number its figure shows, plus the settings and timings) and `<name>.png`; the walk adds
`interpolation.png` when a pretrained model decodes one. It is written in `<out>.partial` and swapped
in when complete; `resume` keeps the analyses an interrupted run had finished.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import write_json
from ..rundir import Staging
from ..spaces import CellSet, get_profile, get_space
from . import figures
from .config import ANALYSES, NEEDS_ACCURACY, AnalysisConfig
from .encodings import Encoding, load_encodings
from .latent_map import latent_map
from .predictive import predictive
from .smoothness import smoothness, walk_cells
from .walk import interpolation, load_model, walk_analysis


class NoAccuracies(RuntimeError):
    """The analysis needs benchmark accuracies the space does not have (the message says how to get them)."""


@dataclass
class AnalysisResult:
    """What `run` computed: the JSON of each analysis, its figures, where they were written."""

    config: AnalysisConfig
    results: dict[str, dict] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    paths: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    out: Path | None = None


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN / inf become null."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    return obj


def accuracies(config: AnalysisConfig, benchmark: Any = None) -> np.ndarray:
    """float64 [N] test accuracies of the space's cells on the config's dataset (resolved config)."""
    profile = get_profile(config.space)
    if benchmark is None:
        if not profile.datasets:
            raise NoAccuracies(
                f"the {config.space} space has no benchmark accuracies ({profile.no_benchmark_reason}); "
                "predictive and map need a table built by `python -m a2v_jax.data build` (nb101, nb201), "
                "smoothness and walk need none"
            )
        from ..data import BenchmarkNotAvailable, load_benchmark

        try:
            benchmark = load_benchmark(config.space, config.dataset)
        except BenchmarkNotAvailable as e:
            raise NoAccuracies(f"{e} (predictive and map need it; smoothness and walk do not)") from e
    test = np.asarray(benchmark.test, dtype=np.float64)
    return test.mean(axis=1) if test.ndim == 2 else test  # 2-D: one column per training repeat


def _say(config: AnalysisConfig):
    if not config.progress:
        return None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def _start_cells(config: AnalysisConfig, count: int) -> np.ndarray:
    walks = min(config.walks, count)
    rng = np.random.default_rng([config.seed, 0x3A1F])
    first = [] if config.start is None else [int(config.start)]
    if first and not 0 <= first[0] < count:
        raise ValueError(f"start cell {first[0]} is not a row of the {config.space} cell set (0..{count - 1})")
    others = rng.permutation(count)
    others = others[~np.isin(others, first)][: walks - len(first)]
    return np.concatenate([np.array(first, dtype=np.int64), others.astype(np.int64)])


def run(
    config: AnalysisConfig,
    *,
    cells: CellSet | None = None,
    benchmark: Any = None,
    arrays: dict[str, np.ndarray] | None = None,
    model: Any = None,
    write: bool = True,
) -> AnalysisResult:
    """Run the configured analyses. `cells`, `benchmark` (a `Benchmark`), in-memory embeddings
    `arrays` ({name: [N, d]}, analysed after the config's encodings) and a pretrained `model` may be
    given instead of being loaded; write=False computes and draws without writing files."""
    t_start = time.perf_counter()
    c = config.resolved()
    say = _say(c)
    space = get_space(c.space)
    wanted = list(c.analyses())
    result = AnalysisResult(c)

    acc = None  # accuracies first: a missing table fails before any cell set is built
    if any(a in NEEDS_ACCURACY for a in wanted):
        try:
            acc = accuracies(c, benchmark)
        except NoAccuracies as e:
            if c.analysis != "all":
                raise
            for a in NEEDS_ACCURACY:
                result.skipped[a] = str(e)
            wanted = [a for a in wanted if a not in NEEDS_ACCURACY]
            if say:
                say(f"skipping predictive and map: {e}")
        if acc is not None and c.threshold is None and "predictive" in wanted:
            raise ValueError(f"no default accuracy threshold for {c.space}/{c.dataset}: give --threshold")
        if acc is not None and (c.map_high is None or c.map_low is None) and "map" in wanted:
            raise ValueError(f"no default highlight thresholds for {c.space}/{c.dataset}: give --map-high and --map-low")
    staging = None
    if write:  # opened early so that an occupied --out fails before any work
        staging = Staging.open(c.out, "analysis", overwrite=c.overwrite, resume=c.resume)
    try:
        _run_analyses(c, space, wanted, result, acc, cells, arrays, model, staging, say)
    except BaseException:
        if staging is not None and not staging.resumed and not result.results:
            shutil.rmtree(staging.path, ignore_errors=True)  # nothing finished: leave no .partial behind
        raise
    if staging is not None:
        result.out = staging.commit(analyses=list(result.results), skipped=result.skipped,
                                    seconds=time.perf_counter() - t_start)
        result.paths = [result.out / p.name for p in result.paths]
    return result


def _run_analyses(c, space, wanted, result, acc, cells, arrays, model, staging, say) -> None:
    if "walk" in wanted and c.run is not None and model is None:
        model = load_model(c.run)

    if cells is None:
        if say and c.space == "darts":
            say("loading the DARTS cell sample (sampled and cached on first use: minutes)")
        cells = space.load(**c.space_options)
    if acc is not None and acc.shape != (len(cells),):
        raise ValueError(f"the benchmark table has {acc.shape[0]:,} rows, the {c.space} space {len(cells):,} cells")
    encodings = load_encodings(c.embeddings, c.space, cells, space.num_ops, c.seed, arrays)
    if say:
        say("encodings: " + ", ".join(f"{e.name} ({e.source}, {e.dim}-d)" for e in encodings))

    done: dict[str, dict] = {}
    if staging is not None:
        done = _finished(staging.path, c) if staging.resumed else {}
        write_json(staging.path / "config.json", c.to_dict())
    space_title = get_profile(c.space).title
    for name in wanted:
        if name in done:
            result.results[name] = done[name]
            if say:
                say(f"{name}: kept from the interrupted run")
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        title = f"{space_title} {c.dataset}" if name in NEEDS_ACCURACY else space_title
        data, figs = _analyse(name, c, space, cells, encodings, acc, model, title, say)
        data = _clean({"analysis": name, "space": c.space, "dataset": c.dataset if name in NEEDS_ACCURACY else None,
                       "encodings_used": [e.describe() for e in encodings], **data,
                       "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0})
        result.results[name] = data
        result.figures.update(figs)
        if staging is not None:
            for fig_name, fig in figs.items():
                result.paths.append(figures.save(fig, staging.path / f"{fig_name}.png"))
            result.paths.append(write_json(staging.path / f"{name}.json", data))


def _finished(folder: Path, c: AnalysisConfig) -> dict[str, dict]:
    """Analyses an interrupted run with the same settings finished (their JSON and PNGs exist)."""
    try:
        saved = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    now = json.loads(json.dumps(c.to_dict()))
    if {k: v for k, v in saved.items() if k != "threads"} != {k: v for k, v in now.items() if k != "threads"}:
        raise ValueError(f"{folder} was started with other settings; use --overwrite to start afresh")
    out = {}
    for name in ANALYSES:
        path = folder / f"{name}.json"
        if path.exists() and (folder / f"{name}.png").exists():
            try:
                out[name] = json.loads(path.read_text())
            except ValueError:
                continue
    return out


def _analyse(name, c, space, cells, encodings: list[Encoding], acc, model, title, say):
    values = {e.name: e.values for e in encodings}
    if name == "predictive":
        data = predictive(values, acc, c.threshold, c.seeds, c.train_size, c.seed, c.kernel, c.gp_restarts,
                          progress=say, threads=c.threads)
        return data, {"predictive": figures.predictive_figure(data, title)}
    if name == "smoothness":
        walk, drawn = walk_cells(space, cells, c.walk_length, c.seed)
        data = smoothness(space, cells, values, walk, drawn, progress=say)
        return data, {"smoothness": figures.smoothness_figure(data, title)}
    if name == "map":
        data = latent_map(values, acc, c.map_cells, c.map_high, c.map_low, c.map_grid, c.perplexity,
                          c.tsne_iterations, c.seed, progress=say, threads=c.threads, angle=c.tsne_angle)
        return data, {"map": figures.map_figure(data, title, c.dataset)}
    if name == "walk":
        starts = _start_cells(c, len(cells))
        data = walk_analysis(space, cells, values, starts, min(c.walk_steps, len(cells) - 1), progress=say)
        figs = {"walk": figures.walk_figure(data, cells, space.op_names, title)}
        if model is not None:
            first = next(iter(data["encodings"].values()))["walks"][0]["cells"]
            interp = interpolation(model, space, cells, first[0], first[-1], c.interpolation_points)
            data["interpolation"] = interp
            figs["interpolation"] = figures.interpolation_figure(interp, space.op_names, title)
        return data, figs
    raise ValueError(f"unknown analysis {name!r}")
