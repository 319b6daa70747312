"""Supervised-RL: arch2vec's REINFORCE with a GIN encoder trained by the policy gradient itself.

The supervised counterpart of arch2vec-RL (paper Section 4.2, Table 2 "RL (ours) Supervised";
published `search_methods/supervised_reinforce.py`, NB101 only there): instead of pretrained
embeddings, a freshly initialised GIN (`supervised_encoder`: 4 layers, hidden 128, dim 16) embeds
the cells, and it learns only from the policy-gradient loss. Each episode (one `step`):

1. the whole space is embedded with the current encoder (eval mode: BatchNorm's running
   statistics), one batched pass over blocks of `chunk` cells;
2. 16 steps: the LSTM policy (`reinforce`: LSTM 16 -> 128, Linear 128 -> 16, Gaussian with identity
   covariance) reads the embedding of its input cell, computed by the encoder in training mode on
   that one graph (BatchNorm with the statistics of its n vertices, running statistics updated, as
   the published loop does); an action a ~ N(mu, I) retrieves the nearest (L2) unvisited cell of
   step 1's embeddings, whose validation accuracy is the reward;
3. one Adam step of each network on mean_t[-log N(a_t; mu_t, I) (r_t - b)]: the policy (lr 1e-2)
   and the encoder (lr 1e-3), whose gradient flows through the LSTM's inputs.

The baseline b is the space's published REINFORCE value (0.95 in the NB101 script; on NB201, where
no supervised script exists, arch2vec's NB201 value 0.4); the discounted returns the script computes
(gamma 0.8) are never used, here too. Differentiation: the episode is replayed inside the loss
with the same input cells and noise (the encoder's training-mode output of a single graph does not
depend on the running statistics, so the replay gives the published gradient exactly).

What the published code does and how each preset handles it:

| behaviour of the published code | `reference` | `fixed` |
|---|---|---|
| the policy's input is always the FIRST cell: `adj, ops` from `get_init_state` are never updated, so every step of every episode re-encodes the start cell (the retrieved embedding returned by `env.step` is overwritten) | `input_stuck` | the input is the cell retrieved at the previous step (as arch2vec-RL) |
| first cell `random.randint(0, N)`, inclusive (index N would crash) | draws from [0, N], N clamped; `start_draw` kept for the report | [0, N) |
| the first cell is marked visited | `start_visited` | not marked |
| the first cell's validation and test accuracy start the incumbent (`CURR_BEST_VALID = y_valid`) without its training time being charged | `start_observed`: recorded as a query that costs 0 s | not observed |
| message passing `matmul(adj, x)` on the raw DAG adjacency: a vertex sums only its successors | `directed` | A + A^T, arch2vec's encoder |
| `torch.mean(mvn.log_prob(a))` over a batch of one: the full 16-d log-density | same | same |
| the cell table is shuffled once (`torch.randperm`) | not reproduced: only the order of exact distance ties changes (here: lower index first) | same |

The supervised scripts have no NB201 version, so there is no "skip the nearest cell" quirk here.
The published per-seed RNG (Python `random` / torch) is not reproduced; seeds are JAX keys.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from . import reinforce
from . import supervised_encoder as enc
from .cell_encoding import check_cells
from .nearest import nearest_unvisited
from .problem import Problem, Trace
from .strategy import StrategyConfig, check_positive, published, quirk, setting

TITLE = "supervised-RL (REINFORCE with a GIN encoder trained by the policy gradient)"
NEEDS = frozenset({"cells"})

QUIRKS = {
    "reference": {"input_stuck": True, "start_inclusive": True, "start_visited": True, "start_observed": True,
                  "directed": True},
    "fixed": {"input_stuck": False, "start_inclusive": False, "start_visited": False, "start_observed": False,
              "directed": False},
}


@dataclasses.dataclass(frozen=True)
class Config(StrategyConfig):
    """Supervised-RL settings (static under jit); see `StrategyConfig` for how None fields resolve."""

    METHOD = "rl-supervised"
    QUIRKS = QUIRKS

    space: str = "nb201"
    preset: str = "fixed"
    baseline: float | None = published("constant reward baseline b of the loss (r - b)")
    episode: int = setting(16, "queries per episode (one update of both networks each)")
    policy_hidden: int = setting(128, "LSTM width")
    lr: float = setting(1e-2, "policy Adam learning rate")
    encoder_lr: float = setting(1e-3, "encoder Adam learning rate")
    hidden: int = setting(128, "GIN width")
    latent: int = setting(16, "embedding dimension (the policy's action space)")
    layers: int = setting(4, "GIN layers (the published num_hops=5 counts the input)")
    chunk: int = setting(512, "cells per block of the whole-space pass (memory: seeds x chunk x n x hidden floats)")
    nn_chunk: int = setting(4096, "cells per block of the nearest-neighbour scan (memory, not results)")
    input_stuck: bool | None = quirk("the policy's input is always the start cell (never updated)")
    start_inclusive: bool | None = quirk("first cell drawn from [0, N] inclusive (index N would crash the published code)")
    start_visited: bool | None = quirk("the start cell is marked visited")
    start_observed: bool | None = quirk("the start cell's accuracy starts the incumbent, free of charge")
    directed: bool | None = quirk("message passing over successors only (matmul(adj, x)) instead of A + A^T")

    def validate(self) -> None:
        check_positive(self, "episode", "policy_hidden", "hidden", "latent", "layers", "chunk", "nn_chunk")
        for name in ("lr", "encoder_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@struct.dataclass
class State:
    key: jax.Array
    params: Any  # {"policy": LSTM weights, "encoder": GIN params}
    batch_stats: Any  # the encoder's BatchNorm running statistics
    opt_state: Any
    cell: jax.Array  # the cell whose embedding is the next input
    start: jax.Array  # the start cell (the input forever with `input_stuck`)
    start_draw: jax.Array  # raw first draw (== N means the published code would have crashed)
    episodes: jax.Array
    trace: Trace


def trace_extras(states: Any) -> dict[str, Any]:
    return reinforce.trace_extras(states)


def summary_extras(extras: dict[str, Any], oracle: dict[str, Any]) -> dict[str, Any]:
    return reinforce.summary_extras(extras, oracle)


def _module(config: Config):
    return enc.encoder(config.hidden, config.latent, config.layers)


def _optimizers(config: Config) -> dict[str, optax.GradientTransformation]:
    """One Adam per network, PyTorch's defaults, as the published code has."""
    return {"policy": optax.adam(config.lr), "encoder": optax.adam(config.encoder_lr)}


