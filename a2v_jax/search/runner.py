"""Running a strategy to its budget, for one seed or many at once.

A strategy is a module (or any object) with:

- `Config`: a frozen, hashable dataclass of its settings (it is a static argument of jit);
- `init(key, problem, config) -> State`: a pytree with a `trace: Trace` field;
- `step(state, problem, config) -> State`: one round (one query, an episode, a batch of proposals),
  recording its queries in `state.trace` (which ignores queries past the budget);
- optionally `config_for(space, dataset, preset, **overrides) -> Config`: the published settings
  for a space (see `methods.make_config`).

`run` loops `step` until the trace says the budget is spent; `run_seeds` runs a vector of keys
as one jitted batch (`run_batch`: vmapped init and step inside one while_loop), optionally
sharded over a device mesh (seeds split across devices, the problem replicated). Finished seeds
inside a batch keep stepping until the slowest is done, but their traces no longer change.

`seed_chunk` (added to the first version of this contract) runs the seeds as `lax.map` over chunks
of that many vmapped seeds, inside the same jitted call. Why: per-seed state that every step
reads in full, such as REINFORCE's LSTM weights (295 KB a seed), stops fitting in the CPU cache
at a few hundred seeds, and the batched matrix-vector products then run from memory about three
times slower; chunks also bound memory (visited masks are [seeds, N]) and let slow seeds hold up
only their own chunk. Results do not depend on the chunking: each seed is a function of its key.

`BatchedRun` separates compiling from running (ahead-of-time `lower().compile()`), so that a
progress line and the speed benchmarks can report the two apart.
"""

from __future__ import annotations

import time
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


def run_batch(strategy: Strategy, keys: jax.Array, problem: Problem, config: Any) -> Any:
    """All seeds of `keys` [S] to the end of their budgets (pure; jit it from outside).

    The loop runs outside the vmap, stepping every seed until all are done, instead of vmapping
    `run`: a vmapped while_loop with a per-seed condition must select, at every iteration and for
    every field of the state, between the stepped and the unchanged value, which for the visited
    masks means reading and writing [S, N] booleans per query (212 MB for 500 NB101 seeds: it made
    random search there 10x slower). Seeds that are done keep stepping, but their traces no longer
    change (`Trace.record` ignores queries past the budget). So a seed's trace is the same alone or
    in any batch; the rest of a finished seed's state (policy weights, keys) is unspecified.
    """
    states = jax.vmap(lambda k: strategy.init(k, problem, config))(keys)
    step = jax.vmap(lambda s: strategy.step(s, problem, config))
    all_done = lambda s: jnp.all(jax.vmap(lambda t: t.done(problem))(s.trace))  # noqa: E731
    return jax.lax.while_loop(lambda s: ~all_done(s), step, states)


@partial(jax.jit, static_argnums=(0, 3, 4))
def _run_batch(strategy: Strategy, keys: jax.Array, problem: Problem, config: Any, chunked: bool) -> Any:
    one = partial(run_batch, strategy, problem=problem, config=config)
    return jax.lax.map(one, keys) if chunked else one(keys)


def seed_keys(seeds: int | np.ndarray, base_seed: int = 0) -> jax.Array:
    """One key per seed: `fold_in(PRNGKey(base_seed), seed)`, so seed i is the same run whatever the batch."""
    ids = jnp.arange(seeds) if np.ndim(seeds) == 0 else jnp.asarray(seeds)
    base = jax.random.PRNGKey(base_seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(ids)


def make_mesh(devices: int | None = None, axis: str = "seeds") -> Mesh:
    """A one-axis mesh over the first `devices` of `jax.devices()` (all of them if None)."""
    available = jax.devices()
    k = len(available) if devices is None else int(devices)
    if k < 1 or k > len(available):
        hint = (
            " (on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=K before starting Python)"
            if available[0].platform == "cpu"
            else ""
        )
        raise ValueError(f"asked for {k} devices, {len(available)} available{hint}")
    return Mesh(np.array(available[:k]), (axis,))


class BatchedRun:
    """A search compiled once for batches of `batch` seeds, run on any such batch of keys.

    mesh: split seeds over its first axis; seed_chunk: see the module docstring. Call `compile()`
    (optional; it returns the seconds it took) and then the object on a [S <= batch] vector of
    keys: it returns the final states, one row per key, in order (short batches are padded with
    repeats of their first keys, whose results are dropped).
    """

    def __init__(
        self,
        strategy: Strategy,
        problem: Problem,
        config: Any,
        batch: int,
        mesh: Mesh | None = None,
        seed_chunk: int | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be positive, got {batch}")
        self.strategy, self.config, self.mesh = strategy, config, mesh
        n_dev = 1 if mesh is None else int(mesh.shape[mesh.axis_names[0]])
        chunk = batch if not seed_chunk or seed_chunk >= batch else int(seed_chunk)
        self.chunk = -(-chunk // n_dev) * n_dev  # every device gets the same share of a chunk
        self.total = -(-batch // self.chunk) * self.chunk
        self.chunked = self.chunk < self.total
        if mesh is not None:
            axis = mesh.axis_names[0]
            self._key_sharding = NamedSharding(mesh, PartitionSpec(None, axis) if self.chunked else PartitionSpec(axis))
            problem = jax.device_put(problem, NamedSharding(mesh, PartitionSpec()))
        self.problem = problem
        self._compiled = None

    def _arrange(self, keys: jax.Array) -> jax.Array:
        n = int(keys.shape[0])
        if n > self.total or n < 1:
            raise ValueError(f"got {n} keys for a batch of at most {self.total}")
        if n < self.total:
            keys = jnp.concatenate([keys, jnp.resize(keys, (self.total - n, *keys.shape[1:]))])
        if self.chunked:
            keys = keys.reshape(self.total // self.chunk, self.chunk, *keys.shape[1:])
        if self.mesh is not None:
            keys = jax.device_put(keys, self._key_sharding)
        return keys

    def compile(self, example_keys: jax.Array | None = None) -> float:
        keys = seed_keys(self.total) if example_keys is None else example_keys
        t0 = time.perf_counter()
        lowered = _run_batch.lower(self.strategy, self._arrange(keys), self.problem, self.config, self.chunked)
        self._compiled = lowered.compile()
        return time.perf_counter() - t0

    def __call__(self, keys: jax.Array) -> Any:
        n = int(keys.shape[0])
        arranged = self._arrange(keys)
        if self._compiled is not None:
            out = self._compiled(arranged, self.problem)
        else:
            out = _run_batch(self.strategy, arranged, self.problem, self.config, self.chunked)
        if self.chunked:
            out = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), out)
        if n < self.total:
            out = jax.tree_util.tree_map(lambda x: x[:n], out)
        return out


def run_seeds(
    strategy: Strategy,
    keys: jax.Array,
    problem: Problem,
    config: Any,
    mesh: Mesh | None = None,
    seed_chunk: int | None = None,
) -> Any:
    """All seeds as one batched computation; with `mesh`, seeds are split over its first axis."""
    return BatchedRun(strategy, problem, config, int(keys.shape[0]), mesh, seed_chunk)(keys)


def final_trace(states: Any) -> Trace:
    return states.trace
