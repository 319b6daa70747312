"""One command that measures what an accelerator (or a CPU) does for this project, within minutes.

    python benchmarks/device_check.py            # the full check: < 8 minutes on one GPU
    python benchmarks/device_check.py --tiny     # the same code paths with tiny settings (CI, CPU)

It installs nothing and uses whatever devices JAX finds (`jax.devices()`; it never names a
platform). The NB201 CIFAR-10 table is read (or built from the public files in `$A2V_DATA/nb201`)
by `a2v_jax.data.load_benchmark`. Parts, in this order (`--parts` picks some):

- `pretrain`: NB201 default pretraining through the public API (`a2v_jax.pretrain.run`, default
  settings: 10 epochs, all 15,625 cells), wall time all in (compilation, per-epoch metrics and the
  embedding export included) and training steps/s; then K = 8 seeds at once when the pretraining
  API takes a number of seeds (noted and skipped otherwise). Its embeddings feed the searches.
- `search`: REINFORCE (`rl`) and DNGO (`bo`) on NB201 CIFAR-10 with the published 12,000 s budget
  at 1, 500 and 5,000 seeds, each as one batched computation: compile and run timed apart.
- `nb101`: REINFORCE on an NB101-sized space (423,624 cells, synthetic accuracies, costs and
  embeddings; the published 1.5e6 s budget buys about 500 queries a seed) at 100 and 500 seeds:
  the nearest-neighbour scan over all cells for every query of every seed, in blocks of 4,096
  cells (REINFORCE's default on CPU, sized for its caches) and of 65,536 (its default on an
  accelerator: fewer, larger steps; a [500, 65,536] float32 block is 131 MB), so one run shows
  which suits the device.
- `devices`: REINFORCE at 500 seeds on meshes of 1, 2, 4, ... and all devices: seeds/s against
  the device count.

Every size is run only if the time left allows it (`--minutes`): the run time of the next size is
predicted from the sizes of the same kind measured so far (affine in seeds through the last two;
from one size, proportional, and then a probe size in between is run first when it fits), and a
size that would not fit is skipped with a note, so the whole check stays within its budget on any
machine. Every row is written as soon as it is measured. A failure of one measurement (e.g. out of
device memory) is recorded and the check goes on.

Writes `benchmarks/results/device-<platform>.json` and `.md` (`device-<platform>-tiny.*` with
`--tiny`, so a smoke run never replaces real figures); `--out-dir` writes elsewhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax._io import write_json  # noqa: E402
from a2v_jax.data import load_benchmark  # noqa: E402
from a2v_jax.pretrain import PretrainConfig  # noqa: E402
from a2v_jax.pretrain import run as pretrain_run  # noqa: E402
from a2v_jax.search import runner  # noqa: E402
from a2v_jax.search.build import make_problem  # noqa: E402
from a2v_jax.search.methods import get_method, make_config  # noqa: E402
from a2v_jax.search.problem import Problem  # noqa: E402

PARTS = ("pretrain", "search", "nb101", "devices")
NB101_CELLS = 423_624


@dataclasses.dataclass(frozen=True)
class Settings:
    """What each part runs; `TINY` exercises the same code in about a minute or two on a CPU."""

    pretrain_epochs: int | None = None  # None: the default (10 for NB201)
    prior_samples: int | None = None  # None: the default
    pretrain_seeds: int = 8
    search_seeds: tuple[int, ...] = (1, 500, 5000)
    nb201_budget: float = 12_000.0
    bo_overrides: tuple[tuple[str, Any], ...] = ()
    nb101_seeds: tuple[int, ...] = (100, 500)
    nb101_budget: float = 1.5e6
    nb101_queries: int | None = None
    nb101_chunks: tuple[int, ...] = (4096, 65536)
    device_seeds: int = 500
    minutes: float = 8.0


FULL = Settings()
TINY = Settings(pretrain_epochs=1, prior_samples=500, pretrain_seeds=2, search_seeds=(1, 3), nb201_budget=3_000.0,
                bo_overrides=(("epochs", 10),), nb101_seeds=(2,), nb101_queries=48, device_seeds=4, minutes=30.0)


class Clock:
    """The check's time budget: what is left, and whether a predicted duration fits in it."""

    def __init__(self, minutes: float) -> None:
        self.start, self.limit = time.perf_counter(), 60.0 * minutes

    def left(self) -> float:
        return self.limit - (time.perf_counter() - self.start)

    def fits(self, seconds: float) -> bool:
        return seconds < self.left()


