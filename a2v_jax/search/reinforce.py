"""arch2vec-REINFORCE: a recurrent Gaussian policy walking the embedding space.

The policy is one LSTM cell (d -> 128) and a linear layer (128 -> d) giving the mean of a Gaussian
with identity covariance. Its input is the embedding of the architecture retrieved at the previous
step; a sampled action is turned into an architecture by taking the nearest (L2) cell not queried
yet, whose validation accuracy is the reward. After each episode of 16 steps the policy takes one
Adam step (lr 1e-2) on mean_t[-log p(a_t) (r_t - b)] with a constant baseline b (0.95 on NB101
and DARTS, 0.4 on NB201), and the LSTM state is reset to zeros; the last retrieved embedding is
carried over as the next episode's first input.

One `step` is one episode. The log-probabilities are recomputed inside the loss by unrolling the
LSTM again over the episode's inputs, which gives exactly the gradient of the published code
(backpropagation through the whole episode: its inputs are constants, its actions samples). When
the budget ends mid-episode the trace ignores the remaining queries and the (irrelevant) final
update averages over the steps actually taken, as the published code does.

What the published code does (search_methods/reinforce.py for NB101,
reinforce_search_NB201_8x8.py for NB201) and how each preset handles it:

| behaviour of the published code | `reference` | `fixed` |
|---|---|---|
| first architecture: `random.randint(0, N)`, inclusive, so index N (an IndexError crash) is possible | draws from [0, N]; N is clamped to N-1 as a JAX gather would, and `start_draw` keeps the raw value so a report can count the seeds that would have crashed | draws from [0, N) |
| the first architecture is never queried (no cost, its reward unseen) but is marked visited, so it can never be queried later | same | not marked: only queried cells are visited |
| NB201 only: rank 0 of the distance ranking is always skipped, so an unvisited nearest cell is passed over for the second one | `skip_nearest` on NB201 | off |
| discounted returns (gamma 0.8 NB101, 0.4 NB201 scripts) are computed (forward in time) but never used: the loss uses raw rewards | raw rewards | raw rewards by default; `discount=g` uses proper reward-to-go sum_k g^k r_{t+k} |
| `--EMA_momentum` (NB201) is parsed but the baseline stays constant | constant | constant |
| NB201: the cell table is shuffled per seed (`random.shuffle` of the embedding dict) | not reproduced: a relabelling of cells, which only changes how exact distance ties are ordered; ties go to the lower index here | same |
| `torch.mean(mvn.log_prob(action))` averages a batch of one: it is the full d-dimensional log-density | same | same |
| every cell visited (reference only, with a budget covering the whole space): prints and exits | queries the start cell, charged, so the run ends | cannot happen |

The published per-seed RNG (Python `random` / torch) is not reproduced; seeds are JAX keys.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from .. import presets
from .nearest import nearest_unvisited
from .problem import Problem, Trace
from .strategy import StrategyConfig, check_positive, published, quirk, setting

TITLE = "arch2vec-REINFORCE (LSTM Gaussian policy over embeddings)"
NEEDS = frozenset({"features"})

# Cells per block of the nearest-neighbour scan when `chunk` is None, by platform: small blocks stay
# in a CPU's caches; on an accelerator every block is a kernel launch, and on one H200 65,536-cell
# blocks ran NB101-sized REINFORCE 4.4x (100 seeds) and 2.4x (500 seeds) faster than 4,096-cell ones
# (benchmarks/results/device-gpu.md).
SCAN_CHUNK_CPU = 4096
SCAN_CHUNK_ACCELERATOR = 65536


QUIRKS = {
    "reference": {"skip_nearest": presets.only_on("nb201"), "start_inclusive": True, "start_visited": True},
    "fixed": {"skip_nearest": False, "start_inclusive": False, "start_visited": False},
}


@dataclasses.dataclass(frozen=True)
class Config(StrategyConfig):
    """REINFORCE settings (static under jit); see `StrategyConfig` for how None fields resolve."""

    METHOD = "rl"
    QUIRKS = QUIRKS

    space: str = "nb201"
    preset: str = "fixed"
    baseline: float | None = published("constant reward baseline b of the loss (r - b)")
    episode: int = setting(16, "queries per episode (one policy update each)")
    hidden: int = setting(128, "LSTM width")
    lr: float = setting(1e-2, "Adam learning rate")
    discount: float | None = setting(None, "None: raw rewards (published); g: reward-to-go with discount g")
    chunk: int | None = setting(
        None, "cells per block of the nearest-neighbour scan (speed and memory, not results); None: 4,096 on CPU, 65,536 on an accelerator")
    skip_nearest: bool | None = quirk("always pass over the single nearest cell (the NB201 script's ranking)")
    start_inclusive: bool | None = quirk("first cell drawn from [0, N] inclusive (index N would crash the published code)")
    start_visited: bool | None = quirk("the never-queried first cell is marked visited")

    def validate(self) -> None:
        check_positive(self, "episode", "hidden", *(("chunk",) if self.chunk is not None else ()))
        if self.discount is not None and not 0.0 <= self.discount <= 1.0:
            raise ValueError(f"discount must be in [0, 1], got {self.discount}")


def scan_chunk(config: Config, platform: str | None = None) -> int:
    """Cells per block of the nearest-neighbour scan: `config.chunk`, else the platform's default."""
    if config.chunk:
        return int(config.chunk)
    platform = platform or jax.default_backend()
    return SCAN_CHUNK_CPU if platform == "cpu" else SCAN_CHUNK_ACCELERATOR


