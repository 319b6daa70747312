"""Pretraining speed: K seeds as one computation, training steps/s at batch 32, embedding export.

    python benchmarks/bench_pretrain.py [--members 1 2 4 8 16] [--all-in 8] [--repeats 5] [--steps 500]
                                        [--published /path/to/python --published-repo DIR]

All in (`--all-in K`): the default NB201 pretraining (`python -m a2v_jax.pretrain`, 10 epochs,
reference preset) as a fresh process, once with one seed, once with `--seeds K` (the default
batching: one member at a time on CPU) and once with `--seeds K --member-block K` (all K vmapped),
in the same run: wall clock including start-up, compilation, training, validity / uniqueness of
10,000 prior samples per seed, embedding export and files. The ratio K seeds / one seed is the
figure. Each process's CPU time (user + system, from `getrusage` of the children) is recorded
too: CPU seconds / usable cores is a floor under the wall clock of that work, so
`floor_ratio` = (CPU seconds of K seeds / cores) / (wall of one seed) says how far down the
ratio could go on this machine if the K-seed run kept every core busy, without doing less work.

Members (`--members`): training steps/s x members of the compiled chunk for K members of the
default NB201 model (compile excluded), both ways of batching them inside one compiled call:
`map` (one member at a time, `member_block` 1, the default on CPU) and `vmap` (all K at once),
with the process CPU time per member-step and the cores kept busy (CPU time / wall).

Training speed is measured on cells shaped like each space (NB101: 7 vertices, 5 ops; NB201: 8, 7;
DARTS: 11, 11), with the scanned, jitted training chunk `python -m a2v_jax.pretrain` runs, compile
time excluded; "train" is the training-mode step (BatchNorm batch statistics, sampling, dropout),
"eval" the eval-mode step the published code runs after its first epoch. Each figure is the median
of `--repeats` timed chunks. The machine is shared, so the table also records the load average.

Embedding export: the eval-mode encoder over 423,624 NB101-shaped cells (the size of the whole
NB101 space), mean readout, including the transfer of the [N, 16] result to the host.

`--published PYTHON` also times the published PyTorch training step (its own `Model`,
`VAEReconstructed_Loss`, `preprocessing`, clipping and Adam, imported from a checkout given by
`--published-repo`) with the interpreter PYTHON (which must have torch), on the same shapes, in
the same run, so the ratio is measured under the same load; it tries each of
`--published-threads` torch thread counts and compares against the fastest.

Arithmetic (skip with `--no-arithmetic`): XLA's FLOP count of one default NB201 training step,
times the steps of a run, against this machine's float32 rate on large matmuls (the best any
matmul-bound program gets here); with `--all-in K`, the rate K seeds' training would need to meet
`--target-ratio` x one seed's wall even if everything but training cost K seeds no more than it
costs one, beside the rates the members table achieves and the rate of the model's own matmul
shape alone (K stacked [256, 128] @ [128, 128] products, chained 10 deep). It says whether
batching could meet the target here at all.

Results: printed as a table and written to benchmarks/results/bench_pretrain.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax import _io  # noqa: E402
from a2v_jax.graphs import graph_set, make_batch  # noqa: E402
from a2v_jax.pretrain import PretrainConfig, make_program  # noqa: E402
from a2v_jax.pretrain.export import member_slice  # noqa: E402
from a2v_jax.pretrain.run import load_cells, member_inputs  # noqa: E402
from a2v_jax.pretrain.train import advance_members, embed_members, init_members  # noqa: E402

SHAPES = {"nb101": (7, 5), "nb201": (8, 7), "darts": (11, 11)}
PUBLISHED_STEPS_PER_S = {"nb101": 148.0, "nb201": 157.0}  # docs/reference.md, this machine kind


def synthetic_cells(count: int, n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random DAG cells of a space's shape: a path through 2..n vertices plus random forward edges,
    input op first, output op last, zero padding after the last vertex (vectorised)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(max(2, n - 2), n + 1, size=count)
    rows = np.arange(n)
    real = rows[None, :] < sizes[:, None]
    adj = np.triu(rng.random((count, n, n)) < 0.25, 1)
    adj |= (rows[None, :, None] + 1 == rows[None, None, :]) & real[:, :, None]
    adj &= real[:, :, None] & real[:, None, :]
    ops = rng.integers(1, k - 1, size=(count, n)).astype(np.int8)
    ops[:, 0] = 0
    ops[np.arange(count), sizes - 1] = k - 1
    ops[~real] = -1
    return adj.astype(np.uint8), ops


def _members_program(data, members: int, steps: int, block: int | None, **config):
    cfg = PretrainConfig(seeds=members, chunk_steps=steps, member_block=block, **config)
    program = make_program(cfg, data, None, members)
    keys, hypers = member_inputs(cfg.members(), members)
    return program, init_members(program, data, keys, hypers), hypers


def time_chunk(program, states, data, hypers, start: int, steps: int, repeats: int) -> dict:
    """Median steps/s of `repeats` chunks of `steps` steps from global step `start` (compile excluded)."""
    t0 = time.perf_counter()
    advance_members.lower(program, states, data, hypers, start, start + steps).compile()
    compile_s = time.perf_counter() - t0
    rates, busy = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        advance_members(program, states, data, hypers, start, start + steps).step.block_until_ready()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rates.append(steps / wall)
        busy.append(cpu / wall)
    return {"median": statistics.median(rates), "runs": [round(r, 1) for r in rates], "compile_seconds": round(compile_s, 2),
            "cores_busy": round(statistics.median(busy), 2)}


def time_training(space: str, steps: int, repeats: int, train_mode: bool, cells: int = 20_000) -> dict:
    """One member on cells shaped like `space`; eval mode is the published loop after epoch 1."""
    n, k = SHAPES[space]
    data = graph_set(synthetic_cells(cells, n, k), k)
    program, states, hypers = _members_program(data, 1, steps, None, epochs=2)
    start = 0 if train_mode else program.num_batches  # epoch 2 runs in eval mode
    return time_chunk(program, states, data, hypers, start, steps, repeats)


def time_members(counts: list[int], steps: int, repeats: int) -> dict:
    """Steps/s x members on the real NB201 cells, train mode, for `map` and `vmap` batching."""
    _, cells = load_cells(PretrainConfig())
    data = graph_set(cells, 7)
    out = {}
    for k in counts:
        row = {}
        for way, block in (("map", 1), ("vmap", k)):
            if way == "vmap" and k == 1:
                row[way] = row["map"]
                continue
            program, states, hypers = _members_program(data, k, steps, block)
            timing = time_chunk(program, states, data, hypers, 0, steps, repeats)
            rate = k * timing["median"]
            row[way] = {**timing, "member_steps_per_second": round(rate, 1),
                        "cpu_ms_per_member_step": round(1e3 * timing["cores_busy"] / rate, 3)}
        out[str(k)] = row
        print(f"  {k:3d} members: " + "  ".join(
            f"{way} {row[way]['member_steps_per_second']:7.1f} member-steps/s ({row[way]['cpu_ms_per_member_step']:.2f} "
            f"cpu ms each, {row[way]['cores_busy']:.2f} cores busy)" for way in ("map", "vmap")), flush=True)
    return out


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def time_all_in(members: int) -> dict:
    """Wall and CPU seconds of `python -m a2v_jax.pretrain` with one seed and with `members` seeds
    (one at a time, the CPU default, and all vmapped)."""
    cores = usable_cores()
    out = {"cores": cores}
    variants = {"1": ["--seeds", "1"], str(members): ["--seeds", str(members)],
                f"{members}-vmap": ["--seeds", str(members), "--member-block", str(members)]}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in variants.items():
            folder = Path(tmp) / f"k{name}"
            cmd = [sys.executable, "-m", "a2v_jax.pretrain", *extra, "--out", str(folder), "--no-progress"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            metrics = json.loads((folder / ("metrics.json" if name == "1" else "seed-0/metrics.json")).read_text())
            out[name] = {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "cores_busy": round(cpu / wall, 2),
                         "compile_seconds": metrics["compile_seconds"],
                         "train_seconds_per_seed": metrics["total_train_seconds"]}
            print(f"  all in, {' '.join(extra)}: {wall:.1f} s wall, {cpu:.1f} s cpu ({cpu / wall:.2f} cores busy)", flush=True)
    one = out["1"]["wall_seconds"]
    for name in (str(members), f"{members}-vmap"):
        out[name]["ratio"] = round(out[name]["wall_seconds"] / one, 2)
        out[name]["floor_ratio"] = round(out[name]["cpu_seconds"] / cores / one, 2)
    out["ratio"] = out[str(members)]["ratio"]
    return out


def matmul_peak(sizes: tuple[int, ...] = (1024, 2048, 4096), repeats: int = 5) -> dict:
    """The machine's float32 rate on large square matmuls under XLA (all cores): the most any
    matmul-bound program reaches here, so a floor on the time of a given number of FLOPs."""
    rates = {}
    for n in sizes:
        a = jax.random.normal(jax.random.key(0), (n, n), jax.numpy.float32)
        f = jax.jit(lambda x, y: x @ y)
        f(a, a).block_until_ready()
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            f(a, a).block_until_ready()
            best = min(best, time.perf_counter() - t0)
        rates[str(n)] = round(2 * n**3 / best / 1e9, 1)
    return {"gflops_by_size": rates, "gflops": max(rates.values())}


def model_matmul_rate(members: int, rows: int = 256, hidden: int = 128, depth: int = 10, repeats: int = 5) -> float:
    """GFLOP/s of the model's own matmul shape on this machine: `members` stacked [rows, hidden] @
    [hidden, hidden] products (one batch of 32 NB201 cells, the GIN's width), chained `depth` deep
    with a ReLU between, as a forward pass runs them. Nothing but these matmuls, so the most a
    training step made of them could reach."""

    def chain(x, w):
        for _ in range(depth):
            x = jax.nn.relu(jax.numpy.einsum("kij,kjl->kil", x, w))
        return x

    key = jax.random.key(0)
    x = jax.random.normal(key, (members, rows, hidden))
    w = jax.random.normal(key, (members, hidden, hidden)) / hidden**0.5
    f = jax.jit(chain)
    f(x, w).block_until_ready()
    calls = max(1, 400 // members)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            y = f(x, w)
        y.block_until_ready()
        best = min(best, (time.perf_counter() - t0) / calls)
    return round(2 * members * rows * hidden * hidden * depth / best / 1e9, 1)


def step_flops() -> dict:
    """XLA's count of the FLOPs of one training step of one default NB201 member (gradients in
    train mode and the optimizer update; the scanned chunk's own count covers its loop body once,
    with every branch, so the step is lowered on its own)."""
    config = PretrainConfig()
    _, cells = load_cells(config)
    data = graph_set(cells, 7)
    program, states, hypers = _members_program(data, 1, 1, 1)
    state, hyper = member_slice(states, 0), member_slice(hypers, 0)
    index = jax.numpy.arange(program.batch_size, dtype=jax.numpy.int32)

    def step(state, index, key):
        batch = make_batch(data, index)
        grads, _ = program._gradients(state, batch, key, hyper.kl_weight, True)
        return program.tx.update(grads, state.opt_state, state.params)

    cost = jax.jit(step).lower(state, index, jax.random.key(0)).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return {"flops_per_step": float(cost["flops"]), "steps_per_seed": program.total_steps}


def arithmetic_floor(all_in: dict | None, members: dict | None, target_ratio: float) -> dict:
    """Whether the K-seed all-in target can be met by batching on this machine: the FLOPs of K
    seeds' training steps against the matmul peak, and the rate the target would need."""
    out = {**step_flops(), "peak": matmul_peak()}
    flops, steps, peak = out["flops_per_step"], out["steps_per_seed"], out["peak"]["gflops"]
    out["seed_training_tflop"] = round(flops * steps / 1e12, 3)
    out["seed_training_seconds_at_peak"] = round(flops * steps / (peak * 1e9), 2)
    if members:
        out["achieved_gflops"] = {k: {way: round(row[way]["member_steps_per_second"] * flops / 1e9, 1)
                                      for way in ("map", "vmap")} for k, row in members.items()}
    ks = sorted({1, *(int(k) for k in (members or {})), *(int(n) for n in (all_in or {}) if n.isdigit())})
    out["model_matmul_gflops"] = {str(k): model_matmul_rate(k) for k in ks}
    if all_in:
        out["target"] = training_target(all_in, flops * steps, peak, target_ratio)
        k = str(out["target"]["members"])
        out["target"]["needed_share_of_model_matmuls"] = round(out["target"]["needed_gflops"] / out["model_matmul_gflops"][k], 2)
    return out


