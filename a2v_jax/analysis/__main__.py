"""`python -m a2v_jax.analysis {predictive,smoothness,map,walk,all} [options]`: see `--help`."""

from __future__ import annotations

import argparse
import sys

from .. import compile_cache
from .._io import CorruptFileError
from ..cli import HelpFormatter, add_arguments, from_args
from ..rundir import RunFolderError, partial_path
from ..spaces import UnknownDatasetError, UnknownSpaceError
from .config import ANALYSES, AnalysisConfig
from .encodings import BUILT_IN

EPILOG = """
analyses:
  predictive  a Gaussian process on each encoding, trained on --train-size random cells, predicts the
              test accuracy of all other cells; RMSE and Pearson r (cells above --threshold, and all),
              mean +- std over --seeds; margin of each encoding over the random control (paper Fig 2)
  smoothness  a random walk of --walk-length cells one edit apart; for every pair, L2 distance against
              graph edit distance: box plots and Spearman rho (paper Fig 3)
  map         t-SNE of --map-cells cells, mean test accuracy per small area, red above --map-high and
              black below --map-low (paper Fig 4)
  walk        from --walks start cells, the nearest unvisited cell --walk-steps times, drawn as DAGs with
              the edit distance between neighbours; --run DIR adds a decoded interpolation (Figs 5, 11-13)
  all         all four (predictive and map are skipped, with a note, on a space without accuracies)

encodings (--embeddings, repeatable; default: every built-in the space has):
  NAME=PATH   an embeddings.npz (`embeddings` [N, d] in the space's cell order, `hash`), e.g.
              arch2vec=runs/pretrain-nb201/embeddings.npz; rows are checked against the cells
  onehot      flattened upper-triangular adjacency + one-hot ops
  path        BANANAS path encoding (nb101, nb201)
  random      a fixed random Gaussian embedding (16-d): the control any useful encoding must beat

outputs in --out: config.json, run.json, and per analysis <name>.json (every number plotted) and
<name>.png (walk: also interpolation.png with --run)

example:
  python -m a2v_jax.analysis all --space nb201 --dataset cifar10 \\
      --embeddings arch2vec=runs/pretrain-nb201/embeddings.npz --embeddings onehot --embeddings random \\
      --out runs/analysis-nb201
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m a2v_jax.analysis",
        description="Analyse the latent space of architecture embeddings as the arch2vec paper does (§4.1):\n"
        "predictive performance, smoothness against edit distance, a 2-D map coloured by accuracy,\n"
        "nearest-neighbour walks. Any embeddings file, compared with built-in encodings.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    p.add_argument("analysis", choices=[*ANALYSES, "all"], help="which analysis to run")
    p.add_argument("--embeddings", action="append", metavar="NAME=PATH|" + "|".join(BUILT_IN), default=None,
                   help="an encoding to analyse (repeatable)")
    add_arguments(p, AnalysisConfig)
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    compile_cache.add_argument(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    compile_cache.enable(args.no_compile_cache)
    try:
        config = from_args(AnalysisConfig, args, analysis=args.analysis,
                           embeddings=tuple(args.embeddings or ()), progress=not args.quiet)
        from .api import NoAccuracies, run
        from .walk import ModelUnavailable

        try:
            result = run(config)
        except KeyboardInterrupt:
            part = partial_path(config.resolved().out)
            kept = f"finished analyses are kept in {part} (--resume continues)" if part.exists() else "nothing had finished"
            print(f"error: interrupted; {kept}", file=sys.stderr)
            return 130
    except (ValueError, OSError, CorruptFileError, RunFolderError, UnknownSpaceError,
            UnknownDatasetError, NoAccuracies, ModelUnavailable, NotImplementedError, MemoryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name, data in result.results.items():
        print(_summary(name, data))
    for name, why in result.skipped.items():
        print(f"{name}: skipped ({why})")
    print(f"wrote {result.out}")
    return 0


def _summary(name: str, data: dict) -> str:
    enc = data["encodings"]
    if name == "predictive":
        parts = [f"{n} r {e['summary']['high']['pearson']['mean']:.3f}+-{e['summary']['high']['pearson']['std']:.3f}"
                 for n, e in enc.items()]
        return f"predictive (test acc > {data['threshold']}): " + ", ".join(parts)
    if name == "smoothness":
        return "smoothness Spearman rho: " + ", ".join(f"{n} {e['spearman_rho']:.3f}" for n, e in enc.items())
    if name == "map":
        return "map: " + ", ".join(f"{n} {e['areas_filled']} areas" for n, e in enc.items())
    return "walk average edit distance: " + ", ".join(f"{n} {e['average_edit_distance']:.2f}" for n, e in enc.items())


if __name__ == "__main__":
    sys.exit(main())