def trace_extras(states: Any) -> dict[str, Any]:
    """The raw first draw per seed (== N: the published code would have crashed)."""
    return {"start_draw": states.start_draw}


def summary_extras(extras: dict[str, Any], oracle: dict[str, Any]) -> dict[str, Any]:
    return {"start_out_of_range_seeds": int((extras["start_draw"] >= int(oracle["count"])).sum())}


@struct.dataclass
class State:
    key: jax.Array
    params: Any
    opt_state: Any
    cell: jax.Array  # the cell whose embedding is the next input
    start_draw: jax.Array  # raw first draw (== N means the published code would have crashed)
    episodes: jax.Array
    trace: Trace


def init_params(key: jax.Array, dim: int, hidden: int) -> dict:
    """PyTorch's default initialisation: LSTMCell weights and both biases U(+-1/sqrt(hidden)),
    Linear weight and bias U(+-1/sqrt(fan_in)) with fan_in = hidden: one bound for all. Gate order
    i, f, g, o. Drawn as one uniform vector, split: six separate draws compile about 5 s slower
    under vmap on CPU."""
    shapes = {
        "w_ih": (dim, 4 * hidden),
        "w_hh": (hidden, 4 * hidden),
        "b_ih": (4 * hidden,),
        "b_hh": (4 * hidden,),
        "w_out": (hidden, dim),
        "b_out": (dim,),
    }
    sizes = [math.prod(s) for s in shapes.values()]
    bound = 1.0 / math.sqrt(hidden)
    flat = jax.random.uniform(key, (sum(sizes),), jnp.float32, -bound, bound)
    parts = jnp.split(flat, list(itertools.accumulate(sizes))[:-1])
    return {name: p.reshape(shape) for (name, shape), p in zip(shapes.items(), parts, strict=True)}


def lstm_cell(params: dict, x: jax.Array, h: jax.Array, c: jax.Array) -> tuple[jax.Array, jax.Array]:
    gates = x @ params["w_ih"] + params["b_ih"] + h @ params["w_hh"] + params["b_hh"]
    i, f, g, o = jnp.split(gates, 4, axis=-1)
    c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h = jax.nn.sigmoid(o) * jnp.tanh(c)
    return h, c


def policy_means(params: dict, inputs: jax.Array, hidden: int) -> jax.Array:
    """Gaussian means for a whole episode of inputs [T, d], from a zero LSTM state."""

    def body(carry, x):
        h, c = lstm_cell(params, x, *carry)
        return (h, c), h @ params["w_out"] + params["b_out"]

    zeros = jnp.zeros((hidden,), inputs.dtype)
    return jax.lax.scan(body, (zeros, zeros), inputs)[1]


def _optimizer(config: Config) -> optax.GradientTransformation:
    return optax.adam(config.lr)  # PyTorch Adam defaults: betas (0.9, 0.999), eps 1e-8


def init(key: jax.Array, problem: Problem, config: Config) -> State:
    n, dim = problem.features.shape
    if dim == 0:
        raise ValueError("REINFORCE needs architecture embeddings (problem.features is [N, 0])")
    key, k_param, k_start = jax.random.split(key, 3)
    params = init_params(k_param, dim, config.hidden)
    draw = jax.random.randint(k_start, (), 0, n + 1 if config.start_inclusive else n)
    cell = jnp.minimum(draw, n - 1)
    trace = Trace.empty(problem)
    if config.start_visited:
        trace = trace.replace(visited=trace.visited.at[cell].set(True))
    return State(
        key=key,
        params=params,
        opt_state=_optimizer(config).init(params),
        cell=cell,
        start_draw=draw,
        episodes=jnp.zeros((), jnp.int32),
        trace=trace,
    )