def training_target(all_in: dict, seed_flops: float, peak_gflops: float, ratio: float) -> dict:
    """The FLOP rate K seeds' training needs for the all-in run to take `ratio` x one seed's wall,
    granting that all but training (start-up, compile, metrics, export) costs K seeds no more
    than one seed (one seed's wall minus its training seconds)."""
    k = max(int(name) for name in all_in if name.isdigit() and name != "1")
    one = all_in["1"]
    other = one["wall_seconds"] - one["train_seconds_per_seed"]
    budget = ratio * one["wall_seconds"] - other
    need = k * seed_flops / budget / 1e9 if budget > 0 else float("inf")
    return {"members": k, "ratio": ratio, "one_seed_wall": one["wall_seconds"], "one_seed_other_seconds": round(other, 2),
            "training_budget_seconds": round(budget, 2), "needed_gflops": round(need, 1),
            "needed_share_of_peak": round(need / peak_gflops, 2)}


def time_embedding(repeats: int, count: int = 423_624) -> dict:
    n, k = SHAPES["nb101"]
    t0 = time.perf_counter()
    data = graph_set(synthetic_cells(count, n, k, seed=1), k)
    prep = time.perf_counter() - t0
    program, states, _ = _members_program(data, 1, 1, None, eval_batch=4096)
    np.asarray(embed_members(program, states, data))  # compile
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        emb = np.asarray(embed_members(program, states, data))
        times.append(time.perf_counter() - t0)
    assert emb.shape == (1, count, 16)
    return {"cells": count, "median_seconds": round(statistics.median(times), 2), "runs": [round(t, 2) for t in times],
            "graph_set_seconds": round(prep, 2)}


