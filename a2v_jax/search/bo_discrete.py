"""DNGO over the discrete encoding: arch2vec-BO's search on the flattened adjacency + one-hot ops.

The "discrete encoding" counterpart of arch2vec-BO (paper Section 1 and Table 2): the same DNGO
(`dngo`: a Linear -> tanh -> Linear basis network retrained every round, Bayesian linear regression
on its 128 features, expected improvement over every cell, the top k queried), with each cell's
feature vector the paper's discrete encoding instead of its pretrained embedding:
[upper-triangular adjacency, row-major | one-hot op matrix], n(n-1)/2 + n*K values
(`cell_encoding.onehot_features`, the cells as stored: NB201 8 x 8 and 7 ops, 84 values, of which
only the 6 x 5 op indicators of vertices 1-6 vary; NB101 7 x 7 and 5 ops, 56 values). DNGO z-scores
its inputs with the observations' mean and std, so constant entries are exactly 0 and play no
part (a zero std counts as 1).

Only the features differ, so this module is a thin layer over `dngo`: its Config (the same fields
and quirks, `reference` = the published arch2vec DNGO's quirks; see `dngo`), `init` and `step` with
the problem's features replaced by the encoding. The encoding is computed inside the compiled step
from `Problem.graphs` (the same for every seed, so once per step for all of them).
"""

from __future__ import annotations

import dataclasses

import jax

from . import dngo
from .cell_encoding import check_cells, onehot_features
from .problem import Problem

TITLE = "DNGO over the discrete encoding (flattened adjacency + one-hot ops)"
NEEDS = frozenset({"cells"})
QUIRKS = dngo.QUIRKS
State = dngo.State


@dataclasses.dataclass(frozen=True)
class Config(dngo.Config):
    """DNGO settings (see `dngo.Config`); published values from the space profile's "bo-discrete"."""

    METHOD = "bo-discrete"


def encoded(problem: Problem) -> Problem:
    """The problem with the cells' discrete encoding as its features."""
    check_cells(problem.graphs, "bo-discrete")
    features = onehot_features(problem.graphs)
    return problem.replace(features=features, feature_sqnorm=(features * features).sum(axis=1))


def seed_chunk(problem: Problem, config: Config, platform: str) -> int | None:
    """Seeds per device vmapped together by default: arch2vec-BO's (`dngo.seed_chunk`), which the
    runner would otherwise not know of here and vmap all seeds of a batch at once."""
    return dngo.seed_chunk(problem, config, platform)


def init(key: jax.Array, problem: Problem, config: Config) -> dngo.State:
    return dngo.init(key, encoded(problem), config)


def step(state: dngo.State, problem: Problem, config: Config) -> dngo.State:
    return dngo.step(state, encoded(problem), config)
