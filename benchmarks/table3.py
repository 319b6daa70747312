"""Paper Table 3 (NAS-Bench-201): every method x dataset x preset, with CIs and the paper's numbers beside.

Rows: the paper's (RE `re`, RS `rs`, REINFORCE on the discrete encoding `rl-discrete`, arch2vec-RL
`rl`, arch2vec-BO `bo`) and the supervised / discrete-encoding counterparts of arch2vec's
strategies (`rl-supervised`, `bo-supervised`, `bo-discrete`). Any registered method name can be
given; a name not registered in `a2v_jax.search.methods` is skipped with a note (so the script runs
before and after a method is added). A method runs once per preset where its `reference` and
`fixed` presets differ on NB201 (its `QUIRKS` table), once otherwise (the row then says `same`).

Each row is one `run_search`, i.e. one CLI command: `python -m a2v_jax.search --space nb201
--dataset D --method M --preset P --seeds S [--embeddings E] --out <runs>/<M>-<P>-<D>`, re-used
when that folder already holds a finished run of the same request (see benchmarks/_runs.py; the
ablation's CIFAR-10 `fixed`/`reference` runs are the same folders). The table goes to
benchmarks/results/table3.{json,md} and always covers every dataset x method x preset: the rows asked
for are run, the others are read from finished runs in --runs or listed as not finished.

Reported (%): the incumbent's validation ('valid' column: 200-epoch, as the paper's Table 3) and test
accuracy, mean +- std over seeds (population std, as the published summary script), the 95%
bootstrap CI of the mean test accuracy, and whether the mean lies within one paper std of the
paper's mean. A second table gives, per dataset and preset, P(arch2vec > baseline) (a random seed of
arch2vec-RL / -BO beats a random seed of the baseline, ties half) with its 95% bootstrap CI and the
Mann-Whitney U p-value (`a2v_jax.search.stats`). Paper numbers: Table 3 of Yan et al. (NeurIPS
2020), also in docs/reference.md ("Paper numbers"); the published code's own results on this data:
docs/reference.md ("The published code's speed").

    python benchmarks/table3.py [--seeds 500]               # pretrains the embeddings first (~1 min)
    python benchmarks/table3.py --embeddings runs/pretrain/embeddings.npz
    python benchmarks/table3.py --finished-only             # a table of the runs finished so far
    python benchmarks/table3.py --stand-in --seeds 20      # no learned embeddings: a smoke run

The rows of methods that search embeddings use ONE pretrained model, so their intervals leave out
the pretraining seed's share of the variance: benchmarks/embedding_seeds.py repeats them over K
pretraining seeds. Without --embeddings or --stand-in the embeddings are those of arch2vec
pretrained on NB201 with the reference preset and seed 0 (`python -m a2v_jax.pretrain --space nb201 --preset reference
--seed 0 --out <runs>/pretrain-nb201-reference-seed0`), run here first unless that folder
already holds the finished run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _data import pretrained_embeddings, shown_path, stand_in_embeddings  # noqa: E402
from _runs import finished_run, run_script, search, uses_embeddings, wall_seconds  # noqa: E402

from a2v_jax import presets  # noqa: E402
from a2v_jax._io import atomic_path, save_npz, write_json  # noqa: E402
from a2v_jax.search import stats  # noqa: E402
from a2v_jax.search.api import SearchSpec  # noqa: E402
from a2v_jax.search.methods import METHODS, UnknownMethodError, get_method, method_key  # noqa: E402
from a2v_jax.search.report import final_values  # noqa: E402

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
# Paper rows first, in the paper's order, then the counterparts of arch2vec's strategies.
DEFAULT_METHODS = ("re", "rs", "rl-discrete", "rl", "bo", "rl-supervised", "bo-supervised", "bo-discrete")
TITLES = {"re": "RE", "rs": "RS", "rl-discrete": "REINFORCE (discrete)", "rl": "arch2vec-RL", "bo": "arch2vec-BO",
          "rl-supervised": "supervised-RL", "bo-supervised": "supervised-BO", "bo-discrete": "BO (discrete)"}
# Paper Table 3, mean +- std over 500 runs, % (CIFAR-10 / CIFAR-100 / ImageNet16-120)
PAPER_TEST = {
    "re": ((93.84, 0.43), (72.86, 0.55), (45.63, 0.64)),
    "rs": ((93.75, 0.37), (72.05, 0.77), (45.33, 0.79)),
    "rl-discrete": ((93.82, 0.31), (72.13, 0.79), (45.30, 0.86)),
    "rl": ((94.12, 0.42), (73.15, 0.78), (46.16, 0.38)),
    "bo": ((94.18, 0.24), (73.37, 0.30), (46.27, 0.37)),
}
PAPER_VALID = {
    "re": ((91.08, 0.43), (73.02, 0.46), (45.78, 0.56)),
    "rs": ((90.94, 0.38), (72.17, 0.64), (45.47, 0.65)),
    "rl-discrete": ((91.03, 0.33), (72.35, 0.63), (45.58, 0.62)),
    "rl": ((91.32, 0.42), (73.13, 0.72), (46.22, 0.30)),
    "bo": ((91.41, 0.22), (73.35, 0.32), (46.34, 0.18)),
}
# The published code re-run on this data (docs/reference.md, "The published code's speed"): test %, RL 50 seeds, DNGO 3-5 seeds
PUBLISHED_CODE = {
    "rl": ((93.89, 0.71), (72.82, 0.98), (46.23, 0.23)),
    "bo": ((93.91, 0.30), (71.78, 0.89), (45.39, 0.79)),
}
# P(arch2vec > baseline): each arch2vec strategy against its counterparts and the plain baselines
CONTRASTS = (("rl", "rl-supervised"), ("rl", "rl-discrete"), ("rl", "re"), ("rl", "rs"),
             ("bo", "bo-supervised"), ("bo", "bo-discrete"), ("bo", "re"), ("bo", "rs"), ("bo", "rl"))
SAME = "same"  # the preset label of a method whose presets do not differ on NB201


def registered(names: list[str], quiet: bool = False) -> list[str]:
    """The registered names among `names` (a note for each one that is not, unless `quiet`)."""
    out = []
    for name in names:
        try:
            out.append(method_key(name))
        except UnknownMethodError:
            if not quiet:
                print(f"note: method {name!r} is not registered here (registered: {', '.join(METHODS)}); its rows are skipped",
                  flush=True)
    return out


def presets_of(method: str, wanted: list[str]) -> list[str]:
    """The presets a method runs with: each wanted one if its presets differ on NB201, else one run."""
    if presets.quirk_differences(get_method(method).Config.QUIRKS, "nb201"):
        return wanted
    return [SAME]


def run_name(dataset: str, method: str, preset: str) -> str:
    """A row's run folder in --runs: `<method>-<preset>-<dataset>` (what earlier runs are found by)."""
    return f"{method}-{preset}-{dataset}"