def _advantages(rewards: jax.Array, mask: jax.Array, config: Config) -> jax.Array:
    if config.discount is None:
        returns = rewards
    else:  # reward-to-go over the steps actually taken
        def body(acc, x):
            r, m = x
            acc = jnp.where(m, r + config.discount * acc, 0.0)
            return acc, acc

        returns = jax.lax.scan(body, jnp.zeros((), rewards.dtype), (rewards, mask), reverse=True)[1]
    return returns - config.baseline


def step(state: State, problem: Problem, config: Config) -> State:
    """One episode: `config.episode` queries, then one policy update.

    The gradient is that of the published loss mean_t[-log N(a_t; mu_t, I) (r_t - b)], computed
    with the LSTM unrolled once. Two things keep it cheap when every seed has its own weights
    (each step is then a batched matrix-vector product that streams all seeds' weights from memory):

    - grad_mu log N(a_t; mu_t, I) = a_t - mu_t = noise_t, so the loss is written as
      -(noise_t . mu_t)(r_t - b): same gradient, no second pass;
    - the weights enter the unrolled steps as constants, and a zero perturbation e_t is added to
      each step's gate pre-activations. The gradient with respect to e_t is dL/dgates_t, and the
      weight gradients follow as three batched products over the episode (sum_t x_t^T dgates_t,
      sum_t h_{t-1}^T dgates_t, sum_t dgates_t). Differentiating the weights inside the scan
      instead accumulates their gradient at every step: a read and a write of all weights per step.
    """
    key, k_ep = jax.random.split(state.key)
    dtype = problem.features.dtype
    noise = jax.random.normal(k_ep, (config.episode, problem.features.shape[1]), dtype)
    p = state.params

    def episode(perturb, w_out, b_out):
        def one(carry, xs):
            eps, e_t = xs
            h_prev, c, cell, trace = carry
            x = problem.features[cell]
            gates = x @ p["w_ih"] + p["b_ih"] + h_prev @ p["w_hh"] + p["b_hh"] + e_t
            i, f, g, o = jnp.split(gates, 4)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            action = jax.lax.stop_gradient(h @ p["w_out"] + p["b_out"]) + eps
            nxt, found = nearest_unvisited(
                action, problem.features, problem.feature_sqnorm, trace.visited, scan_chunk(config), config.skip_nearest
            )
            # Nothing unvisited is left only in the reference preset, once every other cell is queried:
            # the start cell is then the one visited but never queried (the published code exits here).
            nxt = jnp.where(found, nxt, jnp.minimum(state.start_draw, problem.num_cells - 1))
            active = ~trace.done(problem)
            trace = trace.record(problem, nxt)
            out = (x, h_prev, h, problem.reward[nxt], active)
            return (h, c, jnp.where(active, nxt, cell), trace), out

        zeros = jnp.zeros((config.hidden,), dtype)
        (_, _, cell, trace), (xs, h_prev, hs, rewards, active) = jax.lax.scan(
            one, (zeros, zeros, state.cell, state.trace), (noise, perturb)
        )
        means = hs @ w_out + b_out
        adv = jax.lax.stop_gradient(_advantages(rewards, active, config))
        weight = active.astype(dtype)
        surrogate = jnp.sum(noise * means, axis=1)  # d/dmu of log N(a; mu, I) at a = mu + noise
        loss = jnp.sum(-surrogate * adv * weight) / jnp.maximum(weight.sum(), 1.0)
        return loss, (cell, trace, xs, jax.lax.stop_gradient(h_prev))

    perturb = jnp.zeros((config.episode, 4 * config.hidden), dtype)
    (d_gates, d_wout, d_bout), (cell, trace, xs, h_prev) = jax.grad(episode, argnums=(0, 1, 2), has_aux=True)(
        perturb, p["w_out"], p["b_out"]
    )
    d_bias = d_gates.sum(axis=0)
    grads = {"w_ih": xs.T @ d_gates, "w_hh": h_prev.T @ d_gates, "b_ih": d_bias, "b_hh": d_bias,
             "w_out": d_wout, "b_out": d_bout}
    updates, opt_state = _optimizer(config).update(grads, state.opt_state, state.params)
    return state.replace(
        key=key,
        params=optax.apply_updates(state.params, updates),
        opt_state=opt_state,
        cell=cell,
        episodes=state.episodes + 1,
        trace=trace,
    )
