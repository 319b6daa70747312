"""Command line: `python -m a2v_jax.search ...` runs a batched search; `... compare DIR...` compares runs.

The run options are generated from `SearchSpec` (one declaration of each default); `--set` values
are typed by the chosen method's `Config`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap
from pathlib import Path

from .. import cli, compile_cache, distributed, host_devices, rundir
from .._io import CorruptFileError
from ..spaces import get_profile, spaces_with_benchmarks
from .api import SearchInterrupted, SearchSpec
from .methods import METHODS, UnknownMethodError, get_method

RUN_EPILOG = """
methods:
{methods}

method settings (--set KEY=VALUE; `reference`/`fixed` decide the quirk switches unless set):
{settings}

default budgets (simulated seconds; --budget overrides, --queries adds a query budget):
{budgets}

outputs in --out:
  run.json          the folder's kind (search) and what ran
  traces.npz        per seed [seeds, capacity]: index, time, best_reward, incumbent_test,
                    incumbent_index, incumbent_valid; per seed: count, seed
  summary.json      final reward / valid / test (mean, std, median), regrets, oracle,
                    queries, seconds (compile and run), config, definitions of every number
  config.json       the request and the method's full configuration
  regret_vs_time.png, ecdf_test_regret.png, test_vs_queries.png

Ctrl-C (or SIGTERM) stops within about a second, writes a checkpoint to OUT.partial and exits
with status 130; the same command with --resume continues it to the same result bit for bit.

several processes (hosts) as one run: start this same command once per process with
--coordinator HOST:PORT --num-processes P --process-id I (HOST:PORT: where process 0 listens);
under SLURM (srun), Open MPI (mpirun) or on a multi-host TPU slice no flag is needed. The seeds
are split over every process's devices, process 0 writes --out (which must be on a shared file
system for --resume) and prints; the traces equal a one-process run's.

examples:
  python -m a2v_jax.search --space nb201 --dataset cifar10 --method rl --seeds 500 \\
      --embeddings runs/pretrain/embeddings.npz --out runs/rl-c10
  python -m a2v_jax.search --method re --preset reference --seeds 500 --out runs/re-c10-ref
  python -m a2v_jax.search compare runs/rl-c10 runs/re-c10-ref
  # two hosts, one process each (run the same line on both, with --process-id 0 and 1):
  python -m a2v_jax.search --method bo --seeds 5000 --embeddings emb.npz --out /shared/bo \\
      --coordinator host0:1234 --num-processes 2 --process-id 0
