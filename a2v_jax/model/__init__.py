"""Flax models of arch2vec pretraining: the GIN variational graph autoencoder and its baselines."""

from .autoencoder import MODEL_NAMES, Decoder, GraphAutoencoder, ModelConfig, Output
from .encoders import GCNEncoder, GINEncoder
from .layers import BatchNorm, TorchLinear
from .loss import LossTerms, vae_loss

__all__ = [
    "MODEL_NAMES",
    "BatchNorm",
    "Decoder",
    "GCNEncoder",
    "GINEncoder",
    "GraphAutoencoder",
    "LossTerms",
    "ModelConfig",
    "Output",
    "TorchLinear",
    "vae_loss",
]
