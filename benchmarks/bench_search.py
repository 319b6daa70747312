"""Speed of batched search: wall time of many seeds as one computation, against the published code.

Measures, on this machine (CPU unless JAX finds an accelerator):
1. 500 seeds of each method (rl, rs, re; bo if installed) on NAS-Bench-201 CIFAR-10 with the
   12,000 s budget, both presets: compile time (ahead of time) and run time (median of repeats),
   against 500 x the published code's per-seed time measured on this machine kind (docs/reference.md, "The published code's speed":
   REINFORCE 5.5 s a seed, DNGO 137 s a seed; none was measured for RS/RE);
2. seed scaling: 1, 10, 100, 500, 1000 seeds;
3. an NB101-sized problem: 423,624 cells, synthetic accuracies and costs (uniform 1,000-5,000 s,
   so the 1.5e6 s budget buys about 500 queries, as in the published NB101 runs), random
   embeddings and a random 31-neighbour table; against the published 27 s per 500-query run.

Timing only: the embeddings are a stand-in (see benchmarks/_data.py), which changes where a search
goes, not how long a query takes. The machine is shared: the load average is recorded with every
number; compare ratios within one run.

    python benchmarks/bench_search.py [--repeats 3] [--quick] [--no-nb101]
"""

from __future__ import annotations

import argparse
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

from _data import nb201_benchmark, nb201_neighbours, stand_in_embeddings  # noqa: E402

from a2v_jax._io import write_json  # noqa: E402
from a2v_jax.search import runner  # noqa: E402
from a2v_jax.search.build import make_problem  # noqa: E402
from a2v_jax.search.methods import get_method, make_config  # noqa: E402
from a2v_jax.search.problem import Problem  # noqa: E402

PUBLISHED_SECONDS_PER_SEED = {"rl": 5.5, "bo": 137.0}  # NB201 CIFAR-10, docs/reference.md
PUBLISHED_NB101_RL_SECONDS_PER_RUN = 27.0  # 500-query run, table loading (41 s) excluded


def load() -> float:
    return os.getloadavg()[0]


def measure(module, problem, config, seeds: int, repeats: int) -> dict:
    keys = runner.seed_keys(seeds)
    batched = runner.BatchedRun(module, problem, config, seeds)
    load0 = load()
    compile_s = batched.compile(keys)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = jax.block_until_ready(batched(keys))
        times.append(time.perf_counter() - t0)
    count = np.asarray(out.trace.count)
    return {
        "seeds": seeds,
        "compile_s": compile_s,
        "run_s_median": float(np.median(times)),
        "run_s_all": times,
        "queries_mean": float(count.mean()),
        "load_avg": [load0, load()],
    }


def methods_available() -> list[str]:
    return ["rl", "bo", "rs", "re"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median reported)")
    ap.add_argument("--quick", action="store_true", help="fewer seed counts, one repeat (a smoke test)")
    ap.add_argument("--no-nb101", action="store_true", help="skip the NB101-sized runs")
    ap.add_argument("--nb101-seeds", default="100,500", help="seed counts for the NB101-sized run")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "search_speed.json")
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    scaling = [1, 10, 100] if args.quick else [1, 10, 100, 500, 1000]

    bench, source = nb201_benchmark("cifar10")
    emb, emb_source = stand_in_embeddings()
    nbrs, nb_source = nb201_neighbours()
    problem = make_problem(bench, emb, 12_000.0, None, nbrs).problem
    methods = methods_available()
    results: dict = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "jax": jax.__version__, "device": str(jax.devices()[0]), "load_avg_start": load()},
        "nb201": {"dataset": "cifar10", "budget_s": 12_000.0, "benchmark": source, "embeddings": emb_source,
                  "neighbours": nb_source, "runs": []},
        "scaling": [],
        "nb101_sized": [],
    }

    print(f"NB201 CIFAR-10, 500 seeds, 12,000 s budget ({jax.devices()[0].platform}; load {load():.1f})")
    print(f"{'method':6s} {'preset':9s} {'compile s':>9s} {'run s':>8s} {'queries':>7s} {'published s':>11s} {'speed-up':>9s}")
    for m in methods:
        module = get_method(m)
        for preset in ("fixed", "reference"):
            r = measure(module, problem, make_config(module, "nb201", preset), 500, repeats)
            pub = PUBLISHED_SECONDS_PER_SEED.get(m)
            r.update(method=m, preset=preset, published_s=None if pub is None else 500 * pub)
            r["speedup"] = None if pub is None else 500 * pub / r["run_s_median"]
            r["speedup_incl_compile"] = None if pub is None else 500 * pub / (r["run_s_median"] + r["compile_s"])
            results["nb201"]["runs"].append(r)
            pub_s = "-" if pub is None else f"{500 * pub:.0f}"
            speed = "-" if pub is None else f"{r['speedup']:.0f}x"
            print(f"{m:6s} {preset:9s} {r['compile_s']:9.1f} {r['run_s_median']:8.2f} {r['queries_mean']:7.1f} "
                  f"{pub_s:>11s} {speed:>9s}", flush=True)

    print(f"\nseed scaling, fixed preset (load {load():.1f})")
    print(f"{'method':6s} {'seeds':>6s} {'compile s':>9s} {'run s':>8s} {'ms/seed':>8s}")
    for m in methods:
        module = get_method(m)
        config = make_config(module, "nb201", "fixed")
        for s in scaling:
            r = measure(module, problem, config, s, repeats)
            r.update(method=m, preset="fixed")
            results["scaling"].append(r)
            print(f"{m:6s} {s:6d} {r['compile_s']:9.1f} {r['run_s_median']:8.2f} {1000 * r['run_s_median'] / s:8.1f}", flush=True)

    if not args.no_nb101:
        n = 423_624
        rng = np.random.default_rng(0)
        feats = rng.normal(size=(n, 16)).astype(np.float32) * 0.25
        w = rng.normal(size=16)
        reward = 0.9 + 0.04 * np.tanh(feats @ w)
        cost = rng.uniform(1000.0, 5000.0, size=n)
        nb = rng.integers(0, n, size=(n, 31)).astype(np.int32)
        big = Problem.create(feats, reward, reward - 0.005, cost, max_time=1.5e6, neighbours=nb)
        print(f"\nNB101-sized: {n:,} cells, 1.5e6 s budget, capacity {big.max_queries} (load {load():.1f})")
        print(f"{'method':6s} {'seeds':>6s} {'compile s':>9s} {'run s':>8s} {'queries':>7s} {'s/seed':>7s} {'published s/seed':>16s}")
        for m in [x for x in methods if x != "bo"]:
            module = get_method(m)
            config = make_config(module, "nb101", "fixed")
            for s in [int(x) for x in args.nb101_seeds.split(",")]:
                r = measure(module, big, config, s, 1)
                r.update(method=m, preset="fixed", cells=n)
                if m == "rl":
                    r["published_s_per_seed"] = PUBLISHED_NB101_RL_SECONDS_PER_RUN
                    r["speedup"] = PUBLISHED_NB101_RL_SECONDS_PER_RUN * s / r["run_s_median"]
                results["nb101_sized"].append(r)
                print(f"{m:6s} {s:6d} {r['compile_s']:9.1f} {r['run_s_median']:8.1f} {r['queries_mean']:7.1f} "
                      f"{r['run_s_median'] / s:7.3f} {'27 (rl)' if m == 'rl' else '-':>16s}", flush=True)

    results["machine"]["load_avg_end"] = load()
    write_json(args.out, results)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
