"""The graph autoencoders of paper Table 1, one module with a small config.

| `--model`       | encoder | posterior                       | KL term |
|-----------------|---------|---------------------------------|---------|
| `arch2vec`      | GIN     | N(mu, sigma^2), z sampled       | yes     |
| `arch2vec-nokl` | GIN     | deterministic, z = mu           | no      |
| `gae`           | GCN     | deterministic, z = mu           | no      |
| `vgae`          | GCN     | N(mu, sigma^2), z sampled       | yes     |

"arch2vec without KL" is not in the published code; without the KL term nothing keeps sigma away
from zero, so it is built as the deterministic autoencoder (like GAE against VGAE). The decoder
is the published one for every model: dropout (0.3) on Z during training, op probabilities
sigmoid(Linear(d -> K)(z_i)), edge probabilities sigmoid(z_i . z_j). It returns logits; the loss
applies the sigmoid inside a numerically stable BCE.

Train / eval mode follows PyTorch: in training mode BatchNorm uses batch statistics (and updates
running ones), z is sampled and dropout is on; in eval mode BatchNorm uses the running statistics,
z = mu and there is no dropout.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
from flax import struct

from .encoders import GCNEncoder, GINEncoder
from .layers import TorchLinear

MODEL_NAMES: tuple[str, ...] = ("arch2vec", "arch2vec-nokl", "gae", "vgae")


@dataclass(frozen=True)
class ModelConfig:
    num_nodes: int
    num_ops: int
    encoder: str = "gin"
    variational: bool = True
    hidden: int = 128
    latent: int = 16
    num_layers: int = 4
    dropout: float = 0.3

    @classmethod
    def for_model(cls, name: str, num_nodes: int, num_ops: int, **overrides) -> ModelConfig:
        """The configuration of one of MODEL_NAMES for a space with `num_nodes` and `num_ops`."""
        kinds = {
            "arch2vec": ("gin", True),
            "arch2vec-nokl": ("gin", False),
            "gae": ("gcn", False),
            "vgae": ("gcn", True),
        }
        if name not in kinds:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
        encoder, variational = kinds[name]
        return cls(num_nodes=num_nodes, num_ops=num_ops, encoder=encoder, variational=variational, **overrides)

    def to_dict(self) -> dict:
        return asdict(self)


@struct.dataclass
class Output:
    """Decoder logits and posterior parameters, all shaped per graph.

    ops_logits: [B, n, K]; adj_logits: [B, n, n] (full matrix, the loss reads the strict upper
    triangle); mu, log_sigma: [B, n, d] (log_sigma None for deterministic models); z: [B, n, d].
    """

    ops_logits: jax.Array
    adj_logits: jax.Array
    mu: jax.Array
    log_sigma: jax.Array | None
    z: jax.Array


class Decoder(nn.Module):
    num_ops: int

    @nn.compact
    def __call__(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        ops_logits = TorchLinear(self.num_ops, name="ops")(z)
        adj_logits = jnp.einsum("bid,bjd->bij", z, z)
        return ops_logits, adj_logits


class GraphAutoencoder(nn.Module):
    config: ModelConfig

    def setup(self) -> None:
        c = self.config
        encoder_cls = {"gin": GINEncoder, "gcn": GCNEncoder}[c.encoder]
        self.encoder = encoder_cls(hidden=c.hidden, latent=c.latent, num_layers=c.num_layers, variational=c.variational)
        self.decoder = Decoder(c.num_ops)
        self.latent_dropout = nn.Dropout(rate=c.dropout)

    def encode(
        self, graph: jraph.GraphsTuple, train: bool = False, graph_mask: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array | None]:
        """Posterior parameters per node, reshaped to [B, n, d]."""
        n = self.config.num_nodes
        node_mask = None if graph_mask is None else jnp.repeat(graph_mask, n)
        mu, log_sigma = self.encoder(graph, train, node_mask)
        size = mu.shape[0] // n
        mu = mu.reshape(size, n, -1)
        log_sigma = None if log_sigma is None else log_sigma.reshape(size, n, -1)
        return mu, log_sigma

    def decode(self, z: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Op and edge logits of latent codes [B, n, d] (no dropout)."""
        return self.decoder(z)

    def __call__(
        self, graph: jraph.GraphsTuple, train: bool = False, graph_mask: jax.Array | None = None
    ) -> Output:
        mu, log_sigma = self.encode(graph, train, graph_mask)
        z = mu
        if train and log_sigma is not None:
            z = mu + jnp.exp(log_sigma) * jax.random.normal(self.make_rng("noise"), mu.shape, mu.dtype)
        z_in = self.latent_dropout(z, deterministic=not train)
        ops_logits, adj_logits = self.decoder(z_in)
        return Output(ops_logits, adj_logits, mu, log_sigma, z)
