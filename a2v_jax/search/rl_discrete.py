"""REINFORCE over the discrete encoding: one categorical per vertex op and per edge bit.

The discrete-encoding REINFORCE baseline of paper Table 3 is NAS-Bench-201's (D-X-Y/AutoDL-Projects
`exps/NAS-Bench-201-algos/reinforce.py`, run by `scripts-search/NAS-Bench-201-algos/REINFORCE.sh`):
a table of logits, one categorical over the 5 ops for each of the 6 edges (NB201 puts its ops on
edges; in the project's op-on-node encoding those are vertices 1-6), initialised 1e-3 * N(0, 1),
trained by Adam on -log p(a) (r - b) after every query, with b an exponential moving average of the
rewards (momentum 0.9, `--EMA_momentum`; bias-corrected: numerator and denominator both averaged;
updated with the current reward BEFORE the advantage is taken, so the first advantage is 0).

The learning rate is a required argument of that script. Its docs run it at 0.5, its grid script
sweeps {0.01, 0.02, 0.1, 0.2, 0.5}, and its successor (NATS-Bench, `exps/NATS-algos/reinforce.py`)
runs 0.01. The paper's REINFORCE row (valid / test %, 500 seeds: CIFAR-10 91.03 +- 0.33 /
93.82 +- 0.31, CIFAR-100 72.35 +- 0.63 / 72.13 +- 0.79, ImageNet16-120 45.58 +- 0.62 / 45.30 +- 0.86)
is what 0.01 gives here (reference preset, 100 seeds: 91.07 +- 0.31 / 93.83 +- 0.27,
71.80 +- 0.75 / 71.81 +- 0.80, 45.54 +- 0.51 / 45.65 +- 0.68), and not what 0.5 gives: with
requeries allowed the policy collapses within a few dozen queries and about 80 of a seed's ~100
queries repeat a cell (test 93.14 +- 1.11, 71.00 +- 1.33, 44.79 +- 1.37). So the NB201 profile
says 0.01 (`--set lr=0.5` gives the docs' setting). NAS-Bench-101's (automl/nas_benchmarks `experiment_scripts/run_rl.py`,
from the NAS-Bench-101 paper) is the same with one categorical over the 3 ops of each of the 5
interior vertices and one over {0, 1} for each of the 21 upper-triangular edge bits, logits
initialised to 0, plain gradient ascent with lr 0.1, invalid samples rejected (redrawn, free).

Here both are one strategy over the cells' own encoding (`cell_encoding`, layout "output_last"):
one categorical per vertex position over the ops that occur there in the space, and one per
upper-triangular position over the bit values that occur there; positions where every cell agrees
(NB201's edges, its input and output vertices) have one allowed value and play no part. A query
draws a cell with probability proportional to p(cell) = prod_v p_v(op_v) prod_e p_e(bit_e), i.e. the
factorised policy conditioned on being a cell of the table: a categorical over all cells whose
logits are the flattened encoding times the log-probability table.
On NB201 every configuration of the 6 ops is a cell, so this is exactly sampling the policy; on
NB101 it is the rejection of invalid configurations that nas_benchmarks does, except that each cell
counts as its one stored encoding (nas_benchmarks reaches a cell through any of its isomorphic
labellings and any bits of pruned vertices, so its proposal weights differ). The gradient is that of
log p(a) under the unconditioned policy, as in both published versions. Space settings (profile):
`lr` (0.01 NB201, 0.1 NB101/DARTS), `optimizer` ("adam" NB201, "sgd" NB101/DARTS), `init_std`
(1e-3 NB201, 0 NB101/DARTS).

Presets: `reference` draws from all cells, so a cell can be queried (and charged) again, as both
published versions do; `fixed` draws only among the cells not queried yet.

Not reproduced: AutoDL adds the real seconds each policy step took to the simulated budget
(milliseconds); its rewards are a randomly chosen training seed's accuracy (`is_random=True`), the
tables here hold the mean over seeds, and they are percentages there (fractions here; Adam is scale
invariant up to its eps). AutoDL's budget rule (the query that would cross the budget is kept in the
trace, then the search stops) selects the same queries as the project's rule.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from .cell_encoding import check_cells, encode
from .problem import Problem, Trace
from .strategy import StrategyConfig, published, quirk, setting

TITLE = "REINFORCE over the discrete encoding (a categorical per vertex op and edge bit)"
NEEDS = frozenset({"cells"})
LAYOUT = "output_last"

QUIRKS = {"reference": {"requery": True}, "fixed": {"requery": False}}
OPTIMIZERS = ("adam", "sgd")


@dataclasses.dataclass(frozen=True)
class Config(StrategyConfig):
    METHOD = "rl-discrete"
    QUIRKS = QUIRKS

    space: str = "nb201"
    preset: str = "fixed"
    lr: float | None = published("learning rate of the logits")
    optimizer: str | None = published("'adam' (NAS-Bench-201) or 'sgd' (plain gradient ascent, nas_benchmarks)")
    init_std: float | None = published("logits start as init_std * N(0, 1)")
    momentum: float = setting(0.9, "momentum of the reward baseline's moving average")
    requery: bool | None = quirk("draw from all cells: a cell can be queried, and charged, again")

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r}; choose one of {OPTIMIZERS}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not self.init_std >= 0:
            raise ValueError(f"init_std must be non-negative, got {self.init_std}")


@struct.dataclass
class State:
    key: jax.Array
    logits: Any  # {"ops": [n, K], "edges": [n(n-1)/2, 2]}
    opt_state: Any
    ema_num: jax.Array
    ema_den: jax.Array
    trace: Trace


def _optimizer(config: Config) -> optax.GradientTransformation:
    return optax.adam(config.lr) if config.optimizer == "adam" else optax.sgd(config.lr)


def _encoding(problem: Problem) -> tuple[jax.Array, jax.Array, dict[str, jax.Array]]:
    """Edge bits [N, E], one-hot ops [N, n, K], and which values occur at each position."""
    bits, onehot = encode(problem.graphs, LAYOUT)
    allowed = {"ops": onehot.max(axis=0) > 0, "edges": jnp.stack([(bits == 0).any(axis=0), (bits == 1).any(axis=0)], axis=1)}
    return bits, onehot, allowed


def log_probs(logits: dict[str, jax.Array], allowed: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Per-position log-probabilities over the allowed values (0 where not allowed: never chosen)."""
    out = {}
    for name, lg in logits.items():  # a finite mask value: exp underflows to 0, and no NaN reaches the gradient
        lp = jax.nn.log_softmax(jnp.where(allowed[name], lg, -1e9), axis=-1)
        out[name] = jnp.where(allowed[name], lp, 0.0)
    return out


