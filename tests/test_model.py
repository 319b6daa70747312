"""The models against an independent NumPy transcription of the published computation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pretrain_helpers import random_dags

from a2v_jax.graphs import graph_set, make_batch
from a2v_jax.model import MODEL_NAMES, BatchNorm, GraphAutoencoder, ModelConfig, TorchLinear, vae_loss


def _setup(model="arch2vec", count=32, seed=0):
    adj, ops = random_dags(count, seed=seed)
    data = graph_set((adj, ops), 5)
    batch = make_batch(data, jnp.arange(count))
    config = ModelConfig.for_model(model, 7, 5)
    net = GraphAutoencoder(config)
    variables = net.init({"params": jax.random.PRNGKey(seed)}, batch.graph, False)
    return adj, ops, batch, net, variables


def _np(tree):
    return jax.tree_util.tree_map(lambda x: np.asarray(x, np.float64), tree)


def _bn_train(x, p):  # torch BatchNorm1d in training mode: batch mean and biased variance
    mean, var = x.mean(0), x.var(0)
    return (x - mean) / np.sqrt(var + 1e-5) * p["scale"] + p["bias"], mean, var


def _bn_eval(x, p, s):
    return (x - s["mean"]) / np.sqrt(s["var"] + 1e-5) * p["scale"] + p["bias"]


def reference_gin(params, stats, onehot, adj, train):
    """The published `Model._encoder` on dense inputs: x <- relu(BN(MLP((1+eps) x + (A + A^T) x)))."""
    size, n, _ = onehot.shape
    sym = adj + adj.transpose(0, 2, 1)
    x = onehot
    new_stats = {}
    for layer in range(4):
        p, s = params["encoder"][f"gin_{layer}"], stats["encoder"][f"gin_{layer}"]
        agg = ((1 + p["eps"]) * x + sym @ x).reshape(size * n, -1)
        h = agg @ p["linear_0"]["kernel"] + p["linear_0"]["bias"]
        if train:
            h, m1, v1 = _bn_train(h, p["mlp_bn"])
        else:
            h = _bn_eval(h, p["mlp_bn"], s["mlp_bn"])
        h = np.maximum(h, 0) @ p["linear_1"]["kernel"] + p["linear_1"]["bias"]
        if train:
            h, m2, v2 = _bn_train(h, p["bn"])
            rows = size * n
            new_stats[layer] = (m1, v1 * rows / (rows - 1), m2, v2 * rows / (rows - 1))
        else:
            h = _bn_eval(h, p["bn"], s["bn"])
        x = np.maximum(h, 0).reshape(size, n, -1)
    mu = x @ params["encoder"]["mu"]["kernel"] + params["encoder"]["mu"]["bias"]
    ls = x @ params["encoder"]["log_sigma"]["kernel"] + params["encoder"]["log_sigma"]["bias"]
    return mu, ls, new_stats


def reference_gcn(params, onehot, adj):
    """Kipf & Welling normalisation, D^-1/2 (A~ + I) D^-1/2, in layers relu(BN(A^ X W + b)) (training-mode
    BatchNorm), then a linear GCN head."""
    size, n, _ = onehot.shape
    a = adj + adj.transpose(0, 2, 1) + np.eye(n)
    d = a.sum(axis=2) ** -0.5
    norm = d[:, :, None] * a * d[:, None, :]
    x = onehot
    for layer in range(4):
        p = params["encoder"][f"gcn_{layer}"]
        h = (norm @ (x @ p["linear"]["kernel"]) + p["bias"]).reshape(size * n, -1)
        x = np.maximum(_bn_train(h, p["bn"])[0], 0).reshape(size, n, -1)
    p = params["encoder"]["mu"]
    return norm @ (x @ p["linear"]["kernel"]) + p["bias"]


def test_gin_train_mode_matches_published_formulation():
    adj, ops, batch, net, variables = _setup()
    (mu, ls), updates = net.apply(variables, batch.graph, True, None, method=GraphAutoencoder.encode, mutable=["batch_stats"])
    params, stats = _np(variables["params"]), _np(variables["batch_stats"])
    ref_mu, ref_ls, ref_stats = reference_gin(params, stats, np.asarray(batch.ops, np.float64), adj.astype(np.float64), True)
    np.testing.assert_allclose(np.asarray(mu), ref_mu, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(np.asarray(ls), ref_ls, rtol=2e-4, atol=2e-5)
    # running statistics: momentum 0.1 from (0, 1), unbiased variance (PyTorch)
    got = _np(updates["batch_stats"])["encoder"]
    for layer, (m1, v1, m2, v2) in ref_stats.items():
        g = got[f"gin_{layer}"]
        np.testing.assert_allclose(g["mlp_bn"]["mean"], 0.1 * m1, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g["mlp_bn"]["var"], 0.9 + 0.1 * v1, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g["bn"]["mean"], 0.1 * m2, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(g["bn"]["var"], 0.9 + 0.1 * v2, rtol=1e-4, atol=1e-6)


def test_gin_eval_mode_uses_running_statistics():
    adj, ops, batch, net, variables = _setup(seed=1)
    rng = np.random.default_rng(0)
    stats = jax.tree_util.tree_map(lambda x: jnp.asarray(rng.uniform(0.5, 1.5, x.shape), jnp.float32), variables["batch_stats"])
    variables = {"params": variables["params"], "batch_stats": stats}
    mu, ls = net.apply(variables, batch.graph, False, method=GraphAutoencoder.encode)
    ref_mu, ref_ls, _ = reference_gin(_np(variables["params"]), _np(stats), np.asarray(batch.ops, np.float64), adj.astype(np.float64), False)
    np.testing.assert_allclose(np.asarray(mu), ref_mu, rtol=2e-4, atol=2e-5)
    # eval mode is per-cell: a cell's code does not depend on the rest of the batch
    single = make_batch(graph_set((adj[:1], ops[:1]), 5), jnp.zeros((1,), jnp.int32))
    mu1, _ = net.apply(variables, single.graph, False, method=GraphAutoencoder.encode)
    np.testing.assert_allclose(np.asarray(mu1[0]), np.asarray(mu[0]), rtol=1e-5, atol=1e-6)


def test_gcn_encoder_matches_dense_normalised_reference():
    adj, ops, batch, net, variables = _setup("gae", seed=2)
    (mu, ls), _ = net.apply(variables, batch.graph, True, None, method=GraphAutoencoder.encode, mutable=["batch_stats"])
    assert ls is None
    ref = reference_gcn(_np(variables["params"]), np.asarray(batch.ops, np.float64), adj.astype(np.float64))
    np.testing.assert_allclose(np.asarray(mu), ref, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_runs_and_is_variational_as_documented(name):
    _, _, batch, net, variables = _setup(name)
    out = net.apply(variables, batch.graph, True, batch.graph_mask, rngs={"noise": jax.random.PRNGKey(1), "dropout": jax.random.PRNGKey(2)}, mutable=["batch_stats"])[0]
    assert out.ops_logits.shape == (32, 7, 5) and out.adj_logits.shape == (32, 7, 7) and out.mu.shape == (32, 7, 16)
    assert (out.log_sigma is not None) == (name in ("arch2vec", "vgae"))
    assert net.config.encoder == ("gin" if name.startswith("arch2vec") else "gcn")


def test_torch_initialisation_statistics():
    x = jnp.ones((3, 128))
    p = TorchLinear(256).init(jax.random.PRNGKey(0), x)["params"]
    bound = 1 / np.sqrt(128)
    k, b = np.asarray(p["kernel"]), np.asarray(p["bias"])
    assert k.shape == (128, 256) and np.abs(k).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound): variance bound^2 / 3 (kaiming_uniform with a = sqrt(5))
    assert abs(k.var() - bound**2 / 3) < 0.05 * bound**2 / 3
    assert abs(k.mean()) < 0.02 * bound
    _, _, _, net, variables = _setup()
    enc = variables["params"]["encoder"]
    for layer in range(4):
        g = enc[f"gin_{layer}"]
        assert float(g["eps"]) == 0.0
        for bn in ("bn", "mlp_bn"):
            assert np.all(np.asarray(g[bn]["scale"]) == 1) and np.all(np.asarray(g[bn]["bias"]) == 0)
            s = variables["batch_stats"]["encoder"][f"gin_{layer}"][bn]
            assert np.all(np.asarray(s["mean"]) == 0) and np.all(np.asarray(s["var"]) == 1)
    assert np.abs(np.asarray(enc["gin_0"]["linear_0"]["kernel"])).max() <= 1 / np.sqrt(5)


def test_batchnorm_mask_restricts_statistics():
    x = jax.random.normal(jax.random.PRNGKey(0), (10, 4)) * 3 + 1
    mask = jnp.arange(10) < 6
    bn = BatchNorm()
    v = bn.init(jax.random.PRNGKey(0), x, False)
    y_masked, upd_m = bn.apply(v, x, False, mask, mutable=["batch_stats"])
    y_small, upd_s = bn.apply(v, x[:6], False, mutable=["batch_stats"])
    np.testing.assert_allclose(np.asarray(y_masked[:6]), np.asarray(y_small), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(upd_m["batch_stats"]["var"]), np.asarray(upd_s["batch_stats"]["var"]), rtol=1e-6)


def _bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def test_loss_matches_published_formula_and_partial_batches():
    rng = np.random.default_rng(0)
    b, n, k, d = 5, 7, 5, 16
    ops_logits, adj_logits = rng.normal(size=(b, n, k)), rng.normal(size=(b, n, n))
    adj_t = np.triu(rng.random((b, n, n)) < 0.3, 1).astype(float)
    ops_t = np.eye(k)[rng.integers(0, k, (b, n))]
    mu, ls = rng.normal(size=(b, n, d)), rng.normal(size=(b, n, d)) * 0.3
    terms = vae_loss(*map(jnp.asarray, (ops_logits, adj_logits, ops_t, adj_t, mu, ls)))
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    ref_ops = _bce(sig(ops_logits), ops_t).mean()
    ref_adj = (_bce(sig(adj_logits), adj_t) * np.triu(np.ones((n, n)), 1)).sum() / (b * n * n)
    ref_kl = -0.5 / (b * n) * np.mean(np.sum(1 + 2 * ls - mu**2 - np.exp(ls) ** 2, axis=2))
    np.testing.assert_allclose(float(terms.ops), ref_ops, rtol=1e-5)
    np.testing.assert_allclose(float(terms.adjacency), ref_adj, rtol=1e-5)
    np.testing.assert_allclose(float(terms.kl), ref_kl, rtol=1e-5)
    # a masked full-size batch gives the loss of the smaller batch it holds
    mask = jnp.array([True, True, True, False, False])
    masked = vae_loss(*map(jnp.asarray, (ops_logits, adj_logits, ops_t, adj_t, mu, ls)), graph_mask=mask)
    small = vae_loss(*map(lambda a: jnp.asarray(a[:3]), (ops_logits, adj_logits, ops_t, adj_t, mu, ls)))
    np.testing.assert_allclose(float(masked.total), float(small.total), rtol=1e-6)
    no_kl = vae_loss(*map(jnp.asarray, (ops_logits, adj_logits, ops_t, adj_t, mu)), None)
    assert float(no_kl.kl) == 0.0
