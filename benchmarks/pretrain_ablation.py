"""Per-quirk ablation of pretraining: what each quirk of the published training loop does to Table 1.

The `fixed` pretraining preset reconstructs held-out cells far worse than `reference` (Table 1:
NB201 arch2vec 85.4 +- 28.6% against 99.99%, NB101 74.3% against 91.6%). The presets differ in four
switches (`a2v_jax.pretrain.config.QUIRKS`); this script says which of them carry the difference.

Variants: `fixed`, `reference`, `fixed` with ONE reference quirk switched on (`fixed+q`: what q does
alone), and `reference` with ONE quirk switched off (`reference-q`: whether the published result
needs q), for every switch on which the presets differ (read through
`a2v_jax.presets.quirk_differences`, so a new switch joins by itself). Each variant is one
`a2v_jax.pretrain.run` of `--seeds` seeds (ids 0..K-1 in every variant) trained as one computation,
written to <runs>/<space>-<model>-<variant>-seeds0-<K-1>/; a finished folder is read instead of
trained again and an interrupted one is resumed.

Per variant and metric (held-out exact reconstruction `acc`; validity and uniqueness of prior
decodings by the published checks, `valid*` / `uniq*`, and by the space's own, `valid` / `uniq`):
mean +- std over seeds and, against the variant's baseline (`fixed` for fixed+q and reference,
`reference` for reference-q): P(variant > baseline) (a random seed of the variant beats a random
seed of the baseline, ties half) with its 95% bootstrap CI, the two-sided Mann-Whitney U p-value,
and that p Holm-adjusted over the comparisons of the metric (`a2v_jax.search.stats`). With K seeds a
side the smallest possible two-sided p is 2 / C(2K, K): 0.0079 at K = 5, 1.6e-4 at K = 8.

    python benchmarks/pretrain_ablation.py                          # NB201 arch2vec, 8 seeds a variant
    python benchmarks/pretrain_ablation.py --space nb101 --seeds 5  # hours on a 2-core CPU
    python benchmarks/pretrain_ablation.py --finished-only          # tabulate what is there
    python benchmarks/pretrain_ablation.py --space darts --model gae --seeds 5 --variants fixed+eval_after_first_epoch
                                                                    # train one variant, tabulate it with the finished ones
    python benchmarks/pretrain_ablation.py --with dropout=0 --variants fixed+dropout=0.0
                                                                    # the fixed loop without latent dropout

Writes benchmarks/results/pretrain_ablation_<space>_<model>.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ablation import holm  # noqa: E402
from table1 import finished_batch  # noqa: E402

from a2v_jax import _io, presets  # noqa: E402
from a2v_jax.model import MODEL_NAMES  # noqa: E402
from a2v_jax.pretrain import PretrainConfig, run  # noqa: E402
from a2v_jax.pretrain.config import QUIRKS  # noqa: E402
from a2v_jax.rundir import partial_path  # noqa: E402
from a2v_jax.search import stats  # noqa: E402
from a2v_jax.spaces import SPACE_NAMES  # noqa: E402

TIMING = "ablation_timing.json"  # the wall seconds of the run that trained the folder, kept beside it
METRICS = (("acc", "reconstruction_accuracy"), ("valid*", "validity_published"), ("uniq*", "uniqueness_published"),
           ("valid", "validity"), ("uniq", "uniqueness"))


def variants(space: str, settings: dict[str, object] | None = None) -> list[tuple[str, str, dict]]:
    """[(variant name, preset, overrides)]: fixed, reference, fixed + each differing quirk (what a
    quirk does alone), reference - each quirk, i.e. with that switch at its fixed value (whether
    the reference result needs it), and fixed with each of `settings` (NAME: VALUE, e.g. dropout 0)."""
    diffs = presets.quirk_differences(QUIRKS, space)
    out = [("fixed", presets.FIXED, {}), ("reference", presets.REFERENCE, {})]
    out += [(f"fixed+{name}", presets.FIXED, {name: ref}) for name, (ref, _fix) in diffs.items()]
    out += [(f"reference-{name}", presets.REFERENCE, {name: fix}) for name, (_ref, fix) in diffs.items()]
    out += [(f"fixed+{name}={value}", presets.FIXED, {name: value}) for name, value in (settings or {}).items()]
    return out


def parse_setting(text: str) -> tuple[str, object]:
    """NAME=VALUE for a pretraining setting that is not a quirk, VALUE read as the setting's type."""
    name, sep, value = text.partition("=")
    fields = {f.name: f for f in dataclasses.fields(PretrainConfig)}
    if not sep or name not in fields:
        raise ValueError(f"--with wants NAME=VALUE with NAME a pretraining setting, got {text!r}")
    if name in QUIRKS[presets.FIXED]:
        raise ValueError(f"{name} is a quirk: its variants are built in")
    default = fields[name].default
    kind = type(default) if isinstance(default, (int, float)) and not isinstance(default, bool) else None
    if kind is None:
        raise ValueError(f"--with takes numeric settings (lr, kl_weight, dropout, ...), not {name}")
    try:
        return name, kind(value)
    except ValueError:
        raise ValueError(f"{name} wants a {kind.__name__}, got {value!r}") from None


