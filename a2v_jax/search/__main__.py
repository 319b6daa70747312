"""Command line: `python -m a2v_jax.search ...` runs a batched search; `... compare DIR...` compares runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._io import CorruptFileError
from .build import DEFAULT_BUDGETS
from .methods import METHODS, PRESETS, MethodNotAvailable, UnknownMethodError, parse_overrides

RUN_EPILOG = """
methods:
{methods}

presets:
  reference  reproduce the published code, quirks included (REINFORCE: NB201 skips the nearest
             cell, first index off by one, start cell marked visited; RS and RE draw with
             replacement and may query a cell again, charged again)
  fixed      correct behaviour: no cell is ever queried twice, no skipped neighbours

default budgets (simulated seconds; --budget overrides, --queries adds a query budget):
{budgets}

outputs in --out:
  traces.npz        per seed [seeds, capacity]: index, time, best_reward, incumbent_test,
                    incumbent_index, incumbent_valid; per seed: count, seed
  summary.json      final_valid_mean/std (incumbent's reward), final_valid_role_mean/std
                    (incumbent's 'valid' column), final_test_mean/std, regrets, oracle,
                    queries, seconds (compile and run), config, definitions of every number
  config.json       the request and the method's full configuration
  regret_vs_time.png, ecdf_test_regret.png, test_vs_queries.png

examples:
  python -m a2v_jax.search --space nb201 --dataset cifar10 --method rl --seeds 500 \\
      --embeddings runs/pretrain/embeddings.npz --out runs/rl-c10
  python -m a2v_jax.search --method re --preset reference --seeds 500 --out runs/re-c10-ref
  python -m a2v_jax.search compare runs/rl-c10 runs/re-c10-ref
"""


def _run_parser() -> argparse.ArgumentParser:
    methods = "\n".join(f"  {m.name}  {m.title}" + ("  [needs --embeddings]" if m.needs_features else "")
                        for m in METHODS.values())
    budgets = "\n".join(f"  {s}/{d}: {b:,.0f}" for (s, d), b in DEFAULT_BUDGETS.items())
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.search",
        description="Run many independent architecture searches as one batched JAX computation "
        "(all seeds at once), and write traces, a summary and plots. "
        "Use `python -m a2v_jax.search compare DIR...` to put several runs side by side.",
        epilog=RUN_EPILOG.format(methods=methods, budgets=budgets),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--space", default="nb201", help="search space: nb201 or nb101 (default nb201)")
    p.add_argument("--dataset", default="cifar10",
                   help="cifar10 | cifar100 | imagenet16-120 (NB201); cifar10 (NB101). Default cifar10")
    p.add_argument("--method", default="rl", choices=list(METHODS), help="search method (default rl)")
    p.add_argument("--seeds", type=int, default=500, help="independent runs, all in one computation (default 500)")
    p.add_argument("--base-seed", type=int, default=0,
                   help="seed ids are base-seed .. base-seed+seeds-1; each run depends only on its id (default 0)")
    p.add_argument("--embeddings", type=Path, help="embeddings.npz (`embeddings` [N,16] in cell order, `hash`); needed by rl and bo")
    p.add_argument("--out", type=Path, required=True, help="output folder (created)")
    p.add_argument("--overwrite", action="store_true", help="replace the results already in --out")
    p.add_argument("--budget", type=float, help="simulated-seconds budget (default: per space/dataset, see below)")
    p.add_argument("--queries", type=int, help="query budget (alone, or together with --budget: whichever ends first)")
    p.add_argument("--preset", default="fixed", choices=PRESETS, help="reference | fixed (default fixed)")
    p.add_argument("--devices", type=int,
                   help="shard seeds over this many devices (jax.devices(); on CPU set "
                        "XLA_FLAGS=--xla_force_host_platform_device_count=K first)")
    p.add_argument("--benchmark", type=Path, help="a saved Benchmark .npz instead of the project's loader")
    p.add_argument("--neighbours", type=Path, help="mutation table .npy/.npz int32 [N,K] for re (default: from the space)")
    p.add_argument("--seed-batch", type=int,
                   help="run seeds in host-side batches of this size: a progress bar and bounded memory")
    p.add_argument("--seed-chunk", type=int, help="in-graph chunks of this many vmapped seeds (lax.map; see runner)")
    p.add_argument("--set", dest="overrides", action="append", metavar="KEY=VALUE",
                   help="override a field of the method's Config, e.g. --set baseline=0.9 --set discount=0.8 (repeatable)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no status lines")
    return p


def _compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.search compare",
        description="Put several search runs (folders written by `python -m a2v_jax.search`) in one table "
        "(printed, compare.md, compare.json) and one figure (compare.png: regret against time, "
        "ECDF of final regret, test accuracy against queries).",
    )
    p.add_argument("dirs", nargs="+", type=Path, help="run folders")
    p.add_argument("--out", type=Path, help="where to write compare.* (default: the runs' common parent folder)")
    return p


def _common_parent(dirs: list[Path]) -> Path:
    parts = [d.resolve().parent.parts for d in dirs]
    common = []
    for group in zip(*parts, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    return Path(*common) if common else Path.cwd()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "compare":
            args = _compare_parser().parse_args(argv[1:])
            from .report import compare

            out = args.out or _common_parent(args.dirs)
            result = compare(args.dirs, out)
            print(result["text"])
            print("\nwrote " + ", ".join(result["paths"]))
            return 0
        if argv and argv[0] == "run":
            argv = argv[1:]
        args = _run_parser().parse_args(argv)
        existing = [n for n in ("summary.json", "traces.npz") if (args.out / n).exists()]
        if existing and not args.overwrite:
            raise FileExistsError(f"{args.out} already holds a run ({', '.join(existing)}); use --overwrite or another --out")
        from .api import run_search

        result = run_search(
            space=args.space, dataset=args.dataset, method=args.method, seeds=args.seeds,
            embeddings=args.embeddings, out=args.out, budget=args.budget, queries=args.queries,
            preset=args.preset, devices=args.devices, base_seed=args.base_seed, benchmark=args.benchmark,
            neighbours=args.neighbours, seed_batch=args.seed_batch, seed_chunk=args.seed_chunk,
            overrides=parse_overrides(args.overrides), progress=not args.quiet, plots=not args.no_plots,
        )
        s = result.summary
        print(
            f"{s['method']} ({s['preset']}) on {s['space']}/{s['dataset']}, {s['seeds']} seeds, "
            f"{s['queries_mean']:.1f} queries a seed: valid {100 * s['final_valid_mean']:.2f} +- "
            f"{100 * s['final_valid_std']:.2f}, test {100 * s['final_test_mean']:.2f} +- {100 * s['final_test_std']:.2f} "
            f"(regret {100 * s['final_test_regret_mean']:.3f}); compile {s['timing']['compile_seconds']:.1f} s, "
            f"run {s['timing']['run_seconds']:.1f} s"
        )
        return 0
    except (FileNotFoundError, FileExistsError, CorruptFileError, ValueError, KeyError, RuntimeError,
            MethodNotAvailable, UnknownMethodError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
