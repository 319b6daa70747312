"""Reconstruction metrics on hand-made NB101-shaped decodings, and the decodability bound of an
equivariant encoder with an inner-product decoder."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from pretrain_helpers import random_dags

from a2v_jax.graphs import graph_set, make_batch
from a2v_jax.model import GraphAutoencoder, ModelConfig
from a2v_jax.pretrain_metrics import colour_refinement, decodable, reconstruction_counts
from a2v_jax.spaces.base import CellSet

# input -> conv3x3 -> output, padded to 7 vertices (4 padding vertices)
CHAIN = np.zeros((7, 7), np.uint8)
CHAIN[0, 1] = CHAIN[1, 2] = 1
CHAIN_OPS = np.array([0, 2, 4, -1, -1, -1, -1], np.int8)
# input -> {conv3x3, conv3x3} -> output: the two conv vertices are interchangeable
DIAMOND = np.zeros((7, 7), np.uint8)
DIAMOND[0, 1] = DIAMOND[0, 2] = DIAMOND[1, 3] = DIAMOND[2, 3] = 1
DIAMOND_OPS = np.array([0, 2, 2, 4, -1, -1, -1], np.int8)


def _one_hot(ops, k=5):
    return (ops[..., None] == np.arange(k)).astype(np.float32)


def _counts(pred_adj, pred_ops, adj, ops):
    """Counts for one cell whose decoding is given as 0/1 arrays (logits +-5)."""
    ops_logits = jnp.asarray(10.0 * _one_hot(pred_ops) - 5.0)[None]
    adj_logits = jnp.asarray(10.0 * pred_adj.astype(np.float32) - 5.0)[None]
    return reconstruction_counts(ops_logits, adj_logits, jnp.asarray(_one_hot(ops))[None],
                                 jnp.asarray(adj, jnp.float32)[None], jnp.ones((1,), bool)).summary()


def test_padding_edges_fail_exact_match_but_not_the_architecture():
    pred_ops = np.where(CHAIN_OPS < 0, 3, CHAIN_OPS)  # any op on padding rows
    exact = _counts(CHAIN, pred_ops, CHAIN, CHAIN_OPS)
    assert exact["reconstruction_accuracy"] == 1.0 and exact["architecture_accuracy"] == 1.0
    padded_edge = CHAIN.copy()
    padded_edge[4, 5] = 1  # between two padding vertices: what equal padding embeddings decode to
    m = _counts(padded_edge, pred_ops, CHAIN, CHAIN_OPS)
    assert m["reconstruction_accuracy"] == 0.0 and m["architecture_accuracy"] == 1.0
    to_padding = CHAIN.copy()
    to_padding[2, 3] = 1  # output -> padding vertex: pruned away, the same architecture
    assert _counts(to_padding, pred_ops, CHAIN, CHAIN_OPS)["architecture_accuracy"] == 1.0
    wrong_real = CHAIN.copy()
    wrong_real[0, 2] = 1  # an extra edge between real vertices changes the cell
    m = _counts(wrong_real, pred_ops, CHAIN, CHAIN_OPS)
    assert m["reconstruction_accuracy"] == 0.0 and m["architecture_accuracy"] == 0.0
    wrong_op = pred_ops.copy()
    wrong_op[1] = 1
    assert _counts(CHAIN, wrong_op, CHAIN, CHAIN_OPS)["architecture_accuracy"] == 0.0


def test_decodable_marks_interchangeable_vertices_and_padding_pairs():
    adjacency = np.stack([CHAIN, DIAMOND])
    ops = np.stack([CHAIN_OPS, DIAMOND_OPS])
    assert decodable(adjacency, ops).tolist() == [False, False]  # padding pair; conv pair 1, 2
    assert decodable(adjacency, ops, real_vertices_only=True).tolist() == [True, False]
    distinct = DIAMOND_OPS.copy()
    distinct[2] = 1  # conv1x1 on one branch: the vertices differ
    assert decodable(DIAMOND[None], distinct[None], real_vertices_only=True).tolist() == [True]
    colour = colour_refinement(adjacency, ops, rounds=4)
    assert colour[1, 1] == colour[1, 2] and len(set(colour[0, :3])) == 3


def test_interchangeable_vertices_get_the_same_embedding_and_an_edge():
    """Why `decodable` bounds exact reconstruction: an untrained GIN already maps the two branch
    vertices of the diamond to the same mu, and z_i . z_i > 0 decodes an edge between them."""
    adjacency, ops = random_dags(31, n=7, seed=5)
    adjacency = np.concatenate([adjacency, DIAMOND[None]])
    ops = np.concatenate([ops, DIAMOND_OPS[None]])
    cells = CellSet("nb101", adjacency, ops, np.array([""] * 32, "<U32"))
    data = graph_set(cells, 5)
    model = GraphAutoencoder(ModelConfig.for_model("arch2vec", 7, 5))
    batch = make_batch(data, jnp.arange(32))
    variables = model.init({"params": jax.random.PRNGKey(0)}, batch.graph, False)
    out = model.apply(variables, batch.graph, False)
    mu = np.asarray(out.mu[-1])
    np.testing.assert_allclose(mu[1], mu[2], rtol=1e-6, atol=1e-6)
    assert float(out.adj_logits[-1, 1, 2]) > 0
