"""How fast DNGO search runs, seeds batched: NB201 CIFAR-10 (12,000 s budget) and an NB101-sized space.

The published arch2vec-DNGO takes 106-158 s a seed on NB201 CIFAR-10 on this machine kind (mean
137 s; docs/reference.md), one seed after another: 500 seeds are about 19 hours. Here all seeds of a
batch are one jitted computation (`vmap` of a `lax.while_loop` to the budget).

Parts (`--parts`, comma separated):
- `speed`:   wall time for 1, 10, 100, 500 seeds (compile timed apart), per preset; with the
             search results of each batch (queries, rounds, repeated queries, final reward and test
             accuracy of the incumbent), written per seed to `dngo_nb201_runs.json`.
- `profile`: one round's parts (basis-net training, eigendecomposition, Nelder-Mead, scoring every
             cell) on 100 seeds holding 60 observations, i.e. the middle of a run.
- `onehot`:  the same round profile with bo-discrete's features (the cells' flattened adjacency +
             one-hot ops, 84 values a cell, `a2v_jax.search.bo_discrete`) in place of the embeddings.
- `rank`:    scoring with the variance from as many directions as observations (not the
             library's form) against the full 128 x 128 quadratic form: what that product costs.
- `nb101`:   an NB101-sized space (423,624 cells; synthetic features, rewards and costs), top-5
             proposals, the published 1.5e6 s budget, a few seeds to the end of their budget.

NB201 features: learned arch2vec embeddings (`--embeddings`, an embeddings.npz from
`python -m a2v_jax.pretrain --space nb201`), else the one-hot stand-in of `benchmarks/_data.py`.
The cost of a round does not depend on them, but the number of rounds and repeats does.
Timings are wall-clock medians where repeated; the machine is shared, so the load average before
and after each measurement is recorded with it.

What bounds the speed (profile, NB201 CIFAR-10, 100 seeds at 60 observations, compiled with the
search's own XLA options, `dngo_profile.json`; wall ms per seed and round on 2 cores): scoring every
cell 6.4 (15,625 cells x a 128 x 128 quadratic form for the variance: 0.51 GFLOP, plus 0.07 for the
first layer and the mean; in a trace about half the scoring time is that product, the rest tanh, a
layout transpose and top-k), basis-net training 3.1 (about 600 sequential Adam steps of
minibatches of 10, bound by per-step work on small arrays; it was 4.4 before the first layer's
gradient became one reduce), eigendecomposition 1.2 (LAPACK, one seed at a time, one core),
Nelder-Mead 0.3; a whole round 10.2. XLA splits each operation over both cores (cpu ms are about
twice the wall ms); one XLA device a core (what the search command line runs on a CPU with several
cores, `a2v_jax.host_devices`) splits the seeds instead and was 8-9% faster at 500 seeds
(bench_startup.py).

The arithmetic of the 500-seed default run: about 0.68 GFLOP a seed and round (0.58 scoring, 0.1
training) x 500 seeds x 81.3 rounds = 27.6 TFLOP, plus the rounds of seeds that finish early but
keep stepping with their chunk (lockstep vmap): 13% with fixed chunks of 50 (30 TFLOP in all),
1.6% since the runner packs the seeds still running into as few chunks as they fill before each
segment (`runner.pack_order`; from the 500 traces of the committed fixed-preset run). One core's
float32 peak here (AVX2, 2 FMA pipes x 8 lanes x 2 x 2.45 GHz) is 78 GFLOP/s: 390 s; both cores
195 s. Measured all in, before packing: 521 s (58 GFLOP/s on average, 37% of the two cores' peak).
With packing (the same traces bit for bit), on an idle machine: 495 s all in on one device, 451 s
with one XLA device a core; on a faster day, `bench_startup.py --bo-500 --one-device`: 398 s with a
device a core (the command's default since), 438 s on one device. The code before and after
packing, run one after the other on a slower day (the unpacked code took 521 s on one day and
609-646 s on another): 522 s against 646 s, and 566 s against 609 s.

bo-discrete's rounds (`onehot`, `dngo_profile.json`, 20 seeds at 60 observations, fixed preset,
measured beside a 500-seed search, so as ratios to the embeddings' round in the same run): 2.5x
the embeddings' round, of which training 4.4x and scoring 1.3x. Its 84 inputs (54 of them constant
on NB201, so zero after z-scoring) enter training as [rows, inputs, hidden] elementwise products,
the form that keeps a seed's numbers the same alone and in a batch (`dngo._batch_grads`); training
on the 30 varying columns only would do 30/84 of that work, but it sums the products in another
order, so it would change bo-discrete's traces (and the committed rows made with them).

Is the quadratic form the bound? (`rank`, `dngo_profile.json`, measured beside a 500-seed search, so
as ratios): with n observations the posterior differs from the prior on an n-dimensional span only,
so the variance needs n of the 128 directions. At n = 32 / 64 / 96 scoring in that shorter form
was 1.38-1.48x / 1.14-1.23x / 1.01-1.02x faster than the full form (fixed / reference), with the
same top-k in every seed and variances changed by up to 2% (the shorter form subtracts). Over a
run's rounds (n from 16 to about 100) that is about 12% of scoring, 7% of a run: the product is not
what bounds scoring (tanh, layouts and top-k are), so the library keeps the full form.

    python benchmarks/bench_dngo.py                      # everything (about an hour on 2 cores)
    python benchmarks/bench_dngo.py --parts speed --seeds 1,10 --presets fixed
"""

