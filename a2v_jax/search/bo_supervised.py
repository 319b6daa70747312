"""Supervised-BO: DNGO whose basis network is a GIN trained from scratch on the queried cells.

The supervised counterpart of arch2vec-BO (paper Table 2 "BO (ours) Supervised"; published
`search_methods/supervised_dngo.py` with `pybnn/dngo_supervised.py`, NB101 only there). Each round:

1. a fresh network, the GIN of `supervised_encoder` (4 layers, hidden 128, dim 16, mean over
   vertices) -> tanh -> Linear(16 -> 1), is trained on every observation so far as pybnn trains
   DNGO's net (`dngo`): MSE, Adam lr 1e-2, 100 epochs of minibatches of 10 from a fresh shuffle each
   epoch, the last incomplete batch dropped, all observations in one batch when there are at most 10;
   rewards used as they are (`normalize_output=False`);
2. Bayesian linear regression (`blr`) on the 16 tanh features of the observations (no bias
   feature; hyperparameters by Nelder-Mead from a prior draw, as `dngo`);
3. every cell of the space is scored by expected improvement in one batched pass over blocks of
   cells, and the top k cells not queried yet are queried, best first (`propose_location` walks the
   argsort from the top and skips visited cells: unlike the published `dngo.py`, this check works).

16 distinct random cells start the search and count in the budget.

What the published code does and how each preset handles it:

| behaviour of the published code | `reference` | `fixed` |
|---|---|---|
| `u = mean - torch.Tensor([0.95]) / sigma`: operator precedence makes u = mean - target / sigma, not (mean - target) / sigma; and sigma is the predictive VARIANCE (`predict` returns variances), so EI = var (pdf(u) + u cdf(u)) with u = mean - target / var | `ei_form="published"`, in float32 as torch evaluates it | standard EI with the standard deviation (ranked by log EI, `dngo.log_ei`) |
| fixed EI target (0.95 in the NB101 script) | `ei_target="fixed"` (the space's published target; NB201, where no supervised script exists: arch2vec's NB201 DNGO target 1.0) | the best reward so far |
| the network is never put in eval mode: BatchNorm uses batch statistics when it builds the design matrix (all observations in one batch) and when it scores the space (each block of 512 cells of the once-shuffled cell list has its own statistics, the last block N mod 512 cells) | `train_mode_bn`: blocks of `window` cells of a per-seed random permutation, statistics per block | eval mode: running statistics, learned in training, everywhere |
| the published marginal likelihood (norm, not squared, and log(det K + 1e-10) in float32) | `evidence="reference"` | `"exact"` |
| message passing `matmul(adj, x)`: a vertex sums only its successors | `directed` | A + A^T, arch2vec's encoder |

Not reproduced: the float32/float64 rounding of the published BLR and torch's order among exactly
tied EI values (many cells have EI exactly 0 in the reference form; ties go to the lower cell index
here), as in `dngo`.

Cost: every round trains a GIN for 100 epochs of (observations / 10) minibatches and embeds the
whole space once; per seed and round on NB201 that is about 1.9 GFLOP per embedded cell pass over
15,625 cells... see benchmarks/bench_baselines.py for measured times.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from . import blr, dngo
from . import supervised_encoder as enc
from .cell_encoding import check_cells
from .problem import Problem, Trace
from .strategy import StrategyConfig, check_positive, published, quirk, setting

TITLE = "supervised-BO (DNGO with a GIN basis trained on the queried cells)"
NEEDS = frozenset({"cells"})

QUIRKS = {
    "reference": {"ei_form": "published", "ei_target": "fixed", "evidence": "reference", "train_mode_bn": True,
                  "directed": True},
    "fixed": {"ei_form": "standard", "ei_target": "incumbent", "evidence": "exact", "train_mode_bn": False,
              "directed": False},
}
_CHOICES = {"ei_form": ("published", "standard"), "ei_target": ("fixed", "incumbent"), "evidence": blr.OBJECTIVES}


@dataclasses.dataclass(frozen=True)
class Config(StrategyConfig):
    """Supervised-BO settings; see `StrategyConfig` for how None fields resolve."""

    METHOD = "bo-supervised"
    QUIRKS = QUIRKS

    space: str = "nb201"
    preset: str = "fixed"
    top_k: int | None = published("proposals queried per round")
    target: float | None = published("the fixed EI target (used when ei_target is 'fixed')")
    n_init: int = setting(16, "random cells that start the search (counted in the budget)")
    epochs: int = setting(100, "network training epochs per round")
    batch_size: int = setting(10, "minibatch size")
    lr: float = setting(1e-2, "Adam learning rate")
    hidden: int = setting(128, "GIN width")
    latent: int = setting(16, "embedding dimension (the number of BLR features)")
    layers: int = setting(4, "GIN layers (the published num_hops=5 counts the input)")
    chunk: int = setting(512, "cells per block of the eval-mode scoring pass (memory: seeds x chunk x n x hidden floats)")
    window: int = setting(512, "cells per block whose batch statistics score them when train_mode_bn (the published 512)")
    ei_form: str | None = quirk("'published': u = mean - target / var, EI = var (pdf(u) + u cdf(u)); 'standard'")
    ei_target: str | None = quirk("'fixed': EI against the fixed target; 'incumbent': against the best reward so far")
    evidence: str | None = quirk("'reference': the published marginal likelihood (norm, float32 det); 'exact'")
    train_mode_bn: bool | None = quirk("BatchNorm never in eval mode: batch statistics for the design matrix and per scored block")
    directed: bool | None = quirk("message passing over successors only (matmul(adj, x)) instead of A + A^T")

    def validate(self) -> None:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name}={getattr(self, name)!r}; choose one of {choices}")
        check_positive(self, "top_k", "n_init", "epochs", "batch_size", "hidden", "latent", "layers", "chunk", "window")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


@struct.dataclass
class State:
    key: jax.Array
    perm_key: jax.Array  # the run's shuffle of the cell list (scoring blocks when train_mode_bn)
    trace: Trace
    rounds: jax.Array


def _module(config: Config):
    return enc.encoder(config.hidden, config.latent, config.layers)


def seed_chunk(problem: Problem, config: Config, platform: str) -> int:
    """Seeds per device vmapped together by default: bounded by the whole-space pass's memory."""
    return enc.seed_chunk(problem, config, platform)


