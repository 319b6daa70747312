"""Start-up cost of the command lines, with and without JAX's persistent compilation cache.

Every command line keeps compiled programs in `$A2V_CACHE/jax-compilation` (a2v_jax.compile_cache),
so a second run of the same command skips XLA. This runs each command as a fresh process twice
against an empty cache folder of its own (first run: compiles and fills it; second run: loads), and
reports the wall clock of both, all in (start-up, data loading, compilation, the run, files):

- `search-bo-1`: `python -m a2v_jax.search --method bo --seeds 1` (NB201 CIFAR-10, learned
  embeddings; the published code takes 137 s a seed on this machine kind, docs/reference.md);
- `pretrain`: `python -m a2v_jax.pretrain` with its defaults (NB201, 10 epochs, one seed; the
  published code: 103 s);
- `search-bo-500` (`--bo-500`): the default 500-seed DNGO search, all in, first run only (its
  compile time is small beside its run time), against a target of 150x the published code
  (500 x 137 s / 150 = 457 s). On a CPU with several cores the command runs one device a core
  and splits the seeds over them (`a2v_jax.host_devices`);
- `search-rl-500` (`--rl-500`): the same for REINFORCE (published: 5.5 s a seed; target: 200x, 13.75 s);
- `...-one-device` (`--one-device`, with either of the above): the same command in a process with
  one CPU device (`XLA_FLAGS=--xla_force_host_platform_device_count=1`: one XLA device whose
  operations are split over the cores, the default before one device a core), run right after it.
  Per-seed results are the same (tests/test_host_devices.py).

The machine is shared: the load average before each run is recorded with it.

    python benchmarks/bench_startup.py --embeddings runs/pre-nb201/embeddings.npz [--bo-500] [--rl-500] [--one-device]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PUBLISHED = {"search-bo-1": 137.0, "pretrain": 103.0, "search-bo-500": 500 * 137.0, "search-rl-500": 500 * 5.5}
TARGET_SPEEDUP = {"search-bo-500": 150.0, "search-rl-500": 200.0}
ONE_DEVICE = {"XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
ORDER = ("search-bo-1", "pretrain", "search-bo-500", "search-bo-500-one-device", "search-rl-500",
         "search-rl-500-one-device")


def commands(embeddings: Path, out: Path) -> dict[str, list[str]]:
    search = [sys.executable, "-m", "a2v_jax.search", "--space", "nb201", "--dataset", "cifar10",
              "--embeddings", str(embeddings), "--quiet", "--no-plots", "--overwrite"]
    return {
        "search-bo-1": [*search, "--method", "bo", "--seeds", "1", "--out", str(out / "bo-1")],
        "pretrain": [sys.executable, "-m", "a2v_jax.pretrain", "--out", str(out / "pretrain"), "--overwrite"],
        "search-bo-500": [*search, "--method", "bo", "--seeds", "500", "--out", str(out / "bo-500")],
        "search-rl-500": [*search, "--method", "rl", "--seeds", "500", "--out", str(out / "rl-500")],
        "search-bo-500-one-device": [*search, "--method", "bo", "--seeds", "500", "--out", str(out / "bo-500-one-device")],
        "search-rl-500-one-device": [*search, "--method", "rl", "--seeds", "500", "--out", str(out / "rl-500-one-device")],
    }


def timed(cmd: list[str], cache: Path, extra_env: dict[str, str] | None = None) -> dict:
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(cache), **(extra_env or {}))
    env.pop("A2V_COMPILE_CACHE", None)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return {"wall_s": round(wall, 2), "load_before": round(load, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embeddings", type=Path, required=True, help="NB201 embeddings.npz (python -m a2v_jax.pretrain)")
    ap.add_argument("--bo-500", action="store_true", help="also the default 500-seed DNGO search (minutes)")
    ap.add_argument("--rl-500", action="store_true", help="also the default 500-seed REINFORCE search")
    ap.add_argument("--one-device", action="store_true", help="each 500-seed search also in a process with one CPU device (XLA_FLAGS device count 1)")
    ap.add_argument("--skip", default="", help="comma-separated names to leave out (search-bo-1, pretrain)")
    ap.add_argument("--out", type=Path, default=RESULTS / "startup.json")
    args = ap.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cmds = commands(args.embeddings.resolve(), Path(tmp) / "runs")
        wanted = {"search-bo-500": args.bo_500, "search-rl-500": args.rl_500,
                  "search-bo-500-one-device": args.bo_500 and args.one_device,
                  "search-rl-500-one-device": args.rl_500 and args.one_device}
        for name in ORDER:
            if name in skip or not wanted.get(name, True):
                continue
            cache = Path(tmp) / f"cache-{name}"
            env = ONE_DEVICE if name.endswith("-one-device") else {}
            first = timed(cmds[name], cache, env)
            row = {"name": name, "command": "".join(f"{k}={v} " for k, v in env.items()) + " ".join(cmds[name][1:]),
                   "first": first}
            summary = Path(cmds[name][-1]) / "summary.json"
            if summary.exists():  # a search: the devices its seeds ran on
                row["devices"] = json.loads(summary.read_text())["devices"]
            if "500" not in name:
                row["second"] = timed(cmds[name], cache)
            published = PUBLISHED[name.removesuffix("-one-device")]
            if published:
                row["published_s"] = published
                row["speedup_first"] = round(published / first["wall_s"], 1)
                if "second" in row:
                    row["speedup_second"] = round(published / row["second"]["wall_s"], 1)
            target = TARGET_SPEEDUP.get(name.removesuffix("-one-device"))
            if target and published:
                row["target_s"] = round(published / target, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "embeddings": str(args.embeddings),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("\n| command | first run (s) | second run, warm cache (s) | published (s) | speed-up first / second | load |")
    print("|---|---:|---:|---:|---|---|")
    for r in rows:
        second = r.get("second", {}).get("wall_s", "")
        speed = f"{r.get('speedup_first', '')} / {r.get('speedup_second', '')}" if "published_s" in r else ""
        loads = "/".join(str(x["load_before"]) for x in (r["first"], r.get("second")) if x)
        print(f"| {r['name']} | {r['first']['wall_s']} | {second} | {r.get('published_s', '')} | {speed} | {loads} |")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
