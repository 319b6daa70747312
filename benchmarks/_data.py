"""Where the benchmark scripts get NB201 tables, neighbours and embeddings.

Every source is the project's own, so a table in benchmarks/results/ can be rebuilt from a clean
checkout plus the shared data folder: the benchmark tables from `a2v_jax.data.load_benchmark`,
the neighbours from the space module, and the learned embeddings from a pretraining run that the
script starts itself (and re-uses when its folder already holds the finished run with the same
configuration).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from a2v_jax.data import load_benchmark  # noqa: E402
from a2v_jax.data.benchmark import Benchmark  # noqa: E402
from a2v_jax.pretrain import PretrainConfig  # noqa: E402
from a2v_jax.pretrain import run as pretrain_run  # noqa: E402
from a2v_jax.pretrain.config import with_defaults  # noqa: E402
from a2v_jax.search.build import space_neighbours  # noqa: E402


def shown_path(path: Path) -> Path:
    """`path` relative to the checkout when it lies inside it (tables name paths a reader can follow)."""
    full = path.resolve()
    return full.relative_to(ROOT) if full.is_relative_to(ROOT) else path


def nb201_benchmark(dataset: str) -> tuple[Benchmark, str]:
    """(Benchmark, source description)."""
    return load_benchmark("nb201", dataset), "a2v_jax.data.load_benchmark"


def nb201_neighbours() -> tuple[np.ndarray, str]:
    return space_neighbours("nb201"), "nb201 space module"


def stand_in_embeddings() -> tuple[np.ndarray, str]:
    """One-hot ops projected to 16-d, divided by 4: structured, but not learned (see tests/test_search_quality.py)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import nb201_tables

    return nb201_tables.onehot_embeddings() / 4, "one-hot op encoding x fixed Gaussian projection / 4 (stand-in)"


def pretrained_embeddings(out: Path, space: str = "nb201", preset: str = "reference", seed: int = 0) -> tuple[Path, str]:
    """Path of arch2vec embeddings from `python -m a2v_jax.pretrain --space S --preset P --seed K --out OUT`.

    Runs the pretraining when `out` has no finished run of that configuration (about a minute
    for NB201 on two cores), so a table's embeddings always come from a command it names.
    """
    paths, command = pretrained_batch(out, space, preset, seed, 1)
    return paths[0], command


def pretrained_batch(out: Path, space: str = "nb201", preset: str = "reference", seed: int = 0,
                     seeds: int = 1) -> tuple[list[Path], str]:
    """Embeddings of `seeds` arch2vec seeds from seed `seed` on, trained as one batched run
    (`python -m a2v_jax.pretrain ... --seeds K`; one seed: a plain run), re-used when `out` holds the
    finished run of that configuration."""
    config = PretrainConfig(space=space, preset=preset, seed=seed, seeds=seeds, out=str(out), progress=False)
    command = (f"python -m a2v_jax.pretrain --space {space} --preset {preset} --seed {seed}"
               f"{f' --seeds {seeds}' if seeds > 1 else ''} --out {shown_path(out)}")
    paths = [out / "embeddings.npz"] if seeds == 1 else [out / m.label / "embeddings.npz" for m in config.members()]
    saved = out / "config.json"
    done = out / ("metrics.json" if seeds == 1 else "summary.json")
    wanted = {k: v for k, v in config.to_dict().items() if k not in ("progress", "resume", "overwrite")}
    if all(p.exists() for p in paths) and done.exists() and saved.exists():
        got = with_defaults(json.loads(saved.read_text()))
        if all(got[k] == v for k, v in wanted.items()):
            return paths, f"{command} (re-used)"
    print(f"pretraining for the embeddings: {command}", flush=True)
    pretrain_run(dataclasses.replace(config, overwrite=True))
    return paths, command