"""


def _epilog() -> str:
    methods, settings = [], []
    for name in METHODS:
        mod = get_method(name)
        needs = ", ".join(sorted(mod.NEEDS)) or "nothing"
        methods.append(f"  {name:4s} {mod.TITLE}  [needs: {needs}]")
        settings.append(f"  {name}:")
        settings += [f"    {k}: {v}" for k, v in mod.Config.field_help().items()]
    budgets = [
        f"  {s}/{d.name}: {d.budget:,.0f}  (reward: {d.reward})"
        for s in spaces_with_benchmarks()
        for d in get_profile(s).datasets
    ]
    return RUN_EPILOG.format(methods="\n".join(methods), settings="\n".join(settings), budgets="\n".join(budgets))


def run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.search",
        description=textwrap.fill(
            "Run many independent architecture searches as one batched JAX computation (all seeds at "
            "once), and write traces, a summary and plots. Use `python -m a2v_jax.search compare DIR...` "
            "to put several runs side by side.", 100),
        epilog=_epilog(),
        formatter_class=cli.HelpFormatter,
    )
    cli.add_arguments(p, SearchSpec)
    distributed.add_arguments(p, "several processes: one search over several hosts (see below)")
    p.add_argument("--set", dest="assignments", action="append", metavar="KEY=VALUE", default=[],
                   help="set a field of the method's Config, e.g. --set baseline=0.9 (repeatable; see below)")
    compile_cache.add_argument(p)
    return p


def _compare_parser() -> argparse.ArgumentParser:
    from .stats import RESAMPLES

    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.search compare",
        description=(
            "Put search runs of one space and dataset (folders written by `python -m a2v_jax.search`) in\n"
            "tables (printed, compare.md, compare.json) and one figure (compare.png: regret against time,\n"
            "ECDF of final regret, test accuracy against queries).\n\n"
            "Per run: the final test accuracy as mean +- std, the 95% bootstrap CI of the mean, median and\n"
            "IQR; the test regret at 25/50/75/100% of the simulated-time budget (mean, 95% CI).\n"
            "Per pair of runs A, B: the probability of improvement P(A > B) (a random seed of A beats a\n"
            "random seed of B, ties half; for regret, lower beats) with its 95% bootstrap CI, and the\n"
            "two-sided Mann-Whitney U p-value, on the final test accuracy and the regret at each point."
        ),
        formatter_class=cli.HelpFormatter,
    )
    p.add_argument("dirs", nargs="+", type=Path, help="run folders (one space and dataset; one folder works too)")
    p.add_argument("--out", type=Path, help="where to write compare.* (default: the runs' common parent folder)")
    p.add_argument("--band", choices=("iqr", "ci"), default="iqr",
                   help="band around the mean regret curves: iqr = 25-75%% of seeds, ci = 95%% bootstrap CI of the mean")
    p.add_argument("--resamples", type=int, default=RESAMPLES, help="bootstrap resamples of every interval (default: %(default)s)")
    return p


def _common_parent(dirs: list[Path]) -> Path:
    parts = [d.resolve().parent.parts for d in dirs]
    common = []
    for group in zip(*parts, strict=False):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    return Path(*common) if common else Path.cwd()


def _run_line(s: dict) -> str:
    pm = lambda k: f"{100 * s[k + '_mean']:.2f} +- {100 * s[k + '_std']:.2f}"  # noqa: E731
    return (
        f"{s['method']} ({s['preset']}) on {s['space']}/{s['dataset']}, {s['seeds']} seeds, "
        f"{s['queries_mean']:.1f} queries a seed: reward {pm('final_valid')} [{s['reward_column']}], "
        f"valid {pm('final_valid_role')}, test {pm('final_test')} (test regret {100 * s['final_test_regret_mean']:.3f}); "
        f"compile {s['timing']['compile_seconds']:.1f} s, run {s['timing']['run_seconds']:.1f} s"
    )


def main(argv: list[str] | None = None, *, cores_as_devices: bool = False) -> int:
    """The command line. cores_as_devices: this process is the command (`python -m`), so it may give
    JAX one CPU device a core before JAX starts (`a2v_jax.host_devices`); a program that calls
    `main` keeps its own JAX settings."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "compare":
            args = _compare_parser().parse_args(argv[1:])
            from .report import compare

            out = args.out or _common_parent(args.dirs)
            if args.resamples < 100:
                raise ValueError(f"--resamples must be at least 100, got {args.resamples}")
            result = compare(args.dirs, out, band=args.band, resamples=args.resamples)
            print(result["text"])
            print("\nwrote " + ", ".join(result["paths"]))
            return 0
        if argv and argv[0] == "run":
            argv = argv[1:]
        parser = run_parser()
        args = parser.parse_args(argv)
        if getattr(args, "out", None) is None:
            parser.error("--out is required (the run folder)")
        compile_cache.enable(args.no_compile_cache)
        module = get_method(getattr(args, "method", SearchSpec.method))
        spec = cli.from_args(SearchSpec, args, overrides=cli.parse_assignments(args.assignments, module.Config))
        if distributed.initialize_from_args(args) is None and cores_as_devices:  # one process: a device a core
            claimed = host_devices.claim()
            if spec.devices is None:
                batch = min(spec.seeds, spec.seed_batch or spec.seeds)
                spec = dataclasses.replace(spec, devices=host_devices.default_devices(claimed, batch))
        from .api import run_search

        result = run_search(spec)
        if distributed.is_main():
            print(_run_line(result.summary))
        return 0
    except SearchInterrupted as e:
        print(str(e), file=sys.stderr)
        return 130
    except (FileNotFoundError, FileExistsError, CorruptFileError, ValueError, KeyError, RuntimeError,
            UnknownMethodError, rundir.RunFolderError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(cores_as_devices=True))

