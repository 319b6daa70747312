"""a2v_jax: arch2vec (Yan et al., NeurIPS 2020) in JAX.

Unsupervised architecture embeddings (a variational graph isomorphism autoencoder) and neural
architecture search over them, written so that hundreds of search seeds run as one batched
computation.
"""

__version__ = "0.1.0"
