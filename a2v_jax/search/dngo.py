"""DNGO (Snoek et al. 2015) over architecture embeddings: Bayesian optimisation with a neural basis.

Each round, as the published arch2vec-DNGO does it: retrain a one-hidden-layer net
(Linear(d -> 128) -> tanh -> Linear(128 -> 1)) from scratch on every observation so far, fit a
Bayesian linear regression on its 128 tanh features (`blr`), score every cell of the space by
expected improvement and query the top k. 16 random cells start the search and count in the budget.

The training loop is pybnn's: inputs z-scored with the observations' mean and (population) std,
outputs left as they are (`normalize_output=False`), MSE, Adam (lr 1e-2, no decay, no schedule),
100 epochs of minibatches of 10 drawn from a fresh shuffle each epoch, the last incomplete batch
dropped (all observations in one batch when there are at most 10), PyTorch's default initialisers.
The BLR has no bias feature (the net's output layer is discarded). Hyperparameters come from
Nelder-Mead from a prior draw (`blr.fit`, SciPy `fmin` semantics).

Everything is fixed-shape so that one seed is a pure function and many seeds are `vmap`: the
observations are the trace itself (capacity `problem.max_queries`, masked beyond `trace.count`),
an epoch is a `fori_loop` over `count // 10` batches (under vmap: as many as the largest seed
needs, the others masked), and the scoring runs over blocks of `chunk` cells with `lax.map`, keeping
each block's top k, so [seeds x cells x 128] is never materialised (NB101 has 423,624 cells).

Presets (`Config.preset`):

- `reference` reproduces the published code, quirks included:
  * EI is computed with the predictive VARIANCE where the standard deviation belongs
    (u = (mean - target) / var, EI = var * (pdf(u) + u cdf(u))), in float32 as torch does, so EI
    underflows to exactly 0 far below the target;
  * the EI target is fixed (0.95 NB101 and DARTS, 1.0 NB201), not the best observation;
  * the "already visited" test compares tensors by identity and never matches: cells already
    queried are proposed, queried and charged again, and enter the training set again. On
    NB201 this rarely happens in practice: with learned arch2vec embeddings (NB201 pretraining,
    reference preset, seed 0) the reference preset re-proposed 0-2 cells per CIFAR-10 seed (8
    seeds, 82-88 proposals each), and the published code itself, run on the same data and
    embeddings, 3 of 85 (CIFAR-10) and 2 of 101 (CIFAR-100); on embeddings extracted with the
    published pretraining code, 1 of 80 and 0 of 79 (ours: 0-2 of 78-82); 500 seeds of the
    reference preset: 0.97 a seed (0-5). The fitted noise variance is large (log sigma^2 up
    to -0.4), and EI with a target of 1.0 far above every predicted mean favours little
    explored cells, so the argmax seldom lands on a cell already queried. (An earlier count of
    21-54 repeats a seed for the published code could not be reproduced this way; see
    benchmarks/results/bo/published_code_check.md.)
  * the marginal likelihood uses ||y - Phi m|| (not squared) and log(det K + 1e-10) with det K in
    float32, which overflows (objective +inf) whenever log det K > 88.7; when the prior draw and its
    simplex lie in that region, Nelder-Mead never leaves it and the hyperparameters stay the draw;
  * the k proposals of a round are queried in ascending EI order (`argsort(ei)[-k:]`), so a budget
    running out mid-round drops the best-scored ones;
  * NB101 only (`same_fit_key`): the DNGO's NumPy generator is re-seeded with the run seed every
    round, so the minibatch shuffles restart from the same stream each round (here: the same
    key; the prior draw also depends on the observation count, as NumPy's position in that stream
    does).
- `fixed`: EI with the standard deviation (ranked by a log-EI that stays finite far in the tail),
  target = the best reward observed so far, cells already queried excluded, the exact marginal
  likelihood, proposals in descending EI order.

Not reproduced: the published code's float32 rounding (its K = beta Phi^T Phi + alpha I is formed in
float32 and inverted in float64; here one float32 eigendecomposition per fit); torch's unstable
argsort, whose order among exactly tied EI values is implementation-defined (here: lower cell
index first); the NB201 script's shuffle of the cell order, which only changes which cell wins such
ties and which random cells start the search (here: a uniform draw of 16 distinct cells). The
published loop counts all 16 initial cells even past the budget; here the trace stops at the budget
(a budget smaller than 16 queries is the only case where this differs).
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial

import jax
import jax.numpy as jnp
from flax import struct

from .. import presets
from . import blr
from .problem import Problem, Trace
from .strategy import StrategyConfig, check_positive, published, quirk, setting

TITLE = "arch2vec-BO (DNGO: neural-network basis + Bayesian linear regression)"
NEEDS = frozenset({"features"})

QUIRKS = {
    "reference": {
        "ei_scale": "variance",
        "ei_target": "fixed",
        "requery": True,
        "evidence": "reference",
        "proposal_order": "ascending",
        "same_fit_key": presets.only_on("nb101"),
    },
    "fixed": {
        "ei_scale": "std",
        "ei_target": "incumbent",
        "requery": False,
        "evidence": "exact",
        "proposal_order": "descending",
        "same_fit_key": False,
    },
}
_CHOICES = {
    "ei_scale": ("variance", "std"),
    "ei_target": ("fixed", "incumbent"),
    "evidence": blr.OBJECTIVES,
    "proposal_order": ("ascending", "descending"),
}


@dataclasses.dataclass(frozen=True)
class Config(StrategyConfig):
    """DNGO settings; see `StrategyConfig` for how None fields resolve."""

    METHOD = "bo"
    QUIRKS = QUIRKS

    space: str = "nb201"
    preset: str = "fixed"
    top_k: int | None = published("proposals queried per round")
    target: float | None = published("the fixed EI target (used when ei_target is 'fixed')")
    n_init: int = setting(16, "random cells that start the search (counted in the budget)")
    epochs: int = setting(100, "basis-network training epochs per round")
    batch_size: int = setting(10, "basis-network minibatch size")
    lr: float = setting(1e-2, "basis-network Adam learning rate")
    hidden: int = setting(128, "basis-network width (number of BLR features)")
    chunk: int | None = setting(
        None, "cells scored per block (default: 256 on CPU, 2048 on GPU/TPU; memory: seeds x chunk x hidden floats)"
    )
    normalize_output: bool = setting(False, "z-score the rewards before fitting (pybnn's default; arch2vec passes False)")
    ei_scale: str | None = quirk("'variance': EI computed with the predictive variance where the std belongs")
    ei_target: str | None = quirk("'fixed': EI against the fixed target; 'incumbent': against the best reward so far")
    requery: bool | None = quirk("cells already queried can be proposed, queried and charged again")
    evidence: str | None = quirk("'reference': the published marginal likelihood (norm, float32 det); 'exact'")
    proposal_order: str | None = quirk("'ascending': a round's proposals queried worst first (budget cuts the best)")
    same_fit_key: bool | None = quirk("the fit's random stream restarts every round (NB101 script)")

    def validate(self) -> None:
        for name, choices in _CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(f"{name}={getattr(self, name)!r}; choose one of {choices}")
        check_positive(self, "top_k", "n_init", "epochs", "batch_size", "hidden")
        if self.chunk is not None:
            check_positive(self, "chunk")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")


# The two batching knobs, by platform (benchmarks/bench_dngo.py measures them). On CPU, blocks of a
# few hundred cells keep a block's [seeds, cells, hidden] activations near the caches, and chunks of
# SEED_CHUNK_CPU seeds (per device) keep a chunk's per-round arrays there (the runner packs the
# seeds still running into as few chunks as they fill between segments). On accelerators, larger
# blocks, and seeds chunked only when a block's activations would pass ACCELERATOR_BLOCK_FLOATS
# (NB101: 423,624 cells; 5,000 seeds).
CELL_CHUNK_CPU = 256
CELL_CHUNK_ACCELERATOR = 2048
SEED_CHUNK_CPU = 50
ACCELERATOR_BLOCK_FLOATS = 1 << 28  # 1 GiB of float32 per [seeds, cells, hidden] intermediate


def cell_chunk(config: Config, platform: str | None = None) -> int:
    """Cells scored per block: `config.chunk`, else the platform's default."""
    if config.chunk:
        return int(config.chunk)
    platform = platform or jax.default_backend()
    return CELL_CHUNK_CPU if platform == "cpu" else CELL_CHUNK_ACCELERATOR