def seed_chunk(problem: Problem, config: Config, platform: str) -> int:
    """Seeds per device vmapped together by default: bounded by the whole-space pass's memory."""
    return enc.seed_chunk(problem, config, platform)


def init(key: jax.Array, problem: Problem, config: Config) -> State:
    check_cells(problem.graphs, "rl-supervised")
    n = problem.num_cells
    key, k_policy, k_encoder, k_start = jax.random.split(key, 4)
    variables = enc.init_variables(k_encoder, _module(config), problem.graphs)
    params = {"policy": reinforce.init_params(k_policy, config.latent, config.policy_hidden),
              "encoder": variables["params"]}
    draw = jax.random.randint(k_start, (), 0, n + 1 if config.start_inclusive else n)
    cell = jnp.minimum(draw, n - 1)
    trace = Trace.empty(problem)
    if config.start_observed:  # seen for free: a query that costs nothing
        trace = trace.record(problem.replace(cost=jnp.zeros_like(problem.cost)), cell)
    if config.start_visited:
        trace = trace.replace(visited=trace.visited.at[cell].set(True))
    return State(
        key=key,
        params=params,
        batch_stats=variables["batch_stats"],
        opt_state={k: opt.init(params[k]) for k, opt in _optimizers(config).items()},
        cell=cell,
        start=cell,
        start_draw=draw,
        episodes=jnp.zeros((), jnp.int32),
        trace=trace,
    )


def step(state: State, problem: Problem, config: Config) -> State:
    """One episode: embed the space, `config.episode` queries, one update of the policy and the encoder."""
    module = _module(config)
    graphs = enc.message_graphs(problem.graphs, config.directed)
    key, k_ep = jax.random.split(state.key)
    noise = jax.random.normal(k_ep, (config.episode, config.latent), jnp.float32)
    p = state.params
    features = enc.embed_all(module, p["encoder"], state.batch_stats, graphs, config.chunk)
    sqnorm = jnp.sum(features * features, axis=1)

    def encode_one(encoder_params, batch_stats, cell):
        emb, stats = enc.embed(module, encoder_params, batch_stats, graphs, cell[None], True)
        return emb[0], stats

    def one(carry, eps):
        h, c, cell, stats, trace = carry
        x, new_stats = encode_one(p["encoder"], stats, cell)
        h, c = reinforce.lstm_cell(p["policy"], x, h, c)
        action = h @ p["policy"]["w_out"] + p["policy"]["b_out"] + eps
        nxt, found = nearest_unvisited(action, features, sqnorm, trace.visited, config.nn_chunk)
        nxt = jnp.where(found, nxt, state.start)  # nothing left unvisited: only with start_visited, the start cell
        active = ~trace.done(problem)
        trace = trace.record(problem, nxt)
        stats = enc.select_tree(active, new_stats, stats)
        following = state.start if config.input_stuck else jnp.where(active, nxt, cell)
        return (h, c, following, stats, trace), (cell, problem.reward[nxt], active)

    zeros = jnp.zeros((config.policy_hidden,), jnp.float32)
    (_, _, cell, batch_stats, trace), (inputs, rewards, active) = jax.lax.scan(
        one, (zeros, zeros, state.cell, state.batch_stats, state.trace), noise
    )
    weight = active.astype(jnp.float32)
    advantage = (rewards - config.baseline) * weight

    def loss(params):
        xs = jax.vmap(lambda cl: encode_one(params["encoder"], state.batch_stats, cl)[0])(inputs)
        means = reinforce.policy_means(params["policy"], xs, config.policy_hidden)
        surrogate = jnp.sum(noise * means, axis=1)  # its gradient is that of log N(a; mu, I) at a = mu + noise
        return jnp.sum(-surrogate * advantage) / jnp.maximum(weight.sum(), 1.0)

    grads = jax.grad(loss)(p)
    params, opt_state = {}, {}
    for name, opt in _optimizers(config).items():
        updates, opt_state[name] = opt.update(grads[name], state.opt_state[name], p[name])
        params[name] = optax.apply_updates(p[name], updates)
    return state.replace(
        key=key,
        params=params,
        batch_stats=batch_stats,
        opt_state=opt_state,
        cell=cell,
        episodes=state.episodes + 1,
        trace=trace,
    )