def plan(requested: list[tuple[str, str, str]], grid: list[tuple[str, str, str]], finished, run: bool) -> list[tuple]:
    """(dataset, method, preset, action) for every row of the table, in table order.

    The table always covers `grid` (every dataset x default method x preset) plus the requested
    rows, so a command for one method rewrites the whole table rather than a table of that method
    alone. A requested row is "run" (re-used inside `search` when finished) unless `run` is off
    (--finished-only); any other row is "read" when `finished(row)` says its run is there, else
    "pending" (listed as not finished).
    """
    rows = list(dict.fromkeys([*grid, *requested]))
    order = {d: i for i, d in enumerate(DATASETS)}
    rows.sort(key=lambda r: order[r[0]])  # stable: within a dataset, the grid's method order
    wanted = set(requested)
    out = []
    for row in rows:
        if run and row in wanted:
            out.append((*row, "run"))
        else:
            out.append((*row, "read" if finished(row) else "pending"))
    return out


def paper(table: dict, method: str, di: int) -> tuple[float, float]:
    return table.get(method, ((np.nan, np.nan),) * 3)[di]


def within(mean: float, ref: tuple[float, float]) -> str:
    if np.isnan(ref[0]):
        return "-"
    return "yes" if abs(mean - ref[0]) <= ref[1] else "no"


def row_of(dataset: str, method: str, preset: str, summary: dict, test: np.ndarray, out: Path) -> dict:
    di = DATASETS.index(dataset)
    d = stats.describe(test)
    pt, pv, code = paper(PAPER_TEST, method, di), paper(PAPER_VALID, method, di), paper(PUBLISHED_CODE, method, di)
    valid_mean = 100 * summary["final_valid_role_mean"]
    return {
        "dataset": dataset, "method": method, "title": TITLES.get(method, method), "preset": preset,
        "seeds": summary["seeds"],
        "valid_mean": valid_mean, "valid_std": 100 * summary["final_valid_role_std"],
        "test_mean": 100 * d["mean"], "test_std": 100 * d["std"], "test_ci": [100 * d["ci_low"], 100 * d["ci_high"]],
        "test_median": 100 * d["median"], "test_iqr": [100 * d["q25"], 100 * d["q75"]],
        "reward_mean": 100 * summary["final_valid_mean"],
        "queries_mean": summary["queries_mean"], "repeated_queries_mean": summary["repeated_queries_mean"],
        "paper_test_mean": pt[0], "paper_test_std": pt[1], "paper_valid_mean": pv[0], "paper_valid_std": pv[1],
        "test_within_paper_std": within(100 * d["mean"], pt), "valid_within_paper_std": within(valid_mean, pv),
        "published_code_test_mean": code[0], "published_code_test_std": code[1],
        "seconds": wall_seconds(summary), "platform": summary.get("platform", "cpu"), "run_dir": str(shown_path(out)),
    }


