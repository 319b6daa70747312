"""`python -m a2v_jax.pretrain`: the command line over `a2v_jax.pretrain.run`.

Its options are generated from `PretrainConfig` (`a2v_jax.cli`), so defaults and help live in one
place. Every failure a user can cause (a bad value, a folder that holds something else, a run
whose loss stops being finite, too many members for the memory) ends in one `error:` line and a
non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys

from .. import _io, cli, compile_cache, distributed
from ..rundir import RunFolderError
from ..spaces import UnknownSpaceError
from .config import ConfigError, PretrainConfig
from .export import ResumeError
from .load import LoadError
from .parallel import DeviceError, MemoryLimitError
from .run import NonFiniteLossError, PretrainResult, run

EPILOG = """\
outputs (--out OUT):
  one seed:      OUT/ config.json, metrics.jsonl (one line per epoch), metrics.json (final),
                 checkpoint.msgpack, embeddings.npz (`embeddings` [N, 16] in the space's cell order)
  --seeds K > 1: OUT/seed-<s>/ (each the same folder as one seed) and OUT/summary.json
  (or --sweep):  (mean and std over seeds of every Table 1 metric, per sweep point)
  Runs are written to OUT.partial and moved to OUT when complete; --resume continues an interrupted one.

examples:
  python -m a2v_jax.pretrain                                  # arch2vec on NAS-Bench-201, seed 0
  python -m a2v_jax.pretrain --seeds 8 --out runs/pre8         # 8 seeds as one computation
  python -m a2v_jax.pretrain --seeds 4 --sweep lr=3e-4,1e-3,3e-3 --out runs/lr-sweep
  python -m a2v_jax.pretrain --space nb101 --devices 4         # one model, batches split over 4 devices

several processes (hosts) as one run: start this same command once per process with
--coordinator HOST:PORT --num-processes P --process-id I (HOST:PORT: where process 0 listens);
under SLURM (srun), Open MPI (mpirun) or on a multi-host TPU slice no flag is needed. The members
are split over every process's devices; process 0 writes OUT and prints. Ctrl-C / SIGTERM on any
process stops all of them with a checkpoint; --resume (the same command on every process) needs
OUT.partial on a file system every process shares.
  # two hosts, one process each (the same line on both, with --process-id 0 and 1):
  python -m a2v_jax.pretrain --seeds 64 --out /shared/pre64 \\
      --coordinator host0:1234 --num-processes 2 --process-id 0
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage + error
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m a2v_jax.pretrain",
        description=(
            "Pretrain an architecture autoencoder (arch2vec: a variational graph isomorphism autoencoder) on a "
            "search space, report reconstruction accuracy, validity and uniqueness (paper Table 1), and export the "
            "embedding of every cell. Several seeds (and sweep values) train together as one computation. With no "
            "arguments: arch2vec on NAS-Bench-201, which needs no download."
        ),
        epilog=EPILOG,
        formatter_class=cli.HelpFormatter,
    )
    cli.add_arguments(p, PretrainConfig)
    p.add_argument("--darts-num", type=int, default=None, help="darts: number of sampled cells (the space's default if unset)")
    p.add_argument("--darts-seed", type=int, default=None, help="darts: sampling seed (the space's default if unset)")
    distributed.add_arguments(p, "several processes: one pretraining over several hosts (see below)")
    compile_cache.add_argument(p)
    return p


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    options = {}
    if args.darts_num is not None:
        options["num"] = args.darts_num
    if args.darts_seed is not None:
        options["seed"] = args.darts_seed
    if options and getattr(args, "space", "nb201") != "darts":
        raise ConfigError("--darts-num / --darts-seed apply to --space darts only")
    return cli.from_args(PretrainConfig, args, space_options=options)


def report(result: PretrainResult) -> str:
    if result.summary is None:
        m = result.metrics
        return (
            f"done: {result.out}  reconstruction {m['reconstruction_accuracy']:.4f}  validity {m['validity']:.4f}  "
            f"uniqueness {m['uniqueness']:.4f}  (published checks {m['validity_published']:.4f} / "
            f"{m['uniqueness_published']:.4f})  embeddings of {m['num_cells']:,} cells"
        )
    lines = [f"done: {result.out}  {len(result.runs)} members"]
    for group in result.summary["groups"]:
        metrics = group["metrics"]
        point = ", ".join(f"{k}={v:g}" for k, v in group["sweep"].items())
        cells = "  ".join(f"{name} {100 * metrics[key]['mean']:.2f} +- {100 * metrics[key]['std']:.2f}"
                          for name, key in (("reconstruction", "reconstruction_accuracy"), ("validity", "validity"),
                                            ("uniqueness", "uniqueness"), ("valid*", "validity_published"),
                                            ("uniq*", "uniqueness_published")) if key in metrics)
        lines.append(f"  {point + ': ' if point else ''}{len(group['seeds'])} seeds, %: {cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    compile_cache.enable(args.no_compile_cache)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        distributed.initialize_from_args(args)
        with distributed.together("reading the arguments"):
            config = config_from_args(args)
        result = run(config)
    except KeyboardInterrupt:
        return 130
    except (ConfigError, UnknownSpaceError, RunFolderError, ResumeError, LoadError, NonFiniteLossError,
            MemoryLimitError, DeviceError, _io.CorruptFileError, OSError, ValueError,
            distributed.DistributedError) as e:
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"error: {message}", file=sys.stderr)
        return 1
    if distributed.is_main():
        print(report(result))
    return 0


def _raise_interrupt(signum, frame):  # SIGTERM: stop like Ctrl-C, so the checkpoint is written
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
