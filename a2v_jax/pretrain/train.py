"""Pretraining as a pure function of a key: `make_train(config, data) -> train(key, hyper)`.

The whole run of one model (member) is a function of its key and its `Hyper` (learning rate, KL
weight): initial weights, held-out split, batch order, every step's noise and dropout, the
eval-mode switch of the reference preset, the held-out metrics of every epoch and the prior
samples. So `jax.jit(jax.vmap(train))(keys, hypers)` trains K members as one computation; a
member's result does not depend on which others it runs with.

The host needs to look in between (progress, checkpoints, Ctrl-C, validity / uniqueness every N
epochs, a loss that becomes NaN), so the run is cut into the same pieces `train` is made of:

- `Program.init(data, key, hyper) -> TrainState`;
- `Program.advance(state, data, hyper, start, stop)`: global steps [start, stop) as a `lax.scan`
  of `chunk_steps` steps (steps past `stop` are skipped), crossing epoch boundaries freely. The
  step number comes from the scan, never from the (per-member) state, so every branch on it
  (new epoch, eval mode, end of epoch) stays a `lax.cond` under `vmap` instead of becoming a
  select that runs both sides;
- `Program.prior(state, data, epoch)`: decodings of prior samples, hashed on the host
  (`metrics.prior_metrics`); `Program.embed(state, data)`: the embedding of every cell.

Randomness: everything is derived from the member's key by `fold_in` (initial weights, split,
the epoch's batch order, step t's noise from t, epoch e's prior samples from e), so chunk
boundaries and interruptions do not change a single number.

`Program` holds only static settings (hashable): the jitted, vmapped functions at the bottom take
it as a static argument, so runs with the same settings share JAX's compilation cache without a
cache of our own.

Members inside one compiled call (`_over_members`): one `vmap` over all of them, or blocks of
`member_block` members (`vmap` within a block, `lax.map` over blocks). With blocks of one, a
member's numbers are bit for bit those of the same seed alone; a `vmap` over 2 or more members
is bitwise the same for any member count, but XLA compiles a single member's weight-gradient dots
with their operands the other way round, so a lone seed and the same seed in a vmapped batch
differ in the last bits, which Adam amplifies (about 3e-3 in the weights after 5 steps, mostly in
the biases before BatchNorm whose gradient is rounding noise). On 2 CPU cores one member already
keeps 1.7 cores busy and vmapping 8 members cuts the CPU time of a member-step by only a fifth
(benchmarks/results/bench_pretrain_members.json), so blocks of one are the default on CPU: a
seed's bits then do not depend on what it was batched with.

Sharding (`parallel.Layout`): members split over the mesh axis "members" (`shard_map`, each
device running its members as above; XLA compiles that per-device program slightly differently,
so the last bits differ from a one-device run, 1.4e-3 in the embeddings after 12 steps, measured
in tests/test_pretrain_sharding.py), and, with fewer members than
devices, each training batch split over the axis
"data" (a sharding constraint on the batch; XLA then reduces BatchNorm statistics, losses and
gradients across devices).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import PartitionSpec

from ..graphs import GraphSet, index_batches, make_batch
from ..model import GraphAutoencoder, ModelConfig, vae_loss
from .metrics import MomentStats, ReconstructionCounts, decode_latents, prior_latents, reconstruction_counts

# Streams derived from a member's key by fold_in.
KEY_INIT, KEY_ORDER, KEY_STEP, KEY_PRIOR, KEY_SPLIT = range(5)

# XLA:CPU's YNNPACK / XNNPACK library fusions slow these small matmuls down (measured: about 25%
# fewer training steps/s at batch 32); they are switched off for our jitted functions on CPU only.
_CPU_COMPILER_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type": "",
    "xla_cpu_experimental_xnn_fusion_type": "",
}


class _Jit:
    """`jax.jit` built on first use, with the CPU compiler options above when the backend is the
    CPU (deciding at import time would start the backend before XLA_FLAGS can be set)."""

    def __init__(self, fn: Callable, **kwargs: Any) -> None:
        self.fn, self.kwargs, self._jitted = fn, kwargs, None

    def get(self) -> Any:
        if self._jitted is None:
            kwargs = dict(self.kwargs)
            if jax.default_backend() == "cpu":
                kwargs.setdefault("compiler_options", _CPU_COMPILER_OPTIONS)
            self._jitted = jax.jit(self.fn, **kwargs)
        return self._jitted

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.get()(*args, **kwargs)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        return self.get().lower(*args, **kwargs)


def fast_jit(fn: Callable | None = None, **kwargs: Any) -> Any:
    """`jax.jit` with the CPU compiler options above (decorator or call)."""
    if fn is None:
        return partial(fast_jit, **kwargs)
    return _Jit(fn, **kwargs)


# ---------------------------------------------------------------------- state


@struct.dataclass
class Hyper:
    """The per-member hyperparameters a sweep may vary (data, not structure: no recompile)."""

    lr: jax.Array
    kl_weight: jax.Array

    @classmethod
    def of(cls, lr: Any, kl_weight: Any) -> Hyper:
        return cls(jnp.asarray(lr, jnp.float32), jnp.asarray(kl_weight, jnp.float32))


@struct.dataclass
class EpochAccumulator:
    """What an epoch collects while it trains: summed batch losses and the moments of mu."""

    loss: jax.Array  # [4] sums of total, ops, adjacency, kl over batches
    batches: jax.Array  # number of batches summed
    mu: MomentStats

    @classmethod
    def zeros(cls, num_nodes: int, latent: int) -> EpochAccumulator:
        return cls(jnp.zeros((4,), jnp.float32), jnp.zeros((), jnp.float32), MomentStats.zeros(num_nodes, latent))


@struct.dataclass
class EpochRecord:
    """One epoch's on-device metrics; the state holds them stacked, [epochs, ...]."""

    loss: jax.Array  # [4] mean batch losses: total, ops, adjacency, kl
    recon: ReconstructionCounts  # held-out reconstruction, eval mode, after the epoch
    train_mode: jax.Array  # bool: trained in train mode
    done: jax.Array  # bool: the epoch has finished


