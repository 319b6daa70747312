"""Regularized evolution: aging population, tournament parent, one-step mutations, published settings."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from search_problems import synthetic_benchmark, synthetic_features, synthetic_problem

from a2v_jax.search import evolution, runner
from a2v_jax.search.problem import Problem


def test_published_settings():
    c = evolution.Config(space="nb201", preset="reference")
    assert (c.population, c.sample_size, c.sample_replace, c.avoid_visited) == (10, 3, True, False)
    c = evolution.Config(space="nb101", preset="reference")
    assert (c.population, c.sample_size, c.sample_replace, c.avoid_visited) == (50, 10, False, False)
    assert evolution.Config(space="nb201", preset="fixed").avoid_visited
    with pytest.raises(ValueError):
        evolution.Config(population=3, sample_size=5, sample_replace=False)


def test_child_mutates_best_of_the_last_population():
    """With a tournament over the whole population, the parent is the best of the last P queries
    (the aging population), and every child is one of its neighbours."""
    problem = synthetic_problem(2000.0)
    p = 5
    config = evolution.Config(space="nb201", preset="reference", population=p, sample_size=p, sample_replace=False)
    out = runner.run_seeds(evolution, runner.seed_keys(6), problem, config)
    nbrs = np.asarray(problem.neighbours)
    reward = np.asarray(problem.reward)
    for s in range(6):
        idx = np.asarray(out.trace.index[s, : int(out.trace.count[s])])
        assert len(idx) > p + 5
        for t in range(p, len(idx)):
            pop = idx[t - p : t]
            parent = pop[np.argmax(reward[pop])]
            assert idx[t] in nbrs[parent][nbrs[parent] >= 0], (s, t)


def test_fixed_children_are_unvisited_neighbours_when_possible():
    problem = synthetic_problem(budget=None, queries=150)
    config = evolution.Config(space="nb201", preset="fixed")
    out = runner.run_seeds(evolution, runner.seed_keys(4), problem, config)
    nbrs = np.asarray(problem.neighbours)
    for s in range(4):
        idx = np.asarray(out.trace.index[s])
        assert len(set(idx.tolist())) == 150
        from_neighbours = [idx[t] in set(nbrs[idx[max(0, t - 10) : t]].ravel()) for t in range(10, 150)]
        assert np.mean(from_neighbours) > 0.8  # the rest: random restarts when a parent has no unvisited neighbour


def test_needs_neighbours():
    b = synthetic_benchmark()
    problem = Problem.create(synthetic_features(), b.reward, b.test, b.time, max_time=1000.0)
    with pytest.raises(ValueError, match="neighbours"):
        evolution.init(jax.random.PRNGKey(0), problem, evolution.Config())


def test_space_neighbours_match_the_test_table():
    """The nb201 space module's mutation table (what the CLI uses) has, row by row, the same 24
    cells as the table the tests build from the architecture strings."""
    from conftest import require_data
    from nb201_tables import FILES, nb201_neighbours

    from a2v_jax.search.build import space_neighbours

    require_data(FILES[0])
    ours, theirs = nb201_neighbours(), space_neighbours("nb201")
    assert theirs.shape == ours.shape
    assert (np.sort(theirs, axis=1) == np.sort(ours, axis=1)).all()