PUBLISHED_SNIPPET = r"""
import sys, time, statistics, json, numpy as np, torch, torch.nn as nn
sys.path.insert(0, sys.argv[1])
from models.model import Model, VAEReconstructed_Loss
from models.configs import configs
from utils.utils import preprocessing
n, k, steps, repeats, threads = map(int, sys.argv[2:7])
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = configs[4]
model = Model(input_dim=k, hidden_dim=128, latent_dim=16, num_hops=5, num_mlp_layers=2, dropout=0.3, **cfg['GAE'])
opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-08)
data = np.load(sys.argv[7])
A, X = torch.Tensor(data['adj']), torch.Tensor(data['ops'])
def run(train):
    model.train(train)
    t0 = time.perf_counter()
    for i in range(steps):
        adj, ops = A[32 * i: 32 * i + 32], X[32 * i: 32 * i + 32]
        opt.zero_grad()
        adj, ops, rev = preprocessing(adj, ops, **cfg['prep'])
        ops_r, adj_r, mu, logvar = model(ops, adj.to(torch.long))
        adj_r, ops_r = rev(adj_r, ops_r)
        adj, ops = rev(adj, ops)
        loss = VAEReconstructed_Loss(**cfg['loss'])((ops_r, adj_r), (ops, adj), mu, logvar)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5)
        opt.step()
        loss.item()
    return steps / (time.perf_counter() - t0)
out = {}
for train in (True, False):
    run(train)
    rates = [run(train) for _ in range(repeats)]
    out['train' if train else 'eval'] = {'median': statistics.median(rates), 'runs': [round(r, 1) for r in rates]}
out['threads'] = torch.get_num_threads()
out['torch'] = torch.__version__
print(json.dumps(out))
"""