def baseline(variant: str) -> str | None:
    """What a variant is compared with: `fixed` for fixed+quirk and reference, `reference` for
    reference-quirk, nothing for `fixed` itself."""
    return None if variant == "fixed" else "reference" if variant.startswith("reference-") else "fixed"


def run_dir(root: Path, space: str, model: str, variant: str, seeds: int) -> Path:
    return root / f"{space}-{model}-{variant}-seeds0-{seeds - 1}"


def ensure(root: Path, space: str, model: str, variant: str, preset: str, overrides: dict, seeds: int,
           progress: bool) -> tuple[list[dict], float | None]:
    out = run_dir(root, space, model, variant, seeds)
    done = finished_batch(out)
    if done is not None:
        timing = out / TIMING
        return done, json.loads(timing.read_text())["wall_seconds"] if timing.exists() else None
    config = PretrainConfig(space=space, model=model, preset=preset, seeds=seeds, out=str(out),
                            resume=partial_path(out).exists(), progress=progress, **overrides)
    t0 = time.perf_counter()
    result = run(config)
    wall = time.perf_counter() - t0
    print(f"{space} {model} {variant}: {wall:.0f} s", flush=True)
    _io.write_json(out / TIMING, {"wall_seconds": round(wall, 1), "resumed": config.resume})
    return [r.metrics for r in result.runs], wall


def rows(results: dict[str, dict]) -> dict[str, list[dict]]:
    """{metric: [row per variant]} with the comparison against each variant's `baseline` and Holm
    over all comparisons of the metric."""
    table: dict[str, list[dict]] = {}
    for short, key in METRICS:
        out = []
        for variant, r in results.items():
            x = 100.0 * np.array([m[key] for m in r["metrics"]], np.float64)
            row = {"variant": variant, "switch": r["switch"], "seeds": int(x.size), "values": x.tolist(),
                   "mean": float(x.mean()), "std": float(x.std(ddof=1)) if x.size > 1 else 0.0}
            base = results.get(baseline(variant) or "")
            if base is not None:
                b = 100.0 * np.array([m[key] for m in base["metrics"]], np.float64)
                c = stats.compare_pair(x, b)
                row.update({"baseline": baseline(variant), "delta": row["mean"] - float(b.mean()),
                            "p_improve": c["p_improve"], "p_improve_ci": [c["ci_low"], c["ci_high"]],
                            "mannwhitney_p": c["p_value"]})
            out.append(row)
        family = [i for i, r in enumerate(out) if "mannwhitney_p" in r]
        for i, a in zip(family, holm(np.array([out[i]["mannwhitney_p"] for i in family])), strict=True):
            out[i]["mannwhitney_p_holm"] = float(a)
        table[short] = out
    return table


