"""Paper Table 3 (NAS-Bench-201): every method x dataset x preset, with the published numbers beside.

Each cell of the table is one `run_search` (one CLI command: `python -m a2v_jax.search --space nb201
--dataset D --method M --preset P --seeds S --embeddings E --out DIR`), written to
`<runs>/<method>-<preset>-<dataset>/`. The table goes to benchmarks/results/table3.{json,md}.

Reported: mean +- std over seeds (population std, as the published summary script) of the
incumbent's validation ('valid' column: 200-epoch, as the paper's Table 3) and test accuracy, %.

    python benchmarks/table3.py [--seeds 500]               # pretrains the embeddings first (~1 min)
    python benchmarks/table3.py --embeddings runs/pretrain/embeddings.npz
    python benchmarks/table3.py --stand-in --seeds 20      # no learned embeddings: a smoke run

Without --embeddings or --stand-in the embeddings are those of arch2vec pretrained on NB201 with
the reference preset and seed 0 (`python -m a2v_jax.pretrain --space nb201 --preset reference
--seed 0 --out <runs>/pretrain-nb201-reference-seed0`), run here first unless that folder
already holds the finished run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import nb201_benchmark, nb201_neighbours, pretrained_embeddings, shown_path, stand_in_embeddings  # noqa: E402

from a2v_jax._io import atomic_path, write_json  # noqa: E402
from a2v_jax.search.api import run_search  # noqa: E402
from a2v_jax.search.methods import get_method  # noqa: E402

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
# Paper Table 3: test accuracy %, mean +- std over 500 runs (CIFAR-10 / CIFAR-100 / ImageNet16-120)
PAPER = {
    "rl": ((94.12, 0.42), (73.15, 0.78), (46.16, 0.38)),
    "bo": ((94.18, 0.24), (73.37, 0.30), (46.27, 0.37)),
    "re": ((93.84, 0.43), (72.86, 0.55), (45.63, 0.64)),
    "rs": ((93.75, 0.37), (72.05, 0.77), (45.33, 0.79)),
}
# The published code re-run on the rebuilt data (REFERENCE.md): test %, RL 50 seeds, DNGO 3-5 seeds
PUBLISHED_CODE = {
    "rl": ((93.89, 0.71), (72.82, 0.98), (46.23, 0.23)),
    "bo": ((93.91, 0.30), (71.78, 0.89), (45.39, 0.79)),
}


def previous_summary(out: Path, method: str, preset: str, dataset: str, seeds: int) -> dict | None:
    """The summary of a finished run of exactly this row, or None."""
    path = out / "summary.json"
    if not path.exists():
        return None
    s = json.loads(path.read_text())
    same = (s.get("method"), s.get("preset"), s.get("dataset"), s.get("seeds")) == (method, preset, dataset, seeds)
    if same:
        print(f"re-using {path}")
    return s if same else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--embeddings", type=Path, help="NB201 embeddings.npz from pretraining (default: pretrain here, see above)")
    src.add_argument("--stand-in", action="store_true", help="use the one-hot stand-in embeddings (not learned)")
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--methods", default="rl,bo,rs,re")
    ap.add_argument("--presets", default="reference,fixed")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "table3", help="folder for the per-run outputs")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--reuse", action="store_true",
                    help="take a row from <runs>/<method>-<preset>-<dataset>/summary.json when that run has the same "
                         "method, preset, dataset and seed count, instead of running it again")
    ap.add_argument("--finished-only", action="store_true",
                    help="with --reuse: rows whose run has not finished are left out (and listed), not run")
    ap.add_argument("--note", default="", help="provenance of the embeddings, written into the table")
    args = ap.parse_args()

    if args.stand_in:
        emb, emb_source = stand_in_embeddings()
    elif args.embeddings is not None:
        emb, emb_source = args.embeddings, str(args.embeddings)
    else:
        emb, emb_source = pretrained_embeddings(args.runs / "pretrain-nb201-reference-seed0")
    nbrs, nb_source = nb201_neighbours()
    methods = args.methods.split(",")
    for m in methods:
        get_method(m)  # an unknown name fails here, before any run
    rows, pending = [], []
    for dataset in args.datasets.split(","):
        bench, bench_source = nb201_benchmark(dataset)
        di = DATASETS.index(dataset)
        for m in methods:
            for preset in args.presets.split(","):
                out = args.runs / f"{m}-{preset}-{dataset}"
                s = previous_summary(out, m, preset, dataset, args.seeds) if args.reuse else None
                if s is None and args.finished_only:
                    pending.append(f"{m}-{preset}-{dataset}")
                    continue
                if s is None:
                    s = run_search(
                        space="nb201", dataset=dataset, method=m, seeds=args.seeds, preset=preset,
                        embeddings=emb if m in ("rl", "bo") else None, benchmark=bench,
                        neighbours=nbrs if m == "re" else None, out=out, overwrite=True,
                    ).summary
                paper = PAPER.get(m, ((np.nan, np.nan),) * 3)[di]
                code = PUBLISHED_CODE.get(m, ((np.nan, np.nan),) * 3)[di]
                rows.append({
                    "dataset": dataset, "method": m, "preset": preset, "seeds": s["seeds"],
                    "valid_mean": 100 * s["final_valid_role_mean"], "valid_std": 100 * s["final_valid_role_std"],
                    "test_mean": 100 * s["final_test_mean"], "test_std": 100 * s["final_test_std"],
                    "reward_mean": 100 * s["final_valid_mean"],
                    "queries_mean": s["queries_mean"], "repeated_queries_mean": s["repeated_queries_mean"],
                    "paper_test_mean": paper[0], "paper_test_std": paper[1],
                    "published_code_test_mean": code[0], "published_code_test_std": code[1],
                    "seconds": s["seconds"], "run_dir": str(shown_path(out)), "benchmark": bench_source,
                })
                print(f"{dataset:15s} {m:3s} {preset:9s} test {rows[-1]['test_mean']:.2f} +- {rows[-1]['test_std']:.2f}"
                      f"  (paper {paper[0]:.2f} +- {paper[1]:.2f})", flush=True)

    fmt = lambda m, s: "-" if np.isnan(m) else f"{m:.2f} +- {s:.2f}"  # noqa: E731
    lines = [
        f"Embeddings: {emb_source}{f' ({args.note})' if args.note else ''}. Seeds: {args.seeds}. "
        f"Neighbours (RE): {nb_source}. Benchmark: {rows[0]['benchmark'] if rows else '-'}.",
        "Valid: the incumbent's 'valid' column (200-epoch); test: its test accuracy; %, mean +- std over seeds.",
        *([f"Not finished when this table was written: {', '.join(pending)}."] if pending else []),
        "",
        "| dataset | method | preset | valid | test | paper test | published code test | queries | repeats | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['method']} | {r['preset']} | {fmt(r['valid_mean'], r['valid_std'])} | "
            f"{fmt(r['test_mean'], r['test_std'])} | {fmt(r['paper_test_mean'], r['paper_test_std'])} | "
            f"{fmt(r['published_code_test_mean'], r['published_code_test_std'])} | {r['queries_mean']:.1f} | "
            f"{r['repeated_queries_mean']:.1f} | {r['seconds']:.1f} |"
        )
    md = "\n".join(lines) + "\n"
    args.results.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.results / "table3.md") as tmp:
        tmp.write_text(md)
    write_json(args.results / "table3.json", {"embeddings": emb_source, "note": args.note, "neighbours": nb_source,
                                              "seeds": args.seeds, "rows": rows, "pending": pending})
    print("\n" + md)
    print(f"wrote {args.results / 'table3.md'} and table3.json")


if __name__ == "__main__":
    main()
