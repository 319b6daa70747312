"""REINFORCE: one episode against an independent re-computation of the published algorithm, the
presets' quirks, PyTorch-default initialisation, and that the policy gradient actually learns."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from search_problems import synthetic_benchmark, synthetic_features, synthetic_problem

from a2v_jax.presets import PRESETS
from a2v_jax.search import reinforce, runner
from a2v_jax.search.problem import Problem


def _nearest_ref(action, feats, visited, skip):
    d = ((feats.astype(np.float64) - action) ** 2).sum(1)
    order = np.lexsort((np.arange(len(d)), d))
    if skip:
        order = order[1:]
    return next(int(j) for j in order if not visited[j])


@pytest.mark.parametrize("space", ["nb201", "nb101"])
def test_episode_matches_published_algorithm(space):
    """Queries are the nearest unvisited cells to mean + noise (NB201: rank 0 skipped), and the
    update is Adam on mean_t[-log N(a_t; mu_t, I) (r_t - b)] with the LSTM unrolled from zeros."""
    problem = synthetic_problem(budget=None, queries=100)
    config = reinforce.Config(space=space, preset="reference")
    state0 = jax.jit(lambda k: reinforce.init(k, problem, config))(jax.random.PRNGKey(3))
    state1 = jax.jit(lambda s: reinforce.step(s, problem, config))(state0)

    feats = np.asarray(problem.features)
    start = int(state0.cell)
    assert bool(state0.trace.visited[start]) and int(state0.trace.count) == 0  # reference: visited, uncharged
    _, k_ep = jax.random.split(state0.key)
    noise = np.asarray(jax.random.normal(k_ep, (config.episode, feats.shape[1])))

    visited = np.zeros(len(feats), bool)
    visited[start] = True
    cell, inputs, actions = start, [], []
    params0 = state0.params
    h = c = jnp.zeros(config.hidden)
    for t in range(config.episode):
        inputs.append(feats[cell])
        h, c = reinforce.lstm_cell(params0, jnp.asarray(feats[cell]), h, c)
        mean = np.asarray(h @ params0["w_out"] + params0["b_out"])
        actions.append(mean + noise[t])
        cell = _nearest_ref(actions[-1], feats, visited, config.skip_nearest)
        visited[cell] = True
        assert int(state1.trace.index[t]) == cell, t
    inputs, actions = jnp.asarray(np.stack(inputs)), jnp.asarray(np.stack(actions))
    rewards = np.asarray(problem.reward)[np.asarray(state1.trace.index[: config.episode])]

    def loss(params):
        means = reinforce.policy_means(params, inputs, config.hidden)
        logp = -0.5 * jnp.sum((actions - means) ** 2, axis=1) - 0.5 * feats.shape[1] * jnp.log(2 * jnp.pi)
        return jnp.mean(-logp * (rewards - config.baseline))

    opt = optax.adam(1e-2)
    updates, _ = opt.update(jax.grad(loss)(params0), opt.init(params0), params0)
    expected = optax.apply_updates(params0, updates)
    for name in expected:
        # Adam's first step is about lr * sign(grad): a wrong gradient moves a weight by ~2e-2, float
        # round-off in gradients near Adam's eps by a few 1e-6
        np.testing.assert_allclose(np.asarray(state1.params[name]), np.asarray(expected[name]), atol=2e-5)
    assert int(state1.cell) == cell  # the next episode starts from the last retrieved cell


def test_init_follows_pytorch_defaults():
    params = reinforce.init_params(jax.random.PRNGKey(0), 16, 128)
    bound = 1 / np.sqrt(128)
    assert params["w_ih"].shape == (16, 512) and params["w_hh"].shape == (128, 512)
    assert params["w_out"].shape == (128, 16) and params["b_out"].shape == (16,)
    for name, p in params.items():
        p = np.asarray(p)
        assert np.abs(p).max() <= bound, name
        assert p.std() == pytest.approx(bound / np.sqrt(3), rel=0.15), name  # uniform, not normal


def test_presets_and_space_settings():
    ref201 = reinforce.Config(space="nb201", preset="reference")
    assert ref201.skip_nearest and ref201.start_inclusive and ref201.start_visited and ref201.baseline == 0.4
    ref101 = reinforce.Config(space="nb101", preset="reference")
    assert not ref101.skip_nearest and ref101.start_inclusive and ref101.baseline == 0.95
    fixed = reinforce.Config(space="nb201", preset="fixed")
    assert not (fixed.skip_nearest or fixed.start_inclusive or fixed.start_visited) and fixed.discount is None
    assert reinforce.Config(space="nb201", preset="fixed", discount=0.4).discount == 0.4
    with pytest.raises(ValueError):
        reinforce.Config(space="nb201", preset="published")


def test_first_index_off_by_one_and_start_cell():
    b = synthetic_benchmark()
    problem = Problem.create(synthetic_features()[:5], b.reward[:5], b.test[:5], b.time[:5], max_queries=5)
    keys = runner.seed_keys(600)
    for preset in PRESETS:
        config = reinforce.Config(space="nb201", preset=preset)
        st = jax.jit(jax.vmap(lambda k, c=config: reinforce.init(k, problem, c)))(keys)
        draws = np.asarray(st.start_draw)
        if preset == "reference":
            assert draws.max() == 5 and 60 < (draws == 5).sum() < 150  # about 1 in 6 draws N itself
            assert (np.asarray(st.cell)[draws == 5] == 4).all()  # clamped, as a JAX gather would
            assert np.asarray(st.trace.visited)[np.arange(600), np.asarray(st.cell)].all()
        else:
            assert draws.max() == 4 and not np.asarray(st.trace.visited).any()


def test_discounted_returns_option():
    r = jnp.array([0.5, 0.6, 0.7, 0.8])
    mask = jnp.array([True, True, True, False])
    plain = reinforce._advantages(r, mask, reinforce.Config(baseline=0.4))
    np.testing.assert_allclose(plain, r - 0.4, rtol=1e-6)
    disc = reinforce._advantages(r, mask, reinforce.Config(baseline=0.4, discount=0.5))
    # reward-to-go over the steps taken: 0.5 + .5*0.6 + .25*0.7, 0.6 + .5*0.7, 0.7; the untaken step is 0
    np.testing.assert_allclose(disc, np.array([0.975, 0.95, 0.7, 0.0]) - 0.4, rtol=1e-6)


def test_policy_gradient_learns():
    """With rewards that grow along a direction of the embedding, the policy's queries get better
    over episodes (a frozen policy, lr 0, stays at the starting mean of about 0.5 on this problem:
    measured 0.498 in episode 1 and 0.485 in episodes 5-8, so the gain is the learning's)."""
    problem = synthetic_problem(budget=None, queries=128)
    out = runner.run_seeds(reinforce, runner.seed_keys(32), problem, reinforce.Config(space="nb201", preset="fixed"))
    r = np.asarray(problem.reward)[np.asarray(out.trace.index)]
    first, late = r[:, :16].mean(), r[:, 64:].mean()
    assert abs(first - 0.5) < 0.05
    assert late > first + 0.1