from __future__ import annotations

import os

# LAPACK (eigh, once per round and seed) must stay single-threaded: with OpenBLAS threads competing
# with XLA's on 2 cores a 128 x 128 eigh takes 20-30 ms instead of about 1 ms.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax._io import write_json  # noqa: E402
from a2v_jax.search import blr, bo_discrete, dngo, runner  # noqa: E402
from a2v_jax.search.build import load_embeddings, make_problem, space_cells  # noqa: E402
from a2v_jax.search.problem import Problem, Trace  # noqa: E402
from benchmarks._data import nb201_benchmark, stand_in_embeddings  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PUBLISHED_SECONDS_PER_SEED = 137.0  # docs/reference.md: 106-158 s, mean 137 s (NB201 CIFAR-10, 12,000 s)
NB201_BUDGET = 12000.0
NB101_BUDGET = 1.5e6


def load() -> tuple[float, float, float]:
    return tuple(round(x, 2) for x in os.getloadavg())


EMBEDDINGS: str | None = None  # set by --embeddings


def nb201_features(n: int) -> tuple[np.ndarray, str]:
    if EMBEDDINGS:
        return load_embeddings(EMBEDDINGS, n, "nb201"), f"arch2vec embeddings {EMBEDDINGS}"
    return stand_in_embeddings()


def nb201_problem() -> Problem:
    b, _ = nb201_benchmark("cifar10")
    feats, _ = nb201_features(len(b))
    return Problem.create(feats, b.reward, b.test, b.time, max_time=NB201_BUDGET)


def nb201_onehot_problem() -> Problem:
    """NB201 CIFAR-10 with bo-discrete's features: the discrete encoding of every cell."""
    b, _ = nb201_benchmark("cifar10")
    data = make_problem(b, None, budget=NB201_BUDGET, cells=space_cells("nb201", len(b)))
    return bo_discrete.encoded(data.problem)


def nb101_sized_problem(seed: int = 0) -> Problem:
    """423,624 cells: 16-d Gaussian features, a smooth reward near NB101's range, log-normal costs.

    Costs have NB101's scale (108-epoch training, median about 2,000 s, none under 400 s), so the
    1.5e6 s budget buys several hundred queries, as in the published runs.
    """
    n = 423_624
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    w = rng.normal(size=16) / 4.0
    reward = 0.85 + 0.08 * np.tanh(x @ w) - 0.02 * np.abs(x[:, 0]) + 0.005 * rng.normal(size=n)
    test = reward - 0.007 + 0.003 * rng.normal(size=n)
    cost = np.clip(rng.lognormal(np.log(2000.0), 0.5, size=n), 400.0, 20000.0)
    return Problem.create(x, reward, test, cost, max_time=NB101_BUDGET)


