"""Running a strategy to its budget, for one seed or many at once.

A strategy is a module (or any object) with:

- `Config`: a frozen, hashable dataclass of its settings (it is a static argument of jit);
- `init(key, problem, config) -> State`: a pytree with a `trace: Trace` field;
- `step(state, problem, config) -> State`: one round (one query, an episode, a batch of proposals),
  recording its queries in `state.trace` (which ignores queries past the budget).

`run` loops `step` until the trace says the budget is spent; `run_seeds` is `jit(vmap(run))` over
a vector of keys, optionally sharded over a device mesh (seeds split across devices, the problem
replicated). Finished seeds inside a vmapped batch keep stepping until the slowest is done, but
their traces no longer change.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .problem import Problem, Trace


class Strategy(Protocol):
    Config: type

    def init(self, key: jax.Array, problem: Problem, config: Any) -> Any: ...

    def step(self, state: Any, problem: Problem, config: Any) -> Any: ...


def run(strategy: Strategy, key: jax.Array, problem: Problem, config: Any) -> Any:
    """One seed from `init` to the end of the budget (pure; jit it from outside)."""
    state = strategy.init(key, problem, config)
    return jax.lax.while_loop(
        lambda s: ~s.trace.done(problem),
        lambda s: strategy.step(s, problem, config),
        state,
    )


@partial(jax.jit, static_argnums=(0, 3))
def _run_batch(strategy: Strategy, keys: jax.Array, problem: Problem, config: Any) -> Any:
    return jax.vmap(lambda k: run(strategy, k, problem, config))(keys)


def seed_keys(seeds: int | np.ndarray, base_seed: int = 0) -> jax.Array:
    """One key per seed: `fold_in(PRNGKey(base_seed), seed)`, so seed i is the same run whatever the batch."""
    ids = jnp.arange(seeds) if np.ndim(seeds) == 0 else jnp.asarray(seeds)
    base = jax.random.PRNGKey(base_seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(ids)


def run_seeds(
    strategy: Strategy,
    keys: jax.Array,
    problem: Problem,
    config: Any,
    mesh: Mesh | None = None,
) -> Any:
    """All seeds as one batched computation; with `mesh`, seeds are split over its first axis."""
    if mesh is None:
        return _run_batch(strategy, keys, problem, config)
    axis = mesh.axis_names[0]
    n_dev = mesh.shape[axis]
    n = keys.shape[0]
    pad = (-n) % n_dev
    if pad:  # every device gets the same number of seeds; the extra ones are dropped after
        keys = jnp.concatenate([keys, keys[:pad]])
    keys = jax.device_put(keys, NamedSharding(mesh, PartitionSpec(axis)))
    problem = jax.device_put(problem, NamedSharding(mesh, PartitionSpec()))
    out = _run_batch(strategy, keys, problem, config)
    return jax.tree_util.tree_map(lambda x: x[:n], out) if pad else out


def final_trace(states: Any) -> Trace:
    return states.trace
