"""Cost of the supervised and discrete-encoding baselines on NAS-Bench-201, and what 500 seeds take.

Measures, on this machine (CPU unless JAX finds an accelerator), NB201 CIFAR-10 with its 12,000 s
budget, the fixed preset, compile time excluded (it is reported beside):
1. `rl-supervised` seeds/s at 10, 100 and 500 seeds (`--rl-seeds`): every episode re-embeds all
   15,625 cells with each seed's own GIN, so this is the strategy whose cost grows with the space;
   seeds run in in-graph chunks of `--seed-chunk` (bounded memory);
2. seconds per seed of each of the four baselines at a small seed count (`--seeds`; bo-supervised
   at `--bo-supervised-seeds`, it is by far the slowest);
3. FLOPs per seed from the networks' sizes (counted, not profiled: multiply-adds x 2, a backward pass
   counted as two forward passes), and from both the cost of 500 seeds x 3 datasets, and the most
   seeds that fit in `--hour` seconds per dataset at the measured rate.

The FLOP counts use the queries a seed makes on each dataset (measured here for CIFAR-10; for
CIFAR-100 and ImageNet16-120 taken from `--queries-per-dataset`, default the arch2vec runs' means in
benchmarks/results/table3.md), so the 3-dataset estimates scale the CIFAR-10 time by FLOPs.

The machine is shared: the load average is recorded with every number.

With `--runs DIR`, the finished CLI runs of these methods in DIR (Table 3's 500-seed rows, one
`python -m a2v_jax.search` each) are listed with their seeds/s as well, so a 500-seed rate need not
be measured twice.

    python benchmarks/bench_baselines.py [--rl-seeds 10,100,500] [--seeds 10] [--bo-supervised-seeds 4] [--runs DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import nb201_benchmark  # noqa: E402

from a2v_jax._io import write_json  # noqa: E402
from a2v_jax.search import runner  # noqa: E402
from a2v_jax.search.build import make_problem, space_cells  # noqa: E402
from a2v_jax.search.methods import get_method, make_config  # noqa: E402

METHODS = ("rl-discrete", "bo-discrete", "rl-supervised", "bo-supervised")


def load() -> float:
    return os.getloadavg()[0]


def measure(method: str, problem, seeds: int, seed_chunk: int | None) -> dict:
    module = get_method(method)
    config = make_config(method, "nb201", "fixed")
    keys = runner.seed_keys(seeds)
    batched = runner.BatchedRun(module, problem, config, seeds, seed_chunk=seed_chunk)
    load0 = load()
    compile_s = batched.compile(keys)
    t0 = time.perf_counter()
    out = jax.block_until_ready(batched(keys))
    run_s = time.perf_counter() - t0
    count = np.asarray(out.trace.count)
    extra = {}
    if hasattr(out, "rounds"):
        extra["rounds_mean"] = float(np.asarray(out.rounds).mean())
    if hasattr(out, "episodes"):
        extra["episodes_mean"] = float(np.asarray(out.episodes).mean())
    return {
        "method": method, "seeds": seeds, "seed_chunk": seed_chunk, "compile_s": compile_s, "run_s": run_s,
        "seconds_per_seed": run_s / seeds, "seeds_per_s": seeds / run_s, "queries_mean": float(count.mean()),
        "counts": count.tolist(), "load_avg": [load0, load()], **extra,
    }


# ------------------------------------------------------------------------------------------ FLOPs


def gin_macs_per_graph(n: int, k: int, edges: float, hidden: int = 128, latent: int = 16, layers: int = 4) -> float:
    """Multiply-adds of one GIN forward pass over one cell (n vertices, k op kinds, `edges` messages)."""
    macs, width = 0.0, k
    for _ in range(layers):
        macs += edges * width  # messages
        macs += n * (width * hidden + hidden * hidden)  # the two Linear layers of the MLP
        width = hidden
    return macs + n * hidden * latent  # the per-vertex output layer


def rl_supervised_flops(queries: float, cells: int, graph_macs: float, episode: int = 16) -> float:
    episodes = np.ceil(queries / episode)
    whole_space = episodes * cells * graph_macs * 2
    rollout = queries * graph_macs * 2 * 3  # each step: one graph forward, replayed forward + backward in the loss
    return float(whole_space + rollout)


def bo_supervised_flops(queries: float, cells: int, graph_macs: float, n_init: int = 16, top_k: int = 1,
                        epochs: int = 100, batch: int = 10) -> float:
    total = 0.0
    n = n_init
    while n < queries:
        steps = epochs * max(1, n // batch)
        rows = batch if n > batch else n
        total += steps * rows * graph_macs * 2 * 3  # training: forward + backward
        total += n * graph_macs * 2  # design matrix
        total += cells * graph_macs * 2  # scoring every cell
        n += top_k
    return total


def dngo_flops(queries: float, cells: int, d: int, hidden: int = 128, n_init: int = 16, top_k: int = 1,
               epochs: int = 100, batch: int = 10) -> float:
    total, n = 0.0, n_init
    while n < queries:
        total += epochs * max(1, n // batch) * min(batch, n) * (d * hidden + hidden) * 2 * 3
        total += cells * (d * hidden + 2 * hidden * hidden) * 2  # basis, mean and variance of every cell
        n += top_k
    return total


def rl_discrete_flops(queries: float, cells: int, d: int) -> float:
    return float(queries * cells * d * 2)


def finished_runs(runs: Path, skip: set[str]) -> list[dict]:
    """Seeds/s of the baselines' finished CLI runs (`python -m a2v_jax.search ... --out
    runs/<method>-<preset>-<dataset>`, e.g. Table 3's 500-seed rows): the same computation as
    `measure`, timed by the CLI (compile apart; the load during the run is not recorded there)."""
    rows = []
    print(f"\nfinished runs in {runs}")
    print(f"{'run':38s} {'seeds':>5s} {'compile s':>9s} {'run s':>8s} {'s/seed':>7s} {'seeds/s':>8s} {'devices':>7s}")
    for m in METHODS:
        if m in skip:
            continue
        for folder in sorted(runs.glob(f"{m}-*")):
            summary, run = folder / "summary.json", folder / "run.json"
            if not (summary.is_file() and run.is_file()) or "+" in folder.name:
                continue
            info = json.loads(run.read_text())
            if info.get("method") != m or not info.get("complete"):
                continue
            d = json.loads(summary.read_text())
            timing = d.get("timing", {})
            run_s = float(timing.get("run_seconds_all_sessions", timing.get("run_seconds", d["seconds"])))
            row = {"run": folder.name, "method": m, "preset": d["preset"], "dataset": d["dataset"], "seeds": d["seeds"],
                   "compile_s": timing.get("compile_seconds"), "run_s": run_s, "seconds_per_seed": run_s / d["seeds"],
                   "seeds_per_s": d["seeds"] / run_s, "devices": d["devices"], "platform": d["platform"],
                   "written": info.get("written")}
            rows.append(row)
            compile_s = float("nan") if row["compile_s"] is None else row["compile_s"]
            print(f"{folder.name:38s} {row['seeds']:5d} {compile_s:9.1f} {run_s:8.1f} {row['seconds_per_seed']:7.2f} "
                  f"{row['seeds_per_s']:8.3f} {row['devices']:7d}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rl-seeds", default="10,100,500", help="seed counts for the rl-supervised scaling")
    ap.add_argument("--seed-chunk", type=int, default=25, help="in-graph seed chunk for the GIN strategies")
    ap.add_argument("--seeds", type=int, default=10, help="seeds for the per-seed time of the other baselines")
    ap.add_argument("--bo-supervised-seeds", type=int, default=4, help="seeds for bo-supervised's per-seed time")
    ap.add_argument("--hour", type=float, default=3600.0, help="seconds per dataset the seed-count proposal must fit")
    ap.add_argument("--queries-per-dataset", default="cifar100=110,ImageNet16-120=105",
                    help="queries a seed makes on the other datasets (for the FLOP scaling)")
    ap.add_argument("--skip", default="", help="comma-separated methods to leave out")
    ap.add_argument("--runs", type=Path, default=None,
                    help="folder of finished Table 3 runs (<method>-<preset>-<dataset>): their seeds/s join the table")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "baselines_speed.json")
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}

    bench, source = nb201_benchmark("cifar10")
    cells = space_cells("nb201", len(bench))
    problem = make_problem(bench, None, 12_000.0, None, None, cells).problem
    n_cells, n, k = problem.num_cells, problem.graphs.num_nodes, problem.graphs.num_ops
    edges = float((np.asarray(problem.graphs.receivers) >= 0).sum(axis=1).mean())  # messages of A + A^T
    results: dict = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "jax": jax.__version__, "device": str(jax.devices()[0]), "load_avg_start": load()},
        "problem": {"space": "nb201", "dataset": "cifar10", "budget_s": 12_000.0, "benchmark": source, "cells": n_cells,
                    "preset": "fixed", "note": "run_s excludes compilation (compile_s)"},
        "rl_supervised_scaling": [],
        "per_seed": [],
    }

    print(f"NB201 CIFAR-10, 12,000 s budget, fixed preset ({jax.devices()[0].platform}; load {load():.1f})")
    if "rl-supervised" not in skip:
        print(f"\nrl-supervised scaling (seed chunk {args.seed_chunk})")
        print(f"{'seeds':>6s} {'compile s':>9s} {'run s':>8s} {'s/seed':>7s} {'seeds/s':>8s} {'queries':>7s} {'load':>10s}")
        for s in [int(x) for x in args.rl_seeds.split(",")]:
            r = measure("rl-supervised", problem, s, args.seed_chunk if s > args.seed_chunk else None)
            results["rl_supervised_scaling"].append(r)
            print(f"{s:6d} {r['compile_s']:9.1f} {r['run_s']:8.1f} {r['seconds_per_seed']:7.2f} {r['seeds_per_s']:8.3f} "
                  f"{r['queries_mean']:7.1f} {r['load_avg'][0]:4.1f}-{r['load_avg'][1]:4.1f}", flush=True)
            write_json(args.out, results)

    if args.runs is not None:
        results["finished_runs"] = finished_runs(args.runs, skip)
        write_json(args.out, results)

    print("\nper seed")
    print(f"{'method':14s} {'seeds':>5s} {'compile s':>9s} {'run s':>8s} {'s/seed':>7s} {'queries':>7s} {'load':>10s}")
    for m in METHODS:
        if m in skip:
            continue
        if m == "rl-supervised" and results["rl_supervised_scaling"]:
            r = dict(results["rl_supervised_scaling"][min(1, len(results["rl_supervised_scaling"]) - 1)])
        else:
            s = args.bo_supervised_seeds if m == "bo-supervised" else args.seeds
            r = measure(m, problem, s, args.seed_chunk if m.endswith("supervised") and s > args.seed_chunk else None)
        results["per_seed"].append(r)
        print(f"{m:14s} {r['seeds']:5d} {r['compile_s']:9.1f} {r['run_s']:8.1f} {r['seconds_per_seed']:7.2f} "
              f"{r['queries_mean']:7.1f} {r['load_avg'][0]:4.1f}-{r['load_avg'][1]:4.1f}", flush=True)
        write_json(args.out, results)

    # FLOPs and the cost of 500 seeds x 3 datasets
    graph_macs = gin_macs_per_graph(n, k, edges)
    d = n * (n - 1) // 2 + n * k
    queries = {"cifar10": None}
    for item in args.queries_per_dataset.split(","):
        name, q = item.split("=")
        queries[name] = float(q)
    flops_fn = {
        "rl-supervised": lambda q: rl_supervised_flops(q, n_cells, graph_macs),
        "bo-supervised": lambda q: bo_supervised_flops(q, n_cells, graph_macs),
        "rl-discrete": lambda q: rl_discrete_flops(q, n_cells, d),
        "bo-discrete": lambda q: dngo_flops(q, n_cells, d),
    }
    print(f"\ncost of 500 seeds x 3 datasets (GIN forward {2 * graph_macs / 1e6:.2f} MFLOP a cell; "
          f"the other datasets scaled from CIFAR-10 by FLOPs)")
    print(f"{'method':14s} {'GFLOP/seed c10':>14s} {'GFLOP/s':>8s} {'s/seed':>7s} {'500x3 hours':>11s} {'seeds in 1 h/dataset':>21s}")
    results["estimates"] = []
    for r in results["per_seed"]:
        m = r["method"]
        per_dataset = {}
        for name, q in queries.items():
            q = r["queries_mean"] if q is None else q
            per_dataset[name] = {"queries": q, "gflop_per_seed": flops_fn[m](q) / 1e9}
        c10 = per_dataset["cifar10"]["gflop_per_seed"]
        rate = c10 / r["seconds_per_seed"]  # achieved GFLOP/s on this machine, this load
        seconds = {name: v["gflop_per_seed"] / rate for name, v in per_dataset.items()}
        total_h = sum(500 * s for s in seconds.values()) / 3600
        fit = {name: int(args.hour // s) for name, s in seconds.items()}
        results["estimates"].append({"method": m, "per_dataset": per_dataset, "achieved_gflop_per_s": rate,
                                     "seconds_per_seed": seconds, "hours_500_seeds_3_datasets": total_h,
                                     "seeds_within_budget_per_dataset": fit, "budget_s": args.hour})
        print(f"{m:14s} {c10:14.1f} {rate:8.1f} {r['seconds_per_seed']:7.2f} {total_h:11.1f} "
              f"{min(fit.values()):>21d}", flush=True)

    results["machine"]["load_avg_end"] = load()
    write_json(args.out, results)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