def init(key: jax.Array, problem: Problem, config: Config) -> State:
    """Query `n_init` distinct uniformly random cells."""
    check_cells(problem.graphs, "bo-supervised")
    k_cells, k_run, k_perm = jax.random.split(key, 3)
    n_init = min(config.n_init, problem.num_cells)
    cells = jax.random.choice(k_cells, problem.num_cells, (n_init,), replace=False)
    trace = Trace.empty(problem).record_many(problem, cells.astype(jnp.int32))
    return State(key=k_run, perm_key=k_perm, trace=trace, rounds=jnp.zeros((), jnp.int32))


# ---------------------------------------------------------------------------------------------
# The network: GIN -> mean over vertices -> tanh (the BLR's basis) -> Linear(latent -> 1)


def init_model(key: jax.Array, problem: Problem, config: Config) -> tuple[dict[str, Any], Any]:
    """(params {"encoder", "head"}, batch statistics) of a fresh network, PyTorch's initialisers."""
    k_enc, k_w, k_b = jax.random.split(key, 3)
    variables = enc.init_variables(k_enc, _module(config), problem.graphs)
    bound = 1.0 / math.sqrt(config.latent)
    head = {
        "w": jax.random.uniform(k_w, (config.latent,), jnp.float32, -bound, bound),
        "b": jax.random.uniform(k_b, (), jnp.float32, -bound, bound),
    }
    return {"encoder": variables["params"], "head": head}, variables["batch_stats"]


def basis(params, batch_stats, graphs, index, train: bool, config: Config, mask=None):
    """tanh of the embeddings [B, latent] of cells `index`, and the batch statistics after the pass."""
    emb, batch_stats = enc.embed(_module(config), params["encoder"], batch_stats, graphs, index, train, mask)
    return jnp.tanh(emb), batch_stats


def train_model(
    key: jax.Array, shuffle_keys: jax.Array, problem: Problem, cells: jax.Array, y: jax.Array, n: jax.Array,
    config: Config,
) -> tuple[dict[str, Any], Any, jax.Array]:
    """Train a fresh network on the first n of `cells` [C] (targets y [C]): one shuffle key per epoch.

    Returns (params, batch statistics, mean minibatch loss of each epoch [epochs]).
    """
    graphs = enc.message_graphs(problem.graphs, config.directed)
    cap = cells.shape[0]
    bs = config.batch_size
    small = n <= bs
    n_batches = jnp.where(small, 1, n // bs)
    in_batch = jnp.arange(bs) < jnp.where(small, n, bs)
    pad = max(bs - cap, 0)  # tiny capacities: keep dynamic_slice in bounds
    params, batch_stats = init_model(key, problem, config)
    opt = optax.adam(config.lr)  # PyTorch defaults

    def batch_loss(params, stats, index, targets):
        phi, stats = basis(params, stats, graphs, index, True, config, in_batch)
        err = jnp.where(in_batch, phi @ params["head"]["w"] + params["head"]["b"] - targets, 0.0)
        return jnp.sum(err * err) / jnp.maximum(jnp.sum(in_batch), 1), stats

    grad_fn = jax.value_and_grad(batch_loss, has_aux=True)

    def batch_step(perm, b, carry):
        params, stats, opt_state, total = carry
        rows = jax.lax.dynamic_slice(perm, (b * bs,), (bs,))
        (loss, stats), grads = grad_fn(params, stats, cells[rows], y[rows])
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), stats, opt_state, total + loss

    def epoch(carry, k):
        perm = jnp.minimum(dngo.epoch_permutation(k, n, cap + pad), cap - 1)
        params, stats, opt_state = carry
        zero = jnp.zeros((), jnp.float32)
        params, stats, opt_state, total = jax.lax.fori_loop(
            0, n_batches, partial(batch_step, perm), (params, stats, opt_state, zero)
        )
        return (params, stats, opt_state), total / n_batches

    (params, batch_stats, _), losses = jax.lax.scan(epoch, (params, batch_stats, opt.init(params)), shuffle_keys)
    return params, batch_stats, losses


