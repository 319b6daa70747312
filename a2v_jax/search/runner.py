"""Running a strategy to its budget, for one seed or many at once, in resumable segments.

The strategy contract is in `strategy`. `run` loops one seed's `step` until its trace says the
budget is spent. `BatchedRun` runs a batch of seeds as one computation:

- `init(keys)`: every seed's initial state (vmapped `init`);
- `advance(states, steps)`: up to `steps` more rounds of every seed, inside one `while_loop` over
  vmapped `step`s that stops early once all seeds are done. `steps` is a traced number, so segments
  of any length reuse one compiled program;
- `status(states)`: whether every seed is done, and the mean share of the budget spent.

A run is a sequence of segments, so the host regains control every second or so: it can show
progress, write a checkpoint of the states, and stop on Ctrl-C without losing what finished.
Splitting the loop changes nothing in the numbers: every segment runs the same compiled step, and a
seed's trace no longer changes once its budget is spent, so a run cut into segments (or interrupted,
saved and resumed) is bitwise the same as one long loop. Seeds that are done keep stepping inside
their batch, but their traces do not change (`Trace.record` ignores queries past the budget); the rest
of a finished seed's state (policy weights, keys) is unspecified.

Why the loop runs outside the vmap (one loop for the batch, not a vmapped per-seed loop): a vmapped
while_loop with per-seed conditions selects, at every iteration and for every field of the state,
between the stepped and the unchanged value; for visited masks that means reading and writing [S, N]
booleans per query (212 MB for 500 NB101 seeds; it made random search there 10x slower).

`seed_chunk` runs the batch as `lax.map` over chunks of that many vmapped seeds, inside the same
compiled call. Per-seed state that every step reads in full (REINFORCE's LSTM weights, 295 KB a
seed) stops fitting in the CPU cache at a few hundred seeds; chunks keep it there and bound memory
(visited masks are [seeds, N]). A chunk loops while any of its seeds runs, so before each segment
the seeds still running are packed into as few chunks as they fill (`pack_order`) and put back
after it: finished seeds stop costing rounds once a whole chunk of them has gathered. Left unset,
the chunk is the strategy's choice for the platform and problem (`default_seed_chunk`), else the
whole batch.

With a device mesh, seeds are split over its first axis with `shard_map`: each device runs the
loop over its own seeds and decides for itself when they are done, so devices never wait for each
other inside a loop (a loop whose condition is reduced over all devices makes every device join a
collective at every iteration of every nested loop; DNGO's nested loops deadlocked that way with two
or more seeds a device). The problem is replicated on every device.

The mesh may span several processes (`a2v_jax.distributed`: one per host, joined by
`jax.distributed`). Then every process runs these same calls on the same host values (keys,
checkpointed states), `a2v_jax.distributed.put` places each process's share on its own devices,
and `to_host` gathers a result from all of them (a collective: every process calls it).

Results do not depend on the batch, the chunking or the sharding: each seed is a function of its
key, `fold_in(PRNGKey(base), seed id)`, and its numbers are the same bits whatever runs beside it.
That takes two things. Strategies write per-seed arithmetic whose lowering does not change with a
vmapped axis (see `dngo` for what XLA:CPU changes). And the programs are compiled with
`compiler_options()`: on CPU without XLA's library fusions (YNNPACK / XNNPACK), which XLA picks by
operand size, so that the same seed would go through different kernels in batches of different
widths.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .. import distributed
from .problem import Problem

ALL_STEPS = 1 << 30  # "run to the end" in one segment

# XLA:CPU chooses its YNNPACK / XNNPACK library fusions by operand size: a seed alone and the same
# seed in a batch of 500 would run through different kernels and round differently. They are
# also slower for the small products searches are made of (DNGO's basis-net training: 10x).
_CPU_COMPILER_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type": "",
    "xla_cpu_experimental_xnn_fusion_type": "",
}


def compiler_options() -> dict[str, Any]:
    """XLA options for the compiled search programs on the default backend."""
    return dict(_CPU_COMPILER_OPTIONS) if jax.default_backend() == "cpu" else {}


def default_seed_chunk(strategy: Any, problem: Problem, config: Any, batch: int, n_devices: int = 1) -> int | None:
    """Seeds per in-graph chunk when the caller gives none: the strategy's `seed_chunk(problem,
    config, platform)` (seeds per device) times the device count, or None (the whole batch at once)."""
    hint = getattr(strategy, "seed_chunk", None)
    per_device = hint(problem, config, jax.default_backend()) if callable(hint) else None
    if not per_device:
        return None
    chunk = int(per_device) * n_devices
    return chunk if chunk < batch else None


def run(strategy: Any, key: jax.Array, problem: Problem, config: Any) -> Any:
    """One seed from `init` to the end of the budget (pure; jit it from outside)."""
    state = strategy.init(key, problem, config)
    return jax.lax.while_loop(
        lambda s: ~s.trace.done(problem),
        lambda s: strategy.step(s, problem, config),
        state,
    )


def _done(states: Any, problem: Problem) -> jax.Array:
    return jax.vmap(lambda t: t.done(problem))(states.trace)


def _init_local(keys: jax.Array, problem: Problem, strategy: Any, config: Any, chunked: bool) -> Any:
    one = jax.vmap(lambda k: strategy.init(k, problem, config))
    return jax.lax.map(one, keys) if chunked else one(keys)


def pack_order(done: jax.Array) -> tuple[jax.Array, jax.Array]:
    """For done flags [chunks, width]: (whether packing saves a chunk, the order that packs).

    The order lists the running seeds first, then the finished ones, each group in its old order
    (a stable sort). Packing is worth its two gathers only when the running seeds occupy more chunks
    than they would fill: then at least one more chunk becomes all finished and its loop is skipped.
    """
    width = done.shape[1]
    running = jnp.sum(~done)
    chunks_running = jnp.sum(~jnp.all(done, axis=1))
    worth = chunks_running > (running + width - 1) // width
    return worth, jnp.argsort(done.reshape(-1), stable=True)


def _advance_local(states: Any, problem: Problem, steps: jax.Array, strategy: Any, config: Any, chunked: bool) -> Any:
    """Up to `steps` rounds of every seed. Chunked, the seeds still running are first packed into
    as few chunks as they fill: a chunk loops while any of its seeds runs, and every seed in it pays
    for each round, so without packing the stragglers of every chunk keep their whole chunk busy
    (DNGO's 500 NB201 seeds need 70 to 96 rounds; in chunks of 50 that costs about 13% more rounds
    than the seeds need). Packing moves whole seeds between chunks and puts them back in their places
    after the segment; a seed's numbers do not depend on what runs beside it, so the traces stay the
    same bits."""
    step = jax.vmap(lambda s: strategy.step(s, problem, config))

    def segment(batch):
        def cond(carry):
            i, s = carry
            return (i < steps) & ~jnp.all(_done(s, problem))

        return jax.lax.while_loop(cond, lambda c: (c[0] + 1, step(c[1])), (jnp.zeros((), jnp.int32), batch))[1]

    if not chunked:
        return segment(states)
    n_chunks, width = jax.tree_util.tree_leaves(states)[0].shape[:2]
    worth, order = pack_order(jax.lax.map(lambda b: _done(b, problem), states))
    back = jnp.argsort(order)

    def permute(tree, idx):
        return jax.tree_util.tree_map(
            lambda x: x.reshape(n_chunks * width, *x.shape[2:])[idx].reshape(x.shape), tree
        )

    packed = jax.lax.cond(worth, lambda t: permute(t, order), lambda t: t, states)
    out = jax.lax.map(segment, packed)
    return jax.lax.cond(worth, lambda t: permute(t, back), lambda t: t, out)


def _progress_local(states: Any, problem: Problem, chunked: bool) -> tuple[jax.Array, jax.Array]:
    """Per seed: done, and the share of the budget spent (time or queries, whichever is further)."""

    def one(batch):
        tr = batch.trace
        share = jnp.maximum(tr.elapsed / problem.max_time, tr.count / problem.max_queries)
        return _done(batch, problem), jnp.minimum(share, 1.0)

    return jax.lax.map(one, states) if chunked else one(states)


def _seed_spec(mesh: Mesh, chunked: bool) -> PartitionSpec:
    axis = mesh.axis_names[0]
    return PartitionSpec(None, axis) if chunked else PartitionSpec(axis)


def _sharded(fn, mesh: Mesh | None, chunked: bool, n_in: int, n_rep: int):
    """`fn` run per device on its share of the seeds (the first `n_in` arguments), the next `n_rep`
    arguments replicated; without a mesh, `fn` itself."""
    if mesh is None:
        return fn
    spec = _seed_spec(mesh, chunked)
    return jax.shard_map(
        fn, mesh=mesh, in_specs=(spec,) * n_in + (PartitionSpec(),) * n_rep, out_specs=spec, check_vma=False
    )


@partial(jax.jit, static_argnames=("strategy", "config", "chunked", "mesh"))
def _init(keys, problem, *, strategy, config, chunked, mesh):
    fn = partial(_init_local, strategy=strategy, config=config, chunked=chunked)
    return _sharded(fn, mesh, chunked, 1, 1)(keys, problem)


@partial(jax.jit, static_argnames=("strategy", "config", "chunked", "mesh"))
def _advance(states, problem, steps, *, strategy, config, chunked, mesh):
    fn = partial(_advance_local, strategy=strategy, config=config, chunked=chunked)
    return _sharded(fn, mesh, chunked, 1, 2)(states, problem, steps)


@partial(jax.jit, static_argnames=("chunked", "mesh"))
def _status(states, problem, *, chunked, mesh):
    fn = partial(_progress_local, chunked=chunked)
    if mesh is not None:
        spec = _seed_spec(mesh, chunked)
        fn = jax.shard_map(fn, mesh=mesh, in_specs=(spec, PartitionSpec()), out_specs=(spec, spec), check_vma=False)
    done, share = fn(states, problem)
    return jnp.all(done), jnp.mean(share)


@partial(jax.jit, static_argnames=("n", "chunked"))
def _rows(states, *, n, chunked):
    """The first `n` rows of every array, chunks [C, S, ...] flattened to [C * S, ...] first."""
    if chunked:
        states = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), states)
    return jax.tree_util.tree_map(lambda x: x[:n], states)


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
    """A search compiled once for batches of `batch` seeds, run in segments on any such batch of keys.

    mesh: split seeds over its first axis; seed_chunk: see the module docstring (None: the
    strategy's default, `default_seed_chunk`). States returned by `init`/`advance` are in the run's
    own arrangement (padded to whole chunks, chunked, sharded); `finish` turns them into one row per
    key, in order. Short batches are padded with repeats of their first keys, whose results are
    dropped. The programs are compiled on first use (or by `compile`) with `compiler_options()`.
    """

    def __init__(
        self,
        strategy: Any,
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
        if seed_chunk is None:
            seed_chunk = default_seed_chunk(strategy, problem, config, batch, n_dev)
        chunk = batch if not seed_chunk or seed_chunk >= batch else int(seed_chunk)
        self.chunk = -(-chunk // n_dev) * n_dev  # every device gets the same share of a chunk
        self.total = -(-batch // self.chunk) * self.chunk
        self.chunked = self.chunk < self.total
        if mesh is not None:
            self._key_sharding = NamedSharding(mesh, _seed_spec(mesh, self.chunked))
            self._replicated = NamedSharding(mesh, PartitionSpec())
            problem = distributed.put(problem, self._replicated)
        self.problem = problem
        self._static = dict(strategy=strategy, config=config, chunked=self.chunked, mesh=mesh)
        self._compiled: dict[str, Any] = {}

    def arrange(self, keys: jax.Array) -> jax.Array:
        """Keys [S <= total] padded, chunked and placed as the compiled functions expect."""
        n = int(keys.shape[0])
        if n > self.total or n < 1:
            raise ValueError(f"got {n} keys for a batch of at most {self.total}")
        if n < self.total:
            keys = jnp.concatenate([keys, jnp.resize(keys, (self.total - n, *keys.shape[1:]))])
        if self.chunked:
            keys = keys.reshape(self.total // self.chunk, self.chunk, *keys.shape[1:])
        if self.mesh is not None:
            keys = distributed.put(keys, self._key_sharding)
        return keys

    def place(self, states: Any) -> Any:
        """States read back from a checkpoint, placed like `init`'s output."""
        if self.mesh is None:
            return jax.tree_util.tree_map(jnp.asarray, states)
        return distributed.put(states, self._key_sharding)

    def _steps(self, steps: int) -> jax.Array:
        value = np.int32(min(int(steps), ALL_STEPS))
        return jnp.asarray(value) if self.mesh is None else distributed.put(value, self._replicated)

    def compile(self, example_keys: jax.Array | None = None) -> float:
        """Compile init, advance and status ahead of time; returns the seconds it took."""
        keys = self.arrange(seed_keys(self.total) if example_keys is None else example_keys)
        t0 = time.perf_counter()
        states = self._program("init", keys)(keys, self.problem)
        self._program("advance", states)
        self._program("status", states)
        return time.perf_counter() - t0

    def _program(self, name: str, first: Any) -> Any:
        """The compiled `name` program (compiled on first use, for arguments like `first`)."""
        if name not in self._compiled:
            options = compiler_options()
            if name == "init":
                lowered = _init.lower(first, self.problem, **self._static)
            elif name == "advance":
                lowered = _advance.lower(first, self.problem, self._steps(1), **self._static)
            else:
                lowered = _status.lower(first, self.problem, chunked=self.chunked, mesh=self.mesh)
            self._compiled[name] = lowered.compile(compiler_options=options or None)
        return self._compiled[name]

    def init(self, keys: jax.Array) -> Any:
        arranged = self.arrange(keys)
        return self._program("init", arranged)(arranged, self.problem)

    def advance(self, states: Any, steps: int) -> Any:
        return self._program("advance", states)(states, self.problem, self._steps(steps))

    def status(self, states: Any) -> tuple[bool, float]:
        """(every seed done, mean share of the budget spent); waits for `states`."""
        done, share = self._program("status", states)(states, self.problem)
        return bool(done), float(share)

    def finish(self, states: Any, n: int) -> Any:
        """One row per key (the first `n`), in key order.

        One compiled program for the whole tree: on a mesh, un-chunking and cutting the padding
        regathers every array, and array by array that would be one program with a collective per
        leaf, dispatched back to back. XLA:CPU runs each device's part of a program as a task of
        one thread pool; with several such programs in flight the pool's threads could all end up
        waiting in different programs' collectives (seen: 4 devices on 2 cores, about 1 run in 5
        aborted by XLA's 40 s rendezvous timeout).
        """
        if not self.chunked and n >= self.total:
            return states
        return _rows(states, n=n, chunked=self.chunked)

    def to_host(self, tree: Any, n: int) -> Any:
        """Numpy copies of arrays in the run's arrangement (e.g. picked from its states), one row
        per key (the first `n`), gathered from every process of a multi-process mesh."""
        tree = distributed.to_host(tree)
        if self.chunked:
            tree = jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), tree)
        return jax.tree_util.tree_map(lambda x: x[:n], tree)

    def __call__(self, keys: jax.Array) -> Any:
        """All seeds of `keys` to the end of their budgets, in one segment."""
        states = self.advance(self.init(keys), ALL_STEPS)
        return self.finish(states, int(keys.shape[0]))


def run_seeds(
    strategy: Any,
    keys: jax.Array,
    problem: Problem,
    config: Any,
    mesh: Mesh | None = None,
    seed_chunk: int | None = None,
) -> Any:
    """All seeds as one batched computation; with `mesh`, seeds are split over its first axis."""
    return BatchedRun(strategy, problem, config, int(keys.shape[0]), mesh, seed_chunk)(keys)
