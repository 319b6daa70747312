"""Paper Table 1 (pretraining: reconstruction accuracy, validity, uniqueness), measured here.

    python benchmarks/table1.py --spaces nb201 nb101 --models arch2vec arch2vec-nokl gae vgae \
        --presets reference fixed --seeds 0

Each (space, model, preset, seed) is one `a2v_jax.pretrain.run` with the paper's settings, written
to runs/table1/<space>-<model>-<preset>-seed<seed>/. A run folder that already holds a finished
run (metrics.json) is read instead of trained again, and an interrupted one is resumed, so the
table can be built up over several sessions. `--aggregate-only` just reads what is there.

Columns, all in percent, final epoch, held-out cells for accuracies:
- `acc`: exact reconstruction of whole cells (the paper's definition); `op` / `edge`: the
  published per-element accuracies;
- `valid` / `uniq`: validity and uniqueness by the space's own `is_valid` and graph hash;
- `valid*` / `uniq*`: the same with the published checks (NB201: ops only; see
  `a2v_jax.pretrain_metrics`), which is what the paper's numbers were computed with.
Over several seeds, cells show the mean (and the standard deviation in the JSON).

Writes benchmarks/results/table1.json and benchmarks/results/table1.md (paper numbers beside).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax import _io  # noqa: E402
from a2v_jax.model import MODEL_NAMES  # noqa: E402
from a2v_jax.pretrain import PRESETS, PretrainConfig, run  # noqa: E402

# Paper Table 1: (reconstruction accuracy, validity, uniqueness) in percent.
PAPER = {
    "nb101": {"gae": (98.75, 29.88, 99.25), "vgae": (97.45, 41.18, 99.34),
              "arch2vec-nokl": (100.0, 30.31, 99.20), "arch2vec": (100.0, 44.97, 99.69)},
    "nb201": {"gae": (99.52, 79.28, 78.42), "vgae": (98.32, 79.30, 88.42),
              "arch2vec-nokl": (100.0, 77.09, 96.57), "arch2vec": (100.0, 79.41, 98.72)},
    "darts": {"gae": (97.80, 15.25, 99.65), "vgae": (96.80, 25.25, 99.27),
              "arch2vec-nokl": (99.46, 16.01, 99.51), "arch2vec": (99.79, 33.36, 100.0)},
}
# The published PyTorch code itself, run on this machine kind (CPU) on the NB201 cells in official
# order, final epoch, exact match computed from its saved checkpoint: (seed, acc, valid*, uniq*).
PUBLISHED_CODE_HERE = {"nb201": [(3, 100.0, 78.91, 95.87), (0, 100.0, 77.35, 97.76)]}
COLUMNS = (("acc", "reconstruction_accuracy"), ("op", "op_accuracy"), ("edge", "edge_accuracy"),
           ("valid", "validity"), ("uniq", "uniqueness"),
           ("valid*", "validity_published"), ("uniq*", "uniqueness_published"))
SPACE_TITLES = {"nb101": "NAS-Bench-101", "nb201": "NAS-Bench-201", "darts": "DARTS"}


def run_dir(root: Path, space: str, model: str, preset: str, seed: int) -> Path:
    return root / f"{space}-{model}-{preset}-seed{seed}"


def ensure_run(root: Path, space: str, model: str, preset: str, seed: int, aggregate_only: bool, progress: bool) -> dict | None:
    out = run_dir(root, space, model, preset, seed)
    done = out / "metrics.json"
    if done.exists():
        return json.loads(done.read_text())
    if aggregate_only:
        return None
    resume = (out / "checkpoint.msgpack").exists()
    config = PretrainConfig(space=space, model=model, preset=preset, seed=seed, out=str(out), resume=resume, progress=progress)
    t0 = time.perf_counter()
    result = run(config)
    print(f"{space} {model} {preset} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    return result.metrics


def summarise(runs: list[dict]) -> dict:
    out = {}
    for _, key in COLUMNS:
        values = [100.0 * r[key] for r in runs]
        out[key] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "values": values}
    out["seeds"] = [r["seed"] for r in runs]
    out["train_seconds"] = statistics.fmean(r["total_train_seconds"] for r in runs)
    out["steps_per_second"] = statistics.fmean(r.get("steps_per_second", 0.0) for r in runs)
    return out


def markdown(table: dict, spaces: list[str], models: list[str], presets: list[str]) -> str:
    lines = ["# Paper Table 1, measured", "",
             "Percent, final epoch. `acc`: exact reconstruction of held-out cells; `op`/`edge`: published per-element "
             "accuracies; `valid`/`uniq`: the space's own validity check and graph hash; `valid*`/`uniq*`: the published "
             "checks (what the paper used). Paper: accuracy / validity / uniqueness from Table 1.", ""]
    for space in spaces:
        if space not in table:
            continue
        lines += [f"## {SPACE_TITLES[space]}", "",
                  "| model | preset | seeds | " + " | ".join(c for c, _ in COLUMNS) + " | paper acc / valid / uniq |",
                  "|---|---|---|" + "---:|" * len(COLUMNS) + "---|"]
        for model in models:
            for preset in presets:
                entry = table[space].get(model, {}).get(preset)
                if entry is None:
                    continue
                cells = " | ".join(f"{entry[key]['mean']:.2f}" for _, key in COLUMNS)
                paper = " / ".join(f"{v:.2f}" for v in PAPER[space][model])
                lines.append(f"| {model} | {preset} | {len(entry['seeds'])} | {cells} | {paper} |")
        for seed, acc, valid, uniq in PUBLISHED_CODE_HERE.get(space, []):
            lines.append(f"| published code, seed {seed} | (reference) | 1 | {acc:.2f} | | | | | {valid:.2f} | {uniq:.2f} | |")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spaces", nargs="+", default=["nb201"], choices=sorted(PAPER))
    p.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--runs", default=str(ROOT / "runs" / "table1"), help="folder of the run folders")
    p.add_argument("--aggregate-only", action="store_true", help="train nothing; tabulate the finished runs")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = p.parse_args(argv)

    root = Path(args.runs)
    table: dict = {}
    for space in args.spaces:
        for model in args.models:
            for preset in args.presets:
                runs = [m for seed in args.seeds
                        if (m := ensure_run(root, space, model, preset, seed, args.aggregate_only, not args.quiet)) is not None]
                if runs:
                    table.setdefault(space, {}).setdefault(model, {})[preset] = summarise(runs)

    # keep entries of earlier invocations (other spaces / models) that this one did not touch
    out = Path(args.out)
    json_path = out / "table1.json"
    previous = json.loads(json_path.read_text())["measured"] if json_path.exists() else {}
    for space, models in table.items():
        for model, presets in models.items():
            previous.setdefault(space, {}).setdefault(model, {}).update(presets)
    _io.write_json(json_path, {"paper": PAPER, "measured": previous,
                               "columns": {short: key for short, key in COLUMNS}})
    all_spaces = [s for s in ("nb101", "nb201", "darts") if s in previous]
    text = markdown(previous, all_spaces, list(MODEL_NAMES), list(PRESETS))
    _io.atomic_write(out / "table1.md", lambda f: f.write(text.encode()))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