def markdown(space: str, model: str, table: dict[str, list[dict]], walls: dict[str, float | None],
             pending: list[str]) -> str:
    lines = [f"# Pretraining per-quirk ablation: {space} {model}", "",
             "Percent, final epoch, held-out cells for `acc`. Each variant is one batched run of the same seed ids; "
             "mean +- std (sample std) over seeds. `fixed+q`: the fixed loop with quirk q switched on; `reference-q`: "
             "the published loop with q switched off. Each is compared with its baseline (fixed+q and reference with "
             "`fixed`, reference-q with `reference`): the difference of means, P(variant > baseline) with its 95% "
             "bootstrap CI, the two-sided Mann-Whitney U p and its Holm adjustment over the comparisons of the metric. "
             "`wall`: seconds of the variant's one batched run (compile, training, metrics, export) where it ran. "
             "Written by benchmarks/pretrain_ablation.py.", ""]
    for short, rws in table.items():
        lines += [f"## {short}", "",
                  "| variant | switches set | seeds | mean +- std | min .. max | baseline | mean - baseline | "
                  "P(variant > baseline) [95% CI] | Mann-Whitney p | Holm p | wall |",
                  "|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|"]
        for r in rws:
            switch = ", ".join(f"{k}={v}" for k, v in r["switch"].items()) or "none"
            cmp = (f"{r['baseline']} | {r['delta']:+.2f} | {r['p_improve']:.2f} [{r['p_improve_ci'][0]:.2f}, "
                   f"{r['p_improve_ci'][1]:.2f}] | {r['mannwhitney_p']:.2g} | {r['mannwhitney_p_holm']:.2g}"
                   if "mannwhitney_p" in r else "- | - | - | - | -")
            wall = walls.get(r["variant"])
            lines.append(f"| {r['variant']} | {switch} | {r['seeds']} | {r['mean']:.2f} +- {r['std']:.2f} | "
                         f"{min(r['values']):.2f} .. {max(r['values']):.2f} | {cmp} | "
                         f"{'' if wall is None else f'{wall:.0f} s'} |")
        lines.append("")
    if pending:
        lines += [f"Not run yet: {', '.join(pending)}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--space", default="nb201", choices=SPACE_NAMES)
    p.add_argument("--model", default="arch2vec", choices=MODEL_NAMES)
    p.add_argument("--seeds", type=int, default=8, help="seeds a variant, trained as one computation (default: 8)")
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "pretrain_ablation", help="folder of the run folders")
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--finished-only", action="store_true", help="train nothing; tabulate the finished variants")
    p.add_argument("--with", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                   help="also a variant `fixed+NAME=VALUE`: the fixed loop with a numeric setting changed, e.g. "
                        "dropout=0 (repeatable)")
    p.add_argument("--variants", nargs="+", metavar="VARIANT",
                   help="train only these variants (the others are tabulated where finished); default: all")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.seeds < 2:
        p.error(f"--seeds must be at least 2 to compare variants, got {args.seeds}")
    try:
        settings = dict(parse_setting(t) for t in args.settings)
    except ValueError as e:
        p.error(str(e))
    known = [v for v, _, _ in variants(args.space, settings)]
    unknown = sorted(set(args.variants or ()) - set(known))
    if unknown:
        p.error(f"unknown variant(s) {', '.join(unknown)} for {args.space}; choose from {', '.join(known)}")

    results: dict[str, dict] = {}
    walls: dict[str, float | None] = {}
    pending = []
    stem = f"pretrain_ablation_{args.space}_{args.model}"
    for variant, preset, overrides in variants(args.space, settings):
        out = run_dir(args.runs, args.space, args.model, variant, args.seeds)
        train = not args.finished_only and (args.variants is None or variant in args.variants)
        if not train and finished_batch(out) is None:
            pending.append(variant)
            continue
        metrics, wall = ensure(args.runs, args.space, args.model, variant, preset, overrides, args.seeds,
                               not args.quiet)
        walls[variant] = wall
        results[variant] = {"preset": preset, "switch": overrides, "metrics": metrics, "run_dir": str(out)}
        table = rows(results)  # rewritten after every variant: an interrupted script leaves a table
        _io.write_json(args.results / f"{stem}.json", {
            "space": args.space, "model": args.model, "seeds": args.seeds, "table": table,
            "walls": walls, "run_dirs": {v: r["run_dir"] for v, r in results.items()}})
        text = markdown(args.space, args.model, table, walls, [v for v, _, _ in variants(args.space, settings) if v not in results])
        _io.atomic_write(args.results / f"{stem}.md", lambda f, t=text: f.write(t.encode()))
    if not results:
        print(f"no finished variant under {args.runs}", file=sys.stderr)
        return 1
    print((args.results / f"{stem}.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