def seed_chunk(problem: Problem, config: Config, platform: str) -> int | None:
    """Seeds per device vmapped together (the runner's default `seed_chunk`); None: all at once."""
    if platform == "cpu":
        return SEED_CHUNK_CPU
    block = min(cell_chunk(config, platform), problem.num_cells) * config.hidden
    return max(1, ACCELERATOR_BLOCK_FLOATS // block)


@struct.dataclass
class State:
    key: jax.Array
    fit_key: jax.Array  # the per-run key reused every round when `same_fit_key`
    trace: Trace
    rounds: jax.Array  # rounds run before the budget was spent (int32)
    theta: jax.Array  # [2] last fitted (log alpha, log sigma^2)
    theta0: jax.Array  # [2] the prior draw the last fit started from


def init(key: jax.Array, problem: Problem, config: Config) -> State:
    """Query `n_init` distinct uniformly random cells."""
    k_cells, k_run, k_fit = jax.random.split(key, 3)
    n_init = min(config.n_init, problem.num_cells)
    cells = jax.random.choice(k_cells, problem.num_cells, (n_init,), replace=False)
    trace = Trace.empty(problem).record_many(problem, cells.astype(jnp.int32))
    nan2 = jnp.full((2,), jnp.nan, jnp.float32)
    return State(key=k_run, fit_key=k_fit, trace=trace, rounds=jnp.zeros((), jnp.int32), theta=nan2, theta0=nan2)


# ---------------------------------------------------------------------------------------------
# The basis network


def init_net(key: jax.Array, d: int, hidden: int) -> dict[str, jax.Array]:
    """PyTorch's nn.Linear defaults: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    a, b = 1.0 / math.sqrt(d), 1.0 / math.sqrt(hidden)
    return {
        "w1": jax.random.uniform(k1, (d, hidden), jnp.float32, -a, a),
        "b1": jax.random.uniform(k2, (hidden,), jnp.float32, -a, a),
        "w2": jax.random.uniform(k3, (hidden,), jnp.float32, -b, b),
        "b2": jax.random.uniform(k4, (), jnp.float32, -b, b),
    }


def basis(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    return jnp.tanh(x @ params["w1"] + params["b1"])


def _sum_rows(a: jax.Array) -> jax.Array:
    """a[0] + a[1] + ... + a[-1], added in that order by elementwise adds.

    XLA:CPU emits a `reduce` as a loop whose adds it lets LLVM reassociate, and how it regroups them
    depends on the shapes around it: with or without a vmapped batch axis a seed's sums would
    round differently. A chain of elementwise adds has one order.
    """
    out = a[0]
    for i in range(1, a.shape[0]):
        out = out + a[i]
    return out


def _batch_grads(params, x, y, mask):
    """Gradients of the minibatch MSE, sum((out - y)^2) / m over the m rows in `mask`.

    The backward pass of Linear -> tanh -> Linear written out. The sums over the minibatch rows of
    the [rows, H] terms are chains of adds (`_sum_rows`): as `reduce`s (or as the `dot`s `jax.grad`
    makes of them) they round differently with and without a vmapped batch axis. The sums over
    features, and the row sum of the first layer's [rows, d, H] products, are `reduce`s, which
    XLA:CPU emits the same way in both (tests/test_dngo.py checks a seed alone against batches,
    chunks and a mesh). That one must be a `reduce`: as a chain of adds, XLA fuses it into each of
    its three consumers (Adam's m, v and the parameter update) and computes it three times; a
    `reduce` is computed once, which makes a round's training about 30% faster.
    """
    w1, b1, w2 = params["w1"], params["b1"], params["w2"]
    h = jnp.tanh(jnp.sum(x[:, :, None] * w1[None], axis=1) + b1)  # [bs, H]
    out = jnp.sum(h * w2, axis=-1) + params["b2"]
    err = jnp.where(mask, out - y, 0.0)
    dout = err * (2.0 / jnp.maximum(jnp.sum(mask), 1))  # [bs]
    dpre = dout[:, None] * w2 * (1.0 - h * h)  # [bs, H]
    return {
        "w1": jnp.sum(x[:, :, None] * dpre[:, None, :], axis=0),
        "b1": _sum_rows(dpre),
        "w2": _sum_rows(dout[:, None] * h),
        "b2": _sum_rows(dout),
    }


def epoch_permutation(key: jax.Array, n: jax.Array, size: int) -> jax.Array:
    """A uniformly random order of rows 0..n-1, followed by rows n..size-1 in order.

    Sorting random keys with the row index packed into their low bits: one single-operand sort of
    int32 is about 4x cheaper on CPU than `argsort` of floats (which sorts keys and indices
    together), and it is done once per epoch, 100 times a round. Rows whose random bits tie (2^-(31 -
    log2 size) per pair) keep their index order.
    """
    idx_bits = max(1, (size - 1).bit_length())
    if idx_bits > 24:
        raise ValueError(f"too many observation slots for one sort key: {size}")
    rand_bits = 31 - idx_bits
    rows = jnp.arange(size, dtype=jnp.uint32)
    bits = jax.random.bits(key, (size,), jnp.uint32) >> (32 - rand_bits)
    packed = jnp.where(rows < n, bits << idx_bits, jnp.uint32(1 << 31)) | rows
    return (jnp.sort(packed) & jnp.uint32((1 << idx_bits) - 1)).astype(jnp.int32)


def train_net(
    key_init: jax.Array, shuffle_keys: jax.Array, x: jax.Array, y: jax.Array, n: jax.Array, config: Config
) -> tuple[dict[str, jax.Array], jax.Array]:
    """Adam on minibatches of the first n rows of x [C, d], y [C]; one shuffle key per epoch.

    Batches: `batch_size` rows of a fresh permutation, n // batch_size of them (the remainder is
    dropped), or one batch of all n rows when n <= batch_size. Returns (params, Adam steps taken).
    """
    cap = x.shape[0]
    bs = config.batch_size
    small = n <= bs
    n_batches = jnp.where(small, 1, n // bs)
    in_batch = jnp.arange(bs) < jnp.where(small, n, bs)
    pad = max(bs - cap, 0)  # tiny capacities: keep dynamic_slice in bounds
    params = init_net(key_init, x.shape[1], config.hidden)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, config.lr

    def batch_step(perm, b, carry):
        params, m, v, t, p1, p2 = carry
        idx = jax.lax.dynamic_slice(perm, (b * bs,), (bs,))
        g = _batch_grads(params, x[idx], y[idx], in_batch)
        # b1^t and b2^t by running products, not pow: XLA:CPU evaluates pow of a scalar and of a
        # vector of seeds with different code, and a seed's numbers must not depend on its batch.
        t, p1, p2 = t + 1, p1 * b1, p2 * b2
        m = jax.tree_util.tree_map(lambda m_, g_: b1 * m_ + (1 - b1) * g_, m, g)
        v = jax.tree_util.tree_map(lambda v_, g_: b2 * v_ + (1 - b2) * g_ * g_, v, g)
        # Adam with bias corrections: p - lr m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps). The
        # per-seed scalars are applied as explicit products: XLA rewrites a division by a
        # broadcast scalar into a product with its reciprocal when a batch axis is present, and
        # not without one (and 1 / sqrt(.) into an rsqrt whose rounding differs).
        step_size = lr / (1 - p1)
        inv_bc2 = 1 / (1 - p2)
        new_params = jax.tree_util.tree_map(
            lambda p, m_, v_: p - step_size * m_ / (jnp.sqrt(v_ * inv_bc2) + eps), params, m, v
        )
        new = (new_params, m, v, t, p1, p2)
        # The step is taken only inside the seed's own trip count. Under vmap the loop runs as long
        # as the longest seed and JAX adds this very select; writing it here keeps the program of
        # a seed alone the same as that of a seed in a batch.
        return jax.tree_util.tree_map(lambda a, c: jnp.where(b < n_batches, a, c), new, carry)

    def epoch(carry, key):
        perm = jnp.minimum(epoch_permutation(key, n, cap + pad), cap - 1)
        return jax.lax.fori_loop(0, n_batches, partial(batch_step, perm), carry), None

    one = jnp.ones((), jnp.float32)
    init = (params, zeros, zeros, jnp.zeros((), jnp.int32), one, one)
    (params, _, _, steps, _, _), _ = jax.lax.scan(epoch, init, shuffle_keys)
    return params, steps


# ---------------------------------------------------------------------------------------------
# Acquisition

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def ei_reference(mean: jax.Array, var: jax.Array, target: jax.Array) -> jax.Array:
    """The published acquisition, with the variance in place of the standard deviation.

    Written as torch evaluates it in float32: cdf = (1 + erf(u / sqrt 2)) / 2 and
    pdf = exp(log_prob(u)), so far below the target both round to 0 and so does EI.
    """
    var = jnp.maximum(var, jnp.finfo(jnp.float64).eps)  # pybnn clips at float64 eps
    u = (mean - target) / var
    cdf = 0.5 * (1.0 + jax.lax.erf(u / math.sqrt(2.0)))
    pdf = jnp.exp(-0.5 * u * u - _LOG_SQRT_2PI)
    return var * (pdf + u * cdf)


def log_ei(mean: jax.Array, std: jax.Array, target: jax.Array) -> jax.Array:
    """log of standard EI, s * (pdf(u) + u cdf(u)) with u = (mean - target) / s, finite for any u.

    For u < -8 the direct form cancels (pdf and u cdf agree to many digits) and underflows; there
    log(pdf(u) + u cdf(u)) = log pdf(u) - 2 log|u| + log(1 - 3/u^2 + 15/u^4 - 105/u^6) (the
    asymptotic series of the Mills ratio, relative error < 1e-4 at u = -8).
    """
    u = (mean - target) / std
    direct = jnp.log(jnp.maximum(jnp.exp(-0.5 * u * u - _LOG_SQRT_2PI) + u * jax.scipy.special.ndtr(u), 1e-38))
    w = 1.0 / (u * u)
    tail = -0.5 * u * u - _LOG_SQRT_2PI - jnp.log(u * u) + jnp.log1p(w * (-3.0 + w * (15.0 - 105.0 * w)))
    return jnp.log(std) + jnp.where(u < -8.0, tail, direct)


def acquisition(mean: jax.Array, var: jax.Array, target: jax.Array, config: Config) -> jax.Array:
    """A score whose order is EI's order (EI itself in the reference, log EI otherwise)."""
    if config.ei_scale == "variance":
        return ei_reference(mean, var, target)
    return log_ei(mean, jnp.sqrt(var), target)


# ---------------------------------------------------------------------------------------------
# One round


def _fold_normalisation(params, mu, inv_sd):
    """First layer on raw features: ((x - mu) / sd) W + b = x (W / sd) + (b - (mu / sd) W)."""
    w1 = params["w1"] * inv_sd[:, None]
    return w1, params["b1"] - jnp.sum((mu * inv_sd)[:, None] * params["w1"], axis=0)


def score_top_k(
    problem: Problem,
    w1: jax.Array,
    b1: jax.Array,
    post: blr.Posterior,
    y_shift: jax.Array,
    y_scale: jax.Array,
    target: jax.Array,
    exclude: jax.Array | None,
    config: Config,
) -> tuple[jax.Array, jax.Array]:
    """Top-k cells by acquisition, scanning the cells in blocks; returns (scores, cells), best first.

    Ties go to the lower cell index (each block's top_k prefers lower positions, and blocks are
    merged in order).
    """
    n_cells = problem.num_cells
    chunk = min(cell_chunk(config), n_cells)
    n_chunks = -(-n_cells // chunk)
    k = min(config.top_k, n_cells)
    # var = 1/beta + sum_i (V^T phi)_i^2 / kappa_i  =  1/beta + ||phi @ A||^2 with A = V diag(kappa^-1/2)
    a = post.vecs * jnp.sqrt(post.inv_kappa)[None, :]

    def block(i):
        start = jnp.minimum(i * chunk, n_cells - chunk)  # the last block overlaps the one before
        x = jax.lax.dynamic_slice_in_dim(problem.features, start, chunk)
        cells = start + jnp.arange(chunk, dtype=jnp.int32)
        phi = jnp.tanh(x @ w1 + b1)
        mean = phi @ post.weights
        z = phi @ a
        var = post.noise + jnp.sum(z * z, axis=-1)
        mean, var = mean * y_scale + y_shift, var * y_scale**2
        score = acquisition(mean, var, target, config)
        ok = cells >= i * chunk
        if exclude is not None:
            ok = ok & ~exclude[cells]
        score = jnp.where(ok, score, -jnp.inf)
        vals, pos = jax.lax.top_k(score, k)
        return vals, cells[pos]

    vals, cells = jax.lax.map(block, jnp.arange(n_chunks))
    vals, cells = vals.reshape(-1), cells.reshape(-1)
    best, pos = jax.lax.top_k(vals, k)
    return best, cells[pos]


def _masked_stats(x: jax.Array, mask: jax.Array, n: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean and 1 / (population std) over the rows in `mask` (a constant column gets 1: the
    published code would divide by zero). Reciprocals are formed once and multiplied: XLA turns a
    division by a broadcast value into such a product when a batch axis is present, and not without."""
    inv_n = 1.0 / jnp.maximum(n, 1).astype(x.dtype)
    w = mask.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))
    mu = jnp.sum(x * w, axis=0) * inv_n
    sd = jnp.sqrt(jnp.sum(((x - mu) * w) ** 2, axis=0) * inv_n)
    return mu, jnp.where(sd > 0, 1.0 / jnp.where(sd > 0, sd, 1.0), 1.0)


def fit_model(key: jax.Array, fit_key: jax.Array, trace: Trace, problem: Problem, config: Config):
    """Train the basis net and fit the BLR on the trace's observations.

    Returns (w1, b1) for raw features, the posterior, output shift/scale, and the NM result.
    """
    cap = trace.index.shape[0]
    n = trace.count
    valid = jnp.arange(cap) < n
    cells = jnp.where(valid, trace.index, 0)
    x = problem.features[cells]
    y = problem.reward[cells]
    mu, inv_sd = _masked_stats(x, valid, n)
    xn = jnp.where(valid[:, None], (x - mu) * inv_sd, 0.0)
    if config.normalize_output:
        y_shift, inv_y_scale = _masked_stats(y, valid, n)
        y_scale = 1.0 / inv_y_scale
    else:
        y_shift, y_scale = jnp.zeros((), jnp.float32), jnp.ones((), jnp.float32)
    yn = jnp.where(valid, (y - y_shift) * (1.0 / y_scale), 0.0)

    k_net, k_round = jax.random.split(key)
    if config.same_fit_key:
        k_shuffle, k_prior = jax.random.split(fit_key)
        k_prior = jax.random.fold_in(k_prior, n)
    else:
        k_shuffle, k_prior = jax.random.split(k_round)
    params, _ = train_net(k_net, jax.random.split(k_shuffle, config.epochs), xn, yn, n, config)

    dsg = blr.design(basis(params, xn), yn, valid)
    theta0 = blr.sample_prior(k_prior)
    res = blr.fit(theta0, dsg, config.evidence)
    post = blr.posterior_from_theta(dsg, res.x)
    w1, b1 = _fold_normalisation(params, mu, inv_sd)
    return w1, b1, post, y_shift, y_scale, res, theta0


def propose(state: State, problem: Problem, config: Config) -> tuple[State, jax.Array, jax.Array, jax.Array]:
    """One round up to the proposals: (state with the new key, cells, valid mask, scores), in query order.

    Without requeries a proposal is valid only if it was not queried before; if no such cell is
    left at all (only possible with more queries allowed than cells) the proposals are repeats,
    so that the search still moves toward its budget.
    """
    key, k_round = jax.random.split(state.key)
    trace = state.trace
    w1, b1, post, y_shift, y_scale, res, theta0 = fit_model(k_round, state.fit_key, trace, problem, config)
    if config.ei_target == "fixed":
        target = jnp.asarray(config.target, jnp.float32)
    else:
        target = trace.best_reward_now
    exclude = None if config.requery else trace.visited
    scores, cells = score_top_k(problem, w1, b1, post, y_shift, y_scale, target, exclude, config)
    valid = (scores > -jnp.inf) | jnp.all(scores == -jnp.inf)
    if config.proposal_order == "ascending":
        cells, valid, scores = cells[::-1], valid[::-1], scores[::-1]
    # Vmapped seeds that are done keep stepping with the others: such rounds neither count nor
    # overwrite the last real fit (a seed run alone would have stopped).
    live = ~trace.done(problem)
    new = state.replace(
        key=key,
        rounds=state.rounds + live.astype(jnp.int32),
        theta=jnp.where(live, res.x.astype(jnp.float32), state.theta),
        theta0=jnp.where(live, theta0, state.theta0),
    )
    return new, cells, valid, scores


def step(state: State, problem: Problem, config: Config) -> State:
    """One round: retrain, fit, score every cell, query the top k (the trace stops at the budget)."""
    state, cells, valid, _ = propose(state, problem, config)
    return state.replace(trace=state.trace.record_many(problem, cells, None if config.requery else valid))