# ---------------------------------------------------------------------------------------------
# Acquisition and scoring

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def ei_published(mean: jax.Array, var: jax.Array, target: jax.Array) -> jax.Array:
    """The published acquisition: u = mean - target / var, EI = var (pdf(u) + u cdf(u)), float32.

    var is clipped at float64 eps first, as pybnn's `predict` does. Far below the target u is a
    huge negative number and both terms round to 0.
    """
    var = jnp.maximum(var, jnp.finfo(jnp.float64).eps)
    u = mean - target / var
    cdf = 0.5 * (1.0 + jax.lax.erf(u / math.sqrt(2.0)))
    pdf = jnp.exp(-0.5 * u * u - _LOG_SQRT_2PI)
    return var * (pdf + u * cdf)


def acquisition(mean: jax.Array, var: jax.Array, target: jax.Array, config: Config) -> jax.Array:
    if config.ei_form == "published":
        return ei_published(mean, var, target)
    return dngo.log_ei(mean, jnp.sqrt(var), target)


def score_top_k(state: State, problem: Problem, graphs, params, batch_stats, post: blr.Posterior, target, config: Config):
    """Top-k cells not queried yet by acquisition, best first: (scores, cells). One pass over the
    space in blocks (`lax.map`), each keeping its own top k; ties go to the lower cell index within
    a block and to the earlier block."""
    n_cells = problem.num_cells
    k = min(config.top_k, n_cells)
    exclude = state.trace.visited
    if config.train_mode_bn:  # blocks of the run's shuffled cell list, each normalised with its own statistics
        size, count = enc.blocks(n_cells, config.window)
        order = jax.random.permutation(state.perm_key, n_cells).astype(jnp.int32)
        order = jnp.concatenate([order, jnp.zeros((count * size - n_cells,), jnp.int32)])
    else:
        size, count = enc.blocks(n_cells, config.chunk)

    def block(i):
        pos = i * size + jnp.arange(size, dtype=jnp.int32)
        real = pos < n_cells
        if config.train_mode_bn:
            cells = order[pos]
            phi, _ = basis(params, batch_stats, graphs, cells, True, config, real)
        else:
            cells = jnp.minimum(pos, n_cells - 1)
            phi, _ = basis(params, batch_stats, graphs, cells, False, config)
        mean, var = blr.predict(post, phi)
        score = acquisition(mean, var, target, config)
        score = jnp.where(real & ~exclude[cells], score, -jnp.inf)
        vals, top = jax.lax.top_k(score, k)
        return vals, cells[top]

    vals, cells = jax.lax.map(block, jnp.arange(count))
    best, pos = jax.lax.top_k(vals.reshape(-1), k)
    return best, cells.reshape(-1)[pos]


def propose(state: State, problem: Problem, config: Config) -> tuple[State, jax.Array, jax.Array, jax.Array]:
    """One round up to the proposals: (state with the new key, cells, valid mask, scores), best first."""
    key, k_net, k_shuffle, k_prior = jax.random.split(state.key, 4)
    trace = state.trace
    cap = trace.index.shape[0]
    n = trace.count
    valid = jnp.arange(cap) < n
    cells = jnp.where(valid, trace.index, 0)
    y = problem.reward[cells]
    graphs = enc.message_graphs(problem.graphs, config.directed)
    params, batch_stats, _ = train_model(
        k_net, jax.random.split(k_shuffle, config.epochs), problem, cells, y, n, config
    )
    phi, _ = basis(params, batch_stats, graphs, cells, config.train_mode_bn, config, valid)
    dsg = blr.design(phi, y, valid)
    res = blr.fit(blr.sample_prior(k_prior), dsg, config.evidence)
    post = blr.posterior_from_theta(dsg, res.x)
    target = jnp.asarray(config.target, jnp.float32) if config.ei_target == "fixed" else trace.best_reward_now
    scores, proposals = score_top_k(state, problem, graphs, params, batch_stats, post, target, config)
    ok = (scores > -jnp.inf) | jnp.all(scores == -jnp.inf)  # nothing unvisited left: repeats, so the search ends
    live = ~trace.done(problem)
    return state.replace(key=key, rounds=state.rounds + live.astype(jnp.int32)), proposals, ok, scores


def step(state: State, problem: Problem, config: Config) -> State:
    """One round: train the network, fit the BLR, score every cell, query the top k."""
    state, cells, ok, _ = propose(state, problem, config)
    return state.replace(trace=state.trace.record_many(problem, cells, ok))
