"""The one settings object of an analysis run (saved as config.json; the CLI is generated from it).

Defaults follow the paper (§4.1): GP on 250 cells over 10 seeds with an accuracy filter; a random
walk of 1,000 cells; a t-SNE of 10,000 cells; nearest-neighbour walks of 15 steps. Per-dataset
thresholds (`THRESHOLDS`) are used unless given: the paper's on NB101 (predictive: test accuracy
> 0.8; map: red > 92%, black < 82%); the same on NB201 CIFAR-10, whose accuracies have the same
scale; on NB201 CIFAR-100 and ImageNet16-120 the accuracies that leave the same shares of the
15,625 cells above (or below) as those thresholds do on NB201 CIFAR-10 (10.8% of the cells at or
below 0.8, 31.3% above 0.92, 12.5% below 0.82 there).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..cli import option
from ..spaces import SPACE_NAMES, get_profile, space_key
from .encodings import BUILT_IN
from .predictive import KERNELS

ANALYSES: tuple[str, ...] = ("predictive", "smoothness", "map", "walk")
"""In the order `all` runs them."""
NEEDS_ACCURACY = ("predictive", "map")

THRESHOLDS: dict[tuple[str, str], dict[str, float]] = {
    ("nb101", "cifar10"): {"predictive": 0.80, "map_high": 0.92, "map_low": 0.82},
    ("nb201", "cifar10"): {"predictive": 0.80, "map_high": 0.92, "map_low": 0.82},
    ("nb201", "cifar100"): {"predictive": 0.50, "map_high": 0.67, "map_low": 0.51},
    ("nb201", "ImageNet16-120"): {"predictive": 0.20, "map_high": 0.39, "map_low": 0.21},
}


@dataclass
class AnalysisConfig:
    """Everything that defines an analysis run."""

    analysis: str = "all"
    """One of ANALYSES, or "all"."""
    space: str = option("nb201", "search space", choices=SPACE_NAMES)
    dataset: str = option("cifar10", "dataset whose test accuracies predictive and map use "
                          "(NB201: cifar10 | cifar100 | ImageNet16-120; NB101: cifar10)")
    embeddings: tuple[str, ...] = ()
    """Encodings to analyse: built-in names (onehot, path, random) or NAME=PATH; () = every built-in
    the space has."""
    out: str | None = option(None, "run folder (default runs/analysis-<space>-<analysis>)")
    seeds: int = option(10, "predictive: GP repetitions, each on its own random training cells")
    seed: int = option(0, "seed of every random choice (training cells, walk, map sample, walk starts, "
                          "the random control)")
    train_size: int = option(250, "predictive: training cells per seed")
    threshold: float | None = option(None, "predictive: report cells with test accuracy above this "
                                     "(default: per dataset, 0.8 on CIFAR-10)")
    kernel: str = option("matern", "predictive: GP kernel (+ white noise)", choices=KERNELS)
    gp_restarts: int = option(0, "predictive: extra random starts of the marginal-likelihood fit")
    walk_length: int = option(1000, "smoothness: cells in the random walk")
    map_cells: int = option(10_000, "map: cells drawn for the t-SNE")
    map_grid: int = option(51, "map: squares per side over which accuracy is averaged")
    map_high: float | None = option(None, "map: areas above this mean accuracy are red (default: per dataset)")
    map_low: float | None = option(None, "map: areas below this mean accuracy are black (default: per dataset)")
    perplexity: float = option(30.0, "map: t-SNE perplexity")
    tsne_iterations: int = option(500, "map: t-SNE iterations (scikit-learn's default is 1000)")
    tsne_angle: float = option(0.5, "map: Barnes-Hut angle of the t-SNE (larger: faster, coarser)")
    walks: int = option(3, "walk: nearest-neighbour walks, from as many random start cells")
    walk_steps: int = option(15, "walk: steps of each walk")
    start: int | None = option(None, "walk: first start cell (row of the space's cell set)")
    run: str | None = option(None, "walk: pretraining run folder whose model decodes an interpolation")
    interpolation_points: int = option(8, "walk: decoded points from the start cell to the end of its walk")
    threads: int = option(1, "BLAS / OpenMP threads of the GP and t-SNE (more help only on an idle machine)")
    darts_num: int | None = option(None, "darts: number of sampled cells (space default if unset)")
    darts_seed: int | None = option(None, "darts: sampling seed (space default if unset)")
    overwrite: bool = option(False, "replace an analysis already in --out")
    resume: bool = option(False, "continue an interrupted run in <out>.partial (finished analyses are kept)")
    progress: bool = True
    space_options: dict[str, Any] = field(default_factory=dict)

    def analyses(self) -> tuple[str, ...]:
        if self.analysis == "all":
            return ANALYSES
        if self.analysis not in ANALYSES:
            raise ValueError(f"unknown analysis {self.analysis!r}; choose one of {', '.join(ANALYSES)}, all")
        return (self.analysis,)

    def resolved(self) -> AnalysisConfig:
        """A copy with names canonical, defaults filled in and every value checked."""
        c = dataclasses.replace(self, embeddings=tuple(self.embeddings), space_options=dict(self.space_options))
        c.analyses()
        c.space = space_key(c.space)
        profile = get_profile(c.space)
        if profile.datasets:
            c.dataset = profile.dataset(c.dataset).name
        if not c.embeddings:
            c.embeddings = tuple(b for b in BUILT_IN if b != "path" or c.space in ("nb101", "nb201"))
        if c.darts_num is not None:
            c.space_options["num"] = c.darts_num
        if c.darts_seed is not None:
            c.space_options["seed"] = c.darts_seed
        if c.space_options and c.space != "darts":
            raise ValueError("--darts-num / --darts-seed apply to the darts space only")
        defaults = THRESHOLDS.get((c.space, c.dataset), {})
        for name, key in (("threshold", "predictive"), ("map_high", "map_high"), ("map_low", "map_low")):
            if getattr(c, name) is None and key in defaults:
                setattr(c, name, defaults[key])
        positive = {"seeds": c.seeds, "train_size": c.train_size, "walk_length": c.walk_length,
                    "map_cells": c.map_cells, "map_grid": c.map_grid, "walks": c.walks, "walk_steps": c.walk_steps,
                    "tsne_iterations": c.tsne_iterations, "threads": c.threads}
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name.replace('_', '-')} must be positive, got {value}")
        if c.gp_restarts < 0:
            raise ValueError(f"gp-restarts must be >= 0, got {c.gp_restarts}")
        if c.interpolation_points < 2:
            raise ValueError(f"interpolation-points must be at least 2, got {c.interpolation_points}")
        if c.perplexity <= 0:
            raise ValueError(f"perplexity must be positive, got {c.perplexity}")
        if not 0 < c.tsne_angle <= 1:
            raise ValueError(f"tsne-angle must lie in (0, 1], got {c.tsne_angle}")
        if c.out is None:
            c.out = f"runs/analysis-{c.space}-{c.analysis}"
        return c

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["embeddings"] = list(d["embeddings"])
        for key in ("overwrite", "resume", "progress"):
            d.pop(key)
        return d
