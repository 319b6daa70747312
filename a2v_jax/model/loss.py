"""The published training loss, written for masked fixed-shape batches.

    loss = BCE(ops) + BCE(adj) + KL,
    BCE(ops) = mean over B*n*K of the op-probability BCE (padding rows have all-zero targets),
    BCE(adj) = sum over the strict upper triangle / (B*n*n)  (the published code zeroes the rest
               with triu(1) and then averages over the whole matrix),
    KL       = -0.5 / (B*n) * mean_{b,i} sum_d (1 + 2 log sigma - mu^2 - sigma^2),

B counting only the real graphs of a (partial) batch. BCE is computed from logits (log-sigmoid),
which equals PyTorch's `BCELoss(sigmoid(x))` except where that clamps log(0) to -100 on saturated
outputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import struct


@struct.dataclass
class LossTerms:
    total: jax.Array
    ops: jax.Array
    adjacency: jax.Array
    kl: jax.Array


def upper_mask(n: int) -> jax.Array:
    return jnp.triu(jnp.ones((n, n), jnp.float32), k=1)


def vae_loss(
    ops_logits: jax.Array,
    adj_logits: jax.Array,
    ops_target: jax.Array,
    adj_target: jax.Array,
    mu: jax.Array,
    log_sigma: jax.Array | None,
    graph_mask: jax.Array | None = None,
    kl_weight: float | jax.Array | None = 1.0,
) -> LossTerms:
    """The loss terms of one (masked) batch; `kl_weight` None (or no log_sigma) drops the KL term,
    and may be a traced value (a per-member hyperparameter)."""
    size, n, k = ops_logits.shape
    weight = jnp.ones((size,), jnp.float32) if graph_mask is None else graph_mask.astype(jnp.float32)
    graphs = jnp.maximum(weight.sum(), 1.0)
    ops_bce = optax.sigmoid_binary_cross_entropy(ops_logits, ops_target).sum(axis=(1, 2))
    loss_ops = (ops_bce * weight).sum() / (graphs * n * k)
    adj_bce = (optax.sigmoid_binary_cross_entropy(adj_logits, adj_target) * upper_mask(n)).sum(axis=(1, 2))
    loss_adj = (adj_bce * weight).sum() / (graphs * n * n)
    if log_sigma is None or kl_weight is None:
        kl = jnp.zeros((), jnp.float32)
    else:
        per_node = jnp.sum(1.0 + 2.0 * log_sigma - jnp.square(mu) - jnp.exp(2.0 * log_sigma), axis=-1)
        mean_term = (per_node.sum(axis=1) * weight).sum() / (graphs * n)
        kl = kl_weight * (-0.5 / (graphs * n)) * mean_term
    return LossTerms(loss_ops + loss_adj + kl, loss_ops, loss_adj, kl)
