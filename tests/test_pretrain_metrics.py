"""Reconstruction metrics on hand-made NB101-shaped decodings, and the decodability bound of an
equivariant encoder with an inner-product decoder."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from pretrain_helpers import NB201_ADJ, nb201_space, nb201_subset, random_dags

from a2v_jax.graphs import graph_set, make_batch
from a2v_jax.model import GraphAutoencoder, ModelConfig
from a2v_jax.pretrain import PretrainConfig, make_program
from a2v_jax.pretrain.metrics import colour_refinement, decodable, prior_metrics, reconstruction_counts
from a2v_jax.pretrain.train import Hyper
from a2v_jax.spaces import get_space
from a2v_jax.spaces.base import CellSet
from a2v_jax.spaces.graph_hash import hash_module

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


def _nb201(ops, adj=NB201_ADJ):
    return np.asarray(adj, np.uint8), np.asarray(ops, np.int8)


def test_validity_and_uniqueness_on_hand_made_decodings():
    a = [0, 1, 2, 3, 4, 5, 1, 6]
    b = [0, 2, 2, 2, 2, 2, 2, 6]
    extra = NB201_ADJ.copy()
    extra[0, 3] = 1
    samples = [
        _nb201(a), _nb201(a), _nb201(a), _nb201(b),  # valid, two distinct cells
        _nb201(a, extra),  # an edge too many: not an NB201 cell, but the published check ignores edges
        _nb201([0, 6, 2, 3, 4, 5, 1, 6]),  # output op on vertex 1: the published check skips vertex 1
        _nb201([1, 1, 2, 3, 4, 5, 1, 6]),  # no input first: invalid for both
        _nb201([0, 1, 2, 0, 4, 5, 1, 6]),  # input op inside the cell: invalid for both
    ]
    adj = np.stack([s[0] for s in samples])
    ops = np.stack([s[1] for s in samples])
    m = prior_metrics(nb201_space(), ops, adj)
    assert m["validity"] == 4 / 8 and m["uniqueness"] == 2 / 4
    assert m["validity_published"] == 6 / 8 and m["uniqueness_published"] == 4 / 6
    assert m["distinct_decodings"] == 6


def test_published_darts_rule_scans_the_rows_the_published_check_scans():
    darts = get_space("darts")
    ops = np.array([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]], np.int8)
    adj = np.zeros((1, 11, 11), np.uint8)
    for v, src in ((2, 0), (3, 1), (4, 2), (5, 3), (6, 0), (7, 5), (8, 7), (9, 1)):
        adj[0, src, v] = 1
    assert darts.is_valid_batch(adj, ops, "published").tolist() == [True]
    late = adj.copy()
    late[0, :, 5] = 0
    late[0, 4, 5] = 1  # vertex 5 fed only by vertex 4: the published check scans rows 0..3
    assert darts.is_valid_batch(late, ops, "published").tolist() == [False]


def test_published_uniqueness_hashes_the_unpruned_decoding():
    ops = np.array([0, 1, 2, 3, 4, 5, 1, 6])
    assert hash_module(NB201_ADJ, ops.tolist()) == nb201_space().graph_hash(NB201_ADJ, ops)


def test_embeddings_follow_cell_order_and_readout():
    cells = nb201_subset(40, seed=2)
    data = graph_set(cells, 7)
    state = None
    out = {}
    for readout in ("mean", "sum"):
        program = make_program(PretrainConfig(readout=readout, eval_batch=16), data)
        if state is None:
            state = program.init(data, jax.random.PRNGKey(3), Hyper.of(1e-3, 1.0))
        out[readout] = np.asarray(jax.jit(program.embed)(state, data, jnp.arange(40)))
        backwards = np.asarray(jax.jit(program.embed)(state, data, jnp.arange(39, -1, -1)))
        np.testing.assert_allclose(backwards[::-1], out[readout], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["sum"], 8 * out["mean"], rtol=1e-5, atol=1e-5)  # no padding vertices in NB201


def test_a_tiny_set_is_learned():
    """Learning works: 32 cells trained on for 400 steps in train mode are mostly reconstructed
    exactly in eval mode (none are at initialisation)."""
    cells = nb201_subset(33, seed=1)
    data = graph_set(cells, 7)
    config = PretrainConfig(preset="fixed", split="index", lr=1e-2, train_fraction=32 / 33 + 1e-6, epochs=400,
                            chunk_steps=400)
    program = make_program(config, data)
    hyper = Hyper.of(config.lr, 1.0)
    state = program.init(data, jax.random.PRNGKey(0), hyper)
    evaluate = jax.jit(program.evaluate)
    assert evaluate(state, data, jnp.arange(32)).summary()["reconstruction_accuracy"] == 0.0
    state = jax.jit(program.advance)(state, data, hyper, 0, 400)
    assert evaluate(state, data, jnp.arange(32)).summary()["reconstruction_accuracy"] >= 0.75
