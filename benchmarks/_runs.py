"""One search run per configuration, shared by the benchmark tables (table3, ablation).

A run is the CLI's `python -m a2v_jax.search ... --out <runs>/<name>` made through `run_search`
with the same fields, so every row of a table names a command a reader can repeat. With `reuse`,
a folder that already holds a finished run of exactly the same request (the saved `config.json`:
search options and the method's resolved configuration) is read instead of run again; this is how
the ablation's `fixed`/`reference` rows and Table 3's CIFAR-10 rows share one run. An interrupted
run (`<out>.partial` with a checkpoint) is resumed.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax import rundir  # noqa: E402
from a2v_jax.search.api import RESUMABLE, SearchInterrupted, SearchSpec, run_search  # noqa: E402
from a2v_jax.search.methods import get_method, make_config, method_key  # noqa: E402
from a2v_jax.search.report import load_run  # noqa: E402
from a2v_jax.spaces import get_profile, space_key  # noqa: E402

COMPARED = tuple(f.name for f in dataclasses.fields(SearchSpec) if f.name not in RESUMABLE)


def run_script(main: Callable[[], None]) -> int:
    """Run a table script's `main`; a row stopped by Ctrl-C / SIGTERM ends with one line (its
    checkpoint is kept, and running the same command again resumes it), not a traceback."""
    try:
        main()
    except SearchInterrupted as e:
        print(f"{e}; the same command of this script resumes it", file=sys.stderr)
        return 130
    return 0


def uses_embeddings(method: str) -> bool:
    return "features" in get_method(method).NEEDS


def _resolved(spec: SearchSpec) -> dict[str, Any]:
    """The spec as `run_search` saves it (names resolved), without the fields that do not change results."""
    space = space_key(spec.space)
    spec = dataclasses.replace(spec, space=space, method=method_key(spec.method),
                               dataset=get_profile(space).dataset(spec.dataset).name)
    saved = spec.to_json()
    return {k: saved[k] for k in COMPARED}


def wall_seconds(summary: dict) -> float:
    """A finished search's wall seconds all in, with the search time of the sessions before a
    resume (runs written before the sessions were counted report their last session only)."""
    return float(summary["seconds"]) + float(summary.get("timing", {}).get("earlier_sessions_run_seconds", 0.0))


SPEED_ONLY = frozenset({"chunk"})  # settings that size blocks of work, not what is computed


def finished_run(out: Path, spec: SearchSpec) -> bool:
    """True when `out` holds a finished search of the same request as `spec`."""
    marker = rundir.read_marker(out)
    if not marker or marker.get("kind") != "search" or not (out / "summary.json").exists():
        return False
    try:
        saved = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return False
    config = make_config(spec.method, space_key(spec.space), spec.preset, **spec.overrides)
    same_spec = {k: saved["spec"].get(k) for k in COMPARED} == _resolved(spec)
    want = json.loads(json.dumps(dataclasses.asdict(config)))
    got = dict(saved.get("method_config") or {})
    # A block size left to the platform's default (None) matches whatever block the saved run used:
    # it sets speed and memory, not results (REINFORCE's default became per-platform).
    for k in SPEED_ONLY:
        if k in want and want[k] is None:
            got[k] = None
    return same_spec and got == want


def search(runs: Path, name: str, reuse: bool = True, **fields: Any) -> tuple[dict, dict, Path]:
    """(summary, traces, folder) of the search `fields` in `<runs>/<name>`, run unless re-usable."""
    out = runs / name
    spec = SearchSpec(out=out, quiet=False, **fields)
    if reuse and finished_run(out, spec):
        print(f"re-using {out}", flush=True)
    else:
        resume = (rundir.partial_path(out) / "config.json").exists()
        try:
            run_search(dataclasses.replace(spec, resume=resume, overwrite=not resume))
        except rundir.RunFolderError as e:  # a partial run of other options: start again
            print(f"not resuming ({e}); starting {out} again", flush=True)
            run_search(dataclasses.replace(spec, resume=False, overwrite=True))
    summary, traces = load_run(out)
    return summary, traces, out