@struct.dataclass
class TrainState:
    params: Any
    batch_stats: Any
    opt_state: Any
    key: jax.Array  # the member's key (uint32[2])
    train_index: jax.Array  # [num_train] cells trained on (sorted)
    held_out: jax.Array  # [num_held] cells held out (sorted)
    order: jax.Array  # [num_batches, B] the current epoch's batches
    acc: EpochAccumulator  # the current (or just finished) epoch's sums
    history: EpochRecord  # [epochs, ...]
    step: jax.Array  # steps done
    first_nonfinite: jax.Array  # first step whose loss was not finite, -1 if none

    def variables(self) -> dict[str, Any]:
        return {"params": self.params, "batch_stats": self.batch_stats}


def make_optimizer(clip_norm: float = 5.0) -> optax.GradientTransformation:
    """Adam as the published code uses it (betas 0.9/0.999, eps 1e-8, no weight decay) after
    clipping the global gradient norm, without the learning rate: the step multiplies the
    update by -lr itself, so the rate can differ between members (`Hyper`)."""
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8))


def count_params(params: Any) -> int:
    return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(params)))


# ---------------------------------------------------------------------- the program


@dataclass(frozen=True)
class Program:
    """The static settings of a run and the pure per-member functions they define."""

    model: ModelConfig
    num_cells: int
    num_train: int
    batch_size: int
    epochs: int
    clip_norm: float = 5.0
    chunk_steps: int = 200
    eval_batch: int = 2048
    prior_samples: int = 10_000
    readout: str = "mean"
    split_random: bool = False
    reshuffle: bool = False
    eval_after_first_epoch: bool = True
    mu_stats_from_training: bool = True
    layout: Any = None
    """`parallel.Layout` (mesh and axes) or None for one device."""
    member_block: int | None = None
    """Members vmapped together; blocks run one after another (`lax.map`) in the same call."""

    @property
    def num_held(self) -> int:
        return self.num_cells - self.num_train

    @property
    def num_batches(self) -> int:
        return -(-self.num_train // self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.num_batches * self.epochs

    @property
    def module(self) -> GraphAutoencoder:
        return GraphAutoencoder(self.model)

    @property
    def tx(self) -> optax.GradientTransformation:
        return make_optimizer(self.clip_norm)

    def train_mode(self, epoch: int) -> bool:
        """Whether epoch `epoch` (0-based) trains in train mode."""
        return not (self.eval_after_first_epoch and epoch >= 1)

    # ------------------------------------------------------------------ init

    def split(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Training and held-out cells: the first `num_train` by index, or a seeded permutation."""
        if self.split_random:
            order = jax.random.permutation(jax.random.fold_in(key, KEY_SPLIT), self.num_cells)
        else:
            order = jnp.arange(self.num_cells)
        order = order.astype(jnp.int32)
        return jnp.sort(order[: self.num_train]), jnp.sort(order[self.num_train :])

    def epoch_order(self, key: jax.Array, train_index: jax.Array, epoch: Any) -> jax.Array:
        """The epoch's batches [num_batches, B]: a seeded permutation of the training cells, one
        for the whole run (`reshuffle` off, the published behaviour) or one per epoch."""
        k = jax.random.fold_in(key, KEY_ORDER)
        if self.reshuffle:
            k = jax.random.fold_in(k, epoch)
        return index_batches(jax.random.permutation(k, train_index), self.batch_size)[0]

    def batch_masks(self) -> jax.Array:
        """[num_batches, B]: which slots of each batch hold a cell (the last batch may be partial)."""
        return (jnp.arange(self.num_batches * self.batch_size) < self.num_train).reshape(self.num_batches, -1)

    def init(self, data: GraphSet, key: jax.Array, hyper: Hyper) -> TrainState:
        del hyper  # the initial state does not depend on the learning rate or KL weight
        batch = make_batch(data, jnp.zeros((self.batch_size,), jnp.int32))
        variables = self.module.init({"params": jax.random.fold_in(key, KEY_INIT)}, batch.graph, False)
        params = variables["params"]
        train_index, held_out = self.split(key)
        c = self.model
        zero_record = EpochRecord(
            loss=jnp.zeros((4,), jnp.float32),
            recon=ReconstructionCounts(*([jnp.zeros((), jnp.float32)] * 7)),
            train_mode=jnp.zeros((), bool),
            done=jnp.zeros((), bool),
        )
        return TrainState(
            params=params,
            batch_stats=variables.get("batch_stats", {}),
            opt_state=self.tx.init(params),
            key=key,
            train_index=train_index,
            held_out=held_out,
            order=self.epoch_order(key, train_index, 0),
            acc=EpochAccumulator.zeros(c.num_nodes, c.latent),
            history=jax.tree_util.tree_map(lambda x: jnp.zeros((self.epochs, *x.shape), x.dtype), zero_record),
            step=jnp.zeros((), jnp.int32),
            first_nonfinite=jnp.full((), -1, jnp.int32),
        )

    # ------------------------------------------------------------------ training

    def _constrain(self, tree: Any) -> Any:
        """Split a batch over the mesh's data axis (a no-op on one device)."""
        if self.layout is None or self.layout.data_size == 1:
            return tree
        return jax.tree_util.tree_map(lambda x: jax.lax.with_sharding_constraint(x, self.layout.batch_spec(x.ndim)), tree)

    def _loss(self, params, batch_stats, batch, key, kl_weight, train_mode: bool):
        variables = {"params": params, "batch_stats": batch_stats}
        if train_mode:
            noise_key, dropout_key = jax.random.split(key)
            out, updates = self.module.apply(
                variables, batch.graph, True, batch.graph_mask,
                rngs={"noise": noise_key, "dropout": dropout_key}, mutable=["batch_stats"],
            )
            new_stats = updates.get("batch_stats", batch_stats)
        else:
            out = self.module.apply(variables, batch.graph, False, batch.graph_mask)
            new_stats = batch_stats
        weight = kl_weight if self.model.variational else None
        terms = vae_loss(out.ops_logits, out.adj_logits, batch.ops, batch.adjacency, out.mu, out.log_sigma,
                         batch.graph_mask, weight)
        return terms.total, (terms, new_stats, out.mu)

    def _gradients(self, state: TrainState, batch, key, kl_weight, train_mode: bool):
        loss_fn = partial(self._loss, train_mode=train_mode)
        return jax.grad(loss_fn, has_aux=True)(state.params, state.batch_stats, batch, key, kl_weight)

    def _start_epoch(self, state: TrainState, epoch: jax.Array) -> TrainState:
        c = self.model
        order = self.epoch_order(state.key, state.train_index, epoch) if self.reshuffle else state.order
        return state.replace(order=order, acc=EpochAccumulator.zeros(c.num_nodes, c.latent))

    def _end_epoch(self, state: TrainState, data: GraphSet, epoch: jax.Array) -> TrainState:
        acc = state.acc
        record = EpochRecord(
            loss=acc.loss / jnp.maximum(acc.batches, 1.0),
            recon=self.evaluate(state, data, state.held_out),
            train_mode=jnp.asarray(True) if not self.eval_after_first_epoch else epoch == 0,
            done=jnp.asarray(True),
        )
        history = jax.tree_util.tree_map(lambda h, r: h.at[epoch].set(r), state.history, record)
        return state.replace(history=history)

    def _step(self, data: GraphSet, hyper: Hyper, state: TrainState, i: jax.Array) -> TrainState:
        """Global step i (unbatched: it comes from the scan, never from the state)."""
        nb = self.num_batches
        epoch, pos = i // nb, i % nb
        state = jax.lax.cond(pos == 0, self._start_epoch, lambda s, e: s, state, epoch)
        index = jax.lax.dynamic_index_in_dim(state.order, pos, keepdims=False)
        mask = jax.lax.dynamic_index_in_dim(self.batch_masks(), pos, keepdims=False)
        batch = self._constrain(make_batch(data, index, mask))
        key = jax.random.fold_in(jax.random.fold_in(state.key, KEY_STEP), i)
        train = partial(self._gradients, train_mode=True)
        if self.eval_after_first_epoch:
            evaluate = partial(self._gradients, train_mode=False)
            grads, (terms, new_stats, mu) = jax.lax.cond(epoch == 0, train, evaluate, state, batch, key, hyper.kl_weight)
        else:
            grads, (terms, new_stats, mu) = train(state, batch, key, hyper.kl_weight)
        updates, opt_state = self.tx.update(grads, state.opt_state, state.params)
        updates = jax.tree_util.tree_map(lambda u: -hyper.lr * u, updates)
        params = optax.apply_updates(state.params, updates)
        losses = jnp.stack([terms.total, terms.ops, terms.adjacency, terms.kl])
        acc = EpochAccumulator(state.acc.loss + losses, state.acc.batches + 1.0, state.acc.mu.merge(mu, mask))
        bad = (state.first_nonfinite < 0) & ~jnp.isfinite(terms.total)
        state = state.replace(
            params=params, batch_stats=new_stats, opt_state=opt_state, acc=acc, step=i + 1,
            first_nonfinite=jnp.where(bad, i, state.first_nonfinite),
        )
        end = lambda s, e: self._end_epoch(s, data, e)  # noqa: E731
        return jax.lax.cond(pos == nb - 1, end, lambda s, e: s, state, epoch)

    def run_steps(self, state: TrainState, data: GraphSet, hyper: Hyper, start: Any, stop: Any, length: int) -> TrainState:
        """Steps [start, stop) of the run as a scan of `length` steps (the rest are skipped)."""

        def body(s: TrainState, i: jax.Array) -> tuple[TrainState, None]:
            s = jax.lax.cond(i < stop, partial(self._step, data, hyper), lambda s, i: s, s, i)
            return s, None

        steps = jnp.asarray(start, jnp.int32) + jnp.arange(length, dtype=jnp.int32)
        return jax.lax.scan(body, state, steps)[0]

    def advance(self, state: TrainState, data: GraphSet, hyper: Hyper, start: Any, stop: Any) -> TrainState:
        """One chunk: steps [start, min(stop, start + chunk_steps))."""
        return self.run_steps(state, data, hyper, start, stop, self.chunk_steps)

    # ------------------------------------------------------------------ eval passes (eval mode)

    def _eval_chunks(self, index: jax.Array) -> tuple[jax.Array, jax.Array]:
        return index_batches(jnp.asarray(index, jnp.int32), min(self.eval_batch, max(int(index.shape[0]), 1)))

    def _encode(self, variables: Any, batch) -> jax.Array:
        mu, _ = self.module.apply(variables, batch.graph, False, method=GraphAutoencoder.encode)
        return mu

    def evaluate(self, state: TrainState, data: GraphSet, index: jax.Array) -> ReconstructionCounts:
        """Reconstruction counts of the cells `index` in eval mode (z = mu)."""
        batches, masks = self._eval_chunks(index)
        variables = state.variables()

        def body(total, xs):
            idx, mask = xs
            batch = make_batch(data, idx, mask)
            out = self.module.apply(variables, batch.graph, False)
            return total + reconstruction_counts(out.ops_logits, out.adj_logits, batch.ops, batch.adjacency, mask), None

        zero = ReconstructionCounts(*([jnp.zeros((), jnp.float32)] * 7))
        return jax.lax.scan(body, zero, (batches, masks))[0]

    def mu_stats(self, state: TrainState, data: GraphSet, index: jax.Array) -> MomentStats:
        """Per-(vertex, dimension) moments of mu over the cells `index`, eval mode."""
        batches, masks = self._eval_chunks(index)
        variables = state.variables()

        def body(stats, xs):
            idx, mask = xs
            return stats.merge(self._encode(variables, make_batch(data, idx, mask)), mask), None

        c = self.model
        return jax.lax.scan(body, MomentStats.zeros(c.num_nodes, c.latent), (batches, masks))[0]

    def prior(self, state: TrainState, data: GraphSet, epoch: Any) -> tuple[jax.Array, jax.Array]:
        """Decodings of `prior_samples` latent codes z ~ N(0, I) * std + mean, with the moments of
        mu of the epoch just finished (`mu_stats_from_training`) or of the training set re-encoded;
        ops int8 [S, n], adjacency uint8 [S, n, n]. Epoch e's samples come from its own key."""
        stats = state.acc.mu if self.mu_stats_from_training else self.mu_stats(state, data, state.train_index)
        key = jax.random.fold_in(jax.random.fold_in(state.key, KEY_PRIOR), epoch)
        z = prior_latents(key, self.prior_samples, stats.mean, stats.std())
        variables = state.variables()
        return decode_latents(lambda z: self.module.apply(variables, z, method=GraphAutoencoder.decode), z)

    def embed(self, state: TrainState, data: GraphSet, index: jax.Array | None = None) -> jax.Array:
        """Architecture embeddings [len(index), d] (all cells by default): `mean` of mu over all n
        vertices (the published extraction) or `sum` over the real vertices (the paper's text)."""
        index = jnp.arange(data.num_cells, dtype=jnp.int32) if index is None else jnp.asarray(index, jnp.int32)
        batches, masks = self._eval_chunks(index)
        variables = state.variables()

        def body(_, xs):
            idx, mask = xs
            batch = make_batch(data, idx, mask)
            mu = self._encode(variables, batch)
            if self.readout == "mean":
                return None, mu.mean(axis=1)
            real = (batch.ops.sum(axis=-1) > 0).astype(mu.dtype)
            return None, (mu * real[..., None]).sum(axis=1)

        out = jax.lax.scan(body, None, (batches, masks))[1]
        return out.reshape(-1, out.shape[-1])[: index.shape[0]]

    # ------------------------------------------------------------------ the whole run

    def train(self, data: GraphSet, key: jax.Array, hyper: Hyper) -> tuple[TrainState, dict[str, Any]]:
        """The whole run of one member; metrics: the per-epoch history and the last epoch's prior
        decodings (`prior_ops`, `prior_adjacency`), for `metrics.prior_metrics` on the host."""
        state = self.init(data, key, hyper)
        state = self.run_steps(state, data, hyper, 0, self.total_steps, self.total_steps)
        ops, adjacency = self.prior(state, data, self.epochs - 1)
        return state, {"history": state.history, "prior_ops": ops, "prior_adjacency": adjacency,
                       "first_nonfinite": state.first_nonfinite}


def make_train(program: Program, data: GraphSet) -> Callable[[jax.Array, Hyper], tuple[TrainState, dict[str, Any]]]:
    """`train(key, hyper) -> (state, metrics)`: the pure run of one member, to jit and vmap."""
    return partial(program.train, data)


# ---------------------------------------------------------------------- vmapped, jitted entry points
#
# `program` is static (hashable), so equal settings reuse one compilation; `start` / `stop` /
# `epoch` are shared by all members (unbatched), which keeps the branches on them real branches.


def _over_members(program: Program, fn: Callable, batched: tuple, shared: tuple = ()) -> Any:
    """`fn(*member_args, *shared)` for every member of the `batched` pytrees (leading axis:
    members); `shared` (data, step numbers) is the same for all members.

    On a mesh whose batches are not split ("data" of size 1): `shard_map` over the "members"
    axis, each device running its members as below, so a member computes exactly what it computes
    on one device. On a mesh that splits batches: one `vmap` over all members (split over
    "members"), XLA partitioning each batch over "data". Otherwise members run in blocks of
    `program.member_block` (a `vmap` per block, `lax.map` over blocks, all inside one compiled
    call); no block size means one `vmap` over all members.
    """
    layout = program.layout
    if layout is not None and layout.data_size == 1:
        local = dataclasses.replace(program, layout=None)
        spec = PartitionSpec(layout.members_axis)
        return jax.shard_map(
            lambda b, sh: _over_members(local, fn, b, sh), mesh=layout.mesh,
            in_specs=(spec, PartitionSpec()), out_specs=spec, check_vma=False,
        )(batched, shared)
    if layout is not None:
        return jax.vmap(lambda *b: fn(*b, *shared), spmd_axis_name=layout.members_axis)(*batched)
    block = program.member_block
    total = int(jax.tree_util.tree_leaves(batched)[0].shape[0])
    one = lambda *b: fn(*b, *shared)  # noqa: E731
    if block is None or block >= total:
        return jax.vmap(one)(*batched)
    if total % block:
        raise ValueError(f"{total} members do not split into blocks of {block}")
    blocks = jax.tree_util.tree_map(lambda x: x.reshape(total // block, block, *x.shape[1:]), batched)
    out = jax.lax.map(lambda b: jax.vmap(one)(*b), blocks)
    return jax.tree_util.tree_map(lambda x: x.reshape(total, *x.shape[2:]), out)


def _init_members(program: Program, data: GraphSet, keys: jax.Array, hypers: Hyper) -> TrainState:
    return _over_members(program, lambda k, h, d: program.init(d, k, h), (keys, hypers), (data,))


def _advance_members(program: Program, states: TrainState, data: GraphSet, hypers: Hyper, start, stop) -> TrainState:
    step = lambda s, h, d, a, b: program.advance(s, d, h, a, b)  # noqa: E731
    return _over_members(program, step, (states, hypers), (data, jnp.asarray(start, jnp.int32), jnp.asarray(stop, jnp.int32)))


def _prior_members(program: Program, states: TrainState, data: GraphSet, epoch) -> tuple[jax.Array, jax.Array]:
    return _over_members(program, lambda s, d, e: program.prior(s, d, e), (states,), (data, jnp.asarray(epoch, jnp.int32)))


def _embed_members(program: Program, states: TrainState, data: GraphSet) -> jax.Array:
    return _over_members(program, lambda s, d: program.embed(s, d), (states,), (data,))


init_members = fast_jit(_init_members, static_argnums=0)
advance_members = fast_jit(_advance_members, static_argnums=0)
prior_members = fast_jit(_prior_members, static_argnums=0)
embed_members = fast_jit(_embed_members, static_argnums=0)


__all__ = [
    "EpochAccumulator",
    "EpochRecord",
    "Hyper",
    "Program",
    "TrainState",
    "advance_members",
    "count_params",
    "embed_members",
    "fast_jit",
    "init_members",
    "make_optimizer",
    "make_train",
    "prior_members",
]
