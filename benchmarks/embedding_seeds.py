"""How much Table 3's arch2vec rows depend on the pretraining seed of their embeddings.

Table 3 (benchmarks/table3.py) searches the embeddings of ONE pretrained model with 500 search
seeds, so its intervals measure the search's noise on that model only. This
script pretrains K arch2vec seeds as one batched run (`python -m a2v_jax.pretrain --space nb201
--preset reference --seeds K`), runs each method that searches embeddings with S search seeds on
each of the K embeddings, and each baseline (which searches no embeddings) once. Every run is one
`run_search`, re-used when its folder in --runs holds the finished run (benchmarks/_runs.py).

Per method x preset x dataset: the mean test accuracy on each embedding, the mean over embeddings
with its two-stage bootstrap CI (pretraining seeds resampled, then search seeds within them:
`a2v_jax.search.stats.nested_mean_ci`), the std of the per-embedding means (between) against the
std over search seeds (within), and the width of a one-embedding CI as Table 3 reports it. Per
method and baseline: P(method > baseline) averaged over the embeddings with its two-stage CI
(`stats.nested_compare`), and on how many embeddings the method alone is significantly better or
worse than the baseline (two-sided Mann-Whitney p < 0.05).

    python benchmarks/embedding_seeds.py                     # arch2vec-RL, 5 pretraining seeds, CIFAR-10
    python benchmarks/embedding_seeds.py --methods rl,bo --datasets cifar10,cifar100,imagenet16-120
    python benchmarks/embedding_seeds.py --methods bo --presets fixed --name embedding_seeds_bo

Writes benchmarks/results/<name>.{json,md} (default name: embedding_seeds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import pretrained_batch, shown_path  # noqa: E402
from _runs import run_script, search, uses_embeddings  # noqa: E402
from table3 import DATASETS, PAPER_TEST, SAME, TITLES, paper, presets_of, registered  # noqa: E402

from a2v_jax import presets  # noqa: E402
from a2v_jax._io import atomic_path, write_json  # noqa: E402
from a2v_jax.search import stats  # noqa: E402
from a2v_jax.search.report import final_values  # noqa: E402

SIGNIFICANT = 0.05


def finals(runs: Path, name: str, seeds: int, dataset: str, method: str, preset: str, embeddings: Path | None) -> np.ndarray:
    """Final test accuracy (%) of every search seed of one run (run here unless finished)."""
    _, traces, _ = search(runs, name, space="nb201", dataset=dataset, method=method, seeds=seeds,
                          preset=presets.FIXED if preset == SAME else preset, embeddings=embeddings)
    return 100.0 * np.asarray(final_values(traces)["test"], np.float64)


def method_row(dataset: str, method: str, preset: str, groups: list[np.ndarray]) -> dict:
    nested = stats.nested_mean_ci(groups)
    widths = [hi - lo for lo, hi in (stats.mean_ci(g) for g in groups)]
    return {"dataset": dataset, "method": method, "title": TITLES.get(method, method), "preset": preset,
            "embeddings": len(groups), "seeds": int(groups[0].size), **nested,
            "one_embedding_ci_width": float(np.median(widths)),
            "paper_test": list(paper(PAPER_TEST, method, DATASETS.index(dataset)))}


def baseline_row(dataset: str, method: str, preset: str, values: np.ndarray) -> dict:
    return {"dataset": dataset, "method": method, "title": TITLES.get(method, method), "preset": preset,
            **stats.describe(values), "paper_test": list(paper(PAPER_TEST, method, DATASETS.index(dataset)))}


def contrast_row(dataset: str, preset: str, method: str, baseline: str, groups: list[np.ndarray], base: np.ndarray) -> dict:
    c = stats.nested_compare(groups, base)
    better = sum(p < SIGNIFICANT and pi > 0.5 for p, pi in zip(c["group_p_value"], c["group_p_improve"], strict=True))
    worse = sum(p < SIGNIFICANT and pi < 0.5 for p, pi in zip(c["group_p_value"], c["group_p_improve"], strict=True))
    return {"dataset": dataset, "preset": preset, "a": method, "b": baseline, **c,
            "embeddings_better": better, "embeddings_worse": worse}


def _paper(row: dict) -> str:
    return "-" if np.isnan(row["paper_test"][0]) else f"{row['paper_test'][0]:.2f} +- {row['paper_test'][1]:.2f}"


def markdown(header: list[str], rows: list[dict], pairs: list[dict], bases: list[dict] = ()) -> str:
    lines = [*header, "",
             "| dataset | method | preset | embeddings x seeds | test % on each embedding | mean over embeddings "
             "[two-stage 95% CI] | std between embeddings | std within (search seeds) | one-embedding CI width | "
             "paper test |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        each = ", ".join(f"{m:.2f}" for m in r["group_means"])
        lines.append(f"| {r['dataset']} | {r['title']} (`{r['method']}`) | {r['preset']} | {r['embeddings']} x {r['seeds']} | "
                     f"{each} | {r['mean']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}] | {r['between_std']:.3f} | "
                     f"{r['within_std']:.3f} | {r['one_embedding_ci_width']:.3f} | {_paper(r)} |")
    if bases:
        lines += ["", "Baselines (they search no embeddings: one run each):", "",
                  "| dataset | method | preset | seeds | test % mean +- std | 95% CI of the mean | paper test |",
                  "|---|---|---|---|---|---|---|"]
        for b in bases:
            lines.append(f"| {b['dataset']} | {b['title']} (`{b['method']}`) | {b['preset']} | {b['n']} | "
                         f"{b['mean']:.2f} +- {b['std']:.2f} | [{b['ci_low']:.2f}, {b['ci_high']:.2f}] | {_paper(b)} |")
    if pairs:
        lines += ["", "P(A > B): a random search seed of A (on a random one of the embeddings) beats a random seed of B, "
                  f"ties half, with its two-stage 95% CI; per embedding: P(A > B) and whether A on that embedding alone "
                  f"is significantly better / worse than B (two-sided Mann-Whitney p < {SIGNIFICANT}).", "",
                  "| dataset | preset | A | B | P(A > B) over embeddings [95% CI] | P(A > B) on each embedding | "
                  "embeddings better / worse / neither |",
                  "|---|---|---|---|---|---|---|"]
        for c in pairs:
            each = ", ".join(f"{p:.3f}" for p in c["group_p_improve"])
            neither = c["groups"] - c["embeddings_better"] - c["embeddings_worse"]
            lines.append(f"| {c['dataset']} | {c['preset']} | {TITLES.get(c['a'], c['a'])} | {TITLES.get(c['b'], c['b'])} | "
                         f"{c['p_improve']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}] | {each} | "
                         f"{c['embeddings_better']} / {c['embeddings_worse']} / {neither} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Writes benchmarks/results/<name>.{json,md}.")
    ap.add_argument("--pretrain-seeds", type=int, default=5, help="arch2vec pretraining seeds (0..K-1), one batched run")
    ap.add_argument("--seeds", type=int, default=500, help="search seeds a run")
    ap.add_argument("--methods", default="rl", help="methods that search the embeddings (comma-separated)")
    ap.add_argument("--baselines", default="re,rs,rl-discrete",
                    help="methods that search no embeddings, run once each (comma-separated)")
    ap.add_argument("--presets", default="fixed,reference")
    ap.add_argument("--datasets", default="cifar10")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "embedding_seeds", help="folder for the run folders")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--name", default="embedding_seeds", help="file name of the results (.md, .json) in --results")
    args = ap.parse_args()

    if args.pretrain_seeds < 2:
        ap.error(f"--pretrain-seeds must be at least 2 to see a spread between embeddings, got {args.pretrain_seeds}")
    datasets = args.datasets.split(",")
    for d in datasets:
        if d not in DATASETS:
            ap.error(f"unknown dataset {d!r}; choose from {', '.join(DATASETS)}")
    wanted = [presets.check_preset(p) for p in args.presets.split(",")]
    methods, baselines = registered(args.methods.split(",")), registered(args.baselines.split(","))
    for m in methods:
        if not uses_embeddings(m):
            ap.error(f"--methods: {m!r} searches no embeddings; give it in --baselines")
    for m in baselines:
        if uses_embeddings(m):
            ap.error(f"--baselines: {m!r} searches embeddings; give it in --methods")
    if not methods:
        ap.error("no registered method in --methods")

    k = args.pretrain_seeds
    paths, command = pretrained_batch(args.runs / f"pretrain-nb201-reference-seeds0-{k - 1}", seeds=k)
    rows, pairs, bases = [], [], []
    for dataset in datasets:
        base = {(b, p): finals(args.runs, f"{b}-{p}-{dataset}", args.seeds, dataset, b, p, None)
                for b in baselines for p in presets_of(b, wanted)}
        bases += [baseline_row(dataset, b, p, values) for (b, p), values in base.items()]
        for m in methods:
            for p in presets_of(m, wanted):
                groups = [finals(args.runs, f"{m}-{p}-{dataset}-emb{i}", args.seeds, dataset, m, p, path)
                          for i, path in enumerate(paths)]
                rows.append(method_row(dataset, m, p, groups))
                r = rows[-1]
                print(f"{dataset} {m} {p}: " + ", ".join(f"{x:.2f}" for x in r["group_means"])
                      + f" -> {r['mean']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]", flush=True)
                for b in baselines:
                    bp = p if (b, p) in base else SAME
                    pairs.append(contrast_row(dataset, p, m, b, groups, base[(b, bp)]))
    header = [
        f"# Table 3's arch2vec rows over {k} pretraining seeds", "",
        f"NB201, {args.seeds} search seeds a run (ids 0..{args.seeds - 1}). Embeddings: arch2vec seeds 0..{k - 1}, "
        f"`{command}`. Test accuracy of the incumbent, %. Written by benchmarks/embedding_seeds.py; run folders under "
        f"{shown_path(args.runs)}.",
        "Mean over embeddings: the mean of the per-embedding means, with a two-stage bootstrap CI (embeddings "
        "resampled, then search seeds within each; it errs wide). One-embedding CI width: median over the embeddings "
        "of the BCa 95% CI of one embedding's mean, the interval Table 3 reports.",
    ]
    table = markdown(header, rows, pairs, bases)
    args.results.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.results / f"{args.name}.md") as tmp:
        tmp.write_text(table)
    write_json(args.results / f"{args.name}.json", {
        "pretrain": command, "embeddings": [str(shown_path(p)) for p in paths], "search_seeds": args.seeds,
        "rows": rows, "baselines": bases, "contrasts": pairs,
        "statistics": {"confidence": stats.CONFIDENCE, "resamples": stats.RESAMPLES,
                       "mean_ci": "two-stage percentile bootstrap (embeddings, then search seeds)",
                       "p_improve_ci": "two-stage percentile bootstrap", "significant": SIGNIFICANT}})
    print(table)
    print(f"wrote {args.results / args.name}.md and {args.name}.json")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