def contrasts(finals: dict[tuple[str, str, str], np.ndarray], wanted_presets: list[str]) -> list[dict]:
    """P(A > B) on the final test accuracy for each contrast, dataset and preset with both runs."""
    out = []
    for preset in wanted_presets:
        for a, b in CONTRASTS:
            for dataset in DATASETS:
                xa = finals.get((dataset, a, preset), finals.get((dataset, a, SAME)))
                xb = finals.get((dataset, b, preset), finals.get((dataset, b, SAME)))
                if xa is None or xb is None:
                    continue
                out.append({"preset": preset, "a": a, "b": b, "dataset": dataset, **stats.compare_pair(xa, xb)})
    return out


def markdown(rows: list[dict], pairs: list[dict], header: list[str]) -> str:
    pm = lambda m, s: "-" if np.isnan(m) else f"{m:.2f} +- {s:.2f}"  # noqa: E731
    lines = [
        *header, "",
        "| dataset | method | preset | seeds | valid | test | test 95% CI | paper valid | paper test | "
        "within 1 paper std (valid / test) | published code test | queries | repeats | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['title']} (`{r['method']}`) | {r['preset']} | {r['seeds']} | "
            f"{pm(r['valid_mean'], r['valid_std'])} | {pm(r['test_mean'], r['test_std'])} | "
            f"[{r['test_ci'][0]:.2f}, {r['test_ci'][1]:.2f}] | {pm(r['paper_valid_mean'], r['paper_valid_std'])} | "
            f"{pm(r['paper_test_mean'], r['paper_test_std'])} | {r['valid_within_paper_std']} / {r['test_within_paper_std']} | "
            f"{pm(r['published_code_test_mean'], r['published_code_test_std'])} | {r['queries_mean']:.1f} | "
            f"{r['repeated_queries_mean']:.1f} | {r['seconds']:.1f}{'' if r['platform'] == 'cpu' else ' (' + r['platform'] + ')'} |"
        )
    if pairs:
        lines += [
            "", "P(A > B): a random seed of A reaches a higher final test accuracy than a random seed of B (ties half), "
            "[95% bootstrap CI], two-sided Mann-Whitney U p-value. Methods without preset differences enter both presets' rows.",
            "", "| preset | A | B | " + " | ".join(DATASETS) + " |", "|---|---|---|" + "---|" * len(DATASETS),
        ]
        keys = list(dict.fromkeys((p["preset"], p["a"], p["b"]) for p in pairs))
        for preset, a, b in keys:
            cells = []
            for dataset in DATASETS:
                p = next((p for p in pairs if (p["preset"], p["a"], p["b"], p["dataset"]) == (preset, a, b, dataset)), None)
                cells.append("-" if p is None else f"{p['p_improve']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}], p={p['p_value']:.2g}")
            lines.append(f"| {preset} | {TITLES.get(a, a)} | {TITLES.get(b, b)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--embeddings", type=Path, help="NB201 embeddings.npz from pretraining (default: pretrain here, see above)")
    src.add_argument("--stand-in", action="store_true", help="use the one-hot stand-in embeddings (not learned)")
    ap.add_argument("--seeds", type=int, default=500)
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                    help="comma-separated method names; names not registered are skipped with a note")
    ap.add_argument("--presets", default="reference,fixed")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "nb201", help="folder for the per-run outputs")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--no-reuse", dest="reuse", action="store_false",
                    help="run every row again even when its folder holds a finished run of the same request")
    ap.add_argument("--finished-only", action="store_true",
                    help="tabulate the rows whose run has finished; run nothing (the others are listed)")
    ap.add_argument("--note", default="", help="provenance of the embeddings, written into the table")
    args = ap.parse_args()

    datasets = args.datasets.split(",")
    for d in datasets:
        if d not in DATASETS:
            ap.error(f"unknown dataset {d!r}; choose from {', '.join(DATASETS)}")
    wanted_presets = [presets.check_preset(p) for p in args.presets.split(",")]
    methods = registered(args.methods.split(","))
    if args.stand_in:
        emb, emb_source = stand_in_embeddings()
        args.runs.mkdir(parents=True, exist_ok=True)
        save_npz(args.runs / "stand-in-embeddings.npz", embeddings=emb)
        emb = args.runs / "stand-in-embeddings.npz"
    elif args.embeddings is not None:
        emb, emb_source = args.embeddings, str(args.embeddings)
    elif any(uses_embeddings(m) for m in methods) and not args.finished_only:
        emb, emb_source = pretrained_embeddings(args.runs / "pretrain-nb201-reference-seed0")
    else:  # nothing to run that needs them (--finished-only never pretrains)
        emb, emb_source = None, "-"
    all_presets = [presets.REFERENCE, presets.FIXED]
    requested = [(d, m, p) for d in datasets for m in methods for p in presets_of(m, wanted_presets)]
    grid = [(d, m, p) for d in DATASETS for m in registered(list(DEFAULT_METHODS), quiet=True)
            for p in presets_of(m, all_presets)]
    if emb is None:  # rows read from earlier runs are matched against the default embeddings
        default = args.runs / "pretrain-nb201-reference-seed0" / "embeddings.npz"
        if default.exists():
            emb, emb_source = default, f"{shown_path(default)} (the rows read from earlier runs)"

    def fields_of(dataset: str, m: str, preset: str) -> dict | None:
        if uses_embeddings(m) and emb is None:
            return None
        return dict(space="nb201", dataset=dataset, method=m, seeds=args.seeds,
                    preset=presets.FIXED if preset == SAME else preset,
                    embeddings=Path(emb) if uses_embeddings(m) else None)

    def finished(row: tuple[str, str, str]) -> bool:
        fields = fields_of(*row)
        return fields is not None and finished_run(args.runs / run_name(*row), SearchSpec(**fields))

    rows, pending, finals = [], [], {}
    for dataset, m, preset, action in plan(requested, grid, finished, run=not args.finished_only):
        name = run_name(dataset, m, preset)
        if action == "pending":
            pending.append(name)
            continue
        summary, traces, out = search(args.runs, name, reuse=args.reuse or action == "read", **fields_of(dataset, m, preset))
        test = final_values(traces)["test"]
        finals[(dataset, m, preset)] = test
        rows.append(row_of(dataset, m, preset, summary, test, out))
        r = rows[-1]
        print(f"{dataset:15s} {m:14s} {preset:9s} test {r['test_mean']:.2f} +- {r['test_std']:.2f} "
              f"[{r['test_ci'][0]:.2f}, {r['test_ci'][1]:.2f}]  (paper {r['paper_test_mean']:.2f} +- "
              f"{r['paper_test_std']:.2f}: within {r['test_within_paper_std']})", flush=True)

    pairs = contrasts(finals, all_presets)
    skipped = [m for m in args.methods.split(",") if m not in methods]
    header = [
        f"NB201, {args.seeds} seeds a row (seed ids 0..{args.seeds - 1}). Embeddings (methods that search them): "
        f"{emb_source}{f' ({args.note})' if args.note else ''}. Benchmark tables: a2v_jax.data.load_benchmark; "
        "RE's mutation neighbours: the nb201 space module.",
        "Valid: the incumbent's 'valid' column (200-epoch); test: its test accuracy; %, mean +- std over seeds "
        "(population std). Test 95% CI: bootstrap (BCa) of the mean. Within 1 paper std: |mean - paper mean| <= paper "
        f"std (paper: Table 3 of the arch2vec paper). Preset `{SAME}`: the method's presets do not differ on NB201 "
        "(one run). Repeats: queries of a cell already queried, per seed. Wall s: the run all in, on CPU unless a "
        "platform follows in brackets (e.g. `(gpu)`, as the run's summary.json reports it).",
        *([f"Not registered when this table was written (rows skipped): {', '.join(skipped)}."] if skipped else []),
        *([f"Not finished when this table was written: {', '.join(pending)}."] if pending else []),
    ]
    md = markdown(rows, pairs, header)
    args.results.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.results / "table3.md") as tmp:
        tmp.write_text(md)
    write_json(args.results / "table3.json", {
        "embeddings": emb_source, "note": args.note, "seeds": args.seeds, "rows": rows, "contrasts": pairs,
        "skipped_unregistered": skipped, "pending": pending,
        "statistics": {"confidence": stats.CONFIDENCE, "resamples": stats.RESAMPLES, "test_ci": "BCa bootstrap of the mean",
                       "p_improve_ci": "percentile bootstrap, seeds of each run resampled independently",
                       "p_value": "two-sided Mann-Whitney U"},
    })
    print("\n" + md)
    print(f"wrote {args.results / 'table3.md'} and table3.json")


if __name__ == "__main__":
    raise SystemExit(run_script(main))
