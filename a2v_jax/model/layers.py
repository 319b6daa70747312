"""Layers with PyTorch's defaults, so a Flax model starts where the published one does.

- `TorchLinear`: `nn.Linear`'s initialisation, kaiming_uniform(a=sqrt(5)) weights, which is
  U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and biases from the same interval.
- `BatchNorm`: `nn.BatchNorm1d` semantics: normalise with the batch mean and *biased* variance,
  update running statistics with momentum 0.1 (new = 0.9 old + 0.1 batch) using the *unbiased*
  variance, eps 1e-5, scale 1 / bias 0 at init. Flax's own BatchNorm keeps the biased variance
  and counts momentum the other way; the difference shows after the first epoch, when the
  published code freezes the running statistics (docs/reference.md, "Pretraining loop"), so it matters here.
  An optional row mask restricts the statistics to the rows of real graphs in a partial batch.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def torch_uniform(bound: float):
    """Initialiser drawing U(-bound, bound), as PyTorch's `uniform_`."""

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class TorchLinear(nn.Module):
    """`torch.nn.Linear` with its default initialisation (kernel stored [in, out])."""

    features: int
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in = x.shape[-1]
        bound = 1.0 / math.sqrt(fan_in)
        kernel = self.param("kernel", torch_uniform(bound), (fan_in, self.features))
        y = x @ kernel
        if self.use_bias:
            y = y + self.param("bias", torch_uniform(bound), (self.features,))
        return y


class BatchNorm(nn.Module):
    """`torch.nn.BatchNorm1d` over the rows of a [rows, C] array, with an optional row mask."""

    momentum: float = 0.1
    epsilon: float = 1e-5

    @nn.compact
    def __call__(self, x: jax.Array, use_running_average: bool, mask: jax.Array | None = None) -> jax.Array:
        channels = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (channels,))
        bias = self.param("bias", nn.initializers.zeros, (channels,))
        running_mean = self.variable("batch_stats", "mean", jnp.zeros, (channels,), jnp.float32)
        running_var = self.variable("batch_stats", "var", jnp.ones, (channels,), jnp.float32)
        if use_running_average:
            mean, var = running_mean.value, running_var.value
        else:
            if mask is None:
                count = jnp.asarray(x.shape[0], jnp.float32)
                mean = x.mean(axis=0)
                var = jnp.square(x - mean).mean(axis=0)
            else:
                weight = mask.astype(x.dtype)[:, None]
                count = weight.sum()
                mean = (x * weight).sum(axis=0) / count
                var = (jnp.square(x - mean) * weight).sum(axis=0) / count
            if not self.is_initializing():
                unbiased = var * count / jnp.maximum(count - 1.0, 1.0)
                running_mean.value = (1.0 - self.momentum) * running_mean.value + self.momentum * mean
                running_var.value = (1.0 - self.momentum) * running_var.value + self.momentum * unbiased
        return (x - mean) * jax.lax.rsqrt(var + self.epsilon) * scale + bias
