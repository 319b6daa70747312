"""The jitted machinery of pretraining: train state, scanned training chunks, eval passes.

An epoch is a `lax.scan` over batches inside one jitted call, cut into chunks of a fixed number of
steps (`chunk_steps`) so the host can update a progress bar and write checkpoints between chunks.
Every chunk has the same shape (steps past the end of the epoch are skipped by `lax.cond`), so a
space compiles the training step once per mode (train / eval mode, see `pretrain.py`).

Everything random is derived from one seed by `fold_in`: the step key from the global step
number, the epoch's batch order from the epoch number, the prior samples from the epoch number.
A run that is interrupted and resumed therefore draws exactly the same numbers as one that is
not, and chunk boundaries do not matter.

Batches come from a `GraphSet` already on device (`a2v_jax.graphs`); a chunk receives the epoch's
[num_batches, B] index matrix and gathers its batches itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from .graphs import GraphSet, index_batches, make_batch
from .model import GraphAutoencoder, ModelConfig, vae_loss
from .pretrain_metrics import (
    MomentStats,
    ReconstructionCounts,
    decode_latents,
    prior_latents,
    reconstruction_counts,
)

# Streams derived from the run seed by fold_in.
KEY_INIT, KEY_ORDER, KEY_STEP, KEY_PRIOR, KEY_SPLIT = range(5)

# XLA:CPU's YNNPACK / XNNPACK library fusions slow these small matmuls down (measured: about 25%
# fewer training steps/s at batch 32); they are switched off for our jitted functions on CPU only.
_CPU_COMPILER_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type": "",
    "xla_cpu_experimental_xnn_fusion_type": "",
}


def fast_jit(fn: Callable | None = None, **kwargs: Any) -> Callable:
    """`jax.jit` with the CPU compiler options above when the default backend is the CPU."""
    if fn is None:
        return partial(fast_jit, **kwargs)
    if jax.default_backend() == "cpu":
        kwargs.setdefault("compiler_options", _CPU_COMPILER_OPTIONS)
    return jax.jit(fn, **kwargs)


@struct.dataclass
class EpochAccumulator:
    """What an epoch collects while it trains: summed batch losses and the moments of mu."""

    loss: jax.Array  # [4] sums of total, ops, adjacency, kl over batches
    batches: jax.Array  # number of batches summed
    mu: MomentStats

    @classmethod
    def zeros(cls, num_nodes: int, latent: int) -> EpochAccumulator:
        return cls(jnp.zeros((4,), jnp.float32), jnp.zeros((), jnp.float32), MomentStats.zeros(num_nodes, latent))

    def mean_losses(self) -> dict[str, float]:
        loss = jax.device_get(self.loss) / max(float(self.batches), 1.0)
        return {"loss": float(loss[0]), "loss_ops": float(loss[1]), "loss_adj": float(loss[2]), "loss_kl": float(loss[3])}


@struct.dataclass
class TrainState:
    params: Any
    batch_stats: Any
    opt_state: Any
    key: jax.Array  # the run's base key (uint32[2])
    step: jax.Array  # global step count
    epoch: jax.Array  # current epoch (0-based)
    position: jax.Array  # batches of the current epoch already done
    acc: EpochAccumulator

    def variables(self) -> dict[str, Any]:
        return {"params": self.params, "batch_stats": self.batch_stats}


def make_optimizer(lr: float = 1e-3, clip_norm: float = 5.0) -> optax.GradientTransformation:
    """Adam as the published code uses it (betas 0.9/0.999, eps 1e-8, no weight decay) after
    clipping the global gradient norm (`clip_grad_norm_`)."""
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(lr, b1=0.9, b2=0.999, eps=1e-8))


class Trainer:
    """Model + optimizer + the jitted functions that run them on a `GraphSet`.

    `Trainer.shared(...)` returns one instance per distinct argument set, so runs in one process
    (tests, notebooks, Table 1 sweeps) reuse compiled functions instead of compiling again.
    """

    _instances: dict[tuple, Trainer] = {}

    @classmethod
    def shared(cls, model_config: ModelConfig, **kwargs: Any) -> Trainer:
        key = (model_config, tuple(sorted(kwargs.items())))
        if key not in cls._instances:
            cls._instances[key] = cls(model_config, **kwargs)
        return cls._instances[key]

    def __init__(
        self,
        model_config: ModelConfig,
        batch_size: int = 32,
        lr: float = 1e-3,
        clip_norm: float = 5.0,
        kl_weight: float = 1.0,
        chunk_steps: int = 200,
        eval_batch: int = 2048,
    ) -> None:
        self.config = model_config
        self.model = GraphAutoencoder(model_config)
        self.tx = make_optimizer(lr, clip_norm)
        self.batch_size = int(batch_size)
        self.kl_weight = float(kl_weight) if model_config.variational else 0.0
        self.chunk_steps = int(chunk_steps)
        self.eval_batch = int(eval_batch)
        self._train_chunk = fast_jit(self._train_chunk_impl, static_argnames=("train_mode",))
        self._evaluate = fast_jit(self._evaluate_impl)
        self._mu_stats = fast_jit(self._mu_stats_impl)
        self._embed = fast_jit(self._embed_impl, static_argnames=("readout",))
        self._prior = fast_jit(self._prior_impl, static_argnames=("num",))
        self._compiled: dict[tuple, Any] = {}

    # ------------------------------------------------------------------ state

    def init(self, seed: int, data: GraphSet) -> TrainState:
        key = jax.random.PRNGKey(seed)
        batch = make_batch(data, jnp.zeros((self.batch_size,), jnp.int32))
        variables = self.model.init({"params": jax.random.fold_in(key, KEY_INIT)}, batch.graph, False)
        params = variables["params"]
        batch_stats = variables.get("batch_stats", {})
        c = self.config
        return TrainState(
            params=params,
            batch_stats=batch_stats,
            opt_state=self.tx.init(params),
            key=key,
            step=jnp.zeros((), jnp.int32),
            epoch=jnp.zeros((), jnp.int32),
            position=jnp.zeros((), jnp.int32),
            acc=EpochAccumulator.zeros(c.num_nodes, c.latent),
        )

    def epoch_order(self, state: TrainState, train_index: jax.Array, epoch: int, reshuffle: bool) -> tuple[jax.Array, jax.Array]:
        """The epoch's batches [num_batches, B] and masks: a seeded permutation of the training
        cells, drawn once for the run (`reshuffle=False`, the published behaviour) or per epoch."""
        key = jax.random.fold_in(state.key, KEY_ORDER)
        if reshuffle:
            key = jax.random.fold_in(key, epoch)
        order = jax.random.permutation(key, jnp.asarray(train_index, jnp.int32))
        return index_batches(order, self.batch_size)

    def num_batches(self, num_train: int) -> int:
        return -(-num_train // self.batch_size)

    # ------------------------------------------------------------------ training

    def _loss(self, params, batch_stats, batch, key, train_mode: bool):
        variables = {"params": params, "batch_stats": batch_stats}
        if train_mode:
            noise_key, dropout_key = jax.random.split(key)
            out, updates = self.model.apply(
                variables,
                batch.graph,
                True,
                batch.graph_mask,
                rngs={"noise": noise_key, "dropout": dropout_key},
                mutable=["batch_stats"],
            )
            new_stats = updates.get("batch_stats", batch_stats)
        else:
            out = self.model.apply(variables, batch.graph, False, batch.graph_mask)
            new_stats = batch_stats
        terms = vae_loss(
            out.ops_logits, out.adj_logits, batch.ops, batch.adjacency, out.mu, out.log_sigma, batch.graph_mask, self.kl_weight
        )
        return terms.total, (terms, new_stats, out.mu)

    def _train_chunk_impl(self, state: TrainState, data: GraphSet, batches, masks, count, train_mode: bool):
        step_key = jax.random.fold_in(state.key, KEY_STEP)

        def one_step(s: TrainState) -> tuple[TrainState, jax.Array]:
            index = jax.lax.dynamic_index_in_dim(batches, s.position, keepdims=False)
            mask = jax.lax.dynamic_index_in_dim(masks, s.position, keepdims=False)
            batch = make_batch(data, index, mask)
            key = jax.random.fold_in(step_key, s.step)
            loss_fn = partial(self._loss, train_mode=train_mode)
            grads, (terms, new_stats, mu) = jax.grad(loss_fn, has_aux=True)(s.params, s.batch_stats, batch, key)
            updates, opt_state = self.tx.update(grads, s.opt_state, s.params)
            params = optax.apply_updates(s.params, updates)
            losses = jnp.stack([terms.total, terms.ops, terms.adjacency, terms.kl])
            acc = EpochAccumulator(s.acc.loss + losses, s.acc.batches + 1.0, s.acc.mu.merge(mu, mask))
            new = s.replace(
                params=params, batch_stats=new_stats, opt_state=opt_state, step=s.step + 1, position=s.position + 1, acc=acc
            )
            return new, terms.total

        def body(s: TrainState, i):
            return jax.lax.cond(i < count, one_step, lambda s: (s, jnp.float32(jnp.nan)), s)

        return jax.lax.scan(body, state, jnp.arange(self.chunk_steps))

    def compile_chunk(self, state: TrainState, data: GraphSet, batches, masks, train_mode: bool) -> float:
        """Compile the training chunk for these shapes ahead of time; returns the seconds it took
        (0 when already compiled), so that training speed can be measured without it."""
        key = (bool(train_mode), batches.shape, data.ops.shape, data.senders.shape)
        if key in self._compiled:
            return 0.0
        t0 = time.perf_counter()
        count = jnp.zeros((), jnp.int32)
        lowered = self._train_chunk.lower(state, data, batches, masks, count, train_mode=train_mode)
        self._compiled[key] = lowered.compile()
        return time.perf_counter() - t0

    def train_chunk(self, state: TrainState, data: GraphSet, batches, masks, train_mode: bool) -> tuple[TrainState, jax.Array]:
        """Run up to `chunk_steps` steps from `state.position`; returns the state and the losses
        of the steps run (NaN past the end of the epoch)."""
        remaining = int(batches.shape[0]) - int(state.position)
        count = jnp.asarray(min(self.chunk_steps, max(remaining, 0)), jnp.int32)
        self.compile_chunk(state, data, batches, masks, train_mode)
        key = (bool(train_mode), batches.shape, data.ops.shape, data.senders.shape)
        return self._compiled[key](state, data, batches, masks, count)

    # ------------------------------------------------------------------ eval passes (eval mode)

    def _chunks(self, index):
        return index_batches(jnp.asarray(index, jnp.int32), self.eval_batch)

    def _evaluate_impl(self, variables, data: GraphSet, index):
        batches, masks = self._chunks(index)

        def body(total, xs):
            idx, mask = xs
            batch = make_batch(data, idx, mask)
            out = self.model.apply(variables, batch.graph, False)
            counts = reconstruction_counts(out.ops_logits, out.adj_logits, batch.ops, batch.adjacency, mask)
            return total + counts, None

        zero = jax.tree_util.tree_map(lambda _: jnp.zeros((), jnp.float32), ReconstructionCounts(*([0] * 7)))
        total, _ = jax.lax.scan(body, zero, (batches, masks))
        return total

    def evaluate(self, state: TrainState, data: GraphSet, index) -> dict[str, float]:
        """Reconstruction metrics of the cells `index` in eval mode (z = mu)."""
        return self._evaluate(state.variables(), data, jnp.asarray(index, jnp.int32)).summary()

    def _encode(self, variables, batch):
        mu, _ = self.model.apply(variables, batch.graph, False, method=GraphAutoencoder.encode)
        return mu

    def _mu_stats_impl(self, variables, data: GraphSet, index):
        batches, masks = self._chunks(index)

        def body(stats, xs):
            idx, mask = xs
            return stats.merge(self._encode(variables, make_batch(data, idx, mask)), mask), None

        c = self.config
        stats, _ = jax.lax.scan(body, MomentStats.zeros(c.num_nodes, c.latent), (batches, masks))
        return stats

    def mu_stats(self, state: TrainState, data: GraphSet, index) -> MomentStats:
        """Per-(vertex, dimension) moments of mu over the cells `index`, eval mode."""
        return self._mu_stats(state.variables(), data, jnp.asarray(index, jnp.int32))

    def _embed_impl(self, variables, data: GraphSet, index, readout: str):
        batches, masks = self._chunks(index)

        def body(_, xs):
            idx, mask = xs
            batch = make_batch(data, idx, mask)
            mu = self._encode(variables, batch)
            if readout == "mean":
                emb = mu.mean(axis=1)
            else:
                real = (batch.ops.sum(axis=-1) > 0).astype(mu.dtype)
                emb = (mu * real[..., None]).sum(axis=1)
            return None, emb

        _, out = jax.lax.scan(body, None, (batches, masks))
        return out.reshape(-1, out.shape[-1])[: index.shape[0]]

    def embed(self, state: TrainState, data: GraphSet, index, readout: str = "mean") -> jax.Array:
        """Architecture embeddings [len(index), d]: `mean` of mu over all n vertices (the published
        extraction) or `sum` over the real vertices (the paper's text)."""
        if readout not in ("mean", "sum"):
            raise ValueError(f"unknown readout {readout!r}; choose mean or sum")
        return self._embed(state.variables(), data, jnp.asarray(index, jnp.int32), readout=readout)

    def _prior_impl(self, variables, key, mean, std, num: int):
        z = prior_latents(key, num, mean, std)

        def logits(z):
            return self.model.apply(variables, z, method=GraphAutoencoder.decode)

        return decode_latents(logits, z)

    def sample_prior(self, state: TrainState, epoch: int, mean, std, num: int):
        """Decode `num` prior samples scaled by (std, mean): ops int8 [num, n], adjacency uint8 [num, n, n]."""
        key = jax.random.fold_in(jax.random.fold_in(state.key, KEY_PRIOR), epoch)
        return self._prior(state.variables(), key, mean, std, num=num)


def count_params(params: Any) -> int:
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


__all__ = ["EpochAccumulator", "TrainState", "Trainer", "count_params", "fast_jit", "make_optimizer"]