def time_published(python: str, repo: str, space: str, steps: int, repeats: int, threads: list[int]) -> dict:
    """The published step's steps/s with each torch thread count; "train"/"eval" take the best count
    (on a busy machine two torch threads can be several times slower than one)."""
    n, k = SHAPES[space]
    adj, ops = synthetic_cells(steps * 32, n, k, seed=2)
    onehot = np.zeros((*ops.shape, k), np.float32)
    idx = np.nonzero(ops >= 0)
    onehot[idx[0], idx[1], ops[idx]] = 1
    by_threads = {}
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "cells.npz", adj=adj.astype(np.float32), ops=onehot)
        (Path(tmp) / "snippet.py").write_text(PUBLISHED_SNIPPET)
        for t in threads:
            proc = subprocess.run(
                [python, str(Path(tmp) / "snippet.py"), repo, str(n), str(k), str(steps), str(repeats), str(t),
                 str(Path(tmp) / "cells.npz")],
                capture_output=True, text=True, check=True,
            )
            by_threads[t] = json.loads(proc.stdout.strip().splitlines()[-1])
    best = {mode: max(by_threads.values(), key=lambda r: r[mode]["median"])[mode] for mode in ("train", "eval")}
    return {**best, "by_threads": by_threads}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=500, help="training steps per timed chunk")
    p.add_argument("--spaces", nargs="*", default=["nb101", "nb201", "darts"], choices=sorted(SHAPES))
    p.add_argument("--members", nargs="*", type=int, default=[1, 2, 4, 8, 16],
                   help="member counts for the steps/s x members table (none: skip)")
    p.add_argument("--all-in", type=int, default=8, help="K of the all-in comparison with one seed (0: skip)")
    p.add_argument("--no-embedding", action="store_true", help="skip the 423,624-cell embedding export timing")
    p.add_argument("--no-arithmetic", action="store_true",
                   help="skip the FLOP count of a training step against this machine's matmul peak")
    p.add_argument("--target-ratio", type=float, default=2.5,
                   help="K seeds / one seed all in, the ratio whose arithmetic floor is computed (default 2.5)")
    p.add_argument("--published", default=None, help="python interpreter with torch, to time the published step too")
    p.add_argument("--published-repo", default=None, help="checkout of the published arch2vec code (with models/, utils/)")
    p.add_argument("--published-threads", nargs="+", type=int, default=[1, 2], help="torch thread counts to try")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_pretrain.json"))
    args = p.parse_args(argv)
    if args.published and not args.published_repo:
        p.error("--published needs --published-repo")

    results: dict = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "jax": jax.__version__,
                    "backend": jax.default_backend(), "load_average_start": os.getloadavg()},
        "batch_size": 32, "steps_per_chunk": args.steps, "repeats": args.repeats,
        "published_reference_steps_per_s": PUBLISHED_STEPS_PER_S, "training": {}, "published_measured": {},
    }
    if args.all_in:
        print(f"all in: the default NB201 pretraining, one seed and {args.all_in} seeds")
        results["all_in"] = time_all_in(args.all_in)
    if args.members:
        print(f"steps/s x members, NB201, train mode, {args.steps}-step chunks")
        results["members"] = time_members(args.members, args.steps, args.repeats)
    rows = []
    for space in args.spaces:
        entry = {mode: time_training(space, args.steps, args.repeats, mode == "train") for mode in ("train", "eval")}
        results["training"][space] = entry
        published = PUBLISHED_STEPS_PER_S.get(space)
        measured = None
        if args.published:
            measured = time_published(args.published, args.published_repo, space, args.steps, args.repeats, args.published_threads)
            results["published_measured"][space] = measured
        rows.append((space, entry, published, measured))
    if not args.no_embedding:
        results["embedding"] = time_embedding(max(1, min(args.repeats, 3)))
    if not args.no_arithmetic:
        results["arithmetic"] = arithmetic_floor(results.get("all_in"), results.get("members"), args.target_ratio)
    results["machine"]["load_average_end"] = os.getloadavg()
    _io.write_json(args.out, results)

    if "all_in" in results:
        a = results["all_in"]
        for name in (str(args.all_in), f"{args.all_in}-vmap"):
            b = a[name]
            print(f"all in: 1 seed {a['1']['wall_seconds']:.1f} s, {name} seeds {b['wall_seconds']:.1f} s ({b['ratio']:.2f}x); "
                  f"its {b['cpu_seconds']:.1f} cpu s on {a['cores']} cores allow no less than {b['floor_ratio']:.2f}x")
    if "arithmetic" in results:
        r = results["arithmetic"]
        print(f"one training step: {r['flops_per_step'] / 1e6:.1f} MFLOP (XLA's count), {r['steps_per_seed']} steps a seed = "
              f"{r['seed_training_tflop']:.3f} TFLOP; float32 matmul peak here {r['peak']['gflops']:.0f} GFLOP/s "
              f"({r['seed_training_seconds_at_peak']:.2f} s a seed at peak)")
        for k, ways in r.get("achieved_gflops", {}).items():
            print(f"  {k:>3} members achieve " + ", ".join(f"{way} {g:.0f} GFLOP/s" for way, g in ways.items()))
        print("  the model's matmul shape alone ([256, 128] @ [128, 128], members stacked, 10 deep): " + ", ".join(
            f"{k} members {g:.0f} GFLOP/s" for k, g in r["model_matmul_gflops"].items()))
        if "target" in r:
            t = r["target"]
            print(f"  {t['members']} seeds in {t['ratio']}x one seed ({t['one_seed_wall']} s) leave their training "
                  f"{t['training_budget_seconds']:.1f} s even if all else cost what one seed's does "
                  f"({t['one_seed_other_seconds']:.1f} s): {t['needed_gflops']:.0f} GFLOP/s, "
                  f"{100 * t['needed_share_of_peak']:.0f}% of the matmul peak, "
                  f"{100 * t['needed_share_of_model_matmuls']:.0f}% of what its matmuls alone reach")
    print(f"training steps/s at batch 32 (median of {args.repeats} x {args.steps} steps, compile excluded)")
    print(f"{'space':6} {'mode':5} {'a2v_jax':>9} {'published':>10} {'ratio':>6}   runs")
    for space, entry, published, measured in rows:
        for mode in ("train", "eval"):
            ours = entry[mode]["median"]
            if measured is not None:
                ref, src = measured[mode]["median"], "measured"
            else:
                ref, src = published, "docs/reference.md"
            ratio = f"{ours / ref:5.2f}x" if ref else "   -"
            ref_text = f"{ref:10.1f}" if ref else f"{'-':>10}"
            print(f"{space:6} {mode:5} {ours:9.1f} {ref_text} {ratio}   {entry[mode]['runs']} (published: {src})")
    if "embedding" in results:
        e = results["embedding"]
        print(f"embedding export, {e['cells']:,} NB101-shaped cells: {e['median_seconds']:.2f} s (runs {e['runs']})")
    print(f"load average {results['machine']['load_average_start']} -> {results['machine']['load_average_end']}")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