class Report:
    """Rows per part, notes, and the machine; written as JSON and a markdown table."""

    def __init__(self, tiny: bool, out_dir: Path, settings: Settings) -> None:
        self.out_dir, self.settings, self.t0 = out_dir, settings, time.perf_counter()
        devs = jax.devices()
        self.data: dict[str, Any] = {
            "platform": jax.default_backend(),
            "device_kind": devs[0].device_kind,
            "device_count": len(devs),
            "process_count": jax.process_count(),
            "jax": jax.__version__,
            "python": platform.python_version(),
            "host": {"machine": platform.machine(), "cpus": os.cpu_count(), "load_avg_start": _load()},
            "tiny": tiny,
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "parts": {},
            "notes": [],
        }

    def add(self, part: str, row: dict[str, Any]) -> None:
        self.data["parts"].setdefault(part, []).append(row)
        print(f"[{part}] " + ", ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)
        self.write(finished=False)

    def note(self, text: str) -> None:
        self.data["notes"].append(text)
        print(f"note: {text}", flush=True)
        self.write(finished=False)

    def write(self, finished: bool = True) -> tuple[Path, Path]:
        """Written after every row too (`finished` false), so a check killed by a time limit or
        an out-of-memory crash still leaves every figure measured before it."""
        self.data["seconds"] = round(time.perf_counter() - self.t0, 1)
        self.data["finished"] = finished
        self.data["host"]["load_avg_end"] = _load()
        self.data["settings"] = dataclasses.asdict(self.settings)
        name = f"device-{self.data['platform']}{'-tiny' if self.data['tiny'] else ''}"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        json_path = write_json(self.out_dir / f"{name}.json", self.data)
        md_path = self.out_dir / f"{name}.md"
        md_path.write_text(self.markdown())
        return json_path, md_path

    def markdown(self) -> str:
        d = self.data
        lines = [
            f"# Device check: {d['device_count']} x {d['device_kind']} ({d['platform']})",
            "",
            f"JAX {d['jax']}, Python {d['python']}, {d['process_count']} process(es); host {d['host']['machine']} with "
            f"{d['host']['cpus']} CPUs, load {d['host']['load_avg_start']:.1f} -> {d['host'].get('load_avg_end', 0):.1f}; "
            f"{'tiny settings (a smoke run, not a measurement); ' if d['tiny'] else ''}"
            f"{d.get('seconds', 0):.0f} s in all{'' if d.get('finished', True) else ' so far (the check had not finished)'}, "
            f"started {d['started']}. Written by `{d.get('command', 'python benchmarks/device_check.py')}`.",
        ]
        titles = {
            "pretrain": "Pretraining, NB201, default settings (`a2v_jax.pretrain.run`)",
            "search": f"Search, NB201 CIFAR-10, {d.get('settings', {}).get('nb201_budget', 0):,.0f} s budget "
                      "(one batched computation per row; compile and run apart)",
            "nb101": f"REINFORCE on an NB101-sized space ({NB101_CELLS:,} cells, synthetic values)",
            "devices": "Seeds/s against the number of devices (REINFORCE, NB201 CIFAR-10)",
        }
        for part, rows in d["parts"].items():
            keys = list(dict.fromkeys(k for r in rows for k in r))
            lines += ["", f"## {titles.get(part, part)}", "", "| " + " | ".join(keys) + " |",
                      "|" + "---|" * len(keys)]
            lines += ["| " + " | ".join(_fmt(r.get(k, "")) for k in keys) + " |" for r in rows]
        if d["notes"]:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in d["notes"]]
        return "\n".join(lines) + "\n"


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


# ---------------------------------------------------------------------- pretraining


def _pretrain_seeds_field() -> str | None:
    """The pretraining config's number-of-seeds field, if this checkout's API has one."""
    names = {f.name for f in dataclasses.fields(PretrainConfig)}
    return next((n for n in ("seeds", "num_seeds") if n in names), None)