def batch_runner(problem: Problem, config: dngo.Config, n_seeds: int, seed_chunk: int | None = None):
    """Ahead-of-time compiled `vmap(run)` for n_seeds keys; returns (callable, keys, compile seconds).

    With `seed_chunk` (dividing n_seeds) the seeds run as `lax.map` over groups of that many
    vmapped seeds, in the same jitted call: per-round arrays of a few hundred seeds
    ([seeds, 128 cells, 128] floats while scoring) outgrow the CPU caches, and smaller groups run
    faster per seed. Results do not depend on it (each seed is a function of its key).
    """
    keys = runner.seed_keys(n_seeds)
    one = jax.vmap(lambda kk, p: runner.run(dngo, kk, p, config), in_axes=(0, None))
    if seed_chunk and seed_chunk < n_seeds:
        if n_seeds % seed_chunk:
            raise ValueError(f"seed_chunk {seed_chunk} does not divide {n_seeds} seeds")

        def fn(k, p):
            out = jax.lax.map(lambda kk: one(kk, p), k.reshape(n_seeds // seed_chunk, seed_chunk, *k.shape[1:]))
            return jax.tree_util.tree_map(lambda x: x.reshape(n_seeds, *x.shape[2:]), out)
    else:
        fn = one
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(keys, problem).compile()
    return compiled, keys, time.perf_counter() - t0


def per_seed(states, problem: Problem) -> dict[str, list]:
    tr = states.trace
    count = np.asarray(tr.count)
    index = np.asarray(tr.index)
    reward = np.asarray(problem.reward)
    test = np.asarray(problem.test)
    out = {"queries": [], "rounds": np.asarray(states.rounds).tolist(), "repeats": [], "final_reward": [],
           "final_test": [], "elapsed": []}
    for s in range(len(count)):
        idx = index[s, : count[s]]
        out["queries"].append(int(count[s]))
        out["repeats"].append(int(count[s] - len(np.unique(idx))))
        out["final_reward"].append(float(np.asarray(tr.best_reward)[s, count[s] - 1]))
        out["final_test"].append(float(np.asarray(tr.incumbent_test)[s, count[s] - 1]))
        out["elapsed"].append(float(np.asarray(tr.time)[s, count[s] - 1]))
        assert out["final_reward"][-1] == float(reward[idx].max())
        assert np.isclose(out["final_test"][-1], test[idx[np.argmax(reward[idx])]])
    return out


def stats(values) -> dict[str, float]:
    a = np.asarray(values, np.float64)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "min": float(a.min()), "max": float(a.max())}


def part_speed(seed_counts, presets, seed_chunk: int, repeats_small: int = 3) -> tuple[list[dict], dict]:
    problem = nb201_problem()
    rows, runs = [], {}
    for preset in presets:
        config = dngo.Config(space="nb201", preset=preset)
        for n_seeds in seed_counts:
            before = load()
            chunk = seed_chunk if seed_chunk and n_seeds > seed_chunk and n_seeds % seed_chunk == 0 else None
            compiled, keys, compile_s = batch_runner(problem, config, n_seeds, chunk)
            reps = repeats_small if n_seeds <= 10 else 1
            walls, cpus = [], []
            for _ in range(reps):
                t0, c0 = time.perf_counter(), time.process_time()
                states = jax.block_until_ready(compiled(keys, problem))
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            wall = float(np.median(walls))
            cpu = float(np.median(cpus))
            seeds = per_seed(states, problem)
            rounds = float(np.mean(seeds["rounds"]))
            row = {
                "space": "nb201", "dataset": "cifar10", "preset": preset, "seeds": n_seeds, "seed_chunk": chunk,
                "compile_s": round(compile_s, 2), "run_s": round(wall, 2), "run_s_all": [round(w, 2) for w in walls],
                "cpu_s": round(cpu, 2), "s_per_seed": wall / n_seeds, "ms_per_seed_round": 1e3 * wall / (n_seeds * rounds),
                "cpu_ms_per_seed_round": 1e3 * cpu / (n_seeds * rounds),
                "speedup_vs_published": PUBLISHED_SECONDS_PER_SEED * n_seeds / wall,
                "speedup_incl_compile": PUBLISHED_SECONDS_PER_SEED * n_seeds / (wall + compile_s),
                # single-threaded runs: CPU seconds are what an otherwise idle core would take
                "speedup_vs_published_cpu": PUBLISHED_SECONDS_PER_SEED * n_seeds / cpu,
                "mean_rounds": rounds, "mean_queries": float(np.mean(seeds["queries"])),
                "load_before": before, "load_after": load(),
            }
            rows.append(row)
            runs[f"{preset}/{n_seeds}"] = {"summary": {k: stats(v) for k, v in seeds.items()}, "per_seed": seeds}
            print(
                f"nb201 {preset:9s} {n_seeds:4d} seeds: compile {compile_s:6.1f} s, run {wall:8.1f} s "
                f"(cpu {cpu:.1f} s; {row['ms_per_seed_round']:.1f} ms/seed-round), x{row['speedup_vs_published']:.0f} vs "
                f"{PUBLISHED_SECONDS_PER_SEED:.0f} s/seed; repeats {np.mean(seeds['repeats']):.1f} of "
                f"{np.mean(seeds['queries']) - 16:.1f} proposals; load {before}->{row['load_after']}",
                flush=True,
            )
    return rows, runs


def part_profile(n_seeds: int = 100, n_obs: int = 60, preset: str = "reference", problem: Problem | None = None) -> dict:
    """One round's parts, jitted and vmapped separately, on mid-run states (median of 3)."""
    problem = nb201_problem() if problem is None else problem
    config = dngo.Config(space="nb201", preset=preset)
    keys = jax.random.split(jax.random.PRNGKey(0), n_seeds)

    def make_state(key):
        cells = jax.random.choice(key, problem.num_cells, (n_obs,), replace=False)
        trace = Trace.empty(problem).record_many(problem, cells.astype(jnp.int32))
        z = jnp.zeros(2)
        return dngo.State(key=key, fit_key=key, trace=trace, rounds=jnp.int32(0), theta=z, theta0=z)

    states = jax.jit(jax.vmap(make_state))(keys)

    def inputs(s):
        cap = s.trace.index.shape[0]
        n = s.trace.count
        valid = jnp.arange(cap) < n
        cells = jnp.where(valid, s.trace.index, 0)
        x = problem.features[cells]
        mu, sd = dngo._masked_stats(x, valid, n)
        xn = jnp.where(valid[:, None], (x - mu) / sd, 0.0)
        return xn, jnp.where(valid, problem.reward[cells], 0.0), n, valid, mu, sd

    def train(s):
        xn, y, n, _, _, _ = inputs(s)
        return dngo.train_net(s.key, jax.random.split(s.key, config.epochs), xn, y, n, config)[0]

    def design(s, p):
        xn, y, _, valid, _, _ = inputs(s)
        return blr.design(dngo.basis(p, xn), y, valid)

    def fit(d, key):
        return blr.fit(blr.sample_prior(key), d, config.evidence)

    def score(s, p, d, theta):
        _, _, _, _, mu, sd = inputs(s)
        w1, b1 = dngo._fold_normalisation(p, mu, sd)
        post = blr.posterior_from_theta(d, theta)
        exclude = None if config.requery else s.trace.visited
        return dngo.score_top_k(problem, w1, b1, post, 0.0, 1.0, jnp.float32(config.target), exclude, config)

    def step(s):
        return dngo.step(s, problem, config)

    params = jax.jit(jax.vmap(train))(states)
    dsg = jax.jit(jax.vmap(design))(states, params)
    res = jax.jit(jax.vmap(fit))(dsg, keys)
    parts = {
        "train_net": (jax.vmap(train), (states,)),
        "eigh_design": (jax.vmap(design), (states, params)),
        "nelder_mead": (jax.vmap(fit), (dsg, keys)),
        "score_all_cells": (jax.vmap(score), (states, params, dsg, res.x)),
        "whole_round": (jax.vmap(step), (states,)),
    }
    out = {"seeds": n_seeds, "observations": n_obs, "preset": preset, "cells": problem.num_cells,
           "feature_width": int(problem.features.shape[1]),
           "nelder_mead_mean_evaluations": float(np.mean(np.asarray(res.nfev))), "load_before": load()}
    for name, (fn, args) in parts.items():
        f = jax.jit(fn).lower(*args).compile(compiler_options=runner.compiler_options())
        jax.block_until_ready(f(*args))
        walls, cpus = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            jax.block_until_ready(f(*args))
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        out[name + "_ms_per_seed"] = 1e3 * float(np.median(walls)) / n_seeds
        out[name + "_cpu_ms_per_seed"] = 1e3 * float(np.median(cpus)) / n_seeds
        print(f"profile {name:16s} {out[name + '_ms_per_seed']:7.2f} ms per seed and round "
              f"(cpu {out[name + '_cpu_ms_per_seed']:.2f} ms)", flush=True)
    out["load_after"] = load()
    return out


def _score_low_rank(problem, w1, b1, post, target, exclude, config, width):
    """`dngo.score_top_k` with the variance from `width` directions instead of all D (a variant the
    library does not use; see `part_rank`): with n <= width observations the posterior covariance
    is 1/alpha outside the span of the first `width` eigenvectors (sorted by eigenvalue of
    Phi^T Phi), so var = 1/beta + |phi|^2 / alpha - sum_{i < width} (1/alpha - 1/kappa_i) (v_i . phi)^2.
    Returns (scores, cells) of the top k and every cell's variance."""
    n_cells = problem.num_cells
    chunk = min(dngo.cell_chunk(config), n_cells)
    n_chunks = -(-n_cells // chunk)
    k = min(config.top_k, n_cells)
    inv_alpha = 1.0 / post.alpha
    if width is None:
        a = post.vecs * jnp.sqrt(post.inv_kappa)[None, :]
    else:
        a = post.vecs[:, :width] * jnp.sqrt(jnp.maximum(inv_alpha - post.inv_kappa[:width], 0.0))[None, :]

    def block(i):
        start = jnp.minimum(i * chunk, n_cells - chunk)
        x = jax.lax.dynamic_slice_in_dim(problem.features, start, chunk)
        cells = start + jnp.arange(chunk, dtype=jnp.int32)
        phi = jnp.tanh(x @ w1 + b1)
        mean = phi @ post.weights
        z = phi @ a
        if width is None:
            var = post.noise + jnp.sum(z * z, axis=-1)
        else:
            var = post.noise + jnp.maximum(inv_alpha * jnp.sum(phi * phi, axis=-1) - jnp.sum(z * z, axis=-1), 0.0)
        score = dngo.acquisition(mean, var, target, config)
        ok = cells >= i * chunk
        if exclude is not None:
            ok = ok & ~exclude[cells]
        vals, pos = jax.lax.top_k(jnp.where(ok, score, -jnp.inf), k)
        return vals, cells[pos], var

    vals, cells, var = jax.lax.map(block, jnp.arange(n_chunks))
    best, pos = jax.lax.top_k(vals.reshape(-1), k)
    return best, cells.reshape(-1)[pos], var.reshape(-1)[:n_cells]


def part_rank(n_seeds: int = 100, widths=(32, 64, 96)) -> list[dict]:
    """Is the 128 x 128 quadratic form what bounds scoring? With n observations the posterior
    differs from the prior only on an n-dimensional span, so a variance from `width` >= n directions
    needs width/128 of that product's FLOPs. Timed (median of 5, compiled as the search is) against
    the full form on the same fitted models, n = width observations, with the top-k agreement and the
    largest relative change of any cell's variance (the shorter form subtracts, so it rounds worse)."""
    problem = nb201_problem()
    rows = []
    for preset in ("fixed", "reference"):
        config = dngo.Config(space="nb201", preset=preset)
        for width in widths:
            keys = jax.random.split(jax.random.PRNGKey(width), n_seeds)

            def fitted(key, n_obs=width, config=config):
                cells = jax.random.choice(key, problem.num_cells, (n_obs,), replace=False)
                trace = Trace.empty(problem).record_many(problem, cells.astype(jnp.int32))
                w1, b1, post, _, _, _, _ = dngo.fit_model(key, key, trace, problem, config)
                target = jnp.float32(config.target) if config.ei_target == "fixed" else trace.best_reward_now
                return w1, b1, post, target, trace.visited

            args = jax.jit(jax.vmap(fitted))(keys)
            row = {"preset": preset, "seeds": n_seeds, "observations": width, "width": width, "load_before": load()}
            outs = {}
            for name, w in (("full", None), ("low_rank", width)):
                def score(w1, b1, post, target, visited, w=w, config=config):
                    return _score_low_rank(problem, w1, b1, post, target, None if config.requery else visited, config, w)

                f = jax.jit(jax.vmap(score)).lower(*args).compile(compiler_options=runner.compiler_options())
                outs[name] = jax.block_until_ready(f(*args))
                walls = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    jax.block_until_ready(f(*args))
                    walls.append(time.perf_counter() - t0)
                row[name + "_ms_per_seed"] = 1e3 * float(np.median(walls)) / n_seeds
            full_var, low_var = np.asarray(outs["full"][2]), np.asarray(outs["low_rank"][2])
            row["top_k_same_share"] = float(np.mean(np.all(np.asarray(outs["full"][1]) == np.asarray(outs["low_rank"][1]), axis=1)))
            row["var_rel_change_max"] = float(np.max(np.abs(low_var - full_var) / full_var))
            row["speedup"] = row["full_ms_per_seed"] / row["low_rank_ms_per_seed"]
            row["load_after"] = load()
            rows.append(row)
            print(f"rank {preset:9s} n = width {width:3d}: full {row['full_ms_per_seed']:.2f} ms/seed, low-rank "
                  f"{row['low_rank_ms_per_seed']:.2f} ({row['speedup']:.2f}x); top-k same in "
                  f"{100 * row['top_k_same_share']:.0f}% of seeds, variance changed by up to "
                  f"{100 * row['var_rel_change_max']:.2g}%", flush=True)
    return rows


def part_nb101(n_seeds: int, presets) -> list[dict]:
    problem = nb101_sized_problem()
    rows = []
    for preset in presets:
        config = dngo.Config(space="nb101", preset=preset)
        before = load()
        compiled, keys, compile_s = batch_runner(problem, config, n_seeds)
        t0, c0 = time.perf_counter(), time.process_time()
        states = jax.block_until_ready(compiled(keys, problem))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        seeds = per_seed(states, problem)
        rounds = float(np.mean(seeds["rounds"]))
        row = {
            "space": "nb101-sized (synthetic values)", "cells": problem.num_cells, "budget_s": NB101_BUDGET,
            "preset": preset, "top_k": config.top_k, "seeds": n_seeds, "compile_s": round(compile_s, 2),
            "run_s": round(wall, 2), "cpu_s": round(cpu, 2), "s_per_seed": wall / n_seeds, "mean_rounds": rounds,
            "mean_queries": float(np.mean(seeds["queries"])), "repeats": seeds["repeats"],
            "ms_per_seed_round": 1e3 * wall / (n_seeds * rounds), "trace_capacity": problem.max_queries,
            "load_before": before, "load_after": load(),
        }
        rows.append(row)
        print(
            f"nb101-sized {preset:9s} {n_seeds} seeds: compile {compile_s:.1f} s, run {wall:.1f} s, "
            f"{rounds:.0f} rounds, {row['mean_queries']:.0f} queries, {row['ms_per_seed_round']:.0f} ms/seed-round",
            flush=True,
        )
    return rows


def _part_names(prof: dict) -> list[str]:
    return [k[: -len("_ms_per_seed")] for k in prof if k.endswith("_ms_per_seed") and not k.endswith("_cpu_ms_per_seed")]


def _ms(prof: dict, name: str) -> str:
    return f"{prof[name + '_ms_per_seed']:.2f} (cpu {prof.get(name + '_cpu_ms_per_seed', float('nan')):.2f})"


def print_table(result: dict) -> None:
    speed = result.get("nb201_speed", [])
    if speed:
        print("\n| preset | seeds | seed chunk | compile s | run s | cpu s | s/seed | ms/seed-round | x vs 137 s/seed "
              "| x incl. compile | x by cpu s | load |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in speed:
            print(f"| {r['preset']} | {r['seeds']} | {r.get('seed_chunk') or '-'} | {r['compile_s']:.1f} | {r['run_s']:.1f} | "
                  f"{r.get('cpu_s', float('nan')):.1f} | "
                  f"{r['s_per_seed']:.2f} | {r['ms_per_seed_round']:.1f} | {r['speedup_vs_published']:.0f} | "
                  f"{r['speedup_incl_compile']:.0f} | {r.get('speedup_vs_published_cpu', float('nan')):.0f} | "
                  f"{r['load_before'][0]:.1f} |")
    prof = result.get("nb201_round_profile")
    if prof:
        print("\n| part of one round (100 seeds, 60 observations) | ms per seed |")
        print("|---|---|")
        for name in _part_names(prof):
            print(f"| {name} | {_ms(prof, name)} |")
    both = result.get("nb201_round_profile_onehot")
    if both:
        emb, hot = both["embeddings"], both["onehot"]
        print(f"\n| part of one round ({emb['seeds']} seeds, {emb['observations']} observations, fixed) "
              f"| embeddings ({emb['feature_width']} wide) ms per seed | one-hot ({hot['feature_width']} wide) | ratio |")
        print("|---|---|---|---|")
        for name in _part_names(emb):
            ratio = hot[name + "_ms_per_seed"] / emb[name + "_ms_per_seed"]
            print(f"| {name} | {_ms(emb, name)} | {_ms(hot, name)} | {ratio:.2f} |")
    for r in result.get("nb101_sized", []):
        print(f"\nNB101-sized ({r['cells']} cells), {r['preset']}, {r['seeds']} seeds: compile {r['compile_s']:.1f} s, "
              f"run {r['run_s']:.1f} s ({r['s_per_seed']:.1f} s/seed, {r['mean_rounds']:.0f} rounds, "
              f"{r['ms_per_seed_round']:.0f} ms/seed-round)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", default="speed,profile,nb101", help="comma-separated: speed, profile, onehot, rank, nb101")
    ap.add_argument("--profile-seeds", type=int, default=20, help="seeds vmapped in the `onehot` round profile")
    ap.add_argument("--seeds", default="1,10,100,500", help="NB201 batch sizes to time")
    ap.add_argument("--presets", default="reference,fixed", help="presets for the NB201 speed runs")
    ap.add_argument("--seed-chunk", type=int, default=100,
                    help="run larger batches as lax.map over groups of this many vmapped seeds (0: one vmap)")
    ap.add_argument("--nb101-seeds", type=int, default=2)
    ap.add_argument("--nb101-presets", default="reference")
    ap.add_argument("--embeddings", help="NB201 embeddings.npz (default: the one-hot stand-in)")
    ap.add_argument("--out", default=str(RESULTS / "dngo_speed.json"))
    ap.add_argument("--runs-out", default=str(RESULTS / "dngo_nb201_runs.json"))
    args = ap.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    unknown = parts - {"speed", "profile", "onehot", "rank", "nb101"}
    if unknown:
        ap.error(f"unknown part(s) {sorted(unknown)}")
    out_path = Path(args.out)
    result = json.loads(out_path.read_text()) if out_path.exists() else {}
    result["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "jax": jax.__version__,
                         "devices": [str(d) for d in jax.devices()]}
    result["published_seconds_per_seed"] = PUBLISHED_SECONDS_PER_SEED
    global EMBEDDINGS
    EMBEDDINGS = args.embeddings
    result["features"] = nb201_features(15625)[1]
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    if "speed" in parts:
        seeds = [int(s) for s in args.seeds.split(",")]
        presets = [p.strip() for p in args.presets.split(",")]
        rows, runs = part_speed(seeds, presets, args.seed_chunk)
        done = {(r["preset"], r["seeds"], r["seed_chunk"]) for r in rows}
        result["nb201_speed"] = [
            r for r in result.get("nb201_speed", []) if (r["preset"], r["seeds"], r.get("seed_chunk")) not in done
        ] + rows
        result["nb201_speed_measured"] = stamp
        runs_path = Path(args.runs_out)
        old = json.loads(runs_path.read_text()) if runs_path.exists() else {}
        old.update(runs)
        write_json(runs_path, old)
    if "profile" in parts:
        result["nb201_round_profile"] = part_profile()
        result["nb201_round_profile"]["measured"] = stamp
    if "onehot" in parts:  # bo-discrete's features against the embeddings, in one run
        result["nb201_round_profile_onehot"] = {
            "embeddings": part_profile(n_seeds=args.profile_seeds, preset="fixed"),
            "onehot": part_profile(n_seeds=args.profile_seeds, preset="fixed", problem=nb201_onehot_problem()),
            "measured": stamp,
        }
    if "rank" in parts:
        result["nb201_variance_rank"] = part_rank()
        result["nb201_variance_rank_measured"] = stamp
    if "nb101" in parts:
        result["nb101_sized"] = part_nb101(args.nb101_seeds, [p.strip() for p in args.nb101_presets.split(",")])
        result["nb101_measured"] = stamp
    write_json(out_path, result)
    print_table(result)
    print(f"\nwrote {out_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
