"""How long the latent-space analysis takes: `all` on NB201 CIFAR-10 with three encodings.

Runs `python -m a2v_jax.analysis all --space nb201 --dataset cifar10 --embeddings arch2vec=E
--embeddings onehot --embeddings random` through its Python API with the paper's settings (GP on
250 cells x 10 seeds, a random walk of 1,000 cells, a t-SNE of 10,000 cells (500 iterations), 3
nearest-neighbour walks of 15 steps) and times the whole call (imports excluded, JIT compilation and figure drawing
included) and each analysis. The machine is shared: the load average before and after is recorded,
and the process's CPU time beside the wall clock (on a busy machine the CPU time is what an idle
one would take, roughly: the analysis runs on one thread by default).

Embeddings: `--embeddings PATH`, else those of `python -m a2v_jax.pretrain --space nb201` in
runs/bench-pretrain-nb201 (pretrained first when missing, about a minute).

    python benchmarks/bench_analysis.py                       # writes benchmarks/results/analysis_speed.json
    python benchmarks/bench_analysis.py --threads 1,2         # one run per thread count
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax._io import write_json  # noqa: E402
from a2v_jax.analysis import AnalysisConfig, run  # noqa: E402
from benchmarks._data import pretrained_embeddings, shown_path  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TARGET_SECONDS = 180.0


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def one_run(embeddings: Path, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config = AnalysisConfig("all", space="nb201", dataset="cifar10",
                                embeddings=(f"arch2vec={embeddings}", "onehot", "random"),
                                out=str(Path(tmp) / "analysis"), threads=threads, progress=False)
        before = load()
        t0, c0 = time.perf_counter(), time.process_time()
        result = run(config)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        after = load()
    res = result.results
    pred = res["predictive"]["encodings"]
    return {
        "threads": threads,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "under_target": seconds < TARGET_SECONDS,
        "cpu_under_target": cpu < TARGET_SECONDS,
        "analysis_seconds": {name: round(r["seconds"], 1) for name, r in res.items()},
        "analysis_cpu_seconds": {name: round(r.get("cpu_seconds", float("nan")), 1) for name, r in res.items()},
        "load_before": before,
        "load_after": after,
        "results": {
            "predictive_pearson_high": {n: e["summary"]["high"]["pearson"] for n, e in pred.items()},
            "smoothness_spearman": {n: e["spearman_rho"] for n, e in res["smoothness"]["encodings"].items()},
            "walk_average_edit_distance": {n: e["average_edit_distance"] for n, e in res["walk"]["encodings"].items()},
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--embeddings", type=Path, help="NB201 embeddings.npz (default: pretrained into runs/)")
    p.add_argument("--threads", default="1", help="comma-separated thread counts for the GP and t-SNE (default 1)")
    p.add_argument("--out", type=Path, default=RESULTS / "analysis_speed.json")
    args = p.parse_args(argv)
    if args.embeddings is not None:
        emb, source = args.embeddings, f"{shown_path(args.embeddings)}"
    else:
        emb, source = pretrained_embeddings(ROOT / "runs" / "bench-pretrain-nb201")
    runs = []
    for threads in (int(t) for t in args.threads.split(",")):
        r = one_run(emb, threads)
        runs.append(r)
        parts = ", ".join(f"{k} {v:.1f} s ({r['analysis_cpu_seconds'][k]:.1f} s CPU)" for k, v in r["analysis_seconds"].items())
        print(f"threads {threads}: all in {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU ({parts}); "
              f"load {r['load_before']} -> {r['load_after']}", flush=True)
    record = {
        "what": "python -m a2v_jax.analysis all --space nb201 --dataset cifar10, encodings arch2vec, onehot, random; "
                "paper settings (GP 250 cells x 10 seeds, walk of 1,000 cells, t-SNE of 10,000 cells with 500 iterations, "
                "3 walks of 15 steps)",
        "timing": "wall clock and process CPU time of a2v_jax.analysis.run (imports excluded; JIT compilation, "
                  "figures and files included)",
        "embeddings": source,
        "target_seconds": TARGET_SECONDS,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "runs": runs,
    }
    write_json(args.out, record)
    print(f"wrote {shown_path(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