def cell_log_probs(lp: dict[str, jax.Array], bits: jax.Array, onehot: jax.Array) -> jax.Array:
    """log p(cell) [N] under the factorised policy: the encoding times the log-probability table.

    Written as a product and a sum over the last axis rather than a matrix product: under `vmap` a
    matrix product's summation order depends on how many seeds share it, and a last-bit difference
    can flip a sampled cell, so a seed would not be the same alone and in a batch.
    """
    edges = lp["edges"][:, 0].sum() + jnp.sum(bits * (lp["edges"][:, 1] - lp["edges"][:, 0]), axis=-1)
    return edges + jnp.sum(onehot.reshape(onehot.shape[0], -1) * lp["ops"].reshape(-1), axis=-1)


def init(key: jax.Array, problem: Problem, config: Config) -> State:
    check_cells(problem.graphs, "rl-discrete")
    key, k_ops, k_edges = jax.random.split(key, 3)
    n, k = problem.graphs.num_nodes, problem.graphs.num_ops
    e = n * (n - 1) // 2
    logits = {
        "ops": config.init_std * jax.random.normal(k_ops, (n, k), jnp.float32),
        "edges": config.init_std * jax.random.normal(k_edges, (e, 2), jnp.float32),
    }
    zero = jnp.zeros((), jnp.float32)
    return State(key=key, logits=logits, opt_state=_optimizer(config).init(logits), ema_num=zero, ema_den=zero,
                 trace=Trace.empty(problem))


def step(state: State, problem: Problem, config: Config) -> State:
    """One query drawn from the policy, then one update of the logits."""
    key, k_draw = jax.random.split(state.key)
    bits, onehot, allowed = _encoding(problem)
    trace = state.trace
    scores = cell_log_probs(log_probs(state.logits, allowed), bits, onehot)
    if not config.requery:
        scores = jnp.where(trace.visited & ~trace.done(problem), -jnp.inf, scores)
    cell = jax.random.categorical(k_draw, scores).astype(jnp.int32)
    reward = problem.reward[cell]
    active = ~trace.done(problem)
    trace = trace.record(problem, cell)

    m = config.momentum
    num = m * state.ema_num + (1 - m) * reward
    den = m * state.ema_den + (1 - m)
    advantage = reward - num / den

    def loss(logits):
        lp = log_probs(logits, allowed)
        logp = jnp.sum(onehot[cell] * lp["ops"]) + jnp.sum(jnp.where(bits[cell][:, None] == jnp.arange(2), lp["edges"], 0.0))
        return -logp * advantage

    updates, opt_state = _optimizer(config).update(jax.grad(loss)(state.logits), state.opt_state, state.logits)
    logits = optax.apply_updates(state.logits, updates)
    keep = lambda new, old: jax.tree_util.tree_map(lambda a, b: jnp.where(active, a, b), new, old)  # noqa: E731
    return state.replace(
        key=key,
        logits=keep(logits, state.logits),
        opt_state=keep(opt_state, state.opt_state),
        ema_num=jnp.where(active, num, state.ema_num),
        ema_den=jnp.where(active, den, state.ema_den),
        trace=trace,
    )


def policy_probabilities(state: State, problem: Problem) -> jax.Array:
    """p(cell) [N] of a state's policy over the cells of the table (what a reference-preset draw uses)."""
    bits, onehot, allowed = _encoding(problem)
    return jax.nn.softmax(cell_log_probs(log_probs(state.logits, allowed), bits, onehot))
