"""Per-quirk ablation on NB201 CIFAR-10: what each of the published code's quirks does to the result.

For each method (default: arch2vec-REINFORCE `rl` and arch2vec-DNGO `bo`) the variants are the
`fixed` preset, the `reference` preset, and `fixed` with ONE reference quirk switched on, for every
quirk switch on which the two presets differ on NB201 (read from the method's `QUIRKS` table through
`a2v_jax.presets.quirk_differences`, so a new switch joins the ablation by itself). Every variant is
one search run of `--seeds` seeds (`python -m a2v_jax.search --preset fixed --set SWITCH=VALUE ...`,
seed ids 0..seeds-1 in every variant; the seeds of different variants are independent runs).

The table (benchmarks/results/ablation.{md,json}) gives per variant the final test accuracy (the
incumbent's, %): mean +- std, the 95% bootstrap CI of the mean, the difference of means to `fixed`,
and P(variant > fixed) (a random seed of the variant beats a random seed of `fixed`, ties half) with
its 95% bootstrap CI and the two-sided Mann-Whitney U p-value; a Holm-adjusted p-value within each
method accounts for testing every switch of that method. Statistics: `a2v_jax.search.stats`.
What each quirk is: docs/reference.md and the strategy modules' docstrings.

    python benchmarks/ablation.py                         # 500 seeds; pretrains the embeddings first
    python benchmarks/ablation.py --methods rl --seeds 100
    python benchmarks/ablation.py --finished-only         # a table of the runs finished so far

Runs go to <runs>/<method>-<variant>-cifar10 (the `fixed` and `reference` ones are the same folders
as benchmarks/table3.py's CIFAR-10 rows with the same --runs, and are re-used when finished with
the same options). The table is rewritten after every run, listing the variants still to come.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import pretrained_embeddings, shown_path  # noqa: E402
from _runs import finished_run, run_script, search, uses_embeddings, wall_seconds  # noqa: E402

from a2v_jax import presets  # noqa: E402
from a2v_jax._io import atomic_path, write_json  # noqa: E402
from a2v_jax.search import stats  # noqa: E402
from a2v_jax.search.api import SearchSpec  # noqa: E402
from a2v_jax.search.methods import get_method, method_key  # noqa: E402
from a2v_jax.search.report import budget_points, final_values, values_at_budget  # noqa: E402

SPACE, DATASET = "nb201", "cifar10"
DURING = (0.25, 0.5, 0.75)  # fractions of the budget where the variants are also compared (test regret)
DEFAULT_METHODS = ("rl", "bo")  # the strategies whose quirks the paper's Table 3 numbers depend on


def variants(method: str) -> list[tuple[str, str, dict]]:
    """[(variant name, preset, overrides)]: fixed, reference, and fixed + each differing quirk."""
    module = get_method(method)
    diffs = presets.quirk_differences(module.Config.QUIRKS, SPACE)
    out = [("fixed", presets.FIXED, {}), ("reference", presets.REFERENCE, {})]
    out += [(f"fixed+{name}", presets.FIXED, {name: ref}) for name, (ref, _fix) in diffs.items()]
    return out


def quirk_help(method: str, name: str) -> str:
    for f in dataclasses.fields(get_method(method).Config):
        if f.name == name:
            return f.metadata.get("help", "")
    return ""


def changed_share(index: np.ndarray, base: np.ndarray) -> float:
    """Share of seed ids whose sequence of queried cells differs from the same seed id's in `base`."""
    cap = max(index.shape[1], base.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, cap - a.shape[1])), constant_values=-1)  # noqa: E731
    return float(np.mean((pad(index) != pad(base)).any(axis=1)))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries left out)."""
    p = np.asarray(p, np.float64)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    order = ok[np.argsort(p[ok])]
    m = order.size
    adj = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out[order] = adj
    return out


def rows_for(method: str, results: dict[str, dict]) -> list[dict]:
    """Table rows of one method from {variant: {summary, test}} (the finished variants)."""
    base = results.get("fixed")
    rows = []
    for variant, preset, overrides in variants(method):
        if variant not in results:
            continue
        r = results[variant]
        test = r["test"]
        d = stats.describe(test)
        row = {
            "method": method, "variant": variant, "preset": preset,
            "switch": {k: v for k, v in overrides.items()},
            "switch_help": "; ".join(quirk_help(method, k) for k in overrides),
            "seeds": int(test.size),
            "test_mean": 100 * d["mean"], "test_std": 100 * d["std"],
            "test_ci": [100 * d["ci_low"], 100 * d["ci_high"]],
            "test_median": 100 * d["median"], "test_iqr": [100 * d["q25"], 100 * d["q75"]],
            "queries_mean": r["summary"]["queries_mean"],
            "repeated_queries_mean": r["summary"]["repeated_queries_mean"],
            "run_dir": str(shown_path(r["dir"])), "seconds": wall_seconds(r["summary"]),
        }
        if base is not None and variant != "fixed":
            c = stats.compare_pair(test, base["test"])
            row.update({
                "seeds_changed": changed_share(r["index"], base["index"]),
                "delta_vs_fixed": 100 * (d["mean"] - float(np.mean(base["test"]))),
                "p_improve_vs_fixed": c["p_improve"], "p_improve_ci": [c["ci_low"], c["ci_high"]],
                "mannwhitney_p": c["p_value"],
                "during_search": [
                    {"budget_fraction": f, **stats.compare_pair(r["regret"][:, i], base["regret"][:, i], higher_is_better=False)}
                    for i, f in enumerate(DURING)
                ],
            })
        rows.append(row)
    family = [i for i, r in enumerate(rows) if "mannwhitney_p" in r]
    adj = holm(np.array([rows[i]["mannwhitney_p"] for i in family]))
    for i, a in zip(family, adj, strict=True):
        rows[i]["mannwhitney_p_holm"] = float(a)
    return rows


def markdown(rows: list[dict], header: list[str]) -> str:
    f2 = lambda x: f"{x:.2f}"  # noqa: E731
    lines = [
        *header,
        "",
        "| method | variant | switch (reference value) | seeds | test % mean +- std | 95% CI of mean | "
        "median [IQR] | mean - fixed (pp) | P(variant > fixed) [95% CI] | Mann-Whitney p | Holm p | "
        "P(lower regret than fixed) at 25 / 50 / 75% of the budget (p) | seeds changed | queries | repeats |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        switch = ", ".join(f"{k}={v}" for k, v in r["switch"].items()) or ("all quirks" if r["variant"] == "reference" else "none")
        cmp = "p_improve_vs_fixed" in r
        lines.append(
            f"| {r['method']} | {r['variant']} | {switch} | {r['seeds']} | {f2(r['test_mean'])} +- {f2(r['test_std'])} | "
            f"[{f2(r['test_ci'][0])}, {f2(r['test_ci'][1])}] | {f2(r['test_median'])} [{f2(r['test_iqr'][0])}, {f2(r['test_iqr'][1])}] | "
            + (f"{r['delta_vs_fixed']:+.3f} | {r['p_improve_vs_fixed']:.3f} [{r['p_improve_ci'][0]:.3f}, {r['p_improve_ci'][1]:.3f}] | "
               f"{r['mannwhitney_p']:.2g} | {r['mannwhitney_p_holm']:.2g} | "
               + " / ".join(f"{c['p_improve']:.3f} ({c['p_value']:.2g})" for c in r["during_search"])
               + f" | {100 * r['seeds_changed']:.0f}% | "
               if cmp else "- | - | - | - | - | - | ")
            + f"{r['queries_mean']:.1f} | {r['repeated_queries_mean']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def table_methods(asked: list[str]) -> list[str]:
    """The methods the table shows: the default ones, then any other asked for.

    Only the asked methods' variants run; the others' are read from finished runs, so a command for
    one method rewrites the table with the other method's rows kept.
    """
    return list(dict.fromkeys([*DEFAULT_METHODS, *asked]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                    help="comma-separated registered method names to run (the table also shows the finished "
                         "variants of the default methods)")
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--embeddings", type=Path, help="NB201 embeddings.npz (default: pretrain here with the reference preset, seed 0)")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "nb201", help="folder of the per-run outputs")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--no-reuse", dest="reuse", action="store_false", help="run every variant again even when finished")
    ap.add_argument("--finished-only", action="store_true", help="tabulate the finished runs only; run nothing")
    args = ap.parse_args()

    methods = [method_key(m) for m in args.methods.split(",")]  # an unknown name fails here, before any run
    if args.embeddings is not None:
        emb, emb_source = args.embeddings, str(args.embeddings)
    elif args.finished_only:  # reads finished runs only: never pretrains
        emb = args.runs / "pretrain-nb201-reference-seed0" / "embeddings.npz"
        emb_source = str(shown_path(emb))
    else:
        emb, emb_source = pretrained_embeddings(args.runs / "pretrain-nb201-reference-seed0")
    shown = table_methods(methods)
    plan = [(m, v, p, o) for m in shown for v, p, o in variants(m)]
    print("variants: " + ", ".join(f"{m}/{v}" for m, v, _, _ in plan if m in methods), flush=True)

    results: dict[str, dict[str, dict]] = {m: {} for m in shown}
    started = time.perf_counter()
    for m, variant, preset, overrides in plan:
        fields = dict(space=SPACE, dataset=DATASET, method=m, preset=preset, seeds=args.seeds, overrides=overrides,
                      embeddings=Path(emb) if uses_embeddings(m) else None)
        name = f"{m}-{variant}-{DATASET}"
        asked = m in methods and not args.finished_only
        if not asked and not finished_run(args.runs / name, SearchSpec(**fields)):
            continue  # listed as not run yet
        summary, traces, out = search(args.runs, name, reuse=args.reuse or not asked, **fields)
        points = budget_points([summary], DURING)
        regret = summary["oracle"]["best_test"] - values_at_budget(traces, points)
        results[m][variant] = {"summary": summary, "test": final_values(traces)["test"], "regret": regret,
                               "index": traces["index"], "dir": out}
        write_tables(args, shown, results, plan, emb_source, time.perf_counter() - started)
    write_tables(args, shown, results, plan, emb_source, time.perf_counter() - started, echo=True)


def write_tables(args, methods, results, plan, emb_source, seconds, echo=False) -> None:
    rows = [r for m in methods for r in rows_for(m, results[m])]
    pending = [f"{m}/{v}" for m, v, _, _ in plan if v not in results[m]]
    header = [
        f"NB201 {DATASET}, {args.seeds} seeds a variant (seed ids 0..{args.seeds - 1}), final test accuracy of the "
        f"incumbent (%). Embeddings: {emb_source}.",
        "Variants: `fixed`, `reference`, and `fixed` with one reference quirk switched on "
        "(`--preset fixed --set SWITCH=VALUE`), for every switch on which the presets differ on NB201.",
        "CI: 95% bootstrap (BCa) of the mean. P(variant > fixed): share of (variant seed, fixed seed) pairs the "
        "variant wins, ties half (Mann-Whitney U / n^2), 95% percentile bootstrap CI; p: two-sided Mann-Whitney U; "
        "Holm p: adjusted over the variants of the same method. Repeats: queries of a cell already queried, per seed.",
        "Every variant runs the same seed ids, so a switch that changes nothing leaves a seed's run as it was "
        "(seeds changed: share of seed ids whose queried cells differ from `fixed`'s). The test treats the variants "
        "as independent samples; with common seeds they are positively correlated, which makes it conservative.",
        "During the search: P(the variant's incumbent has a lower test regret than `fixed`'s) at 25, 50 and 75% of the "
        "simulated-time budget (incumbent of the queries begun by then), with the Mann-Whitney p-value.",
        *([f"Not run yet: {', '.join(pending)}."] if pending else []),
    ]
    md = markdown(rows, header)
    args.results.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.results / "ablation.md") as tmp:
        tmp.write_text(md)
    write_json(args.results / "ablation.json", {
        "space": SPACE, "dataset": DATASET, "seeds": args.seeds, "embeddings": emb_source,
        "statistics": {"confidence": stats.CONFIDENCE, "resamples": stats.RESAMPLES, "mean_ci": "BCa bootstrap",
                       "p_improve_ci": "percentile bootstrap, seeds of each variant resampled independently",
                       "p_value": "two-sided Mann-Whitney U", "holm": "Holm step-down within each method"},
        "rows": rows, "pending": pending, "seconds_this_invocation": seconds,
    })
    if echo:
        print("\n" + md)
        print(f"wrote {args.results / 'ablation.md'} and ablation.json")
    else:
        print(f"table updated ({len(rows)} rows, {len(pending)} pending)", flush=True)


if __name__ == "__main__":
    raise SystemExit(run_script(main))
