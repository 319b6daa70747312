"""Is the NB201 uniqueness of the reference preset lower than the published code's? Both
distributions over seeds and a Mann-Whitney U test.

    python -m a2v_jax.pretrain --seeds 8 --out runs/uniq-nb201-ref-seeds0-7
    python benchmarks/uniqueness_nb201.py --ours runs/uniq-nb201-ref-seeds0-7 --published published.json

`--ours`: run folders of the reference preset on NB201 (all 15,625 cells, official order, the
default settings): a batch folder, or one-seed folders (a seed gives the same numbers either way). `--published`: a JSON list of the published code's final-epoch numbers on the
same cells in the same order, one object per seed: {"seed", "validity", "uniqueness"} as its own
log prints them ("Ratio of valid / unique decodings from the prior"), optionally per epoch
("epochs": [{"epoch", "validity", "uniqueness"}, ...]). How those were produced (the published
pretraining script run on CPU, its input file written from this project's NB201 cell set) is
stated in the markdown this script writes.

Compared: `uniqueness_published` / `validity_published` of ours (the published checks) against
the published code's numbers; the test is two-sided (scipy.stats.mannwhitneyu, exact).
Writes benchmarks/results/uniqueness_nb201.json and .md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from scipy.stats import mannwhitneyu

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax import _io  # noqa: E402


def run_folders(folders: list[Path]) -> list[Path]:
    """One-seed run folders: the folders given, batch folders replaced by their members."""
    out = []
    for folder in folders:
        config = json.loads((folder / "config.json").read_text())
        out += [folder / label for label in config["members"]] if "members" in config else [folder]
    return out


def ours(folders: list[Path]) -> list[dict]:
    rows = []
    for run in run_folders(folders):
        final = json.loads((run / "metrics.json").read_text())
        history = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
        rows.append({"seed": final["seed"], "validity": final["validity_published"],
                     "uniqueness": final["uniqueness_published"],
                     "epochs": [{"epoch": m["epoch"], "validity": m.get("validity_published"),
                                 "uniqueness": m.get("uniqueness_published")} for m in history]})
    return rows


def describe(values: list[float]) -> dict:
    return {"n": len(values), "mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ours", type=Path, nargs="+", required=True, help="run folders (one seed each) or batch folders")
    p.add_argument("--published", type=Path, required=True)
    p.add_argument("--note", default="", help="how the published numbers were produced (goes into the markdown)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)

    mine = ours(args.ours)
    theirs = json.loads(args.published.read_text())
    result = {"ours": mine, "published": theirs, "tests": {}}
    lines = ["# NB201 validity and uniqueness: this port (reference preset) against the published code", "",
             "Final epoch (10), 10,000 prior samples per seed, the published checks (`valid*` / `uniq*` of Table 1), "
             "same 15,625 cells in the official order. Mann-Whitney U, two-sided.", "",
             "| metric | ours: n, mean +- std (min..max) | published code: n, mean +- std (min..max) | U | p |",
             "|---|---|---|---:|---:|"]
    for key in ("uniqueness", "validity"):
        a = [100 * r[key] for r in mine]
        b = [100 * r[key] for r in theirs]
        test = mannwhitneyu(a, b, alternative="two-sided")
        result["tests"][key] = {"ours": describe(a), "published": describe(b), "U": float(test.statistic),
                                "p": float(test.pvalue)}
        da, db = result["tests"][key]["ours"], result["tests"][key]["published"]
        lines.append(f"| {key} % | {da['n']}, {da['mean']:.2f} +- {da['std']:.2f} ({da['min']:.2f}..{da['max']:.2f}) | "
                     f"{db['n']}, {db['mean']:.2f} +- {db['std']:.2f} ({db['min']:.2f}..{db['max']:.2f}) | "
                     f"{test.statistic:.1f} | {test.pvalue:.3f} |")
    lines += ["", "Per seed (final epoch, %):", "", "| run | seed | validity | uniqueness |", "|---|---:|---:|---:|"]
    lines += [f"| ours | {r['seed']} | {100 * r['validity']:.2f} | {100 * r['uniqueness']:.2f} |" for r in mine]
    lines += [f"| published code | {r['seed']} | {100 * r['validity']:.2f} | {100 * r['uniqueness']:.2f} |" for r in theirs]
    if args.note:
        lines += ["", args.note]
    result["note"] = args.note
    _io.write_json(args.out / "uniqueness_nb201.json", result)
    text = "\n".join(lines) + "\n"
    _io.atomic_write(args.out / "uniqueness_nb201.md", lambda f: f.write(text.encode()))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