def _training(result: Any) -> dict[str, Any]:
    """Epochs, training steps (per member) and training seconds of a finished run, from what
    every version of the pretraining API reports: the members' metrics and the run's config."""
    members = getattr(result, "runs", None) or [result]
    metrics = members[0].metrics
    config = result.config.resolved() if hasattr(result.config, "resolved") else result.config
    cells = len(result.hashes)
    batches = -(-int(cells * config.train_fraction) // config.batch_size)
    epochs = int(metrics.get("epochs") or config.epochs)
    train_s = float(metrics["total_train_seconds"])
    return {"members": len(members), "epochs": epochs, "steps": epochs * batches, "train_s": train_s,
            "compile_s": metrics.get("compile_seconds"), "reconstruction": metrics.get("reconstruction_accuracy")}


def run_pretrain(report: Report, settings: Settings, work: Path, clock: Clock) -> Path | None:
    """Default NB201 pretraining, all in; returns its embeddings file."""
    extra: dict[str, Any] = {}
    if settings.pretrain_epochs is not None:
        extra["epochs"] = settings.pretrain_epochs
    if settings.prior_samples is not None:
        extra["prior_samples"] = settings.prior_samples
    config = PretrainConfig(space="nb201", out=str(work / "pretrain"), overwrite=True, progress=False, **extra)
    t0 = time.perf_counter()
    result = pretrain_run(config)
    wall = time.perf_counter() - t0
    t = _training(result)
    report.add("pretrain", {"run": "one seed", "epochs": t["epochs"], "steps": t["steps"], "all_in_s": wall,
                            "train_s": t["train_s"], "steps_per_s": t["steps"] / max(t["train_s"], 1e-9),
                            "reconstruction": t["reconstruction"]})
    embeddings = Path(result.out) / "embeddings.npz"
    field = _pretrain_seeds_field()
    k = settings.pretrain_seeds
    if field is None:
        report.note(f"K = {k} vmapped pretraining seeds: skipped, this checkout's PretrainConfig takes no number of seeds")
    elif not clock.fits(wall * 2):
        report.note(f"K = {k} pretraining seeds: skipped, predicted {wall * 2:.0f} s with {clock.left():.0f} s left")
    else:
        config_k = dataclasses.replace(config, out=str(work / "pretrain-k"), **{field: k})
        t0 = time.perf_counter()
        try:
            result_k = pretrain_run(config_k)
        except Exception as e:  # noqa: BLE001 - e.g. out of memory: record it and go on
            report.note(f"K = {k} pretraining seeds failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
            return embeddings
        wall_k = time.perf_counter() - t0
        tk = _training(result_k)
        report.add("pretrain", {"run": f"{tk['members']} seeds at once", "epochs": tk["epochs"], "steps": tk["steps"],
                                "all_in_s": wall_k, "train_s": tk["train_s"],
                                "steps_per_s": tk["steps"] / max(tk["train_s"], 1e-9),
                                "seed_steps_per_s": tk["members"] * tk["steps"] / max(tk["train_s"], 1e-9)})
    return embeddings


# ---------------------------------------------------------------------- search


def measure(module: Any, problem: Problem, config: Any, seeds: int, mesh: Any = None) -> dict[str, Any]:
    """Compile, then one timed run of `seeds` seeds to the end of their budgets."""
    keys = runner.seed_keys(seeds)
    batched = runner.BatchedRun(module, problem, config, seeds, mesh)
    compile_s = batched.compile(keys)
    t0 = time.perf_counter()
    states = jax.block_until_ready(batched(keys))
    run_s = time.perf_counter() - t0
    count = np.asarray(states.trace.count)
    last = np.maximum(count - 1, 0)[:, None]
    final_test = np.take_along_axis(np.asarray(states.trace.incumbent_test), last, axis=1)[:, 0]
    return {"seeds": seeds, "compile_s": compile_s, "run_s": run_s, "seeds_per_s": seeds / run_s,
            "queries_per_seed": float(count.mean()), "final_test_mean": float(np.mean(final_test))}


def predict(done: list[dict[str, Any]], seeds: int) -> float:
    """Seconds of a run of `seeds` seeds: compile plus run, the run time affine in seeds through the
    last two sizes measured (with one size measured: proportional to seeds, the cautious guess; a
    batched run on an accelerator costs far less than that, which a second size shows)."""
    last = done[-1]
    if len(done) == 1:
        run = last["run_s"] * seeds / last["seeds"]
    else:
        prev = done[-2]
        slope = max(0.0, (last["run_s"] - prev["run_s"]) / max(last["seeds"] - prev["seeds"], 1))
        run = last["run_s"] + slope * (seeds - last["seeds"])
    return last["compile_s"] + max(run, last["run_s"])


def sweep(report: Report, part: str, label: dict[str, Any], sizes: tuple[int, ...], clock: Clock, fn) -> None:
    """`fn(seeds)` for each size that the time left allows (predicted from the sizes measured). When
    a size does not fit by the one-size guess, a probe size between (their geometric mean) is run
    first if it fits, so that the prediction sees how the run time grows with seeds."""
    done: list[dict[str, Any]] = []

    def attempt(seeds: int) -> bool:
        try:
            row = fn(seeds)
        except Exception as e:  # noqa: BLE001 - e.g. out of device memory: record it and go on
            report.note(f"{part} {label}: {seeds} seeds failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
            traceback.print_exc()
            return False
        report.add(part, {**label, **row})
        done.append(row)
        return True

    for seeds in sizes:
        if done and not clock.fits(predict(done, seeds)) and len(done) == 1:
            probe = int(round((done[-1]["seeds"] * seeds) ** 0.5))
            if done[-1]["seeds"] < probe < seeds and clock.fits(predict(done, probe)) and not attempt(probe):
                break
        if done and not clock.fits(predicted := predict(done, seeds)):
            report.note(f"{part} {label}: {seeds} seeds skipped, predicted {predicted:.0f} s with "
                        f"{clock.left():.0f} s of the budget left")
            break
        if not attempt(seeds):
            break


def nb201_problem(embeddings: Path | None, budget: float, report: Report) -> Problem:
    bench = load_benchmark("nb201", "cifar10")
    if embeddings is not None:
        with np.load(embeddings) as z:
            features = np.asarray(z["embeddings"], np.float32)
    else:
        report.note("NB201 searches ran on random 16-d embeddings (no pretraining part): "
                    "the cost of a query is the same, the number of DNGO rounds may differ")
        features = np.random.default_rng(0).normal(size=(len(bench), 16)).astype(np.float32)
    return make_problem(bench, features, budget, None, None).problem


def run_search(report: Report, settings: Settings, problem: Problem, clock: Clock) -> None:
    for method in ("rl", "bo"):
        module = get_method(method)
        overrides = dict(settings.bo_overrides) if method == "bo" else {}
        config = make_config(module, "nb201", "fixed", **overrides)
        label = {"method": method, "preset": "fixed"}
        sweep(report, "search", label, settings.search_seeds, clock,
              lambda s, module=module, config=config: measure(module, problem, config, s))


def nb101_problem(settings: Settings) -> Problem:
    """NB101-sized synthetic problem: smooth accuracies over random embeddings, costs of 1,000-5,000 s."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(NB101_CELLS, 16)).astype(np.float32) * 0.25
    reward = 0.9 + 0.04 * np.tanh(features @ rng.normal(size=16))
    cost = rng.uniform(1000.0, 5000.0, size=NB101_CELLS)
    return Problem.create(features, reward, reward - 0.005, cost, max_time=settings.nb101_budget,
                          max_queries=settings.nb101_queries)


def run_nb101(report: Report, settings: Settings, clock: Clock) -> None:
    problem = nb101_problem(settings)
    module = get_method("rl")
    for chunk in settings.nb101_chunks:
        config = make_config(module, "nb101", "fixed", chunk=chunk)
        label = {"method": "rl", "preset": "fixed", "cells": NB101_CELLS, "scan_block": chunk}
        sweep(report, "nb101", label, settings.nb101_seeds, clock,
              lambda s, config=config: measure(module, problem, config, s))


def run_devices(report: Report, settings: Settings, problem: Problem, clock: Clock) -> None:
    n = jax.device_count()
    counts = sorted({2 ** i for i in range(n.bit_length()) if 2 ** i <= n} | {n})
    module = get_method("rl")
    config = make_config(module, "nb201", "fixed")
    base = None
    for k in counts:
        if base is not None and not clock.fits(base["compile_s"] + base["run_s"]):
            report.note(f"devices: meshes of {k}+ devices skipped, {clock.left():.0f} s left")
            break
        seeds = -(-settings.device_seeds // k) * k  # whole shares per device
        try:
            row = measure(module, problem, config, seeds, runner.make_mesh(k))
        except Exception as e:  # noqa: BLE001
            report.note(f"devices: {k} devices failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}")
            break
        base = base or row
        report.add("devices", {"devices": k, **row, "speed_up": row["seeds_per_s"] / base["seeds_per_s"]})
    if n == 1:
        report.note("one device: the device-count table has one row")


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny settings: the same code paths in a minute or two on a CPU")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--minutes", type=float, default=None, help="time budget (default: 8, or 30 with --tiny)")
    ap.add_argument("--embeddings", type=Path, default=None,
                    help="embeddings.npz for the NB201 searches when the pretrain part is left out")
    ap.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results",
                    help="where device-<platform>[-tiny].{json,md} go")
    args = ap.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        ap.error(f"unknown parts {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    settings = TINY if args.tiny else FULL
    if args.minutes is not None:
        settings = dataclasses.replace(settings, minutes=args.minutes)
    clock = Clock(settings.minutes)
    report = Report(args.tiny, args.out_dir, settings)
    report.data["command"] = " ".join(["python benchmarks/device_check.py", *(argv if argv is not None else sys.argv[1:])])
    d = report.data
    print(f"device check: {d['device_count']} x {d['device_kind']} ({d['platform']}), JAX {d['jax']}, "
          f"parts {', '.join(parts)}, budget {settings.minutes:g} min{' (tiny)' if args.tiny else ''}", flush=True)
    embeddings = args.embeddings
    with tempfile.TemporaryDirectory(prefix="a2v-device-check-") as work:
        if "pretrain" in parts:
            embeddings = run_pretrain(report, settings, Path(work), clock)
        problem = None
        if "search" in parts or "devices" in parts:
            problem = nb201_problem(embeddings, settings.nb201_budget, report)
        if "search" in parts:
            run_search(report, settings, problem, clock)
        if "nb101" in parts:
            run_nb101(report, settings, clock)
        if "devices" in parts:
            run_devices(report, settings, problem, clock)
    json_path, md_path = report.write()
    print("\n" + md_path.read_text())
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
