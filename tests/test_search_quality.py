"""On real NAS-Bench-201 CIFAR-10 (12,000 s budget, 500 seeds), every strategy finds better
architectures than random search (the published baseline, with replacement).

REINFORCE needs embeddings that carry structure. Learned arch2vec embeddings are not used here
(tests must not depend on a pretraining run); the stand-in is a one-hot encoding of each cell's
six edge ops projected to 16 dimensions by a fixed Gaussian matrix, divided by 4 (per-dimension
std about 0.14). The scale matters: the policy's unit-variance action noise then dominates, and
the nearest cell to an action is an extreme cell in the action's direction. At this scale
REINFORCE beats random search by about 0.05-0.1 points with 500 seeds (t about 3-5 across seed
sets, both presets); unscaled (std about 0.55) it does not, and at 4x it is worse. (The reference
preset is left out here only to save a compile: it measured 93.82-93.87 against RS 93.72-93.77.) Evolution uses the 24
one-op-change neighbours and gains about 0.2 points.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import require_data
from nb201_tables import FILES, nb201_benchmark, nb201_neighbours, onehot_embeddings

from a2v_jax.search import evolution, random_search, reinforce, runner
from a2v_jax.search.problem import Problem

SEEDS = 500


@pytest.fixture(scope="module")
def nb201():
    for f in FILES:
        require_data(f)
    b = nb201_benchmark("cifar10")
    return Problem.create(onehot_embeddings() / 4, b.reward, b.test, b.time, max_time=12_000.0,
                          neighbours=nb201_neighbours())


def _final_test(module, preset, problem):
    out = runner.run_seeds(module, runner.seed_keys(SEEDS), problem, module.Config(space="nb201", preset=preset))
    count = np.asarray(out.trace.count)
    assert 80 < count.mean() < 130  # about 110 queries fit the CIFAR-10 budget
    return np.asarray(out.trace.incumbent_test)[np.arange(SEEDS), count - 1].astype(np.float64)


@pytest.fixture(scope="module")
def random_baseline(nb201):
    rs = _final_test(random_search, "reference", nb201)
    assert 0.935 < rs.mean() < 0.940  # NB201 paper / arch2vec Table 3: RS 93.70-93.75
    return rs


@pytest.mark.parametrize("module,preset", [
    (reinforce, "fixed"), (evolution, "fixed"), (evolution, "reference"), (random_search, "fixed"),
])
def test_beats_random_search(nb201, random_baseline, module, preset):
    got = _final_test(module, preset, nb201)
    diff = got.mean() - random_baseline.mean()
    t = diff / np.sqrt(got.var() / SEEDS + random_baseline.var() / SEEDS)
    if module is random_search:  # without replacement: no worse (a few repeats avoided)
        assert t > -2
    else:
        assert t > 2.0, f"{module.__name__} {preset}: {100 * got.mean():.2f} vs RS {100 * random_baseline.mean():.2f}"
