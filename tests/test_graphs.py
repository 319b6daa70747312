"""Cells -> GraphsTuple batches: edge lists, padding, and message passing against the dense view."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pretrain_helpers import NB201_ADJ, random_dags

from a2v_jax.graphs import (
    EDGE_PAD,
    aggregate,
    degrees,
    dense_symmetric_adjacency,
    edge_lists,
    graph_set,
    index_batches,
    make_batch,
)


def test_edge_lists_list_both_directions_and_pad():
    adj, _ = random_dags(50, seed=1)
    senders, receivers = edge_lists(adj)
    assert senders.dtype == np.int8 and senders.shape == receivers.shape
    for c in range(len(adj)):
        real = receivers[c] != EDGE_PAD
        rebuilt = np.zeros((7, 7), int)
        np.add.at(rebuilt, (receivers[c][real], senders[c][real]), 1)
        np.testing.assert_array_equal(rebuilt, adj[c] + adj[c].T)
        assert np.all(senders[c][~real] == EDGE_PAD)
    assert senders.shape[1] == int(((adj + adj.transpose(0, 2, 1)) > 0).sum(axis=(1, 2)).max())


def test_edge_lists_reject_too_many_edges():
    adj, _ = random_dags(5, seed=0)
    with pytest.raises(ValueError, match="max_edges"):
        edge_lists(adj, max_edges=1)


def test_graph_set_rejects_bad_cells():
    adj, ops = random_dags(4, seed=0)
    with pytest.raises(ValueError, match="upper-triangular"):
        graph_set((adj.transpose(0, 2, 1), ops), 5)
    with pytest.raises(ValueError, match="op indices"):
        graph_set((adj, np.where(ops < 0, ops, 5).astype(np.int8)), 5)
    with pytest.raises(ValueError, match="same cells"):
        graph_set((adj[:3], ops), 5)


def test_batch_features_targets_and_shapes():
    adj, ops = random_dags(40, seed=2)
    data = graph_set((adj, ops), 5)
    index = jnp.array([3, 0, 7, 7])
    batch = make_batch(data, index, jnp.array([True, True, True, False]))
    g = batch.graph
    assert g.nodes.shape == (4 * 7, 5) and g.n_node.tolist() == [7] * 4
    nodes = np.asarray(g.nodes).reshape(4, 7, 5)
    for b, c in enumerate([3, 0, 7, 7]):
        real = ops[c] >= 0
        np.testing.assert_array_equal(nodes[b][real].argmax(-1), ops[c][real])
        assert np.all(nodes[b][~real] == 0), "padding vertices must have all-zero features"
        np.testing.assert_array_equal(np.asarray(batch.adjacency[b]), adj[c])
    assert g.n_edge.tolist() == [int((adj[c] + adj[c].T).sum()) for c in [3, 0, 7, 7]]
    assert batch.graph_mask.tolist() == [True, True, True, False]


def test_segment_sum_message_passing_equals_dense_reference():
    adj, ops = random_dags(64, seed=3)
    data = graph_set((adj, ops), 5)
    index = jnp.arange(32) * 2
    batch = make_batch(data, index)
    h = jax.random.normal(jax.random.PRNGKey(0), (32 * 7, 13))
    sparse = aggregate(batch.graph, h).reshape(32, 7, 13)
    dense = jnp.einsum("bij,bjc->bic", dense_symmetric_adjacency(jnp.asarray(adj[::2][:32])), h.reshape(32, 7, 13))
    np.testing.assert_allclose(np.asarray(sparse), np.asarray(dense), rtol=1e-6, atol=1e-6)
    deg = degrees(batch.graph).reshape(32, 7)
    np.testing.assert_array_equal(np.asarray(deg), (adj[::2][:32] + adj[::2][:32].transpose(0, 2, 1)).sum(axis=2))


def test_padding_edges_carry_no_gradient():
    adj, ops = random_dags(16, seed=4)
    data = graph_set((adj, ops), 5)
    batch = make_batch(data, jnp.arange(16))
    h = jax.random.normal(jax.random.PRNGKey(1), (16 * 7, 3))

    def f(h):
        return aggregate(batch.graph, h).sum()

    grad = jax.grad(f)(h).reshape(16, 7, 3)
    # d/dh_j sum_i sum_k A~_ik h_k = degree of j: padding edges (which send from vertex 0) add nothing
    expected = (adj + adj.transpose(0, 2, 1)).sum(axis=1)
    np.testing.assert_allclose(np.asarray(grad[..., 0]), expected, atol=1e-6)


def test_nb201_cells_have_fixed_edges():
    ops = np.array([[0, 1, 2, 3, 4, 5, 1, 6]], np.int8)
    data = graph_set((NB201_ADJ[None], ops), 7)
    assert data.max_edges == 2 * int(NB201_ADJ.sum())


def test_index_batches_keeps_partial_batch_masked():
    batches, masks = index_batches(jnp.arange(10) + 100, 4)
    assert batches.shape == (3, 4) and masks.shape == (3, 4)
    assert np.asarray(masks).sum() == 10 and not bool(masks[-1, -1])
    np.testing.assert_array_equal(np.asarray(batches)[np.asarray(masks)], np.arange(10) + 100)
    dropped, dmask = index_batches(jnp.arange(10), 4, drop_last=True)
    assert dropped.shape == (2, 4) and bool(dmask.all())
